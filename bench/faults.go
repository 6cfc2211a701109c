package main

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
)

// The fault comparison (-faults) runs each tool against loopback mirrors
// that fail the way real ones do, and reports whether it finishes with a
// complete module cache, and how long it takes. Each scenario is one row.

// scenario is one kind of row of the fault table: the mirrors behind
// GOPROXY and how each of them fails.
type scenario struct {
	name   string
	legend string
	// dead puts a closed loopback port first in GOPROXY, before the
	// mirrors.
	dead bool
	// mirrors are the mirrors of GOPROXY, in order, joined by '|'; a nil
	// entry is a mirror without faults.
	mirrors []*faults
	// seeded is set when the faults are drawn: the scenario is a row per
	// seed of -fault-seeds; the others are the same with every seed.
	seeded bool
	// baseline names the fault-free scenario the row's time is compared
	// with: the same number of mirrors, no faults.
	baseline string
}

// mixFaults is the mix of issue 16 on one mirror: 10% of requests answered
// 502 or 503, 2% of responses cut mid-body with the connection closed, 1%
// never answered, 1% of zips cut short but served as a well-formed 200.
// Mirrors of one GOPROXY get the same seed and different salts: the same
// shares of faults, on different requests.
func mixFaults(seed, salt uint64) *faults {
	return &faults{seed: seed, salt: salt, statuses: []int{502, 503}, statusRate: 0.10, resetAny: 0.02, hang: 0.01, truncate: 0.01}
}

// scenarios returns the fault scenarios, their faults drawn with seed.
// tampered maps the URL path of one zip to the altered bytes that the
// first mirror of "tampered" serves.
func scenarios(seed uint64, tampered map[string][]byte, tamperedMod string) []scenario {
	f := func(x faults) *faults {
		x.seed = seed
		return &x
	}
	return []scenario{
		{name: "none", legend: "one mirror without faults: the baseline of the one-mirror rows",
			mirrors: []*faults{nil}},
		{name: "mix", legend: "one mirror: 10% of requests answered 502 or 503, 2% of responses cut mid-body (connection closed), 1% never answered, 1% of zips cut short but served as a well-formed 200 (Content-Length to match); one draw per request, by hash of seed, path and attempt",
			mirrors: []*faults{mixFaults(seed, 0)}, seeded: true, baseline: "none"},
		{name: "none\\|none", legend: "GOPROXY=A|B, two mirrors of the same files without faults: the baseline of the two-mirror rows",
			mirrors: []*faults{nil, nil}},
		{name: "mix\\|mix", legend: "GOPROXY=A|B, the same files, and the mix on both, drawn independently",
			mirrors: []*faults{mixFaults(seed, 0), mixFaults(seed, 1)}, seeded: true, baseline: "none|none"},
		{name: "5xx", legend: "5% of responses are 502 Bad Gateway (by hash of path and attempt, so a retry can succeed)",
			mirrors: []*faults{f(faults{status: 502, statusRate: 0.05})}, seeded: true, baseline: "none"},
		{name: "502 per zip", legend: "the first request of every zip gets 502 Bad Gateway: CI that fails on one 502",
			mirrors: []*faults{f(faults{status: 502, statusZip1: true})}, baseline: "none"},
		{name: "429", legend: "5% of responses are 429 Too Many Requests with Retry-After: 1",
			mirrors: []*faults{f(faults{status: 429, statusRate: 0.05, retryAfter: "1"})}, seeded: true, baseline: "none"},
		{name: "reset", legend: "5% of zip bodies stop at half and the connection is closed",
			mirrors: []*faults{f(faults{reset: 0.05})}, seeded: true, baseline: "none"},
		{name: "hang", legend: "1% of requests never get response headers, until the client gives up",
			mirrors: []*faults{f(faults{hang: 0.01})}, seeded: true, baseline: "none"},
		{name: "stall", legend: "1% of zip bodies stop at half and the connection is held open",
			mirrors: []*faults{f(faults{stall: 0.01})}, seeded: true, baseline: "none"},
		{name: "slow\\|fast", legend: "GOPROXY=slow|fast, the same files; slow adds 1 s to every response",
			mirrors: []*faults{f(faults{delay: time.Second}), nil}, baseline: "none|none"},
		{name: "dead\\|mirror", legend: "GOPROXY=http://127.0.0.1:<closed port>|mirror",
			dead: true, mirrors: []*faults{nil}, baseline: "none"},
		{name: "tampered\\|clean", legend: "GOPROXY=A|B, the same files, except that A serves an altered zip of " + tamperedMod,
			mirrors: []*faults{f(faults{tamper: tampered}), nil}, baseline: "none|none"},
	}
}

// defaultScenarios are the rows of make bench-faults: the mix on one
// mirror and on two, each with its baseline.
var defaultScenarios = []string{"none", "mix", "none|none", "mix|mix"}

// checkScenarios returns an error if names holds one that is not a
// scenario.
func checkScenarios(names []string) error {
	var known []string
	for _, sc := range scenarios(0, nil, "") {
		known = append(known, plain(sc.name))
	}
	for _, name := range names {
		if name != "all" && !slices.Contains(known, name) {
			return fmt.Errorf("-scenarios: unknown scenario %q (want all, or some of %s)", name, strings.Join(known, ", "))
		}
	}
	return nil
}

// faultRow is one row of the fault table: a scenario with one seed, and
// the mirrors that serve it for the whole run.
type faultRow struct {
	sc   scenario
	seed uint64 // 0 for a scenario that is not seeded
	key  string // plain name, and the seed
	r    *faultRunner
	stop func()
}

// faultBench is one -faults run.
type faultBench struct {
	cfg      config
	log      *log.Logger
	tmp      string
	src      source
	goBin    string
	gocache  string
	tools    []tool
	extraEnv []string // for every run, such as GOMODX_RETRY_WAIT
	// trash holds the directories of finished runs, removed between
	// rounds (see bench.sweep).
	trash []string

	rows  []*faultRow
	cells map[[3]string]*faultCell // row key, command, tool
	// tamperedMod is the module whose zip the tampered scenario alters.
	tamperedMod string
}

// faultCell holds the runs of one tool on one row and command.
type faultCell struct {
	runs   []result
	failed bool
}

// runFaults prepares the graph (a real project's, or the generated one),
// starts the mirrors of every row, and runs every tool on every row and
// command, round by round, the rows and tools interleaved within each
// round; then it writes the report to stdout.
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
	if !cfg.generated {
		cfg.projects = cfg.projects[:1]
	}
	sources, err := makeSources(ctx, cfg, goBin, tmp, logger)
	if err != nil {
		return err
	}
	tools, err := setupTools(ctx, cfg, goBin, tmp, logger)
	if err != nil {
		return err
	}
	b := &faultBench{
		cfg:     cfg,
		log:     logger,
		tmp:     tmp,
		src:     sources[0],
		goBin:   goBin,
		gocache: filepath.Join(tmp, "gocache"),
		tools:   tools,
		cells:   make(map[[3]string]*faultCell),
	}
	defer func() {
		for _, row := range b.rows {
			row.stop()
		}
		for _, d := range b.trash {
			removeAll(d)
		}
	}()
	if cfg.retryWait > 0 {
		b.extraEnv = append(b.extraEnv, "GOMODX_RETRY_WAIT="+cfg.retryWait.String())
	}
	if cfg.eventsDir != "" {
		if err := os.MkdirAll(cfg.eventsDir, 0o777); err != nil {
			return err
		}
	}
	tampered, err := b.warmUp(ctx)
	if err != nil {
		return err
	}
	if err := b.startRows(ctx, tampered); err != nil {
		return err
	}
	if err := b.measure(ctx); err != nil {
		return err
	}
	b.report(stdout, goVersion)
	return nil
}

// warmUp runs go mod download once on a mirror without faults at RTT 0,
// with the cache check: a failure here is the harness's, so it stops the
// run before anything is timed. It returns the altered zip of the
// tampered scenario: the first that go mod download fetched.
func (b *faultBench) warmUp(ctx context.Context) (map[string][]byte, error) {
	r, closeMirrors, err := b.runnerFor(ctx, scenario{mirrors: []*faults{nil}}, 0)
	if err != nil {
		return nil, err
	}
	defer closeMirrors()
	goTool := tool{name: "go", label: "go", argv: func(cmd string) []string { return []string{b.goBin, "mod", cmd} }}
	res, modcache := r.run(ctx, goTool, "download", cacheSetup{check: true, keep: true})
	if res.err != nil {
		return nil, fmt.Errorf("warm-up: %v\n%s", res.err, res.stderr)
	}
	defer removeAll(filepath.Dir(modcache))
	if res.incomplete != nil {
		return nil, fmt.Errorf("warm-up: the cache that go mod download left fails the check: %v", res.incomplete)
	}
	b.log.Printf("warm-up: go mod download: %v, %d requests, %s", res.wall.Round(time.Millisecond), res.stats.requests, res.cached)
	tampered, mod, err := tamperFirst(filepath.Join(modcache, "cache", "download"), b.src.proxy)
	if err != nil {
		return nil, err
	}
	b.tamperedMod = mod.String()
	return tampered, nil
}

// startRows starts the mirrors of every row that -scenarios and
// -fault-seeds ask for.
func (b *faultBench) startRows(ctx context.Context, tampered map[string][]byte) error {
	want := b.cfg.scenarios
	if len(want) == 0 {
		want = defaultScenarios
	}
	for _, sc := range scenarios(0, nil, "") {
		name := plain(sc.name)
		if !slices.Contains(want, name) && !slices.Contains(want, "all") {
			continue
		}
		seeds := []uint64{0}
		if sc.seeded {
			seeds = b.cfg.faultSeeds
		}
		for _, seed := range seeds {
			var sc2 scenario
			for _, s := range scenarios(seed, tampered, b.tamperedMod) {
				if s.name == sc.name {
					sc2 = s
				}
			}
			r, stop, err := b.runnerFor(ctx, sc2, b.cfg.rtts[0])
			if err != nil {
				return err
			}
			row := &faultRow{sc: sc2, seed: seed, key: fmt.Sprintf("%s#%d", name, seed), r: r, stop: stop}
			b.rows = append(b.rows, row)
			b.log.Printf("row %s: GOPROXY=%s", row.label(), r.goproxy)
		}
	}
	return nil
}

// label names a row in the log.
func (row *faultRow) label() string {
	if row.seed == 0 {
		return plain(row.sc.name)
	}
	return fmt.Sprintf("%s seed %d", plain(row.sc.name), row.seed)
}

// measure runs every tool on every row and command, round by round: in
// each round every row, and in each row every tool, so that drift in the
// machine's speed spreads over all of them alike. A tool that fails on a
// row is not run on it again: the faults are the same every time.
func (b *faultBench) measure(ctx context.Context) error {
	for round := 1; round <= b.cfg.rounds; round++ {
		for _, cmd := range b.cfg.commands {
			for _, row := range b.rows {
				for _, t := range b.tools {
					if err := b.runOne(ctx, row, cmd, t, round); err != nil {
						return err
					}
				}
			}
		}
		b.sweep(round < b.cfg.rounds)
	}
	return nil
}

// runOne runs t's cmd on row once, in round round, and records it.
func (b *faultBench) runOne(ctx context.Context, row *faultRow, cmd string, t tool, round int) error {
	key := [3]string{row.key, cmd, t.name}
	c := b.cells[key]
	if c == nil {
		c = new(faultCell)
		b.cells[key] = c
	}
	if c.failed {
		return nil
	}
	var res result
	if t.broken != nil {
		res = result{err: t.broken, stderr: t.brokenOut}
	} else {
		name := strings.NewReplacer("|", "+", "#", "-seed").Replace(fmt.Sprintf("%s-%s-%s-round%d", row.key, cmd, t.name, round))
		res, _ = row.r.run(ctx, t, cmd, cacheSetup{check: true, name: name})
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.runs = append(c.runs, res)
	line := fmt.Sprintf("%s %s round %d/%d %s: %s, %d requests, %d faults injected",
		row.label(), cmd, round, b.cfg.rounds, t.label, cellText([]result{res}, b.cfg.timeout), res.stats.requests, res.stats.faulted)
	if s := res.summary; s != nil {
		line += fmt.Sprintf("; gomodx: %d retries, %d hedges sent, %d won, %d failovers, %d mismatches; last file done at %.1f s: %s, %.1f s from its request",
			s.Retries, s.hedged, s.Hedges, s.Failovers, s.Mismatches, s.slowestFinished, s.slowest, s.slowestElapsed)
	}
	b.log.Print(line)
	if res.err != nil || res.incomplete != nil {
		c.failed = true
		logFailure(b.log, t, res)
	}
	return nil
}

// sweep removes the directories of finished runs, then, if settle, syncs
// and waits -settle (see bench.sweep).
func (b *faultBench) sweep(settle bool) {
	if len(b.trash) == 0 {
		return
	}
	for _, d := range b.trash {
		removeAll(d)
	}
	b.trash = nil
	if !settle || b.cfg.settle <= 0 {
		return
	}
	syncDisks()
	b.log.Printf("removed the runs' module caches; waiting %v before timing again", b.cfg.settle)
	time.Sleep(b.cfg.settle)
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
		m, err := startMirror(b.src.proxy, link{handshake: b.cfg.handshake, total: b.cfg.bandwidth * 1e6, perConn: b.cfg.connBandwidth * 1e6})
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
		tmp:       b.tmp,
		project:   b.src.project,
		env:       env,
		timeout:   b.cfg.timeout,
		mirrors:   mirrors,
		goBin:     b.goBin,
		trash:     &b.trash,
		sync:      true,
		events:    true,
		eventsDir: b.cfg.eventsDir,
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

// header writes a table's header: scenario, seed, command (with several),
// a column per tool aligned by align, then more columns.
func (b *faultBench) header(w io.Writer, multi bool, align string, more ...string) {
	fmt.Fprintf(w, "| scenario | seed |")
	if multi {
		fmt.Fprintf(w, " command |")
	}
	for _, t := range b.tools {
		fmt.Fprintf(w, " %s |", t.label)
	}
	for _, m := range more {
		fmt.Fprintf(w, " %s |", m)
	}
	fmt.Fprintf(w, "\n|---|---:|")
	if multi {
		fmt.Fprintf(w, "---|")
	}
	for range b.tools {
		fmt.Fprint(w, align)
	}
	for range more {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w)
}

// eachRow calls f for every row and command of the tables, with the row's
// first cells written.
func (b *faultBench) eachRow(w io.Writer, f func(row *faultRow, cmd string)) {
	for _, row := range b.rows {
		for _, cmd := range b.cfg.commands {
			seed := "–"
			if row.seed != 0 {
				seed = fmt.Sprint(row.seed)
			}
			fmt.Fprintf(w, "| %s | %s |", row.sc.name, seed)
			if len(b.cfg.commands) > 1 {
				fmt.Fprintf(w, " %s |", cmd)
			}
			f(row, cmd)
			fmt.Fprintln(w)
		}
	}
}

// report writes the fault table, the scenarios and the mirrors' counts.
func (b *faultBench) report(w io.Writer, goVersion string) {
	fmt.Fprintf(w, "## gomodx vs go on faulty mirrors\n\n")
	fmt.Fprintf(w, "- graph: %s; %s\n", b.src.title, strings.Join(b.src.about, "; "))
	fmt.Fprintf(w, "- mirrors: HTTP/1.1 on 127.0.0.1, RTT %s, each new connection %g RTT more; GOSUMDB=off, go.sum complete; the faults are deterministic: by hash of the seed, the path and the attempt (requests for that path so far)\n",
		ms(b.cfg.rtts[0]), b.cfg.handshake)
	fmt.Fprintf(w, "- %s, %s; cold GOMODCACHE at a new path and a fresh copy of the main module per run, after a sync; %d round(s), the rows and the tools interleaved within each round; the caches removed between rounds, then %v of rest; every command killed after %s\n",
		goVersion, cpus(), b.cfg.rounds, b.cfg.settle, limitSecs(b.cfg.timeout))
	fmt.Fprintf(w, "- load average (1 min) when the runs started: %s\n", b.loadText())
	if b.cfg.retryWait > 0 {
		fmt.Fprintf(w, "- gomodx with its defaults except GOMODX_RETRY_WAIT=%v\n", b.cfg.retryWait)
	} else {
		fmt.Fprintf(w, "- gomodx with its defaults\n")
	}
	if b.cfg.gomodx == "go" {
		fmt.Fprintf(w, "- the gomodx column runs the plain go command (-gomodx go): a test of the harness\n")
	}
	fmt.Fprintln(w)

	multi := len(b.cfg.commands) > 1
	var more []string
	for _, t := range b.tools {
		if isGomodx(t) {
			more = append(more, t.label+" ÷ fault-free", t.label+" retries / hedges sent (won) / failovers / mismatches")
		}
	}
	b.header(w, multi, "---|", more...)
	b.eachRow(w, func(row *faultRow, cmd string) {
		for _, t := range b.tools {
			fmt.Fprintf(w, " %s |", b.cellSummary(b.cells[[3]string{row.key, cmd, t.name}]))
		}
		for _, t := range b.tools {
			if isGomodx(t) {
				fmt.Fprintf(w, " %s | %s |", b.slowdown(row, cmd, t.name), b.counts(row, cmd, t.name))
			}
		}
	})

	fmt.Fprintf(w, "\n- `ok n/N: t (min–max)`: n of N runs exited 0 with a module cache that is complete and intact: with GOPROXY=off and GOFLAGS=-mod=mod, `go mod verify` and then the plain go command's own `go mod download` pass on it (verify alone passes a module that is missing altogether); t is the median wall time\n")
	fmt.Fprintf(w, "- `FAIL t (why)`: exit status not 0 after t, or 0 with a cache that fails that check; why is read from the output; a tool that fails on a row is not run on it again (the faults are the same every time)\n")
	fmt.Fprintf(w, "- `hung (killed at %s)`: still running at the time limit, and no request begun or answered for the last %v of it\n", limitSecs(b.cfg.timeout), hungAfter)
	fmt.Fprintf(w, "- `unfinished (killed at %s, still fetching)`: still running at the time limit, but slowly making progress\n", limitSecs(b.cfg.timeout))
	fmt.Fprintf(w, "- gomodx ÷ fault-free: gomodx's time on the row over its time on the fault-free row with as many mirrors, in the same round; the median of the rounds (min–max)\n")
	fmt.Fprintf(w, "- retries, hedges won, failovers, mismatches: the totals of gomodx's summary event (--json-file), hedges sent: its hedge events; medians of the runs\n\n")
	fmt.Fprintf(w, "Scenarios:\n\n")
	seen := map[string]bool{}
	for _, row := range b.rows {
		if !seen[row.sc.name] {
			seen[row.sc.name] = true
			fmt.Fprintf(w, "- %s: %s\n", plain(row.sc.name), row.sc.legend)
		}
	}

	fmt.Fprintf(w, "\nMirrors, per run (median): requests / faults injected\n\n")
	b.header(w, multi, "---:|")
	b.eachRow(w, func(row *faultRow, cmd string) {
		for _, t := range b.tools {
			c := b.cells[[3]string{row.key, cmd, t.name}]
			if c == nil || len(c.runs) == 0 {
				fmt.Fprintf(w, " – |")
				continue
			}
			var req, faulted []int64
			for _, r := range c.runs {
				req = append(req, r.stats.requests)
				faulted = append(faulted, r.stats.faulted)
			}
			fmt.Fprintf(w, " %d / %d |", medianOf(req), medianOf(faulted))
		}
	})
}

// cellSummary sums up a cell's runs: "ok 3/3: 4.1 s (3.9–4.4)", or how the
// run that failed failed.
func (b *faultBench) cellSummary(c *faultCell) string {
	if c == nil || len(c.runs) == 0 {
		return "–"
	}
	if c.failed {
		text := cellText(c.runs[len(c.runs)-1:], b.cfg.timeout)
		if n := len(c.runs); n > 1 {
			text += fmt.Sprintf(" in round %d, after %d ok", n, n-1)
		}
		return text
	}
	var xs []float64
	for _, r := range c.runs {
		xs = append(xs, r.wall.Seconds())
	}
	text := fmt.Sprintf("ok %d/%d: %.1f s", len(c.runs), len(c.runs), medianOf(xs))
	if len(xs) > 1 {
		text += fmt.Sprintf(" (%.1f–%.1f)", slices.Min(xs), slices.Max(xs))
	}
	return text
}

// slowdown is tool's time on row over its time on the row's baseline,
// round by round: "1.42× (1.30–1.61)".
func (b *faultBench) slowdown(row *faultRow, cmd, tool string) string {
	if row.sc.baseline == "" {
		return "–"
	}
	g := b.cells[[3]string{row.key, cmd, tool}]
	base := b.cells[[3]string{row.sc.baseline + "#0", cmd, tool}]
	if g == nil || base == nil {
		return "–"
	}
	var rs []float64
	for i := range min(len(g.runs), len(base.runs)) {
		a, z := g.runs[i], base.runs[i]
		if a.err == nil && a.incomplete == nil && z.err == nil && z.incomplete == nil && z.wall > 0 {
			rs = append(rs, a.wall.Seconds()/z.wall.Seconds())
		}
	}
	switch len(rs) {
	case 0:
		return "–"
	case 1:
		return fmt.Sprintf("%.2f×", rs[0])
	}
	return fmt.Sprintf("%.2f× (%.2f–%.2f)", medianOf(rs), slices.Min(rs), slices.Max(rs))
}

// counts sums up gomodx's own counts over tool's runs on row (medians).
func (b *faultBench) counts(row *faultRow, cmd, tool string) string {
	c := b.cells[[3]string{row.key, cmd, tool}]
	if c == nil {
		return "–"
	}
	var retries, sent, won, failovers, mismatches []float64
	for _, r := range c.runs {
		s := r.summary
		if s == nil {
			continue
		}
		retries = append(retries, float64(s.Retries))
		sent = append(sent, float64(s.hedged))
		won = append(won, float64(s.Hedges))
		failovers = append(failovers, float64(s.Failovers))
		mismatches = append(mismatches, float64(s.Mismatches))
	}
	if len(retries) == 0 {
		return "–"
	}
	return fmt.Sprintf("%g / %g (%g) / %g / %g", medianOf(retries), medianOf(sent), medianOf(won), medianOf(failovers), medianOf(mismatches))
}

// loadText sums up the load averages seen when the runs started.
func (b *faultBench) loadText() string {
	var xs []float64
	for _, c := range b.cells {
		for _, r := range c.runs {
			if r.load > 0 {
				xs = append(xs, r.load)
			}
		}
	}
	return loadSummary(xs)
}

// tamperFirst returns the altered zip that the tampered scenario serves:
// the first zip (in path order) of the cache/download tree fetched, as
// proxy serves it, with a line added to its Go files. It is still a
// valid module zip; only its hash differs from go.sum.
func tamperFirst(fetched, proxy string) (map[string][]byte, module.Version, error) {
	var rel string
	err := filepath.WalkDir(fetched, func(p string, d fs.DirEntry, err error) error {
		if err != nil || rel != "" {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".zip") {
			rel, err = filepath.Rel(fetched, p)
			if err != nil {
				return err
			}
			return filepath.SkipAll
		}
		return nil
	})
	if err != nil {
		return nil, module.Version{}, err
	}
	if rel == "" {
		return nil, module.Version{}, fmt.Errorf("no zip to alter in %s", fetched)
	}
	escPath, file, _ := strings.Cut(filepath.ToSlash(rel), "/@v/")
	modPath, err1 := module.UnescapePath(escPath)
	version, err2 := module.UnescapeVersion(strings.TrimSuffix(file, ".zip"))
	if err := cmpErr(err1, err2); err != nil {
		return nil, module.Version{}, fmt.Errorf("%s: %w", rel, err)
	}
	name := filepath.Join(proxy, rel)
	data, err := tamperZip(name)
	if err != nil {
		return nil, module.Version{}, fmt.Errorf("altering %s: %w", name, err)
	}
	return map[string][]byte{"/" + filepath.ToSlash(rel): data}, module.Version{Path: modPath, Version: version}, nil
}

// cmpErr returns the first error that is not nil.
func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
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
