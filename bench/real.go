package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
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

// runReal writes the project, makes its go.mod and go.sum with one go mod
// tidy on a cache of its own, then times every tool on every command on a
// cold cache, round by round, and writes the report to stdout.
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
	r := &runner{
		tmp:     tmp,
		project: filepath.Join(tmp, "project"),
		env:     realEnv(cfg.realProxy, goBin, filepath.Join(tmp, "gocache")),
		timeout: cfg.timeout,
		goBin:   goBin,
	}
	start := time.Now()
	if err := r.writeRealProject(ctx); err != nil {
		return err
	}
	setup := time.Since(start)
	logger.Printf("setup: go mod tidy on a cache of its own: %v", setup.Round(time.Millisecond))

	type cellKey struct{ cmd, tool string }
	walls := make(map[cellKey][]time.Duration)
	failed := make(map[cellKey]string)
	fetched := make(map[cellKey]cacheCount) // of the last run
	for _, cmd := range cfg.commands {
		for round := 1; round <= cfg.rounds; round++ {
			for _, t := range tools {
				k := cellKey{cmd, t.name}
				if failed[k] != "" {
					continue
				}
				var res result
				var modcache string
				if t.broken != nil {
					res = result{err: t.broken, stderr: t.brokenOut}
				} else {
					res, modcache = r.run(ctx, t, cmd, cacheSetup{check: true, keep: true})
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				if modcache != "" {
					fetched[k] = countCache(filepath.Join(modcache, "cache", "download"))
					removeAll(filepath.Dir(modcache))
				}
				text := cellText([]result{res}, cfg.timeout)
				logger.Printf("%s round %d/%d %s: %s; cache/download: %s", cmd, round, cfg.rounds, t.label, text, fetched[k])
				if res.err != nil || res.incomplete != nil {
					failed[k] = text
					logFailure(logger, t, res)
					continue
				}
				walls[k] = append(walls[k], res.wall)
			}
		}
	}

	fmt.Fprintf(stdout, "## gomodx vs go against a real module proxy\n\n")
	fmt.Fprintf(stdout, "- project: a main module requiring %s; go.mod and go.sum made by one go mod tidy beforehand (%s)\n",
		realList(), secs(setup))
	fmt.Fprintf(stdout, "- GOPROXY=%s, GOSUMDB=%s (through the proxy's /sumdb/), gomodx with its defaults and GOMODX_NO_BUILTIN_MIRRORS=1 (only this proxy)\n",
		cfg.realProxy, realSumDB)
	fmt.Fprintf(stdout, "- %s, %s, %s; cold GOMODCACHE and fresh copy of the project per run; %d round(s), tools interleaved; each run killed after %s\n",
		goVersion, cpus(), time.Now().UTC().Format("2006-01-02 15:04 UTC"), cfg.rounds, limitSecs(cfg.timeout))
	fmt.Fprintf(stdout, "- a run counts when it exits 0 and, with GOPROXY=off, `go mod verify` and the plain go command's version of the command pass on the cache it left\n\n")
	fmt.Fprintf(stdout, "| command |")
	for _, t := range tools {
		fmt.Fprintf(stdout, " %s |", t.label)
	}
	fmt.Fprintf(stdout, " go/gomodx |")
	for _, t := range tools {
		fmt.Fprintf(stdout, " cache/download after %s |", t.label)
	}
	fmt.Fprintf(stdout, "\n|---|")
	for range tools {
		fmt.Fprintf(stdout, "---:|")
	}
	fmt.Fprintf(stdout, "---:|")
	for range tools {
		fmt.Fprintf(stdout, "---:|")
	}
	fmt.Fprintln(stdout)
	for _, cmd := range cfg.commands {
		fmt.Fprintf(stdout, "| %s |", cmd)
		med := make(map[string]time.Duration)
		for _, t := range tools {
			k := cellKey{cmd, t.name}
			if failed[k] != "" {
				fmt.Fprintf(stdout, " %s |", failed[k])
				continue
			}
			med[t.name] = medianOf(walls[k])
			var each []string
			for _, w := range walls[k] {
				each = append(each, fmt.Sprintf("%.1f", w.Seconds()))
			}
			fmt.Fprintf(stdout, " %s (%s) |", secs(med[t.name]), strings.Join(each, ", "))
		}
		fmt.Fprintf(stdout, " %s |", ratio(med["go"], med["gomodx"]))
		for _, t := range tools {
			fmt.Fprintf(stdout, " %s |", fetched[cellKey{cmd, t.name}])
		}
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "\nEach cell: the median, then every round's time in seconds.\n")
	return nil
}

// writeRealProject writes the main module into r.project and runs go mod
// tidy there, on a module cache of its own, to make go.mod and go.sum.
func (r *runner) writeRealProject(ctx context.Context) error {
	if err := os.MkdirAll(r.project, 0o777); err != nil {
		return err
	}
	var mod strings.Builder
	fmt.Fprintf(&mod, "module example.com/realcheck\n\ngo 1.22\n\nrequire (\n")
	for _, m := range realModules {
		fmt.Fprintf(&mod, "\t%s %s\n", m.Path, m.Version)
	}
	mod.WriteString(")\n")
	for name, data := range map[string]string{"go.mod": mod.String(), "main.go": realMain} {
		if err := os.WriteFile(filepath.Join(r.project, name), []byte(data), 0o666); err != nil {
			return err
		}
	}
	dir := filepath.Join(r.tmp, "setup")
	defer removeAll(dir)
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	c := exec.CommandContext(ctx, r.goBin, "mod", "tidy")
	c.Dir = r.project
	c.Env = append(r.env[:len(r.env):len(r.env)],
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
	return append(env, "GOSUMDB="+realSumDB, "GOMODX_NO_BUILTIN_MIRRORS=1")
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
