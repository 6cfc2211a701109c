package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gomodx/gomodx/doctor"
	"github.com/gomodx/gomodx/goenv"
	"github.com/gomodx/gomodx/modcache"
	"github.com/gomodx/gomodx/retry"
	"github.com/gomodx/gomodx/toolchain"
	"github.com/gomodx/gomodx/wrap"
)

// doctorFlags are the flags of 'gomodx doctor'.
type doctorFlags struct {
	json     bool
	offline  bool
	fix      bool
	applyEnv bool
	timeout  time.Duration
}

func doctorCommand(cfg *config, cmd func() *command) *cli.Command {
	var f doctorFlags
	return &cli.Command{
		Name:  "doctor",
		Usage: "explain why module downloads fail here, and what to do first",
		Description: "Doctor checks, in the order a person would, the go toolchain's settings, GOPROXY, private\n" +
			"modules, each mirror (DNS, connect, TLS, first byte, throughput, checksum database) and the\n" +
			"built-in ones gomodx would turn to, the checksum database, the module cache, credentials\n" +
			"and HTTP proxy settings, and gives each a\n" +
			"verdict (ok, warn, FAIL) with the fix. It changes nothing; with --fix it applies the safe\n" +
			"fixes: it removes faulty cache entries and prints 'go env -w' commands, which it runs only\n" +
			"with --apply-env as well. It exits with status 1 when a check fails.",
		Flags: append(mirrorFlags(&cfg.mirrors),
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON", Destination: &f.json},
			&cli.DurationFlag{Name: "timeout", Value: 5 * time.Second, Usage: "limit for each network check", EnvVars: []string{"GOMODX_DOCTOR_TIMEOUT"}, Destination: &f.timeout},
			&cli.BoolFlag{Name: "offline", Usage: "skip every network check", EnvVars: []string{"GOMODX_OFFLINE"}, Destination: &f.offline},
			&cli.BoolFlag{Name: "fix", Usage: "apply the safe fixes: remove faulty cache entries, print 'go env -w' commands", Destination: &f.fix},
			&cli.BoolFlag{Name: "apply-env", Usage: "with --fix: also run the 'go env -w' commands", Destination: &f.applyEnv},
		),
		Action: func(c *cli.Context) error {
			return cmd().doctor(c.Context, f)
		},
	}
}

func (c *command) doctor(ctx context.Context, f doctorFlags) error {
	if f.applyEnv && !f.fix {
		return fmt.Errorf("--apply-env needs --fix")
	}
	opts := doctor.Options{Timeout: f.timeout, Offline: f.offline}
	g, err := wrap.Find(os.Getenv)
	if err == nil {
		opts.GoPath = g.Path
		var local *toolchain.Local
		if local, err = toolchain.ReadLocal(ctx, g.Path, g.Env, ""); err == nil {
			opts.Env = local.Config
			opts.Toolchain = doctorToolchain(local)
		}
		// What a download's go would give git: doctor has no --stall, so
		// GOMODX_STALL or its default.
		stall := retry.Default().Stall
		if d, perr := time.ParseDuration(os.Getenv("GOMODX_STALL")); perr == nil {
			stall = d
		}
		g.SetStall(ctx, stall)
		lim := g.GitLimits(ctx)
		opts.Git = &doctor.Git{Added: lim.Added, Kept: lim.Kept}
		opts.Git.Path, _ = exec.LookPath("git")
	}
	opts.GoErr = err
	env := opts.Env
	if env == nil {
		env = goenv.New(goenv.Vars{}, os.Getenv)
	}
	opts.Mirrors = c.mirrorOptions(env, nil)

	rep := doctor.Run(ctx, opts)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if f.json {
		err = rep.WriteJSON(c.stdout)
	} else {
		err = rep.WriteText(c.stdout)
	}
	if err != nil {
		return err
	}
	code := 0
	if rep.Failed() {
		code = 1
	}
	if f.fix {
		code = max(code, c.doctorFix(ctx, g, env, rep, f.applyEnv))
	}
	return exit(code)
}

// doctorToolchain decides, as a download does before go runs, which
// toolchain go switches to here and whether gomodx fetches it first. It
// runs no go command and downloads nothing: go itself, asked, would switch
// to that toolchain, downloading it, to answer.
func doctorToolchain(local *toolchain.Local) doctor.Toolchain {
	choice, err := toolchain.Select(local.Settings())
	if err != nil {
		return doctor.Toolchain{Err: err}
	}
	tc := doctor.Toolchain{Name: choice.Toolchain, Why: choice.Why, PathOnly: choice.PathOnly}
	if choice.Toolchain == "" {
		return tc
	}
	_, tc.Leave = local.Download(choice, func(name string) (string, error) {
		p, err := exec.LookPath(name)
		if err == nil {
			tc.InPath = p
		}
		return p, err
	})
	tc.Fetch = tc.Leave == ""
	tc.Cached = tc.Leave == toolchain.Unpacked
	return tc
}

// doctorFix applies the report's safe fixes: it repairs the faulty cache
// entries, and prints (with applyEnv, runs) the 'go env -w' commands. It
// returns 1 when a fix failed.
func (c *command) doctorFix(ctx context.Context, g *wrap.Go, env *goenv.Config, rep *doctor.Report, applyEnv bool) int {
	w := c.stderr
	if len(rep.Faults) == 0 && len(rep.GoEnvFixes) == 0 {
		fmt.Fprintln(w, "gomodx: doctor --fix: nothing to fix automatically; the fixes above are for you to apply")
		return 0
	}
	code := 0
	if len(rep.Faults) > 0 {
		cache, err := modcache.Open(env.GOMODCACHE)
		if err != nil {
			printError(w, err)
			return 1
		}
		// The rules of 'gomodx clean' without --edited: a tree that may
		// hold someone's edits, or anything outside GOMODCACHE, is kept.
		for _, r := range cache.Repair(ctx, rep.Faults, modcache.RepairOptions{ModCacheRW: env.Flags.ModCacheRW}) {
			switch {
			case r.Err != nil:
				printError(w, r.Err)
				code = 1
			case r.Done:
				fmt.Fprintf(w, "gomodx: fixed %s: %s\n", faultHead(r.Fault), r.Fault.Fix.Done())
			default:
				fmt.Fprintf(w, "gomodx: %s: already gone, nothing removed\n", faultHead(r.Fault))
			}
		}
	}
	// 'go env -w' writes the same go env file whichever toolchain runs it:
	// the local go writes it, rather than switch to the project's
	// toolchain, and download it, to do so.
	if g != nil {
		local := *g
		env := g.Env
		if env == nil {
			env = os.Environ()
		}
		local.Env = append(env[:len(env):len(env)], "GOTOOLCHAIN=local")
		g = &local
	}
	for _, args := range rep.GoEnvFixes {
		line := "go " + strings.Join(args, " ")
		if !applyEnv || g == nil {
			fmt.Fprintf(w, "gomodx: to apply: %s   (or rerun with --fix --apply-env)\n", line)
			continue
		}
		fmt.Fprintf(w, "gomodx: running: %s\n", line)
		if st, err := g.Run(ctx, "", c.stdout, c.stderr, args...); err != nil || st != 0 {
			fmt.Fprintf(w, "gomodx: %s failed\n", line)
			code = 1
		}
	}
	return code
}
