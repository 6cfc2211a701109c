package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/mod/module"

	"github.com/gomodx/gomodx/checksum"
	"github.com/gomodx/gomodx/goenv"
	"github.com/gomodx/gomodx/mirrors"
	"github.com/gomodx/gomodx/modcache"
	"github.com/gomodx/gomodx/prefetch"
	"github.com/gomodx/gomodx/retry"
	"github.com/gomodx/gomodx/wrap"
	"github.com/gomodx/gomodx/wrap/heal"
	"github.com/gomodx/gomodx/wrap/progress"
)

// config holds the flag values, each also settable by a GOMODX_ variable.
type config struct {
	jobs     int
	verbose  bool
	quiet    bool
	json     bool   // gomodx's events on stdout, where go has no -json of its own
	jsonFile string // gomodx's events to this file
	retry    retry.Policy
	mirrors  mirrorConfig
	// probeTimeout bounds the probes of 'gomodx mirrors' (0: the default).
	probeTimeout time.Duration
	goFlags      goFlags
}

// Bounds of gomodx's own flags. Values outside them are bad usage (exit
// status 2, as the go command's own bad flags): silently taking a negative
// wait, or a million jobs, would do something no one asked for.
const (
	// maxJobs keeps the connections and temp files of the jobs in flight
	// well inside the usual limit of 1024 open files.
	maxJobs = 256
	// maxRetries bounds what one file can cost a failing mirror, however
	// short --retry-wait is: a few attempts, not a loop. Past ten, the
	// next mirror is the better bet anyway.
	maxRetries = 10
	// minRetryWait is the shortest first wait before a retry: no wait at
	// all would have every job hammer a failing mirror, and would also
	// cap a mirror's Retry-After at nothing.
	minRetryWait = time.Millisecond
	maxRetryWait = time.Minute
)

func (cfg *config) flags() []cli.Flag {
	def := retry.Default()
	return append([]cli.Flag{
		&cli.IntFlag{Name: "jobs", Value: 64, Usage: fmt.Sprintf("files fetched at once (1 to %d)", maxJobs), EnvVars: []string{"GOMODX_JOBS"}, Destination: &cfg.jobs,
			Action: intInRange[int]("jobs", "GOMODX_JOBS", 1, maxJobs)},
		&cli.BoolFlag{Name: "v", Usage: "print every file fetched, with its mirror, size and time, and every hedged request", EnvVars: []string{"GOMODX_VERBOSE"}, Destination: &cfg.verbose},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only errors: no progress, no summary", EnvVars: []string{"GOMODX_QUIET"}, Destination: &cfg.quiet},
		&cli.StringFlag{Name: "json-file", Usage: "write gomodx's events to this file, one JSON object a line", EnvVars: []string{"GOMODX_JSON_FILE"}, Destination: &cfg.jsonFile},
		&cli.IntFlag{Name: "retries", Value: def.Retries, Usage: fmt.Sprintf("retries of a failed request on one mirror (0 to %d)", maxRetries), EnvVars: []string{"GOMODX_RETRIES"}, Destination: &cfg.retry.Retries,
			Action: intInRange[int]("retries", "GOMODX_RETRIES", 0, maxRetries)},
		&cli.DurationFlag{Name: "retry-wait", Value: def.WaitMin, Usage: fmt.Sprintf("first wait before a retry (%v to %v); it doubles, with jitter, up to 20 times this", minRetryWait, maxRetryWait), EnvVars: []string{"GOMODX_RETRY_WAIT"}, Destination: &cfg.retry.WaitMin,
			Action: durationInRange("retry-wait", "GOMODX_RETRY_WAIT", minRetryWait, maxRetryWait)},
		&cli.DurationFlag{Name: "timeout", Value: def.Timeout, Usage: "wait at most this long for a mirror's response headers (0 means no limit)", EnvVars: []string{"GOMODX_TIMEOUT"}, Destination: &cfg.retry.Timeout,
			Action: durationInRange("timeout", "GOMODX_TIMEOUT", 0, math.MaxInt64)},
		&cli.DurationFlag{Name: "stall", Value: def.Stall, Usage: "abandon a download that receives nothing for this long (0 means no limit)", EnvVars: []string{"GOMODX_STALL"}, Destination: &cfg.retry.Stall,
			Action: durationInRange("stall", "GOMODX_STALL", 0, math.MaxInt64)},
		&cli.Int64Flag{Name: "min-rate", Value: def.MinRate, Usage: "abandon a download that brings fewer bytes a second than this over a --stall window (0 means any progress will do)", EnvVars: []string{"GOMODX_MIN_RATE"}, Destination: &cfg.retry.MinRate,
			Action: intInRange[int64]("min-rate", "GOMODX_MIN_RATE", 0, math.MaxInt64)},
		&cli.DurationFlag{Name: "max-total", Value: def.MaxTotal, Usage: "stop trying one file after this long in all, retries included (0 means no limit)", EnvVars: []string{"GOMODX_MAX_TOTAL"}, Destination: &cfg.retry.MaxTotal,
			Action: durationInRange("max-total", "GOMODX_MAX_TOTAL", 0, math.MaxInt64)},
	}, mirrorFlags(&cfg.mirrors)...)
}

// intInRange is the validation of an integer flag: a value outside
// [lo, hi], from the command line or from the variable env, is bad usage.
func intInRange[T int | int64](name, env string, lo, hi T) func(*cli.Context, T) error {
	return func(c *cli.Context, v T) error {
		if lo <= v && v <= hi {
			return nil
		}
		fromEnv := func(s string) bool {
			n, err := strconv.ParseInt(s, 0, 64) // as the flag parses it
			return err == nil && T(n) == v
		}
		want := fmt.Sprintf("from %d to %d", lo, hi)
		if hi == math.MaxInt64 {
			want = fmt.Sprintf("%d or more", lo)
		}
		return badValue(c, name, env, fmt.Sprint(v), fromEnv, want)
	}
}

// durationInRange is intInRange for a duration flag; a lower bound of 0
// means "none" in these flags, and says so.
func durationInRange(name, env string, lo, hi time.Duration) func(*cli.Context, time.Duration) error {
	return func(c *cli.Context, v time.Duration) error {
		if lo <= v && v <= hi {
			return nil
		}
		fromEnv := func(s string) bool {
			d, err := time.ParseDuration(s)
			return err == nil && d == v
		}
		want := fmt.Sprintf("from %v to %v", lo, hi)
		if hi == math.MaxInt64 {
			want = "0 (no limit) or more"
		}
		return badValue(c, name, env, v.String(), fromEnv, want)
	}
}

// badValue is the usage error for a flag value out of range, naming the
// variable when that is where the value came from.
func badValue(c *cli.Context, name, env, value string, fromEnv func(string) bool, want string) error {
	what := "--" + name + " " + value
	if s, ok := os.LookupEnv(env); ok && fromEnv(s) {
		what = env + "=" + s
	}
	err := usageError{error: fmt.Errorf("invalid %s: must be %s", what, want)}
	if c.Command != nil {
		err.command = c.Command.Name
	}
	return err
}

// jsonFlag is gomodx's own -json, for commands whose go has none: its
// events go to stdout (or to --json-file).
func (cfg *config) jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print gomodx's events on stdout, one JSON object a line", Destination: &cfg.json}
}

// goFlags are the go command's own flags, passed on to it unchanged.
type goFlags struct {
	x, v, e, json, diff, modcacherw           bool
	reuse, modfile, goVer, compat, C, overlay string
}

func (f *goFlags) common() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "x", Usage: "print gomodx's HTTP requests, and the commands go executes (passed to go)", Destination: &f.x},
		&cli.BoolFlag{Name: "modcacherw", Usage: "leave extracted modules writable (passed to go)", Destination: &f.modcacherw},
		&cli.StringFlag{Name: "modfile", Usage: "read and write this file instead of go.mod (passed to go)", Destination: &f.modfile},
		&cli.StringFlag{Name: "overlay", Usage: "read files through this overlay, as go build does (passed to go; gomodx then plans nothing)", Destination: &f.overlay},
		&cli.StringFlag{Name: "C", Usage: "change to this directory first (passed to go)", Destination: &f.C},
	}
}

// downloadFlags are those of 'go mod download'.
func (f *goFlags) downloadFlags() []cli.Flag {
	return append(f.common(),
		&cli.BoolFlag{Name: "json", Usage: "print go's JSON description of each module on stdout (passed to go)", Destination: &f.json},
		&cli.StringFlag{Name: "reuse", Usage: "reuse a previous 'go mod download -json' output (passed to go)", Destination: &f.reuse},
	)
}

// tidyFlags are those of 'go mod tidy'; its -v is gomodx's own -v, passed on.
func (f *goFlags) tidyFlags() []cli.Flag {
	return append(f.common(),
		&cli.BoolFlag{Name: "e", Usage: "proceed despite errors (passed to go)", Destination: &f.e},
		&cli.BoolFlag{Name: "diff", Usage: "print the changes instead of making them (passed to go)", Destination: &f.diff},
		&cli.StringFlag{Name: "go", Usage: "update the go line to this version (passed to go)", Destination: &f.goVer},
		&cli.StringFlag{Name: "compat", Usage: "keep go.sum compatible with this go version (passed to go)", Destination: &f.compat},
	)
}

// args renders the flags back for the go command.
func (f goFlags) args() []string {
	var args []string
	add := func(set bool, arg string) {
		if set {
			args = append(args, arg)
		}
	}
	add(f.C != "", "-C="+f.C)
	add(f.v, "-v")
	add(f.x, "-x")
	add(f.e, "-e")
	add(f.json, "-json")
	add(f.diff, "-diff")
	add(f.modcacherw, "-modcacherw")
	add(f.reuse != "", "-reuse="+f.reuse)
	add(f.modfile != "", "-modfile="+f.modfile)
	add(f.overlay != "", "-overlay="+f.overlay)
	add(f.goVer != "", "-go="+f.goVer)
	add(f.compat != "", "-compat="+f.compat)
	return args
}

// command is one run of gomodx: its configuration and the streams it talks on.
type command struct {
	cfg            config
	stdout, stderr io.Writer
	log            *slog.Logger
	eventsOpened   bool // --json-file was started by an earlier reporter (openEvents)
}

func newCommand(cfg config, stdout, stderr io.Writer) *command {
	log := slog.New(slog.DiscardHandler)
	if cfg.verbose {
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{} // go's own output has no timestamps either
				}
				return a
			},
		}))
	}
	return &command{cfg: cfg, stdout: stdout, stderr: stderr, log: log}
}

// download is 'go mod download', with the modules fetched by gomodx first.
func (c *command) download(ctx context.Context, args []string) error {
	goArgs := goCommandLine([]string{"mod", "download"}, c.cfg.goFlags.args(), args)
	return c.runGo(ctx, goArgs, func(p *prefetch.Project, _ *goenv.Config) plan {
		if c.cfg.goFlags.reuse != "" {
			// go refuses -reuse inside a module, and outside one answers
			// from the earlier output: nothing to plan either way.
			return downloadPlan(nil, prefetch.Targets{})
		}
		t, queries := prefetch.ParseTargets(p, args)
		if len(queries) > 0 {
			c.log.Info("left to the go command", "queries", queries)
		}
		return downloadPlan(p, t)
	})
}

// goCommandLine is a go command line: the command, its flags, then its
// arguments, after "--" when one of them looks like a flag (the user put
// it after "--" for gomodx; go must not take it for a flag either).
func goCommandLine(command, flags, args []string) []string {
	line := append(slices.Clone(command), flags...)
	if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "-") }) {
		line = append(line, "--")
	}
	return append(line, args...)
}

// plan fetches what the go command is about to read.
type plan func(ctx context.Context, f *prefetch.Fetcher) error

func downloadPlan(p *prefetch.Project, t prefetch.Targets) plan {
	return func(ctx context.Context, f *prefetch.Fetcher) error { return prefetch.Run(ctx, f, p, t) }
}

// tidy is 'go mod tidy'. gomodx fetches what go's tidy reads, following
// its loader; what a new import needs beyond that, go asks the loopback
// proxy for.
func (c *command) tidy(ctx context.Context, args []string) error {
	goArgs := goCommandLine([]string{"mod", "tidy"}, c.cfg.goFlags.args(), args)
	return c.runGo(ctx, goArgs, func(p *prefetch.Project, env *goenv.Config) plan {
		opts := prefetch.TidyOptions{GoVersion: c.cfg.goFlags.goVer, Compat: c.cfg.goFlags.compat, GOROOT: env.GOROOT}
		return func(ctx context.Context, f *prefetch.Fetcher) error { return prefetch.Tidy(ctx, f, p, opts) }
	})
}

// goCommand is any other go command, run as 'gomodx go build ./...'. What
// it is about to read is planned as far as gomodx can know it exactly
// (see prefetch.ParseCommand); the rest, go asks the loopback proxy for.
func (c *command) goCommand(ctx context.Context, args []string) error {
	// -C must come first, right after the command's name, as go requires.
	if len(args) > 1 && strings.HasPrefix(args[1], "-") {
		switch name := strings.TrimLeft(args[1], "-"); {
		case name == "C" && len(args) > 2:
			c.cfg.goFlags.C = args[2]
		case strings.HasPrefix(name, "C="):
			c.cfg.goFlags.C = name[len("C="):]
		}
	}
	return c.runGo(ctx, args, func(p *prefetch.Project, env *goenv.Config) plan {
		cmd := prefetch.ParseCommand(args, strings.Fields(env.GOFLAGS))
		switch cmd.Kind {
		case prefetch.ModDownload:
			t, _ := prefetch.ParseTargets(p, cmd.Modules)
			return downloadPlan(p, t)
		case prefetch.ModTidy:
			opts := cmd.Tidy
			opts.GOROOT = env.GOROOT
			return func(ctx context.Context, f *prefetch.Fetcher) error { return prefetch.Tidy(ctx, f, p, opts) }
		case prefetch.PackageLoad:
			if cmd.Vendor || p == nil || p.Vendored(append(strings.Fields(env.GOFLAGS), args...)) {
				break
			}
			opts := cmd.Build
			opts.Dir = c.goDir()
			opts.GOROOT = env.GOROOT
			opts.Tags = prefetch.BuildTags(env.GOOS, env.GOARCH, env.CGO_ENABLED == "1", strings.TrimPrefix(env.GOVERSION, "go"), opts.BuildTags)
			return func(ctx context.Context, f *prefetch.Fetcher) error { return prefetch.Build(ctx, f, p, opts) }
		}
		return func(context.Context, *prefetch.Fetcher) error { return nil }
	})
}

// runGo runs the go command with args after fetching what plan says it
// will need, and hands it over to go (wrap.HandOver: a loopback GOPROXY,
// healing a corrupt cache entry go fails on). The exit status is go's.
func (c *command) runGo(ctx context.Context, args []string, planFor func(*prefetch.Project, *goenv.Config) plan) (err error) {
	g, env, err := c.goEnv(ctx, c.cfg.goFlags.C)
	if exit := (*exec.ExitError)(nil); errors.As(err, &exit) && ctx.Err() == nil {
		// go cannot even print its configuration here (a toolchain it
		// cannot get, a setting it rejects): run the command as it is,
		// and go says what is wrong in its own words, as without gomodx.
		c.log.Info("not fetching: go env failed", "err", err)
		return ran(g.Run(ctx, c.cfg.goFlags.C, c.stdout, c.stderr, args...))
	}
	if err != nil {
		return err
	}
	if why := cannotFetch(env); why != "" {
		// go runs alone, and says in its own words what is wrong, if
		// anything is for what it does.
		c.log.Info("not fetching", "reason", why)
		return ran(g.Run(ctx, c.cfg.goFlags.C, c.stdout, c.stderr, args...))
	}
	rep, done, err := c.reporter()
	if err != nil {
		return err
	}
	defer done(&err)
	s, err := c.session(ctx, env, args, rep)
	if err != nil {
		return err
	}
	defer s.close()
	// The prefetch only ever helps: what it could not fetch, go asks the
	// loopback proxy for (which remembers the failure rather than trying
	// again), and go's outcome and words stand. gomodx's own account of
	// what failed follows go's output, and only when go failed too.
	var prefetchErr error
	if !c.overlaid(env) {
		prefetchErr = planFor(s.proj, env)(ctx, s.fetch)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if prefetchErr != nil {
		c.log.Info("prefetch incomplete; the go command fetches the rest", "error", prefetchErr)
	}

	err = ran(g.HandOver(ctx, args, wrap.HandOver{
		Env:     env,
		Fetch:   s.fetch,
		Mirrors: s.mirrors,
		Project: s.proj,
		Sums:    s.sums,
		Dir:     c.goDir(),
		Stdout:  c.stdout,
		Stderr:  c.stderr,
		Log:     c.log,
		Quiet:   c.cfg.quiet,
		Started: rep.Finish, // the bar goes before the go command's own output starts
		Repaired: func(r heal.Repair) {
			rep.Repair(r.Fault.Mod, r.String())
		},
		HealFailed: func(err error) { printError(c.stderr, err) },
	}))
	if ex := (exitError{}); errors.As(err, &ex) && ex.code == 130 && ctx.Err() != nil {
		// go was interrupted with gomodx: said as for an interrupted
		// prefetch (go's own writes, like gomodx's, leave the cache valid).
		return ctx.Err()
	}
	if prefetchErr != nil && err != nil && ctx.Err() == nil {
		printAfterGo(c.stderr, prefetchErr)
	}
	return err
}

// cannotFetch says why gomodx has nothing to fetch with env, or "": a
// GOPROXY of off or direct, or no usable GOMODCACHE, which the go command
// complains about only when it needs it, so that it must not stop a
// command go runs without it. (A GOPROXY that does not parse stops
// gomodx, with the password hidden: go's own message would show it.)
func cannotFetch(env *goenv.Config) string {
	switch {
	case !env.Proxy.Proxied():
		return "GOPROXY is off, or starts with direct"
	case env.GOMODCACHE == "" || !filepath.IsAbs(env.GOMODCACHE):
		return "no absolute GOMODCACHE"
	}
	return ""
}

// session is what one command fetches with: the project, the mirrors and
// the Fetcher that verifies and caches.
type session struct {
	proj    *prefetch.Project // nil outside a module
	sums    prefetch.Sums
	mirrors *mirrors.List
	fetch   *prefetch.Fetcher
}

// close waits for fetches in flight (so their temp files are gone) and
// stops the mirrors' background probes.
func (s *session) close() {
	s.fetch.Wait()
	s.mirrors.Close()
}

// session sets up fetching for the go command about to run with args.
func (c *command) session(ctx context.Context, env *goenv.Config, args []string, rep *progress.Reporter) (*session, error) {
	cache, err := modcache.Open(env.GOMODCACHE)
	if err != nil {
		return nil, err
	}
	src, err := c.mirrorList(env, rep.Mirror)
	if err != nil {
		return nil, err
	}
	s := &session{mirrors: src}
	s.proj, err = prefetch.Load(env.GOMOD, env.GOWORK, c.modFile(env))
	if err != nil {
		// The go command reports a broken go.mod or go.sum better than we
		// could, and with its own exit status: leave that to it.
		c.log.Info("not prefetching", "err", err)
		s.proj = nil
	}
	if s.proj != nil {
		s.sums = s.proj.Sums
	}
	opts := prefetch.Options{
		// The go command unpacks what it downloads; doing it here, while
		// other downloads are in flight, overlaps that work with the waits.
		Extract:    true,
		ModCacheRW: env.Flags.ModCacheRW || goenv.DecodeFlags(args).ModCacheRW,
		Jobs:       c.cfg.jobs,
		Private:    env.Private,
		NoSumCheck: env.NoSumCheck,
		Progress:   rep.File,
	}
	if len(args) < 2 || args[0] != "mod" || args[1] != "download" {
		// The go command says which zips it downloads, except in 'go mod
		// download'; it would have said so for those gomodx fetches.
		opts.Downloading = func(mod module.Version) {
			rep.GoLine("go: downloading " + mod.Path + " " + mod.Version)
		}
	}
	var db *checksum.DB
	if env.SumDB.Err != nil {
		// What go.sum does not vouch for is left to the go command, which
		// reports the GOSUMDB if it needs it.
		c.log.Info("not asking the checksum database", "reason", env.SumDB.Err)
	} else {
		db, err = checksum.Open(checksum.Options{
			Env: env,
			Remote: func(ctx context.Context, name, path string) ([]byte, error) {
				return src.SumDB(ctx, name, db.URL(), path)
			},
		})
		if err != nil {
			src.Close()
			return nil, err
		}
	}
	if db != nil {
		opts.Checksums, opts.SumDB = db.Lookup, db.Name()
	}
	s.fetch = prefetch.NewFetcher(ctx, cache, src, s.sums, opts)
	return s, nil
}

// mirrorOptions are the options of every List gomodx builds: gomodx's
// flags, the go command's credentials.
func (c *command) mirrorOptions(env *goenv.Config, onEvent func(mirrors.Event)) mirrors.Options {
	policy := c.cfg.retry
	policy.WaitMax = 20 * policy.WaitMin
	opts := mirrors.Options{
		Policy:       policy,
		UserAgent:    "gomodx/" + buildVersion(),
		Logger:       c.log,
		Auth:         env.Auth,
		OnEvent:      onEvent,
		ProbeTimeout: c.cfg.probeTimeout,
	}
	c.cfg.mirrors.apply(&opts)
	return opts
}

// mirrorList is the GOPROXY mirrors with gomodx's flags applied. A
// GOPROXY that does not parse is the go command's error.
func (c *command) mirrorList(env *goenv.Config, onEvent func(mirrors.Event)) (*mirrors.List, error) {
	if env.Proxy.Err != nil {
		return nil, env.Proxy.Err
	}
	return mirrors.New(env.Proxy.Entries, c.mirrorOptions(env, onEvent))
}

// overlaid reports whether go reads files through an -overlay (the flag or
// GOFLAGS): go.mod and go.sum may not be what is on disk, so nothing is
// planned from them.
func (c *command) overlaid(env *goenv.Config) bool {
	if c.cfg.goFlags.overlay != "" {
		return true
	}
	for _, f := range env.Flags.List {
		if f.Name == "overlay" {
			return true
		}
	}
	return false
}

// modFile is the go.mod the go command will read: -modfile (relative to
// -C), else GOFLAGS' -modfile, else "" for GOMOD.
func (c *command) modFile(env *goenv.Config) string {
	f := c.cfg.goFlags.modfile
	if f == "" {
		f = env.Flags.ModFile
	}
	if f != "" && !filepath.IsAbs(f) {
		f = filepath.Join(c.cfg.goFlags.C, f)
	}
	return f
}

// goDir is where the go command runs: here, or -C.
func (c *command) goDir() string {
	dir, _ := os.Getwd()
	return filepath.Join(dir, c.cfg.goFlags.C)
}

// reporter returns the progress display on stderr, with gomodx's event
// stream going to --json-file, else with -json to stdout (see
// progress.JSONEvent); and the function that ends it, to be deferred with
// the address of the command's error. It prints the summary (none after
// go's own error: see progress.Reporter.Summary) and closes the stream; a
// write to the stream that failed is an error of the command, reported
// once, with the file's name.
func (c *command) reporter() (*progress.Reporter, func(*error), error) {
	var events io.Writer
	name := ""
	closeEvents := func() error { return nil }
	switch {
	case c.cfg.jsonFile != "":
		f, err := c.openEvents()
		if err != nil {
			return nil, nil, err
		}
		events, name, closeEvents = f, c.cfg.jsonFile, f.Close
	case c.cfg.json:
		events, name = c.stdout, "stdout"
	}
	tty := false
	if f, ok := c.stderr.(*os.File); ok {
		tty = progress.IsTerminal(f, os.Getenv)
	}
	rep := progress.NewReporter(progress.Options{
		Stderr:       c.stderr,
		JSON:         events,
		Quiet:        c.cfg.quiet,
		Verbose:      c.cfg.verbose,
		Trace:        c.cfg.goFlags.x,
		IsTerminal:   tty,
		NoColor:      os.Getenv("NO_COLOR") != "",
		GOPROXYInEnv: os.Getenv("GOPROXY") != "",
	})
	done := func(errp *error) {
		if goFailed(*errp) {
			rep.GoFailed()
		}
		rep.Summary()
		werr := rep.Err()
		if err := closeEvents(); werr == nil {
			werr = err
		}
		if werr == nil {
			return
		}
		// %v, not %w: a full disk here is not GOMODCACHE's, whatever
		// hintsFor would say about ENOSPC.
		werr = fmt.Errorf("writing gomodx's events to %s: %v", name, werr)
		if *errp == nil {
			*errp = werr
		} else {
			printError(c.stderr, werr) // the command's own error and status stand
		}
	}
	return rep, done, nil
}

// goFailed reports whether err is the go command's failure: an exit status
// of its own, not an interrupt.
func goFailed(err error) bool {
	var exit exitError
	return errors.As(err, &exit) && exit.code != 130
}

// goEnv finds the real go and reads its configuration as seen from dir.
// When go is found but cannot print its configuration, it returns go with
// the error.
func (c *command) goEnv(ctx context.Context, dir string) (*wrap.Go, *goenv.Config, error) {
	g, err := wrap.Find(os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	g.SetStall(ctx, c.cfg.retry.Stall) // git gives up on a stalled fetch too
	// Before go runs at all: the toolchain it switches to (toolchain.go).
	env, err := c.toolchain(ctx, g, dir)
	if env == nil && err == nil {
		env, err = g.Config(ctx, dir)
	}
	if err != nil {
		return g, nil, err
	}
	return g, env, nil
}
