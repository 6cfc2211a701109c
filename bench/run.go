package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// tool is one column of the table: a command line and the environment it
// adds to the common one.
type tool struct {
	name  string // as given to -tools
	label string // as shown in the table
	// argv returns the command line for a command ("download", "tidy").
	argv func(cmd string) []string
	env  []string
	// broken says why it cannot run at all (gomodx did not build), with the
	// output that shows why.
	broken    error
	brokenOut string
}

// newTools returns the tools named in names. gomodx is the path of the
// gomodx binary, or "go" to stand in the plain go command for it.
func newTools(names []string, goBin, gomodx, base string) ([]tool, error) {
	goArgv := func(cmd string) []string { return []string{goBin, "mod", cmd} }
	var tools []tool
	for _, name := range names {
		t := tool{name: name}
		switch name {
		case "go":
			t.label, t.argv = "go", goArgv
		case "gomodx":
			t.label = "gomodx"
			t.argv = func(cmd string) []string { return []string{gomodx, cmd} }
			if gomodx == "go" {
				t.argv = goArgv
			}
		case "gomodx-base":
			if base == "" {
				return nil, fmt.Errorf("-tools: gomodx-base needs -gomodx-base")
			}
			t.label = "gomodx (" + filepath.Base(base) + ")"
			t.argv = func(cmd string) []string { return []string{base, cmd} }
		case "go16":
			t.label, t.argv, t.env = "GOMAXPROCS=16 go", goArgv, []string{"GOMAXPROCS=16"}
		default:
			return nil, fmt.Errorf("-tools: unknown tool %q (want go, gomodx, go16, gomodx-base)", name)
		}
		tools = append(tools, t)
	}
	return tools, nil
}

// isGomodx reports whether t runs a gomodx binary.
func isGomodx(t tool) bool { return t.name == "gomodx" || t.name == "gomodx-base" }

// runner runs one command of one tool at a time, each in its own fresh
// directory with a fresh GOMODCACHE and GOPATH and a fresh copy of the main
// module, and measures it.
type runner struct {
	tmp     string   // parent of the per-run directories
	project string   // the main module to copy
	env     []string // common environment, see hermeticEnv
	timeout time.Duration
	mirrors []*mirror // behind GOPROXY; their counts are the run's
	goBin   string    // the go command that checks the cache (cacheSetup.check)
	// trash, if set, collects the directories of finished runs instead of
	// removing them at once: removing a module cache makes the file
	// system slower to create files for a while after (see sweep), so the
	// caller removes them when nothing is being timed.
	trash *[]string
	// sync flushes the file system before each timed run, so that no run
	// pays for writing back what the previous one left dirty.
	sync bool
	// events has gomodx write its JSON events (--json-file) into the
	// run's directory, and the run's result keep its summary.
	events bool
	// eventsDir, if set, keeps a copy of each gomodx run's events there,
	// named by cacheSetup.name.
	eventsDir string
	// fullOutput keeps the whole output of each run in outputFile in the
	// run's directory, besides the tail in result.stderr.
	fullOutput bool
}

// outputFile is where, in a run's directory, runner.fullOutput keeps the
// run's output.
const outputFile = "output.txt"

// setRTT sets the latency of every mirror.
func (r *runner) setRTT(d time.Duration) {
	for _, m := range r.mirrors {
		m.setRTT(d)
	}
}

// idle returns how long the mirrors have been idle, at most since start.
func (r *runner) idle(start time.Time) time.Duration {
	d := time.Since(start)
	for _, m := range r.mirrors {
		d = min(d, m.idle())
	}
	return d
}

// cancelAndThen returns a Cmd.Cancel function that calls f, then cancel.
func cancelAndThen(cancel func() error, f func()) func() error {
	return func() error {
		f()
		return cancel()
	}
}

// resetMirrors returns the mirrors' counts since the last reset, summed.
func (r *runner) resetMirrors() mirrorStats {
	var s mirrorStats
	for _, m := range r.mirrors {
		s = s.add(m.reset())
	}
	return s
}

// result is the outcome of one run.
type result struct {
	dir    string // the run's directory: modcache/, app/, gopath/
	wall   time.Duration
	cpu    time.Duration // user + system time of the process and its waited-for children
	maxRSS int64         // bytes; the largest of the process and its waited-for children
	stats  mirrorStats
	err    error
	stderr string // the tail, for failures
	// timedOut is set when the command was killed at the time limit;
	// idle is then how long the mirrors had seen no activity.
	timedOut bool
	idle     time.Duration
	// incomplete, with cacheSetup.check, says why the module cache that
	// a successful command left fails the check.
	incomplete error
	// summary is the summary event of gomodx's --json-file (runner.events),
	// nil when there was none (plain go, or nothing fetched).
	summary *progressSummary
	// output is the whole output of the run, with runner.fullOutput.
	output string
	// load is the machine's load average over the last minute when the
	// run started (0 where it cannot be read).
	load float64
	// cached counts what the module cache holds after the run (with
	// cacheSetup.check, when the run succeeded).
	cached cacheCount
}

// cacheSetup says which GOMODCACHE a run gets.
type cacheSetup struct {
	from   string // copy this directory into a new GOMODCACHE first
	shared string // use this GOMODCACHE as it is (a warm one), not a new one
	keep   bool   // leave the new GOMODCACHE for the caller, who removes it
	// check, after a successful command, checks that the module cache
	// is complete and intact without the network (see runner.check).
	check bool
	// name names the run's copy of its events in runner.eventsDir.
	name string
}

// run runs t's version of cmd on a fresh copy of the main module and
// returns the result and, with cs.keep, the GOMODCACHE it filled.
func (r *runner) run(ctx context.Context, t tool, cmd string, cs cacheSetup) (res result, modcache string) {
	dir, err := os.MkdirTemp(r.tmp, "run-")
	if err != nil {
		return result{err: err}, ""
	}
	modcache = filepath.Join(dir, "modcache")
	defer func() {
		switch {
		case cs.keep && res.err == nil:
		case r.trash != nil:
			*r.trash = append(*r.trash, dir)
			modcache = ""
		default:
			removeAll(dir)
			modcache = ""
		}
	}()
	app := filepath.Join(dir, "app")
	if err := copyTree(r.project, app); err != nil {
		return result{err: err}, ""
	}
	if cs.from != "" {
		if err := copyTree(cs.from, modcache); err != nil {
			return result{err: err}, ""
		}
	}
	mc := modcache
	if cs.shared != "" {
		mc = cs.shared
	}
	gopath := filepath.Join(dir, "gopath")
	res = r.exec(ctx, t, cmd, app, mc, gopath, dir)
	res.dir = dir
	if r.fullOutput {
		out, _ := os.ReadFile(filepath.Join(dir, outputFile))
		res.output = string(out)
	}
	if r.events && isGomodx(t) {
		events := filepath.Join(dir, eventsFile)
		res.summary = readSummary(events)
		if r.eventsDir != "" && cs.name != "" {
			copyFile(events, filepath.Join(r.eventsDir, cs.name+".jsonl"))
		}
	}
	if cs.check && res.err == nil {
		res.incomplete = r.check(ctx, cmd, app, mc, gopath)
		res.cached = countCache(filepath.Join(mc, "cache", "download"))
	}
	return res, modcache
}

// eventsFile is where, in a run's directory, gomodx writes its events.
const eventsFile = "events.jsonl"

// check checks, offline, that the module cache holds what cmd needs and
// that it is intact: go mod verify checks every module the cache holds
// against go.sum (after loading the module graph, so every go.mod must be
// there; a module missing altogether passes), and the go command's cmd,
// run again, finds everything it needs already there.
func (r *runner) check(ctx context.Context, cmd, app, modcache, gopath string) error {
	for _, args := range [][]string{{"mod", "verify"}, {"mod", cmd}} {
		ctx, cancel := context.WithTimeout(ctx, r.timeout)
		c := exec.CommandContext(ctx, r.goBin, args...)
		c.Dir = app
		c.Env = append(r.env[:len(r.env):len(r.env)],
			"GOMODCACHE="+modcache,
			"GOPATH="+gopath,
			"GOPROXY=off",
			"GOFLAGS=-mod=mod -modcacherw",
		)
		c.WaitDelay = 5 * time.Second
		out, err := c.CombinedOutput()
		cancel()
		if err != nil {
			return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// exec runs t's cmd in app with the given module cache and GOPATH, and
// gomodx's user cache (its mirror ranking) under dir, so that no run
// inherits another's.
func (r *runner) exec(ctx context.Context, t tool, cmd, app, modcache, gopath, dir string) result {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	argv := t.argv(cmd)
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.Dir = app
	c.Env = append(append(r.env[:len(r.env):len(r.env)],
		"GOMODCACHE="+modcache,
		"GOPATH="+gopath,
		"XDG_CACHE_HOME="+filepath.Join(dir, "usercache"),
	), t.env...)
	if r.events && isGomodx(t) {
		c.Env = append(c.Env, "GOMODX_JSON_FILE="+filepath.Join(dir, eventsFile))
	}
	var out tail
	c.Stdout, c.Stderr = &out, &out
	if r.fullOutput {
		f, err := os.Create(filepath.Join(dir, outputFile))
		if err != nil {
			return result{err: err}
		}
		defer f.Close()
		w := io.MultiWriter(&out, f)
		c.Stdout, c.Stderr = w, w
	}
	c.WaitDelay = 5 * time.Second
	killGroup(c)

	if r.sync {
		syncDisks()
	}
	r.resetMirrors()
	load := loadAverage()
	start := time.Now()
	var idle time.Duration
	c.Cancel = cancelAndThen(c.Cancel, func() { idle = r.idle(start) })
	err := c.Run()
	res := result{wall: time.Since(start), stats: r.resetMirrors(), stderr: out.String(), idle: idle, load: load}
	if c.ProcessState != nil {
		res.maxRSS = maxRSS(c.ProcessState)
		res.cpu = c.ProcessState.UserTime() + c.ProcessState.SystemTime()
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		res.timedOut = true
		err = fmt.Errorf("timed out after %v (-timeout): %w", r.timeout, err)
	}
	if err != nil {
		res.err = fmt.Errorf("%s: %w", strings.Join(t.argv(cmd), " "), err)
	}
	return res
}

// hermeticEnv returns the environment shared by every run: the caller's,
// without anything that would change what the go command does or where it
// looks (GO*, GOMODX_*, proxies), plus settings that point it at the mirror
// only. GOMODCACHE and GOPATH are set per run.
func hermeticEnv(mirrorURL, goBin, gocache string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch u := strings.ToUpper(k); {
		case strings.HasPrefix(u, "GO"), u == "HTTP_PROXY", u == "HTTPS_PROXY", u == "ALL_PROXY", u == "NO_PROXY":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"GOPROXY="+mirrorURL,
		"GOSUMDB=off",
		"GOFLAGS=-modcacherw",
		"GOTOOLCHAIN=local",
		"GOWORK=off",
		"GOENV=off",
		"GOTELEMETRY=off",
		"GOCACHE="+gocache,
		"GOMODX_GO="+goBin,
	)
}

// tail keeps the last bytes written to it, enough to show why a command
// failed without holding a chatty one's whole output.
type tail struct{ buf []byte }

const tailSize = 4 << 10

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
	return len(p), nil
}

// String returns at most the last tailSize bytes, from a line start.
func (t *tail) String() string {
	b := t.buf
	if len(b) > tailSize {
		b = b[len(b)-tailSize:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return strings.TrimRight(string(b), "\n")
}

// copyTree copies the regular files under src to dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o777)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(p, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// removeAll removes dir even where the module cache made files read-only
// (a tool that ignores -modcacherw).
func removeAll(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o777)
		}
		return nil
	})
	os.RemoveAll(dir)
}

// loadAverage returns the load average over the last minute, from
// /proc/loadavg, or 0 where there is none.
func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var load float64
	fmt.Sscan(string(data), &load)
	return load
}
