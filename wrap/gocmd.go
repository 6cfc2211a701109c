// Package wrap finds and runs the real go command on the user's behalf.
//
// gomodx never replaces the go command's own logic: it asks the real go for
// its configuration (package goenv) and hands the user's command over to
// it, with the environment the user has, output passed through and the exit
// status returned. What surrounds that run lives beside it: the loopback
// proxy go talks to (wrap/loopback), the repair of the cache when go fails
// on it (wrap/heal), the progress display and events (wrap/progress), and
// the shell function that routes 'go mod tidy' through gomodx (wrap/shell).
package wrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/gomodx/gomodx/goenv"
	"github.com/gomodx/gomodx/wrap/heal"
)

// Go is the real go command.
type Go struct {
	Path string   // absolute path of the go binary
	Env  []string // environment for every run; nil means os.Environ()
	// Stall bounds how long git, which go runs for modules fetched direct,
	// may receive nothing before it gives up (see GitLimits); 0 means
	// never, as without gomodx. SetStall sets it.
	Stall time.Duration

	gitConfig func() (keys []string, known bool) // started by SetStall
}

// Find returns the real go command: $GOMODX_GO when set, else the first "go"
// on PATH that is not gomodx itself. A symlink or copy of gomodx named go on
// PATH (or a shell alias that makes this process run as "go") would otherwise
// make gomodx call itself forever.
func Find(getenv func(string) string) (*Go, error) {
	if p := getenv("GOMODX_GO"); p != "" {
		abs, err := exec.LookPath(p)
		if err != nil {
			return nil, fmt.Errorf("GOMODX_GO=%s: %w", p, err)
		}
		return &Go{Path: abs}, nil
	}
	self, _ := os.Executable()
	for _, dir := range filepath.SplitList(getenv("PATH")) {
		if dir == "" {
			dir = "."
		}
		cand := filepath.Join(dir, "go")
		fi, err := os.Stat(cand)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			continue
		}
		if self != "" && sameFile(cand, self) {
			continue
		}
		return &Go{Path: cand}, nil
	}
	return nil, errors.New("cannot find the go command on PATH (set GOMODX_GO to its path)")
}

func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false
	}
	return os.SameFile(fa, fb)
}

// Config reads the go command's configuration as seen from dir (see
// goenv.Read).
func (g *Go) Config(ctx context.Context, dir string) (*goenv.Config, error) {
	return goenv.Read(ctx, g.Path, dir)
}

// Run runs the go command with args in dir, streaming its output, and returns
// its exit status. err is non-nil only when go could not be run at all.
//
// Unless the command runs the user's own programs (go run, test, generate,
// tool), git gets the limits of GitLimits, and when go fails because git
// gave up on a stalled fetch, a hint follows go's output.
func (g *Go) Run(ctx context.Context, dir string, stdout, stderr io.Writer, args ...string) (int, error) {
	cmd := g.command(ctx, dir, args...)
	cmd.Stdin = os.Stdin
	cmd.Stdout, cmd.Stderr = stdout, stderr
	var git GitLimits
	var tail *heal.Tail
	if !runsPrograms(args) {
		// Their programs inherit go's environment and stderr: those stay
		// exactly as without gomodx.
		git = g.GitLimits(ctx)
		cmd.Env = append(cmd.Environ(), git.Added...)
		tail = heal.NewTail(16 << 10)
		cmd.Stderr = io.MultiWriter(stderr, tail)
	}
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ctx.Err() != nil {
			return 130, nil // interrupted, as a shell reports it
		}
		if tail != nil {
			if hint := git.Hint(tail.String()); hint != "" {
				fmt.Fprintln(stderr, hint)
			}
		}
		return exit.ExitCode(), nil
	}
	if err != nil {
		return 1, fmt.Errorf("running %s: %w", g.Path, err)
	}
	return 0, nil
}

// runsPrograms reports whether the go command args runs programs of the
// user's, which inherit its environment and its stderr.
func runsPrograms(args []string) bool {
	return len(args) > 0 && slices.Contains([]string{"run", "test", "generate", "tool"}, args[0])
}

func (g *Go) command(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, g.Path, args...)
	cmd.Dir = dir
	cmd.Env = g.Env
	// On Ctrl-C the terminal has already signalled go itself; give it time to
	// clean up its temp files and locks instead of killing it outright.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}
