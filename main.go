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
	"strings"
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
	app := newApp(stdout, stderr)
	return report(stderr, app.RunContext(ctx, flagsFirst(app.Commands, args)))
}

// newApp is the CLI: its commands and flags, writing to stdout and stderr.
func newApp(stdout, stderr io.Writer) *cli.App {
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
				Description:     "Every argument is go's, help included ('gomodx go help mod' is go's help). gomodx's own\nsettings come from its GOMODX_* variables (see 'gomodx help download' for them).",
				SkipFlagParsing: true,
				HideHelp:        true,
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
	return app
}

func onUsageError(c *cli.Context, err error, _ bool) error {
	u := usageError{error: err}
	// At the top level, c.Command is the app itself, whose help is
	// 'gomodx help'.
	if c.Command != nil && c.Command.Name != c.App.Name {
		u.command = c.Command.Name
	}
	return u
}

// flagsFirst moves the flags a command's arguments are followed by in
// front of them, so that "gomodx shell-init bash --all" means what
// "gomodx shell-init --all bash" does: urfave/cli, like the flag package,
// stops at the first argument, but people type flags where they think of
// them. A flag that takes a value takes the next argument with it;
// everything after "--" stays an argument, and so does all of 'gomodx go',
// whose arguments are go's.
func flagsFirst(cmds []*cli.Command, args []string) []string {
	if len(args) < 3 {
		return args
	}
	var cmd *cli.Command
	for _, c := range cmds {
		if c.HasName(args[1]) {
			cmd = c
		}
	}
	if cmd == nil || cmd.SkipFlagParsing {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		v, ok := f.(cli.DocGenerationFlag)
		for _, name := range f.Names() {
			takesValue[name] = ok && v.TakesValue()
		}
	}
	var flags, rest []string
	moved := false // a flag follows an argument
	tail := args[2:]
	for i := 0; i < len(tail); i++ {
		arg := tail[i]
		switch {
		case arg == "--":
			rest = append(rest, tail[i+1:]...)
			i = len(tail)
		case len(arg) > 1 && arg[0] == '-':
			moved = moved || len(rest) > 0
			flags = append(flags, arg)
			name, _, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
			if takesValue[name] && !hasValue && i+1 < len(tail) {
				i++
				flags = append(flags, tail[i])
			}
		default:
			rest = append(rest, arg)
		}
	}
	if !moved {
		return args
	}
	out := append(args[:2:2], flags...)
	return append(append(out, "--"), rest...)
}

// buildVersion is the version --version prints and the User-Agent
// carries: -X main.version (the Makefile sets it from git), else the
// module's version as the go command stamped it (a release, or a
// pseudo-version in a clone), else, with the VCS information alone,
// "devel <commit> <time>", as go's own development builds say, else
// "devel".
func buildVersion() string {
	if version != "" {
		if !strings.HasPrefix(version, "v") {
			return "devel " + version // git describe of an untagged commit
		}
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return versionOf(bi)
}

// versionOf is the version of the build bi describes.
func versionOf(bi *debug.BuildInfo) string {
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	vcs := map[string]string{}
	for _, s := range bi.Settings {
		vcs[s.Key] = s.Value
	}
	rev := vcs["vcs.revision"]
	if rev == "" {
		return "devel"
	}
	v := "devel " + rev[:min(len(rev), 12)]
	if t := vcs["vcs.time"]; t != "" {
		v += " " + t
	}
	if vcs["vcs.modified"] == "true" {
		v += " +dirty"
	}
	return v
}
