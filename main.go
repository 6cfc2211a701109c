// Gomodx downloads a Go project's modules through GOPROXY mirrors, many at a
// time, with retries and timeouts, verifies them against go.sum and writes them
// into the module cache exactly as the go command would; then it runs the real
// go command, which finds everything in place.
//
// Usage:
//
//	gomodx download [-jobs n] [-x] [-json] [modules]   instead of go mod download
//
// Run 'gomodx help' for every command and flag.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/gomodx/gomodx/wrap/shell"
)

// version is set with -ldflags "-X main.version=…"; otherwise the module
// version from the build info is used.
var version string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfg config
	// -v is every command's verbose flag, as in the go command; the
	// version is --version only.
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version"}
	cmd := func() *command { return newCommand(cfg, stdout, stderr) }
	app := &cli.App{
		Name:      "gomodx",
		Usage:     "fast, resilient module downloads for the go command",
		Version:   buildVersion(),
		Writer:    stdout,
		ErrWriter: stderr,
		// Errors are reported once, by report, which also picks the exit code.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   onUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError{error: fmt.Errorf("unknown command %q", c.Args().First())}
			}
			return cli.ShowAppHelp(c)
		},
		Commands: []*cli.Command{
			{
				Name:      "download",
				Usage:     "download modules to the module cache, like 'go mod download'",
				ArgsUsage: "[modules]",
				Flags:     append(cfg.flags(), cfg.goFlags.downloadFlags()...),
				Action: func(c *cli.Context) error {
					return cmd().download(c.Context, c.Args().Slice())
				},
			},
			{
				Name:  "tidy",
				Usage: "add missing and remove unused modules, like 'go mod tidy'",
				Flags: append(cfg.flags(), append(cfg.goFlags.tidyFlags(), cfg.jsonFlag())...),
				Action: func(c *cli.Context) error {
					cfg.goFlags.v = cfg.verbose
					return cmd().tidy(c.Context, c.Args().Slice())
				},
			},
			{
				Name:            "go",
				Usage:           "run any go command (build, get, list, mod vendor...) through gomodx's mirrors",
				ArgsUsage:       "command [arguments]",
				SkipFlagParsing: true,
				Flags:           cfg.flags(),
				Action: func(c *cli.Context) error {
					return cmd().goCommand(c.Context, c.Args().Slice())
				},
			},
			mirrorsCommand(&cfg, cmd),
			verifyCommand(cmd),
			cleanCommand(cmd),
			doctorCommand(&cfg, cmd),
			{
				Name:      "shell-init",
				Usage:     "print a shell function that sends 'go mod tidy' and 'go mod download' through gomodx",
				ArgsUsage: "bash|zsh|fish",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "all", Usage: "send every go command that may fetch modules through gomodx"}},
				Action: func(c *cli.Context) error {
					if err := shell.Init(stdout, c.Args().First(), c.Bool("all")); err != nil {
						return usageError{error: err, command: "shell-init"}
					}
					return nil
				},
			},
		},
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = onUsageError
	}
	return report(stderr, app.RunContext(ctx, args))
}

func onUsageError(c *cli.Context, err error, _ bool) error {
	u := usageError{error: err}
	if c.Command != nil {
		u.command = c.Command.Name
	}
	return u
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
