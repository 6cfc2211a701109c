package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
)

// The real proxy check (-real) is the one part of the benchmark that leaves
// the machine: the same comparison, cold cache, on a small real project
// against a real module proxy, to see that the loopback numbers are not an
// artefact of the fake mirror. It is opt-in (make bench-real).

// realModules are what the main module of -real requires: well-known
// modules with many dependencies, at versions that exist.
var realModules = []module.Version{
	{Path: "github.com/spf13/cobra", Version: "v1.8.1"},
	{Path: "github.com/prometheus/client_golang", Version: "v1.20.5"},
	{Path: "google.golang.org/grpc", Version: "v1.67.1"},
	{Path: "github.com/gin-gonic/gin", Version: "v1.10.0"},
}

// realMain imports a package of each of realModules.
const realMain = `// Command app is the main module of gomodx's real-proxy check.
package main

import (
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"
)

func main() {
	_ = &cobra.Command{Use: "app"}
	_ = promhttp.HandlerFor(prometheus.NewRegistry(), promhttp.HandlerOpts{})
	_ = grpc.NewServer()
	_ = gin.New()
}
`

// realSumDB is the checksum database of -real. Its own host need not be
// reachable: the go command and gomodx both ask the proxy's /sumdb/.
const realSumDB = "sum.golang.org"

// builtinHosts are the hosts of gomodx's built-in mirrors other than
// proxy.golang.org: on this kind of machine they do not resolve, and while
// proxy.golang.org serves, gomodx must not ask them anything.
var builtinHosts = []string{"goproxy.cn", "goproxy.io", "mirrors.aliyun.com"}

// realSetup is one GOPROXY setting of -real, with the tools run under it.
type realSetup struct {
	name    string
	legend  string
	goproxy string
	tools   []realTool
}

// realTool is a tool of -real with the environment it adds.
type realTool struct {
	tool
	env []string
}

// realSetups returns the settings -real compares: the default GOPROXY
// (where the built-in mirrors other than proxy.golang.org may be
// unreachable), then a GOPROXY whose first mirror is unreachable.
func realSetups(cfg config, tools []tool) []realSetup {
	var base []realTool
	for _, t := range tools {
		base = append(base, realTool{tool: t})
		if t.name == "gomodx" {
			nb := t
			nb.name, nb.label = "gomodx-nobuiltin", "gomodx --no-builtin-mirrors"
			base = append(base, realTool{tool: nb, env: []string{"GOMODX_NO_BUILTIN_MIRRORS=1"}})
		}
	}
	setups := []realSetup{{
		name:    "default",
		legend:  "GOPROXY=" + cfg.realProxy + ",direct, the go command's default: gomodx's built-in mirrors stand behind it",
		goproxy: cfg.realProxy + ",direct",
		tools:   base,
	}}
	if cfg.realUnreachable != "" {
		var ts []realTool
		for _, t := range tools {
			ts = append(ts, realTool{tool: t})
		}
		setups = append(setups, realSetup{
			name:    "first unreachable",
			legend:  "GOPROXY=" + cfg.realUnreachable + ",direct: its first mirror cannot be reached from here",
			goproxy: cfg.realUnreachable + ",direct",
			tools:   ts,
		})
	}
	return setups
}

// realRun is what -real keeps of one run.
type realRun struct {
	result
	text     string // cellText
	ok       bool
	same     string // go.mod and go.sum against plain go's in the default setup: "same", "differs: …", or ""
	lookups  int    // DNS lookups of builtinHosts (GODEBUG=netdns=go+2)
	started  int    // requests gomodx began at builtinHosts (its events)
	rescues  int    // its rescue events
	warnings []string
	modsum   []byte // go.mod, then go.sum, as the run left them
}

// runReal writes the project, makes its go.mod and go.sum with one go mod
// tidy on a cache of its own, then times every tool on every command on a
// cold cache under every setup, round by round, and writes the report to
// stdout.
func runReal(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	logger := log.New(stderr, "bench: ", 0)
	tmp, cleanup, err := scratch(cfg, logger, "gomodx-bench-real-")
	if err != nil {
		return err
	}
	defer cleanup()
	goBin, goVersion, err := findGo(ctx, cfg.goBin)
	if err != nil {
		return err
	}
	tools, err := setupTools(ctx, cfg, goBin, tmp, logger)
	if err != nil {
		return err
	}
	setups := realSetups(cfg, tools)
	project := filepath.Join(tmp, "project")
	gocache := filepath.Join(tmp, "gocache")
	start := time.Now()
	if err := writeRealProject(ctx, project, tmp, goBin, realEnv(setups[0].goproxy, goBin, gocache), cfg.timeout); err != nil {
		return err
	}
	setup := time.Since(start)
	logger.Printf("setup: go mod tidy on a cache of its own: %v", setup.Round(time.Millisecond))

	type cellKey struct{ setup, cmd, tool string }
	runs := make(map[cellKey][]realRun)
	failed := make(map[cellKey]bool)
	for round := 1; round <= cfg.rounds; round++ {
		for _, cmd := range cfg.commands {
			var ref []byte // plain go's go.mod and go.sum in the default setup, this round
			for _, su := range setups {
				r := &runner{
					tmp:        tmp,
					project:    project,
					env:        realEnv(su.goproxy, goBin, gocache),
					timeout:    cfg.timeout,
					goBin:      goBin,
					events:     true,
					fullOutput: true,
				}
				for _, t := range su.tools {
					k := cellKey{su.name, cmd, t.name}
					if failed[k] {
						continue
					}
					run := runRealOnce(ctx, r, t, cmd, cfg.timeout, su.others())
					if err := ctx.Err(); err != nil {
						return err
					}
					if su.name == "default" && t.name == "go" && run.ok {
						ref = run.modsum
					}
					if run.ok && ref != nil && !(su.name == "default" && t.name == "go") {
						run.same = compareModSum(ref, run.modsum)
					}
					runs[k] = append(runs[k], run)
					logger.Printf("%s: %s round %d/%d %s: %s; %s; cache/download: %s; built-in mirrors: %d DNS lookups, %d requests; %d rescues; warnings: %q",
						su.name, cmd, round, cfg.rounds, t.label, run.text, run.same, run.cached, run.lookups, run.started, run.rescues, run.warnings)
					if !run.ok {
						failed[k] = true
						logFailure(logger, t.tool, run.result)
					}
				}
			}
		}
	}

	fmt.Fprintf(stdout, "## gomodx vs go against a real module proxy\n\n")
	fmt.Fprintf(stdout, "- project: a main module requiring %s; go.mod and go.sum made by one go mod tidy beforehand (%s)\n",
		realList(), secs(setup))
	fmt.Fprintf(stdout, "- GOSUMDB=%s (the go command and gomodx reach it through the proxy's /sumdb/); gomodx with its defaults\n", realSumDB)
	fmt.Fprintf(stdout, "- %s, %s, %s; cold GOMODCACHE and fresh copy of the project per run; %d round(s), setups and tools interleaved; each run killed after %s; load average (1 min) when the runs started: %s\n",
		goVersion, cpus(), time.Now().UTC().Format("2006-01-02 15:04 UTC"), cfg.rounds, limitSecs(cfg.timeout), realLoad(runs))
	fmt.Fprintf(stdout, "- a run is ok when it exits 0 and, with GOPROXY=off, `go mod verify` and the plain go command's version of the command pass on the cache it left\n")
	fmt.Fprintf(stdout, "- go.mod/go.sum: byte for byte against those plain go left in the default setup in the same round\n")
	fmt.Fprintf(stdout, "- built-in mirrors: those of %s that GOPROXY does not name: DNS lookups of their hosts by any process of the run (GODEBUG=netdns=go+2), and the requests gomodx began there (its `start` events); rescues: its `rescue` events; warnings: its stderr lines other than the summary and progress\n\n",
		strings.Join(builtinHosts, ", "))
	for _, su := range setups {
		fmt.Fprintf(stdout, "### %s\n\n%s\n\n", su.name, su.legend)
		fmt.Fprintf(stdout, "| command | tool | result | go.mod/go.sum | cache/download | built-in mirrors: DNS lookups / requests | rescues | warnings |\n|---|---|---|---|---|---:|---:|---|\n")
		for _, cmd := range cfg.commands {
			for _, t := range su.tools {
				rs := runs[cellKey{su.name, cmd, t.name}]
				if len(rs) == 0 {
					continue
				}
				last := rs[len(rs)-1]
				same, lookups, started, rescues := "", 0, 0, 0
				var walls []time.Duration
				for _, r := range rs {
					if r.ok {
						walls = append(walls, r.wall)
					}
					lookups, started, rescues = lookups+r.lookups, started+r.started, rescues+r.rescues
					if r.same != "" && (same == "" || same == "same") {
						same = r.same
					}
				}
				text := last.text
				if last.ok {
					var each []string
					for _, w := range walls {
						each = append(each, fmt.Sprintf("%.1f", w.Seconds()))
					}
					text = fmt.Sprintf("ok %d/%d: %s (%s)", len(walls), len(rs), secs(medianOf(walls)), strings.Join(each, ", "))
				}
				if t.name == "go" && su.name == "default" {
					same = "(the reference)"
				}
				warn := "none"
				if len(last.warnings) > 0 {
					warn = "`" + strings.ReplaceAll(strings.Join(last.warnings, "` `"), "|", "\\|") + "`"
				}
				if t.name == "go" {
					warn = "–"
				}
				fmt.Fprintf(stdout, "| %s | %s | %s | %s | %s | %d / %d | %d | %s |\n", cmd, t.label, text, same, last.cached, lookups, started, rescues, warn)
			}
		}
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "Each result: runs ok of runs, the median, then every round's time in seconds; the counts are over all rounds, the warnings those of the last run.\n")
	return nil
}

// others are the hosts of builtinHosts that su's GOPROXY does not name:
// those only the rescue may ask.
func (su realSetup) others() []string {
	var hosts []string
	for _, h := range builtinHosts {
		if !strings.Contains(su.goproxy, "//"+h) {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// runRealOnce runs t's cmd once with r and sums it up, counting what went
// to hosts.
func runRealOnce(ctx context.Context, r *runner, t realTool, cmd string, timeout time.Duration, hosts []string) realRun {
	var res result
	var modcache string
	if t.broken != nil {
		res = result{err: t.broken, stderr: t.brokenOut}
	} else {
		tt := t.tool
		tt.env = append(slices.Clone(tt.env), t.env...)
		tt.env = append(tt.env, "GODEBUG=netdns=go+2")
		res, modcache = r.run(ctx, tt, cmd, cacheSetup{check: true, keep: true})
	}
	run := realRun{result: res, text: cellText([]result{res}, timeout)}
	run.ok = res.err == nil && res.incomplete == nil
	if modcache != "" {
		run.cached = countCache(filepath.Join(modcache, "cache", "download"))
	}
	if res.dir != "" {
		for _, name := range []string{"go.mod", "go.sum"} {
			data, _ := os.ReadFile(filepath.Join(res.dir, "app", name))
			run.modsum = append(run.modsum, data...)
			run.modsum = append(run.modsum, 0)
		}
		removeAll(res.dir)
	}
	run.lookups, run.warnings = scanOutput(res.output, hosts)
	if s := res.summary; s != nil {
		run.started, run.rescues = s.startedAt(hosts), s.rescued
	}
	return run
}

// scanOutput reads a run's whole output: it counts the DNS lookups of
// hosts that GODEBUG=netdns=go+2 reported, and returns gomodx's
// lines other than its summary ("gomodx: fetched …").
func scanOutput(out string, hosts []string) (lookups int, warnings []string) {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "go package net: hostLookupOrder(") {
			for _, h := range hosts {
				if strings.Contains(line, "("+h+")") {
					lookups++
				}
			}
			continue
		}
		if strings.HasPrefix(line, "gomodx: ") && !strings.HasPrefix(line, "gomodx: fetched ") && !progressLine.MatchString(line) {
			warnings = append(warnings, line)
		}
	}
	return lookups, warnings
}

// progressLine is gomodx's progress off a terminal, every few seconds of a
// long fetch: not a warning.
var progressLine = regexp.MustCompile(`^gomodx: [0-9:]{8} [0-9]+/[0-9]+ files`)

// compareModSum says whether got (go.mod, then go.sum) is ref byte for
// byte.
func compareModSum(ref, got []byte) string {
	if bytes.Equal(ref, got) {
		return "same"
	}
	r, g := bytes.SplitN(ref, []byte{0}, 2), bytes.SplitN(got, []byte{0}, 2)
	switch {
	case len(r) < 2 || len(g) < 2:
		return "differs"
	case !bytes.Equal(r[0], g[0]):
		return "differs: go.mod"
	default:
		return "differs: go.sum"
	}
}

// realLoad sums up the load averages seen when the runs started.
func realLoad[K comparable](runs map[K][]realRun) string {
	var xs []float64
	for _, rs := range runs {
		for _, r := range rs {
			if r.load > 0 {
				xs = append(xs, r.load)
			}
		}
	}
	return loadSummary(xs)
}

// writeRealProject writes the main module into project and runs go mod
// tidy there, on a module cache of its own under tmp, to make go.mod and
// go.sum.
func writeRealProject(ctx context.Context, project, tmp, goBin string, env []string, timeout time.Duration) error {
	if err := os.MkdirAll(project, 0o777); err != nil {
		return err
	}
	var mod strings.Builder
	fmt.Fprintf(&mod, "module example.com/realcheck\n\ngo 1.22\n\nrequire (\n")
	for _, m := range realModules {
		fmt.Fprintf(&mod, "\t%s %s\n", m.Path, m.Version)
	}
	mod.WriteString(")\n")
	for name, data := range map[string]string{"go.mod": mod.String(), "main.go": realMain} {
		if err := os.WriteFile(filepath.Join(project, name), []byte(data), 0o666); err != nil {
			return err
		}
	}
	dir := filepath.Join(tmp, "setup")
	defer removeAll(dir)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := exec.CommandContext(ctx, goBin, "mod", "tidy")
	c.Dir = project
	c.Env = append(env[:len(env):len(env)],
		"GOMODCACHE="+filepath.Join(dir, "modcache"),
		"GOPATH="+filepath.Join(dir, "gopath"),
	)
	c.WaitDelay = 5 * time.Second
	killGroup(c)
	var out tail
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		return fmt.Errorf("setup: go mod tidy: %w\n%s", err, out.String())
	}
	return nil
}

// realEnv is hermeticEnv for a real proxy: the caller's HTTP proxy
// settings are kept, since the proxy may be reachable only through them,
// and the checksum database is on.
func realEnv(goproxy, goBin, gocache string) []string {
	env := hermeticEnv(goproxy, goBin, gocache)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY":
			env = append(env, kv)
		}
	}
	return append(env, "GOSUMDB="+realSumDB)
}

// realList names realModules for the report.
func realList() string {
	var s []string
	for _, m := range realModules {
		s = append(s, m.String())
	}
	return strings.Join(s, ", ")
}

// cacheCount is what a cache/download directory holds.
type cacheCount struct {
	zips, mods int
	bytes      int64
}

func (c cacheCount) String() string {
	return fmt.Sprintf("%d zips, %d .mod, %.1f MB", c.zips, c.mods, mb(c.bytes))
}

// countCache counts the zips and .mod files under dir and their bytes.
func countCache(dir string) cacheCount {
	var c cacheCount
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		switch filepath.Ext(p) {
		case ".zip":
			c.zips++
		case ".mod":
			c.mods++
		default:
			return nil
		}
		if fi, err := d.Info(); err == nil {
			c.bytes += fi.Size()
		}
		return nil
	})
	return c
}
