package main

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
)

// The fault comparison (-faults) runs each tool against loopback mirrors
// that fail the way real ones do, and reports whether it finishes with a
// complete module cache, and how long it takes. Each scenario is one row.

// scenario is one row of the fault table: the mirrors behind GOPROXY and
// how each of them fails.
type scenario struct {
	name   string
	legend string
	// dead puts a closed loopback port first in GOPROXY, before the
	// mirrors.
	dead bool
	// mirrors are the mirrors of GOPROXY, in order, joined by '|'; a nil
	// entry is a mirror without faults.
	mirrors []*faults
}

// scenarios returns the fault scenarios. tampered maps the URL path of one
// zip to the altered bytes that the first mirror of "tampered" serves.
func scenarios(seed uint64, tampered map[string][]byte, tamperedMod string) []scenario {
	f := func(x faults) *faults {
		x.seed = seed
		return &x
	}
	return []scenario{
		{name: "none", legend: "no faults: the baseline",
			mirrors: []*faults{nil}},
		{name: "5xx", legend: "5% of responses are 502 Bad Gateway (by hash of path and attempt, so a retry can succeed)",
			mirrors: []*faults{f(faults{status: 502, statusRate: 0.05})}},
		{name: "502 per zip", legend: "the first request of every zip gets 502 Bad Gateway: CI that fails on one 502",
			mirrors: []*faults{f(faults{status: 502, statusZip1: true})}},
		{name: "429", legend: "5% of responses are 429 Too Many Requests with Retry-After: 1",
			mirrors: []*faults{f(faults{status: 429, statusRate: 0.05, retryAfter: "1"})}},
		{name: "reset", legend: "5% of zip bodies stop at half and the connection is closed",
			mirrors: []*faults{f(faults{reset: 0.05})}},
		{name: "hang", legend: "1% of requests never get response headers, until the client gives up",
			mirrors: []*faults{f(faults{hang: 0.01})}},
		{name: "stall", legend: "1% of zip bodies stop at half and the connection is held open",
			mirrors: []*faults{f(faults{stall: 0.01})}},
		{name: "slow\\|fast", legend: "GOPROXY=slow|fast, the same files; slow adds 1 s to every response",
			mirrors: []*faults{f(faults{delay: time.Second}), nil}},
		{name: "dead\\|mirror", legend: "GOPROXY=http://127.0.0.1:<closed port>|mirror",
			dead: true, mirrors: []*faults{nil}},
		{name: "tampered\\|clean", legend: "GOPROXY=A|B, the same files, except that A serves an altered zip of " + tamperedMod,
			mirrors: []*faults{f(faults{tamper: tampered}), nil}},
	}
}

// checkScenarios returns an error if names holds one that is not a
// scenario.
func checkScenarios(names []string) error {
	var known []string
	for _, sc := range scenarios(0, nil, "") {
		known = append(known, plain(sc.name))
	}
	for _, name := range names {
		if !slices.Contains(known, name) {
			return fmt.Errorf("-scenarios: unknown scenario %q (want %s)", name, strings.Join(known, ", "))
		}
	}
	return nil
}

// faultBench is one -faults run.
type faultBench struct {
	cfg      config
	log      *log.Logger
	tmp      string
	lay      *layout
	goBin    string
	gocache  string
	tools    []tool
	extraEnv []string // for every run, such as GOMODX_RETRY_WAIT

	rows  []string                  // scenario names, in order
	cells map[[3]string]*faultCell  // scenario, command, tool
	stats map[[3]string]mirrorStats // of the last run of each cell
}

// faultCell holds the runs of one tool on one scenario and command.
type faultCell struct {
	runs   []result
	failed bool
}

// runFaults generates a graph, and for each scenario starts its mirrors
// and runs every tool on every command, round by round; then it writes
// the report to stdout.
func runFaults(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	logger := log.New(stderr, "bench: ", 0)
	tmp, cleanup, err := scratch(cfg, logger, "gomodx-bench-")
	if err != nil {
		return err
	}
	defer cleanup()
	goBin, goVersion, err := findGo(ctx, cfg.goBin)
	if err != nil {
		return err
	}
	g, err := newGraph(graphConfig{seed: cfg.seed, modules: cfg.modules, scale: cfg.scale, unpruned: cfg.unpruned})
	if err != nil {
		return err
	}
	lay, err := g.writeTree(ctx, tmp)
	if err != nil {
		return fmt.Errorf("generating the module graph: %w", err)
	}
	logger.Printf("generated %d module versions, %d zips to download (%.1f MB)", len(g.nodes), lay.fetched, mb(lay.zipped))
	tools, err := setupTools(ctx, cfg, goBin, tmp, logger)
	if err != nil {
		return err
	}
	tampered, tamperedMod, err := tamperOne(g, lay)
	if err != nil {
		return err
	}

	b := &faultBench{
		cfg:     cfg,
		log:     logger,
		tmp:     tmp,
		lay:     lay,
		goBin:   goBin,
		gocache: filepath.Join(tmp, "gocache"),
		tools:   tools,
		cells:   make(map[[3]string]*faultCell),
		stats:   make(map[[3]string]mirrorStats),
	}
	if cfg.retryWait > 0 {
		b.extraEnv = append(b.extraEnv, "GOMODX_RETRY_WAIT="+cfg.retryWait.String())
	}
	all := scenarios(cfg.seed, tampered, tamperedMod.String())
	if err := b.warmUp(ctx); err != nil {
		return err
	}
	for _, sc := range all {
		if len(cfg.scenarios) > 0 && !slices.Contains(cfg.scenarios, plain(sc.name)) {
			continue
		}
		b.rows = append(b.rows, sc.name)
		if err := b.runScenario(ctx, sc); err != nil {
			return err
		}
	}
	b.report(stdout, g, lay, goVersion, all)
	return nil
}

// warmUp runs go mod download once on a mirror without faults at RTT 0,
// with the cache check: a failure here is the harness's, so it stops the
// run before anything is timed.
func (b *faultBench) warmUp(ctx context.Context) error {
	r, closeMirrors, err := b.runnerFor(ctx, scenario{mirrors: []*faults{nil}}, 0)
	if err != nil {
		return err
	}
	defer closeMirrors()
	goTool := tool{name: "go", label: "go", argv: func(cmd string) []string { return []string{b.goBin, "mod", cmd} }}
	res, _ := r.run(ctx, goTool, "download", cacheSetup{check: true})
	if res.err != nil {
		return fmt.Errorf("warm-up: %v\n%s", res.err, res.stderr)
	}
	if res.incomplete != nil {
		return fmt.Errorf("warm-up: the cache that go mod download left fails the check: %v", res.incomplete)
	}
	b.log.Printf("warm-up: go mod download: %v, %d requests", res.wall.Round(time.Millisecond), res.stats.requests)
	return nil
}

// runScenario starts sc's mirrors and runs every tool on every command,
// interleaved round by round. A tool that fails is not run again on the
// same scenario and command: the faults are the same every time.
func (b *faultBench) runScenario(ctx context.Context, sc scenario) error {
	r, closeMirrors, err := b.runnerFor(ctx, sc, b.cfg.rtts[0])
	if err != nil {
		return err
	}
	defer closeMirrors()
	b.log.Printf("scenario %s: GOPROXY=%s", plain(sc.name), r.goproxy)
	for _, cmd := range b.cfg.commands {
		for round := 1; round <= b.cfg.rounds; round++ {
			for _, t := range b.tools {
				key := [3]string{sc.name, cmd, t.name}
				c := b.cells[key]
				if c == nil {
					c = new(faultCell)
					b.cells[key] = c
				}
				if c.failed {
					continue
				}
				var res result
				if t.broken != nil {
					res = result{err: t.broken, stderr: t.brokenOut}
				} else {
					res, _ = r.run(ctx, t, cmd, cacheSetup{check: true})
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				c.runs = append(c.runs, res)
				b.stats[key] = res.stats
				text := cellText(c.runs, b.cfg.timeout)
				b.log.Printf("%s %s round %d/%d %s: %s, %d requests, %d faults injected",
					plain(sc.name), cmd, round, b.cfg.rounds, t.label, text, res.stats.requests, res.stats.faulted)
				if res.err != nil || res.incomplete != nil {
					c.failed = true
					logFailure(b.log, t, res)
				}
			}
		}
	}
	return nil
}

// faultRunner is a runner for one scenario, with the GOPROXY it uses.
type faultRunner struct {
	*runner
	goproxy string
}

// runnerFor starts sc's mirrors at the given RTT and returns a runner that
// uses them, and a function that stops them.
func (b *faultBench) runnerFor(ctx context.Context, sc scenario, rtt time.Duration) (*faultRunner, func(), error) {
	var (
		urls    []string
		mirrors []*mirror
	)
	closeAll := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, m := range mirrors {
			m.close(ctx)
		}
	}
	if sc.dead {
		addr, err := closedPort()
		if err != nil {
			return nil, nil, err
		}
		urls = append(urls, "http://"+addr)
	}
	for _, f := range sc.mirrors {
		m, err := startMirror(b.lay.proxy, link{handshake: b.cfg.handshake, total: b.cfg.bandwidth * 1e6})
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		m.faults = f
		m.setRTT(rtt)
		mirrors = append(mirrors, m)
		urls = append(urls, m.url)
	}
	goproxy := strings.Join(urls, "|")
	env := append(hermeticEnv(goproxy, b.goBin, b.gocache), b.extraEnv...)
	r := &runner{
		tmp:     b.tmp,
		project: b.lay.project,
		env:     env,
		timeout: b.cfg.timeout,
		mirrors: mirrors,
		goBin:   b.goBin,
	}
	return &faultRunner{runner: r, goproxy: goproxy}, closeAll, nil
}

// logFailure prints why a run failed: the error and the tail of its
// output, or why its cache failed the check.
func logFailure(logger *log.Logger, t tool, res result) {
	if res.err != nil {
		logger.Printf("\t%s: %v", t.label, res.err)
	}
	text := res.stderr
	if res.err == nil && res.incomplete != nil {
		text = res.incomplete.Error()
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	for _, l := range lines {
		logger.Printf("\t\t%s", l)
	}
}

// cellText sums up a cell's runs: "ok 12.3 s" (the median), or how the
// failing run failed.
func cellText(runs []result, timeout time.Duration) string {
	if len(runs) == 0 {
		return "–"
	}
	last := runs[len(runs)-1]
	switch {
	case last.timedOut && last.idle >= hungAfter:
		return fmt.Sprintf("hung (killed at %s)", limitSecs(timeout))
	case last.timedOut:
		return fmt.Sprintf("unfinished (killed at %s, still fetching)", limitSecs(timeout))
	case last.err != nil:
		return fmt.Sprintf("FAIL %s (%s)", secs(last.wall), reason(last.stderr))
	case last.incomplete != nil:
		return fmt.Sprintf("FAIL %s (exit 0, but %s)", secs(last.wall), reason(last.incomplete.Error()))
	}
	var walls []time.Duration
	for _, r := range runs {
		walls = append(walls, r.wall)
	}
	return "ok " + secs(medianOf(walls))
}

// hungAfter is how long the mirrors must have seen nothing for a command
// killed at the time limit to count as hung rather than slow.
const hungAfter = 10 * time.Second

// limitSecs formats a time limit: "120 s".
func limitSecs(d time.Duration) string { return fmt.Sprintf("%g s", d.Seconds()) }

// secs formats a duration as "12.3 s".
func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// reasons are the causes of failure that reason recognises in a tool's
// output, the most telling first.
var reasons = []struct{ match, text string }{
	{"SECURITY ERROR", "checksum mismatch"},
	{"checksum mismatch", "checksum mismatch"},
	{"502 Bad Gateway", "502 Bad Gateway"},
	{"429 Too Many Requests", "429 Too Many Requests"},
	{"unexpected EOF", "unexpected EOF"},
	{"connection reset", "connection reset"},
	{"connection refused", "connection refused"},
	{"stalled", "stalled"},
	{"timeout", "timeout"},
	{"missing", "files missing"},
	{"module lookup disabled", "files missing"},
	{"not a valid zip", "invalid zip"},
	{"invalid zip", "invalid zip"},
}

// reason sums up in a few words why a command failed, from its output.
func reason(out string) string {
	for _, r := range reasons {
		if strings.Contains(out, r.match) {
			return r.text
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	s := strings.TrimSpace(lines[len(lines)-1])
	for _, l := range lines {
		if strings.HasPrefix(l, "go: ") || strings.HasPrefix(l, "gomodx: ") {
			s = l
			break
		}
	}
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return strings.ReplaceAll(s, "|", `\|`)
}

// report writes the fault table, the scenarios and the mirrors' counts.
// header writes a table's header: scenario, command (with several), and a
// column per tool, aligned by align.
func (b *faultBench) header(w io.Writer, multi bool, align string) {
	fmt.Fprintf(w, "| scenario |")
	if multi {
		fmt.Fprintf(w, " command |")
	}
	for _, t := range b.tools {
		fmt.Fprintf(w, " %s |", t.label)
	}
	fmt.Fprintf(w, "\n|---|")
	if multi {
		fmt.Fprintf(w, "---|")
	}
	for range b.tools {
		fmt.Fprint(w, align)
	}
	fmt.Fprintln(w)
}

func (b *faultBench) report(w io.Writer, g *graph, lay *layout, goVersion string, all []scenario) {
	fmt.Fprintf(w, "## gomodx vs go on faulty mirrors\n\n")
	fmt.Fprintf(w, "- graph: %d module versions, %d zips to download (%.1f MB), seed %d; GOSUMDB=off, go.sum complete\n",
		len(g.nodes), lay.fetched, mb(lay.zipped), g.cfg.seed)
	fmt.Fprintf(w, "- mirrors: HTTP/1.1 on 127.0.0.1, RTT %s, each new connection %g RTT more; faults are deterministic (seed %d)\n",
		ms(b.cfg.rtts[0]), b.cfg.handshake, b.cfg.seed)
	fmt.Fprintf(w, "- %s, %s; cold GOMODCACHE and fresh main module per run; %d round(s), median shown; every command killed after %s\n",
		goVersion, cpus(), b.cfg.rounds, limitSecs(b.cfg.timeout))
	if b.cfg.retryWait > 0 {
		fmt.Fprintf(w, "- gomodx with its defaults except GOMODX_RETRY_WAIT=%v (first retry after %v instead of 500ms, to keep the run short)\n",
			b.cfg.retryWait, b.cfg.retryWait)
	} else {
		fmt.Fprintf(w, "- gomodx with its defaults\n")
	}
	if b.cfg.gomodx == "go" {
		fmt.Fprintf(w, "- the gomodx column runs the plain go command (-gomodx go): a test of the harness\n")
	}
	fmt.Fprintln(w)

	multi := len(b.cfg.commands) > 1
	b.header(w, multi, "---|")
	for _, row := range b.rows {
		for _, cmd := range b.cfg.commands {
			fmt.Fprintf(w, "| %s |", row)
			if multi {
				fmt.Fprintf(w, " %s |", cmd)
			}
			for _, t := range b.tools {
				text := "–"
				if c := b.cells[[3]string{row, cmd, t.name}]; c != nil {
					text = cellText(c.runs, b.cfg.timeout)
				}
				fmt.Fprintf(w, " %s |", text)
			}
			fmt.Fprintln(w)
		}
	}

	fmt.Fprintf(w, "\n- `ok t`: exit status 0, and the module cache is complete and intact: with GOPROXY=off and GOFLAGS=-mod=mod, `go mod verify` and then the plain go command's version of the command (`go mod download`) pass afterwards (verify alone passes a module that is missing altogether); t is the wall time\n")
	fmt.Fprintf(w, "- `FAIL t (why)`: exit status not 0 after t, or 0 with a cache that fails that check; why is read from the output\n")
	fmt.Fprintf(w, "- `hung (killed at %s)`: still running at the time limit, and no request begun or answered for the last %v of it\n", limitSecs(b.cfg.timeout), hungAfter)
	fmt.Fprintf(w, "- `unfinished (killed at %s, still fetching)`: still running at the time limit, but slowly making progress\n\n", limitSecs(b.cfg.timeout))
	fmt.Fprintf(w, "Scenarios:\n\n")
	for _, sc := range all {
		if slices.Contains(b.rows, sc.name) {
			fmt.Fprintf(w, "- %s: %s\n", plain(sc.name), sc.legend)
		}
	}

	fmt.Fprintf(w, "\nMirrors, per run (the last round): requests / faults injected\n\n")
	b.header(w, multi, "---:|")
	for _, row := range b.rows {
		for _, cmd := range b.cfg.commands {
			fmt.Fprintf(w, "| %s |", row)
			if multi {
				fmt.Fprintf(w, " %s |", cmd)
			}
			for _, t := range b.tools {
				s, ok := b.stats[[3]string{row, cmd, t.name}]
				if !ok {
					fmt.Fprintf(w, " – |")
					continue
				}
				fmt.Fprintf(w, " %d / %d |", s.requests, s.faulted)
			}
			fmt.Fprintln(w)
		}
	}
}

// tamperOne returns the altered zip that the tampered scenario serves: the
// first module that go mod download fetches, with a line added to its Go
// file. It is still a valid module zip, only its hash differs from go.sum.
func tamperOne(g *graph, lay *layout) (map[string][]byte, module.Version, error) {
	sel := g.selected()
	for i, n := range g.nodes {
		if !g.downloads(n, sel) {
			continue
		}
		name := g.zipFile(lay.proxy, i)
		data, err := tamperZip(name)
		if err != nil {
			return nil, module.Version{}, fmt.Errorf("altering %s: %w", name, err)
		}
		rel, err := filepath.Rel(lay.proxy, name)
		if err != nil {
			return nil, module.Version{}, err
		}
		return map[string][]byte{"/" + filepath.ToSlash(rel): data}, n.mod, nil
	}
	return nil, module.Version{}, fmt.Errorf("no zip to alter")
}

// tamperZip returns the zip in file with a comment added to its .go files.
func tamperZip(file string) ([]byte, error) {
	zr, err := zip.OpenReader(file)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		if strings.HasSuffix(f.Name, ".go") {
			data = append(data, "\n// This line was added by a mirror.\n"...)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: f.Method})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// closedPort returns a loopback address that nothing listens on.
func closedPort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// plain returns a scenario name without Markdown escapes.
func plain(name string) string { return strings.ReplaceAll(name, `\|`, "|") }
