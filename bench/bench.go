package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// source is one module graph to measure on: a GOPROXY file tree and the
// main module that needs it.
type source struct {
	title   string   // the report's heading
	about   []string // the report's lines about the graph
	proxy   string   // the GOPROXY tree the mirror serves
	project string   // the main module, copied for each run
}

// bench measures the tools on one source: its mirror, its runs, and what
// they measured.
type bench struct {
	cfg    config
	log    *log.Logger
	tmp    string
	runner *runner
	tools  []tool
	// warmCache is a GOMODCACHE after go mod download, extracted modules
	// and all: the input of the warm-cache comparison.
	warmCache string
	// trash holds the directories of finished runs, removed by sweep.
	trash []string
	// lastDownload is the directory of the last download run: the module
	// cache that the first run after go clean -modcache cleans.
	lastDownload string

	cells map[cellKey]*cell
	warm  map[string][]time.Duration // tool → walls, round by round
	shown map[string]bool            // tool/command whose failure was printed
}

// The operations of the table: the commands, and a download right after
// go clean -modcache removed a full module cache.
const (
	opDownload = "download"
	opTidy     = "tidy"
	opClean    = "clean+download"
)

// cellKey names a cell of the table.
type cellKey struct {
	rtt  time.Duration
	op   string
	tool string
}

// cell holds the runs of one tool, operation and RTT, round by round.
type cell struct {
	runs   []result
	failed bool
}

// run measures every tool on every source, and writes the report to
// stdout; progress goes to stderr.
func run(ctx context.Context, cfg config, stdout, stderr io.Writer) (err error) {
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
	sources, err := makeSources(ctx, cfg, goBin, tmp, logger)
	if err != nil {
		return err
	}
	tools, err := setupTools(ctx, cfg, goBin, tmp, logger)
	if err != nil {
		return err
	}
	reportHeader(stdout, cfg, goVersion, tmp)
	for i, src := range sources {
		b := &bench{
			cfg:   cfg,
			log:   logger,
			tmp:   tmp,
			tools: tools,
			cells: make(map[cellKey]*cell),
			warm:  make(map[string][]time.Duration),
			shown: make(map[string]bool),
		}
		if err := b.measureSource(ctx, src, goBin, filepath.Join(tmp, fmt.Sprint("src", i))); err != nil {
			return err
		}
		b.report(stdout, src)
		// The next source's runs must not pay for this one's removal.
		b.sweep(i < len(sources)-1)
	}
	return nil
}

// makeSources fetches (or checks) the real graphs that -projects names,
// or generates the synthetic graph with -generated.
func makeSources(ctx context.Context, cfg config, goBin, tmp string, logger *log.Logger) ([]source, error) {
	if cfg.generated {
		start := time.Now()
		g, err := newGraph(graphConfig{seed: cfg.seed, modules: cfg.modules, scale: cfg.scale, unpruned: cfg.unpruned})
		if err != nil {
			return nil, err
		}
		lay, err := g.writeTree(ctx, tmp)
		if err != nil {
			return nil, fmt.Errorf("generating the module graph: %w", err)
		}
		logger.Printf("generated %d module versions (go reads %d go.mod files), %d zips to download (%.1f MB) in %v",
			len(g.nodes), count(g.reads()), lay.fetched, mb(lay.zipped), time.Since(start).Round(time.Millisecond))
		mode := "pruned graph, main module at go 1.21"
		if g.cfg.unpruned {
			mode = "unpruned graph, main module at go 1.16"
		}
		return []source{{
			title: "a generated module graph",
			about: []string{fmt.Sprintf("%d module versions, go reads %d go.mod files and downloads %d zips (%.1f MB, largest %.1f MB); depth %d, %s, seed %d; each zip holds 2 or 3 files",
				len(g.nodes), count(g.reads()), lay.fetched, mb(lay.zipped), mb(lay.largest), g.depth(), mode, g.cfg.seed)},
			proxy:   lay.proxy,
			project: lay.project,
		}}, nil
	}
	c := &corpus{dir: cfg.corpus, goBin: goBin, proxy: cfg.corpusProxy, log: logger}
	var out []source
	for _, name := range cfg.projects {
		p, err := findProject(name)
		if err != nil {
			return nil, err
		}
		lay, err := c.ensure(ctx, p)
		if err != nil {
			return nil, err
		}
		logger.Printf("%s: %d zips (%.1f MB) and %d go.mod files in %s, checked against go.sum", p.name, lay.zips, mb(lay.zipped), lay.mods, c.dir)
		out = append(out, source{
			title: fmt.Sprintf("%s (%s)", p.name, p.mod),
			about: []string{fmt.Sprintf("the module graph of %s as released: its go.mod and go.sum (in bench/testdata/real/%s), its packages for tidy; download and tidy fetch from %d zips (%.1f MB) and %d go.mod files, real ones, fetched once from %s",
				p.mod, p.name, lay.zips, mb(lay.zipped), lay.mods, cfg.corpusProxy)},
			proxy:   c.proxyTree(),
			project: lay.source,
		})
	}
	return out, nil
}

// measureSource starts the mirror of src and runs everything on it.
func (b *bench) measureSource(ctx context.Context, src source, goBin, dir string) error {
	m, err := startMirror(src.proxy, link{
		handshake: b.cfg.handshake,
		total:     b.cfg.bandwidth * 1e6,
		perConn:   b.cfg.connBandwidth * 1e6,
		tls:       b.cfg.tls,
		certDir:   dir,
	})
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		m.close(ctx)
	}()
	if b.cfg.resets > 0 {
		m.faults = &faults{seed: 1, reset: b.cfg.resets}
	}
	b.log.Printf("%s: mirror at %s", src.title, m.url)
	env := hermeticEnv(m.url, goBin, filepath.Join(b.tmp, "gocache"))
	if m.certFile != "" {
		env = append(env, "SSL_CERT_FILE="+m.certFile)
	}
	b.runner = &runner{
		tmp:     b.tmp,
		project: src.project,
		env:     env,
		timeout: b.cfg.timeout,
		mirrors: []*mirror{m},
		goBin:   goBin,
		trash:   &b.trash,
		sync:    true,
	}
	if err := b.prepare(ctx, goBin); err != nil {
		return err
	}
	b.sweep(true)
	if err := b.measure(ctx); err != nil {
		return err
	}
	return b.measureWarm(ctx)
}

// setupTools returns the tools of cfg.tools, building gomodx into tmp/bin
// unless -gomodx names one.
func setupTools(ctx context.Context, cfg config, goBin, tmp string, logger *log.Logger) ([]tool, error) {
	tools, err := newTools(cfg.tools, goBin, cfg.gomodx, cfg.gomodxBase)
	if err != nil {
		return nil, err
	}
	for i := range tools {
		if tools[i].name == "gomodx" && cfg.gomodx == "" {
			bin := filepath.Join(tmp, "bin", "gomodx")
			if out, err := buildGomodx(ctx, goBin, bin, 10*time.Minute); err != nil {
				tools[i].broken, tools[i].brokenOut = err, out
			} else {
				logger.Printf("built %s", bin)
			}
			tools[i].argv = func(cmd string) []string { return []string{bin, cmd} }
		}
		if tools[i].name == "gomodx" && len(cfg.wrap) > 0 {
			argv := tools[i].argv
			tools[i].argv = func(cmd string) []string { return append(slices.Clone(cfg.wrap), argv(cmd)...) }
		}
	}
	return tools, nil
}

// prepare runs the plain go command once per command at RTT 0. It proves
// that the graph, the mirror and the environment work before anything is
// timed (a failure here is the harness's, so it stops the run), and it
// leaves the cache that the warm comparison starts from.
func (b *bench) prepare(ctx context.Context, goBin string) error {
	goTool := tool{name: "go", label: "go", argv: func(cmd string) []string { return []string{goBin, "mod", cmd} }}
	cmds := slices.Clone(b.cfg.commands)
	if b.cfg.warmRounds > 0 && !slices.Contains(cmds, opDownload) {
		cmds = append(cmds, opDownload)
	}
	b.runner.setRTT(0)
	for _, cmd := range cmds {
		res, modcache := b.runner.run(ctx, goTool, cmd, cacheSetup{keep: true})
		if res.err != nil {
			return fmt.Errorf("warm-up: %v\n%s", res.err, res.stderr)
		}
		b.log.Printf("warm-up: go mod %s: %v, %d requests", cmd, res.wall.Round(time.Millisecond), res.stats.requests)
		if cmd == opDownload && b.warmCache == "" {
			b.warmCache = modcache
		} else {
			b.trash = append(b.trash, filepath.Dir(modcache))
		}
	}
	return nil
}

// measure runs every tool on every command at every RTT, interleaving the
// tools within each round so that drift in the machine's speed spreads
// over all of them alike; then, at the largest RTT, the download right
// after go clean -modcache. A tool that fails is shown once and skipped
// for the remaining rounds of that row.
//
// Each run gets a module cache at a new path, after a sync. No cache is
// removed while anything is timed: on ext4 without a journal (this
// machine's), creating files within a minute or so of many being removed
// is several times slower, which is the clean+download row's subject and
// must not leak into the others.
func (b *bench) measure(ctx context.Context) error {
	for _, rtt := range b.cfg.rtts {
		b.runner.setRTT(rtt)
		for _, cmd := range b.cfg.commands {
			if err := b.rounds(ctx, rtt, cmd, nil); err != nil {
				return err
			}
		}
	}
	if !b.cfg.clean || !slices.Contains(b.cfg.commands, opDownload) {
		return nil
	}
	rtt := slices.Max(b.cfg.rtts)
	b.runner.setRTT(rtt)
	return b.rounds(ctx, rtt, opClean, b.cleanPrevious)
}

// rounds runs the rounds of one row; before, if set, runs untimed before
// each run.
func (b *bench) rounds(ctx context.Context, rtt time.Duration, op string, before func(context.Context) error) error {
	cmd := op
	if op == opClean {
		cmd = opDownload
	}
	for round := 1; round <= b.cfg.rounds; round++ {
		for _, t := range b.tools {
			c := b.cell(cellKey{rtt, op, t.name})
			if c.failed {
				continue
			}
			if before != nil {
				if err := before(ctx); err != nil {
					return err
				}
			}
			res := b.runTool(ctx, t, cmd)
			if err := ctx.Err(); err != nil {
				return err
			}
			c.runs = append(c.runs, res)
			if res.err != nil {
				c.failed = true
				b.showFailure(t, op, res)
				continue
			}
			if cmd == opDownload {
				b.lastDownload = res.dir
			}
			b.log.Printf("rtt %s %s round %d/%d %s: %v, cpu %v, rss %.0f MB; %d requests, %d connections, peak %d in flight",
				ms(rtt), op, round, b.cfg.rounds, t.label, res.wall.Round(time.Millisecond), res.cpu.Round(time.Millisecond),
				mb(res.maxRSS), res.stats.requests, res.stats.conns, res.stats.peak)
		}
	}
	return nil
}

// cleanPrevious runs go clean -modcache on the module cache of the last
// download, as a user does before a cold download, then syncs: what the
// next run meets is the file system right after a large removal.
func (b *bench) cleanPrevious(ctx context.Context) error {
	if b.lastDownload == "" {
		return fmt.Errorf("clean+download: no module cache to clean")
	}
	modcache := filepath.Join(b.lastDownload, "modcache")
	ctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
	defer cancel()
	c := exec.CommandContext(ctx, b.runner.goBin, "clean", "-modcache")
	c.Dir = b.lastDownload
	c.Env = append(b.runner.env[:len(b.runner.env):len(b.runner.env)], "GOMODCACHE="+modcache, "GOPATH="+filepath.Join(b.lastDownload, "gopath"))
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("go clean -modcache: %v\n%s", err, out)
	}
	syncDisks()
	return nil
}

// sweep removes the directories of finished runs, then, if settle, syncs
// and waits -settle so that the file system no longer treats their inodes
// as recently freed (see measure).
func (b *bench) sweep(settle bool) {
	if len(b.trash) == 0 {
		return
	}
	start := time.Now()
	for _, d := range b.trash {
		removeAll(d)
	}
	b.trash = nil
	if !settle || b.cfg.settle <= 0 {
		return
	}
	syncDisks()
	b.log.Printf("removed the runs' module caches in %v; waiting %v before timing again", time.Since(start).Round(time.Millisecond), b.cfg.settle)
	time.Sleep(b.cfg.settle)
}

// runTool runs one measured run of t.
func (b *bench) runTool(ctx context.Context, t tool, cmd string) result {
	if t.broken != nil {
		return result{err: t.broken, stderr: t.brokenOut}
	}
	res, _ := b.runner.run(ctx, t, cmd, cacheSetup{})
	return res
}

// measureWarm compares the tools on a fully warm module cache at RTT 0:
// what a user pays for typing gomodx when there is nothing to fetch.
func (b *bench) measureWarm(ctx context.Context) error {
	if b.cfg.warmRounds == 0 || b.warmCache == "" {
		return nil
	}
	defer func() { b.trash = append(b.trash, filepath.Dir(b.warmCache)) }()
	b.runner.setRTT(0)
	failed := make(map[string]bool)
	for round := 1; round <= b.cfg.warmRounds; round++ {
		for _, t := range b.tools {
			if failed[t.name] {
				continue
			}
			var res result
			if t.broken != nil {
				res = result{err: t.broken, stderr: t.brokenOut}
			} else {
				res, _ = b.runner.run(ctx, t, opDownload, cacheSetup{shared: b.warmCache})
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if res.err != nil {
				failed[t.name] = true
				b.warm[t.name] = nil
				b.showFailure(t, "download (warm)", res)
				continue
			}
			b.warm[t.name] = append(b.warm[t.name], res.wall)
		}
	}
	b.log.Printf("warm cache: %d rounds done", b.cfg.warmRounds)
	return nil
}

// cell returns the cell for k, creating it.
func (b *bench) cell(k cellKey) *cell {
	c, ok := b.cells[k]
	if !ok {
		c = new(cell)
		b.cells[k] = c
	}
	return c
}

// showFailure prints a failed command's error and output tail, once per
// tool and command: the table only says "fail".
func (b *bench) showFailure(t tool, cmd string, res result) {
	key := t.name + "/" + cmd
	if t.broken != nil {
		key = t.name
	}
	if b.shown[key] {
		return
	}
	b.shown[key] = true
	b.log.Printf("%s %s failed: %v", t.label, cmd, res.err)
	if res.stderr != "" {
		lines := strings.Split(res.stderr, "\n")
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		for _, l := range lines {
			b.log.Printf("\t%s", l)
		}
	}
}

// findGo returns the absolute path of the go command to measure (bin, or
// the first go on PATH) and its version.
func findGo(ctx context.Context, bin string) (string, string, error) {
	if bin == "" {
		bin = "go"
	}
	p, err := exec.LookPath(bin)
	if err != nil {
		return "", "", err
	}
	if p, err = filepath.Abs(p); err != nil {
		return "", "", err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, p, "env", "GOVERSION").Output()
	if err != nil {
		return "", "", fmt.Errorf("%s env GOVERSION: %w", p, err)
	}
	return p, strings.TrimSpace(string(out)), nil
}

// buildGomodx builds gomodx from the module in the current directory into
// out, with the caller's own environment (it may need the real GOPROXY).
func buildGomodx(ctx context.Context, goBin, out string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := exec.CommandContext(ctx, goBin, "build", "-o", out, "github.com/gomodx/gomodx")
	c.WaitDelay = 5 * time.Second
	var t tail
	c.Stdout, c.Stderr = &t, &t
	if err := c.Run(); err != nil {
		return t.String(), fmt.Errorf("go build github.com/gomodx/gomodx: %w", err)
	}
	return "", nil
}

// mb converts bytes to megabytes (10^6, as network speeds count).
func mb(n int64) float64 { return float64(n) / 1e6 }

// cpus describes the machine for the report.
func cpus() string {
	return fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
}

// scratch makes the run's temporary directory; cleanup removes it, unless
// -keep asked to keep it for a look.
func scratch(cfg config, logger *log.Logger, prefix string) (dir string, cleanup func(), err error) {
	dir, err = os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	return dir, func() {
		if cfg.keep {
			logger.Printf("kept %s", dir)
		} else {
			removeAll(dir)
		}
	}, nil
}
