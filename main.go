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
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/urfave/cli/v2"
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
	code := 0
	app := &cli.App{
		Name:      "gomodx",
		Usage:     "fast, resilient module downloads for the go command",
		Version:   buildVersion(),
		Writer:    stdout,
		ErrWriter: stderr,
		// Errors are reported once, by report, which also picks the exit code.
		ExitErrHandler:  func(*cli.Context, error) {},
		HideHelpCommand: true,
		Commands: []*cli.Command{
			{
				Name:      "download",
				Usage:     "download modules to the module cache, like 'go mod download'",
				ArgsUsage: "[modules]",
				Flags:     append(cfg.flags(), goDownloadFlags(&cfg.goFlags)...),
				Action: func(c *cli.Context) (err error) {
					code, err = newCommand(cfg, stdout, stderr).download(c.Context, c.Args().Slice())
					return err
				},
			},
		},
	}
	if err := app.RunContext(ctx, args); err != nil {
		return report(stderr, err)
	}
	return code
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}
