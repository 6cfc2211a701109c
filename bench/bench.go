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

// bench is one benchmark run: the generated tree, the mirror serving it, the
// tools to compare and what they measured.
type bench struct {
	cfg    config
	log    *log.Logger
	tmp    string
	runner *runner
	tools  []tool
	// filled maps a command to a GOMODCACHE holding only the cache/download
	// that the go command left after running it: the limit column's input.
	filled map[string]string
	// warmCache is a GOMODCACHE after go mod download, extracted modules
	// and all: the input of the warm-cache comparison.
	warmCache string
	// fetched maps a command to the bytes the go command fetched for it:
	// with a bandwidth limit, their transfer time is part of the limit.
	fetched map[string]int64

	cells map[cellKey]*cell
	warm  map[string][]time.Duration // tool → walls, round by round
	shown map[string]bool            // tool/command whose failure was printed
}

// cellKey names a cell of the table.
type cellKey struct {
	rtt  time.Duration
	cmd  string
	tool string
}

// cell holds the runs of one tool, command and RTT.
type cell struct {
	runs   []result
	failed bool
}

// run generates the graph, starts the mirror and measures every tool,
// then writes the report to stdout; progress goes to stderr.
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
	start := time.Now()
	g, err := newGraph(graphConfig{seed: cfg.seed, modules: cfg.modules, scale: cfg.scale, unpruned: cfg.unpruned})
	if err != nil {
		return err
	}
	lay, err := g.writeTree(ctx, tmp)
	if err != nil {
		return fmt.Errorf("generating the module graph: %w", err)
	}
	logger.Printf("generated %d module versions (go reads %d go.mod files), %d zips to download (%.1f MB) in %v",
		len(g.nodes), count(g.reads()), lay.fetched, mb(lay.zipped), time.Since(start).Round(time.Millisecond))

	m, err := startMirror(lay.proxy, cfg.handshake, cfg.bandwidth*1e6)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		m.close(ctx)
	}()
	logger.Printf("mirror at %s", m.url)

	tools, err := setupTools(ctx, cfg, goBin, tmp, logger)
	if err != nil {
		return err
	}

	gocache := filepath.Join(tmp, "gocache")
	b := &bench{
		cfg: cfg,
		log: logger,
		tmp: tmp,
		runner: &runner{
			tmp:     tmp,
			project: lay.project,
			env:     hermeticEnv(m.url, goBin, gocache),
			timeout: cfg.timeout,
			mirrors: []*mirror{m},
			goBin:   goBin,
		},
		tools:   tools,
		filled:  make(map[string]string),
		fetched: make(map[string]int64),
		cells:   make(map[cellKey]*cell),
		warm:    make(map[string][]time.Duration),
		shown:   make(map[string]bool),
	}
	if err := b.prepare(ctx, goBin); err != nil {
		return err
	}
	if err := b.measure(ctx); err != nil {
		return err
	}
	if err := b.measureWarm(ctx); err != nil {
		return err
	}
	b.report(stdout, reportHeader{graph: g, layout: lay, goVersion: goVersion})
	return nil
}

// setupTools returns the tools of cfg.tools, building gomodx into tmp/bin
// unless -gomodx names one.
func setupTools(ctx context.Context, cfg config, goBin, tmp string, logger *log.Logger) ([]tool, error) {
	tools, err := newTools(cfg.tools, goBin, cfg.gomodx)
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
	}
	return tools, nil
}

// prepare runs the plain go command once per command at RTT 0. It proves
// that the tree, the mirror and the environment work before anything is
// timed (a failure here is the harness's, so it stops the run), and it
// leaves the caches that the limit column and the warm comparison start
// from.
func (b *bench) prepare(ctx context.Context, goBin string) error {
	goTool := tool{name: "go", label: "go", argv: func(cmd string) []string { return []string{goBin, "mod", cmd} }}
	cmds := slices.Clone(b.cfg.commands)
	if b.cfg.warmRounds > 0 && !slices.Contains(cmds, "download") {
		cmds = append(cmds, "download")
	}
	b.runner.setRTT(0)
	for _, cmd := range cmds {
		res, modcache := b.runner.run(ctx, goTool, cmd, cacheSetup{keep: true})
		if res.err != nil {
			return fmt.Errorf("warm-up: %v\n%s", res.err, res.stderr)
		}
		b.log.Printf("warm-up: go mod %s: %v, %d requests", cmd, res.wall.Round(time.Millisecond), res.stats.requests)
		filled := filepath.Join(b.tmp, "filled-"+cmd)
		if err := copyTree(filepath.Join(modcache, "cache", "download"), filepath.Join(filled, "cache", "download")); err != nil {
			return err
		}
		b.filled[cmd] = filled
		b.fetched[cmd] = res.stats.bytes
		if cmd == "download" && b.warmCache == "" {
			b.warmCache = modcache
		} else {
			removeAll(filepath.Dir(modcache))
		}
	}
	return nil
}

// measure runs every tool on every command at every RTT, interleaving the
// tools within each round so that drift in the machine's speed spreads
// over all of them alike. A tool that fails is shown once and skipped for
// the remaining rounds of that RTT.
func (b *bench) measure(ctx context.Context) error {
	for _, rtt := range b.cfg.rtts {
		b.runner.setRTT(rtt)
		for _, cmd := range b.cfg.commands {
			for round := 1; round <= b.cfg.rounds; round++ {
				for _, t := range b.tools {
					c := b.cell(cellKey{rtt, cmd, t.name})
					if c.failed {
						continue
					}
					res := b.runTool(ctx, t, cmd)
					if err := ctx.Err(); err != nil {
						return err
					}
					c.runs = append(c.runs, res)
					if res.err != nil {
						c.failed = true
						b.showFailure(t, cmd, res)
						continue
					}
					b.log.Printf("rtt %s %s round %d/%d %s: %v, %d requests, %d connections, peak %d in flight",
						ms(rtt), cmd, round, b.cfg.rounds, t.label, res.wall.Round(time.Millisecond),
						res.stats.requests, res.stats.conns, res.stats.peak)
				}
			}
		}
	}
	return nil
}

// runTool runs one measured run of t.
func (b *bench) runTool(ctx context.Context, t tool, cmd string) result {
	if t.broken != nil {
		return result{err: t.broken, stderr: t.brokenOut}
	}
	var cs cacheSetup
	if t.warm {
		cs.from = b.filled[cmd]
	}
	res, _ := b.runner.run(ctx, t, cmd, cs)
	return res
}

// measureWarm compares the tools on a fully warm module cache at RTT 0:
// what a user pays for typing gomodx when there is nothing to fetch.
func (b *bench) measureWarm(ctx context.Context) error {
	if b.cfg.warmRounds == 0 || b.warmCache == "" {
		return nil
	}
	defer removeAll(filepath.Dir(b.warmCache))
	b.runner.setRTT(0)
	failed := make(map[string]bool)
	for round := 1; round <= b.cfg.warmRounds; round++ {
		for _, t := range b.tools {
			if t.warm || failed[t.name] {
				continue
			}
			var res result
			if t.broken != nil {
				res = result{err: t.broken, stderr: t.brokenOut}
			} else {
				res, _ = b.runner.run(ctx, t, "download", cacheSetup{shared: b.warmCache})
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
