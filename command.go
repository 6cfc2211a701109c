package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gomodx/gomodx/checksum"
	"github.com/gomodx/gomodx/mirrors"
	"github.com/gomodx/gomodx/modcache"
	"github.com/gomodx/gomodx/prefetch"
	"github.com/gomodx/gomodx/retry"
	"github.com/gomodx/gomodx/wrap"
)

// config holds the flag values, each also settable by a GOMODX_ variable.
type config struct {
	jobs    int
	verbose bool
	retry   retry.Policy
	goFlags goFlags
}

func (cfg *config) flags() []cli.Flag {
	def := retry.Default()
	return []cli.Flag{
		&cli.IntFlag{Name: "jobs", Value: 16, Usage: "files fetched at once", EnvVars: []string{"GOMODX_JOBS"}, Destination: &cfg.jobs},
		&cli.BoolFlag{Name: "v", Usage: "log every request and retry to stderr", EnvVars: []string{"GOMODX_VERBOSE"}, Destination: &cfg.verbose},
		&cli.IntFlag{Name: "retries", Value: def.Retries, Usage: "retries of a failed request on one mirror", EnvVars: []string{"GOMODX_RETRIES"}, Destination: &cfg.retry.Retries},
		&cli.DurationFlag{Name: "retry-wait", Value: def.WaitMin, Usage: "first wait before a retry; it doubles, with jitter, up to 20 times this", EnvVars: []string{"GOMODX_RETRY_WAIT"}, Destination: &cfg.retry.WaitMin},
		&cli.DurationFlag{Name: "timeout", Value: def.Timeout, Usage: "wait at most this long for a mirror's response headers (0 means no limit)", EnvVars: []string{"GOMODX_TIMEOUT"}, Destination: &cfg.retry.Timeout},
		&cli.DurationFlag{Name: "stall", Value: def.Stall, Usage: "abandon a download that receives nothing for this long (0 means no limit)", EnvVars: []string{"GOMODX_STALL"}, Destination: &cfg.retry.Stall},
	}
}

// goFlags are the go command's own flags, passed on to it unchanged.
type goFlags struct {
	x, v, e, json, diff, modcacherw  bool
	reuse, modfile, goVer, compat, C string
}

func (f *goFlags) common() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "x", Usage: "print the commands go executes (passed to go)", Destination: &f.x},
		&cli.BoolFlag{Name: "modcacherw", Usage: "leave extracted modules writable (passed to go)", Destination: &f.modcacherw},
		&cli.StringFlag{Name: "modfile", Usage: "read and write this file instead of go.mod (passed to go)", Destination: &f.modfile},
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
	add(f.goVer != "", "-go="+f.goVer)
	add(f.compat != "", "-compat="+f.compat)
	return args
}

// command is one run of gomodx: its configuration and the streams it talks on.
type command struct {
	cfg            config
	stdout, stderr io.Writer
	log            *slog.Logger
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
func (c *command) download(ctx context.Context, args []string) (int, error) {
	goArgs := append(append([]string{"mod", "download"}, c.cfg.goFlags.args()...), args...)
	return c.runGo(ctx, goArgs, func(p *prefetch.Project, _ wrap.Env) prefetch.Targets {
		t, queries := prefetch.ParseTargets(p, args)
		if len(queries) > 0 {
			c.log.Info("left to the go command", "queries", queries)
		}
		return t
	})
}

// tidy is 'go mod tidy'. It reads every file go.sum names, and loads the
// packages of every module in the (pruned) build list, so their zips are
// fetched too: a go.mod that is not tidy yet lacks the indirect ones.
func (c *command) tidy(ctx context.Context, args []string) (int, error) {
	goArgs := append(append([]string{"mod", "tidy"}, c.cfg.goFlags.args()...), args...)
	return c.runGo(ctx, goArgs, func(p *prefetch.Project, _ wrap.Env) prefetch.Targets {
		if p == nil {
			return prefetch.Targets{NoGraph: true}
		}
		return prefetch.Targets{All: true, GoSum: true}
	})
}

// goCommand is any other go command, run as 'gomodx go build ./...'.
func (c *command) goCommand(ctx context.Context, args []string) (int, error) {
	return c.runGo(ctx, args, func(p *prefetch.Project, env wrap.Env) prefetch.Targets {
		if p == nil || p.Vendored(append(strings.Fields(env.GOFLAGS), args...)) {
			return prefetch.Targets{NoGraph: true}
		}
		return prefetch.DefaultTargets(p)
	})
}

// runGo runs the go command with args after fetching what plan says it
// will need, with GOPROXY pointing at gomodx's loopback proxy so that
// whatever else it asks for goes through the same mirrors, retries and
// verification. The exit status is go's.
func (c *command) runGo(ctx context.Context, args []string, plan func(*prefetch.Project, wrap.Env) prefetch.Targets) (int, error) {
	g, env, err := c.goEnv(ctx, c.cfg.goFlags.C)
	if err != nil {
		return 1, err
	}
	if !env.Proxied() {
		// GOPROXY=off or direct: there is nothing gomodx may fetch.
		return g.Run(ctx, c.cfg.goFlags.C, c.stdout, c.stderr, args...)
	}
	cache, err := modcache.Open(env.GOMODCACHE)
	if err != nil {
		return 1, err
	}
	policy := c.cfg.retry
	policy.WaitMax = 20 * policy.WaitMin
	src, err := mirrors.New(env.GOPROXY, mirrors.Options{
		Policy:    policy,
		UserAgent: "gomodx/" + buildVersion(),
		Logger:    c.log,
	})
	if err != nil {
		return 1, err
	}
	modFile := c.cfg.goFlags.modfile
	if modFile == "" {
		modFile = env.ModFile()
	}
	if modFile != "" && !filepath.IsAbs(modFile) {
		modFile = filepath.Join(c.cfg.goFlags.C, modFile)
	}
	proj, err := prefetch.Load(env.GOMOD, env.GOWORK, modFile)
	if err != nil {
		// The go command reports a broken go.mod or go.sum better than we
		// could, and with its own exit status: leave that to it.
		c.log.Info("not prefetching", "err", err)
		proj = nil
	}
	var sums prefetch.Sums
	if proj != nil {
		sums = proj.Sums
	}
	opts := prefetch.Options{
		Jobs:       c.cfg.jobs,
		Private:    env.Private,
		NoSumCheck: env.NoSumCheck,
	}
	var db *checksum.DB
	db, err = checksum.Open(checksum.Options{
		GOSUMDB:    env.GOSUMDB,
		GOPATH:     env.GOPATH,
		GOMODCACHE: env.GOMODCACHE,
		Remote: func(ctx context.Context, name, path string) ([]byte, error) {
			return src.SumDB(ctx, name, db.URL(), path)
		},
	})
	if err != nil {
		return 1, err
	}
	if db != nil {
		opts.Checksums = db.Lookup
	}
	f := prefetch.NewFetcher(ctx, cache, src, sums, opts)
	defer f.Wait()

	start := time.Now()
	err = prefetch.Run(ctx, f, proj, plan(proj, env))
	stats := f.Stats()
	c.log.Info("prefetch done", "fetched", stats.Fetched, "cached", stats.Cached, "left", stats.Left, "failed", stats.Failed, "time", time.Since(start).Round(time.Millisecond))
	if err != nil {
		return 1, err
	}

	ep, err := wrap.Serve(f, src, c.log)
	if err != nil {
		return 1, err
	}
	defer ep.Close()
	g.Env = append(os.Environ(), "GOPROXY="+env.ProxyFor(ep.URL))
	// -C is already in args: go changes directory itself.
	return g.Run(ctx, "", c.stdout, c.stderr, args...)
}

// goEnv finds the real go and reads its configuration as seen from dir.
func (c *command) goEnv(ctx context.Context, dir string) (*wrap.Go, wrap.Env, error) {
	g, err := wrap.Find(os.Getenv)
	if err != nil {
		return nil, wrap.Env{}, err
	}
	env, err := g.ReadEnv(ctx, dir)
	if err != nil {
		return nil, wrap.Env{}, err
	}
	return g, env, nil
}
