package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/urfave/cli/v2"

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
	x, json, modcacherw bool
	reuse, modfile      string
}

func goDownloadFlags(f *goFlags) []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "x", Usage: "print the commands go executes (passed to go)", Destination: &f.x},
		&cli.BoolFlag{Name: "json", Usage: "print go's JSON description of each module on stdout (passed to go)", Destination: &f.json},
		&cli.BoolFlag{Name: "modcacherw", Usage: "leave extracted modules writable (passed to go)", Destination: &f.modcacherw},
		&cli.StringFlag{Name: "reuse", Usage: "reuse a previous 'go mod download -json' output (passed to go)", Destination: &f.reuse},
		&cli.StringFlag{Name: "modfile", Usage: "read and write this file instead of go.mod (passed to go)", Destination: &f.modfile},
	}
}

// args renders the flags back for the go command.
func (f goFlags) args() []string {
	var args []string
	if f.x {
		args = append(args, "-x")
	}
	if f.json {
		args = append(args, "-json")
	}
	if f.modcacherw {
		args = append(args, "-modcacherw")
	}
	if f.reuse != "" {
		args = append(args, "-reuse="+f.reuse)
	}
	if f.modfile != "" {
		args = append(args, "-modfile="+f.modfile)
	}
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
	g, env, err := c.goEnv(ctx)
	if err != nil {
		return 1, err
	}
	if env.GOPROXY != "off" {
		if err := c.prefetch(ctx, env, args); err != nil {
			return 1, err
		}
	}
	return g.Run(ctx, "", c.stdout, c.stderr, goArgs...)
}

// goEnv finds the real go and reads its configuration.
func (c *command) goEnv(ctx context.Context) (*wrap.Go, wrap.Env, error) {
	g, err := wrap.Find(os.Getenv)
	if err != nil {
		return nil, wrap.Env{}, err
	}
	env, err := g.ReadEnv(ctx, "")
	if err != nil {
		return nil, wrap.Env{}, err
	}
	return g, env, nil
}

// prefetch fills the cache with what the go command is about to need.
func (c *command) prefetch(ctx context.Context, env wrap.Env, args []string) error {
	modFile := c.cfg.goFlags.modfile
	if modFile == "" {
		modFile = env.ModFile()
	}
	proj, err := prefetch.Load(env.GOMOD, env.GOWORK, modFile)
	if err != nil {
		// The go command reports a broken go.mod or go.sum better than we
		// could (and with its own exit status): leave it to go.
		c.log.Info("not prefetching", "err", err)
		return nil
	}
	targets, queries := prefetch.ParseTargets(proj, args)
	if len(queries) > 0 {
		c.log.Info("left to the go command", "queries", queries)
	}
	cache, err := modcache.Open(env.GOMODCACHE)
	if err != nil {
		return err
	}
	policy := c.cfg.retry
	policy.WaitMax = 20 * policy.WaitMin
	src, err := mirrors.New(env.GOPROXY, mirrors.Options{
		Policy:    policy,
		UserAgent: "gomodx/" + buildVersion(),
		Logger:    c.log,
	})
	if err != nil {
		return err
	}
	start := time.Now()
	stats, err := prefetch.Run(ctx, cache, src, proj, targets, prefetch.Options{
		Jobs:       c.cfg.jobs,
		Private:    env.Private,
		NoSumCheck: env.NoSumCheck,
	})
	c.log.Info("prefetch done", "fetched", stats.Fetched, "cached", stats.Cached, "left", stats.Left, "failed", stats.Failed, "time", time.Since(start).Round(time.Millisecond))
	return err
}
