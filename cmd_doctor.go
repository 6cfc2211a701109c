package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gomodx/gomodx/doctor"
	"github.com/gomodx/gomodx/modcache"
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

func doctorCommand(cfg *config, stdout, stderr io.Writer, code *int) *cli.Command {
	var f doctorFlags
	return &cli.Command{
		Name:  "doctor",
		Usage: "explain why module downloads fail here, and what to do first",
		Description: "Doctor checks, in the order a person would, the go toolchain's settings, GOPROXY, private\n" +
			"modules, each mirror (DNS, connect, TLS, first byte, throughput, checksum database), the\n" +
			"checksum database, the module cache, credentials and HTTP proxy settings, and gives each a\n" +
			"verdict (ok, warn, FAIL) with the fix. It changes nothing; with --fix it applies the safe\n" +
			"fixes: it removes faulty cache entries and prints 'go env -w' commands, which it runs only\n" +
			"with --apply-env as well. It exits with status 1 when a check fails.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON", Destination: &f.json},
			&cli.DurationFlag{Name: "timeout", Value: 5 * time.Second, Usage: "limit for each network check", EnvVars: []string{"GOMODX_DOCTOR_TIMEOUT"}, Destination: &f.timeout},
			&cli.BoolFlag{Name: "offline", Usage: "skip every network check", EnvVars: []string{"GOMODX_OFFLINE"}, Destination: &f.offline},
			&cli.BoolFlag{Name: "fix", Usage: "apply the safe fixes: remove faulty cache entries, print 'go env -w' commands", Destination: &f.fix},
			&cli.BoolFlag{Name: "apply-env", Usage: "with --fix: also run the 'go env -w' commands", Destination: &f.applyEnv},
		},
		Action: func(c *cli.Context) (err error) {
			*code, err = newCommand(*cfg, stdout, stderr).doctor(c.Context, f)
			return err
		},
	}
}

func (c *command) doctor(ctx context.Context, f doctorFlags) (int, error) {
	if f.applyEnv && !f.fix {
		return 2, fmt.Errorf("--apply-env needs --fix")
	}
	opts := doctor.Options{Timeout: f.timeout, Offline: f.offline}
	g, err := wrap.Find(os.Getenv)
	if err == nil {
		opts.GoPath = g.Path
		opts.Env, err = doctorEnv(ctx, g)
	}
	opts.GoErr = err

	rep := doctor.Run(ctx, opts)
	if ctx.Err() != nil {
		return 1, ctx.Err()
	}
	if f.json {
		err = rep.WriteJSON(c.stdout)
	} else {
		err = rep.WriteText(c.stdout)
	}
	if err != nil {
		return 1, err
	}
	code := 0
	if rep.Failed() {
		code = 1
	}
	if !f.fix {
		return code, nil
	}
	return c.doctorFix(ctx, g, opts.Env, rep, f.applyEnv, code)
}

// doctorFix applies the report's safe fixes: it repairs the faulty cache
// entries, and prints (with applyEnv, runs) the 'go env -w' commands.
func (c *command) doctorFix(ctx context.Context, g *wrap.Go, env doctor.Env, rep *doctor.Report, applyEnv bool, code int) (int, error) {
	w := c.stderr
	if len(rep.Faults) == 0 && len(rep.GoEnvFixes) == 0 {
		fmt.Fprintln(w, "gomodx: doctor --fix: nothing to fix automatically; the fixes above are for you to apply")
		return code, nil
	}
	if len(rep.Faults) > 0 {
		cache, err := modcache.Open(env.GOMODCACHE)
		if err != nil {
			return 1, err
		}
		for _, fl := range rep.Faults {
			if err := cache.Repair(ctx, fl); err != nil {
				fmt.Fprintf(w, "gomodx: %v\n", err)
				code = 1
				continue
			}
			fmt.Fprintf(w, "gomodx: fixed %s: %s\n", faultHead(fl), pastTense(fl.Fix))
		}
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
	return code, nil
}

// doctorEnv reads the settings doctor checks, which include some wrap.Env
// does not carry (GO111MODULE, GOTOOLCHAIN, GOROOT).
func doctorEnv(ctx context.Context, g *wrap.Go) (doctor.Env, error) {
	var env doctor.Env
	err := g.DecodeEnv(ctx, "", &env)
	return env, err
}
