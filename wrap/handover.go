package wrap

import (
	"context"
	"fmt"
	"golang.org/x/term"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/gomodx/gomodx/goenv"
	"github.com/gomodx/gomodx/prefetch"
	"github.com/gomodx/gomodx/wrap/heal"
	"github.com/gomodx/gomodx/wrap/loopback"
)

// HandOver is what the go command is handed over to with, once gomodx
// has fetched what it planned.
type HandOver struct {
	Env     *goenv.Config
	Fetch   *prefetch.Fetcher // the loopback proxy serves and verifies through it
	Mirrors loopback.Upstream // and forwards the rest of go's requests to them
	Project *prefetch.Project // nil outside a module
	Sums    prefetch.Sums     // the project's go.sum lines
	// Dir is where go runs: it prints paths in the module cache relative
	// to it, and healing must read them back.
	Dir            string
	Stdout, Stderr io.Writer
	Log            *slog.Logger
	Quiet          bool // say nothing but errors: not that go runs again

	// Started, if set, is called just before go starts (so that a
	// progress bar is cleared before go's own output).
	Started func()
	// Repaired, if set, is told of each cache entry healed.
	Repaired func(heal.Repair)
	// HealFailed, if set, is told why a failure go blamed on the cache
	// could not be mended; go's own failure then stands.
	HealFailed func(error)
}

// HandOver runs go with args, its GOPROXY pointing at a loopback proxy
// over h.Fetch and h.Mirrors (followed by direct when the user's GOPROXY
// reaches direct), so that whatever go asks for beyond the plan goes
// through the same mirrors, retries and verification. When go fails on a
// corrupt cache entry, the entry is repaired and fetched again (package
// heal) and go runs once more. It returns go's exit status; err is for a
// go that could not run at all.
func (g *Go) HandOver(ctx context.Context, args []string, h HandOver) (int, error) {
	ep, err := loopback.Serve(h.Fetch, h.Mirrors, loopback.Options{Private: h.Env.Private, Shown: h.Env.Proxy.First(), Log: h.Log})
	if err != nil {
		return 1, err
	}
	defer ep.Close()
	child := *g
	child.Env = append(os.Environ(), "GOPROXY="+h.Env.Proxy.For(ep.URL))
	if h.Started != nil {
		h.Started()
	}
	if runsPrograms(args) && (onTerminal(h.Stdout) || onTerminal(h.Stderr)) {
		// go run, test, generate and tool start the user's programs,
		// which inherit go's stdout and stderr: they keep the terminal,
		// as without gomodx (go's own messages are then passed on as they
		// are, and a failure is not healed).
		return child.Run(ctx, "", h.Stdout, h.Stderr, args...)
	}
	tail := heal.NewTail(64 << 10)
	code, err := runRewritten(ctx, &child, ep, args, h.Stdout, io.MultiWriter(h.Stderr, tail))
	if err != nil || code == 0 || ctx.Err() != nil {
		return code, err
	}
	sumdbDir, _ := h.Env.SumdbDir()
	healer := &heal.Healer{Fetch: h.Fetch, Project: h.Project, Sums: h.Sums, SumdbDir: sumdbDir, Log: h.Log,
		ModCacheRW: h.Env.Flags.ModCacheRW || goenv.DecodeFlags(args).ModCacheRW}
	repairs, err := healer.Heal(ctx, heal.Diagnose(tail.String(), h.Env.GOMODCACHE, h.Dir))
	for _, r := range repairs {
		if h.Repaired != nil {
			h.Repaired(r)
		}
	}
	if err != nil && h.HealFailed != nil {
		h.HealFailed(err)
	}
	if err != nil || len(repairs) == 0 {
		return code, nil
	}
	if !h.Quiet {
		fmt.Fprintf(h.Stderr, "gomodx: running 'go %s' again\n", strings.Join(args, " "))
	}
	return runRewritten(ctx, &child, ep, args, h.Stdout, h.Stderr)
}

// runRewritten runs go with args, its output passed on with the loopback
// proxy's URLs replaced by the user's mirrors (loopback.Endpoint.Rewrite).
// -C is already in args: go changes directory itself.
func runRewritten(ctx context.Context, g *Go, ep *loopback.Endpoint, args []string, stdout, stderr io.Writer) (int, error) {
	o, e := ep.Rewrite(stdout), ep.Rewrite(stderr)
	defer o.Flush()
	defer e.Flush()
	return g.Run(ctx, "", o, e, args...)
}

// onTerminal reports whether w is a terminal.
func onTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
