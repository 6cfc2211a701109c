package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/mod/module"

	"github.com/gomodx/gomodx/checksum"
	"github.com/gomodx/gomodx/goenv"
	"github.com/gomodx/gomodx/mirrors"
	"github.com/gomodx/gomodx/modcache"
	"github.com/gomodx/gomodx/toolchain"
	"github.com/gomodx/gomodx/wrap"
)

// toolchain runs before the go command does anything in dir: when go is
// about to switch to a toolchain it would download (a go.mod that says
// "go 1.27.3", GOTOOLCHAIN=go1.27.3), gomodx fetches it through its mirrors,
// verified against the checksum database, into the module cache, where go
// finds it and switches without a request of its own (see package
// toolchain).
//
// It returns the go command's configuration when there is no need to read
// it again: go runs the command itself, so what was read to decide that
// (with GOTOOLCHAIN=local, so that reading it switched nothing) is exactly
// what go would print. It returns nil when the configuration must be read
// from the go command itself, now that it will switch: to the toolchain
// gomodx fetched, or, when gomodx left the download to go or could not make
// it, to one go downloads itself (and says what goes wrong in its own
// words). The only error is an interruption.
func (c *command) toolchain(ctx context.Context, g *wrap.Go, dir string) (*goenv.Config, error) {
	local, err := toolchain.ReadLocal(ctx, g.Path, g.Env, dir)
	if err != nil {
		// Reading it as usual will say what is wrong.
		c.log.Info("toolchain: cannot read the local configuration", "err", err)
		return nil, ctx.Err()
	}
	choice, err := toolchain.Select(local.Settings())
	if err != nil {
		c.log.Info("toolchain: left to the go command", "reason", err)
		return nil, nil
	}
	if choice.Toolchain == "" {
		return local.Config, nil
	}
	mod, leave := local.Download(choice, nil)
	if leave != "" {
		c.log.Info("toolchain: left to the go command", "toolchain", choice.Toolchain, "why", choice.Why, "reason", leave)
		return nil, nil
	}
	c.log.Info("toolchain: fetching", "toolchain", choice.Toolchain, "why", choice.Why)
	err = c.installToolchain(ctx, local.Config, mod)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, errors.ErrUnsupported), errors.Is(err, fs.ErrNotExist):
		// GOPROXY leads to direct, or no mirror has it: go tries, and
		// says "toolchain not available" if that is so.
		c.log.Info("toolchain: left to the go command", "toolchain", choice.Toolchain, "reason", err)
	default:
		for _, e := range leaves(err) {
			fmt.Fprintf(c.stderr, "gomodx: %s\n", e)
		}
		fmt.Fprintf(c.stderr, "gomodx: %s is left to the go command\n", toolchain.Name(mod))
	}
	return nil, nil
}

// installToolchain fetches mod through the mirrors of env's GOPROXY,
// reporting progress as any other download does.
func (c *command) installToolchain(ctx context.Context, env *goenv.Config, mod module.Version) error {
	cache, err := modcache.Open(env.GOMODCACHE)
	if err != nil {
		return err
	}
	rep, done, err := c.reporter()
	if err != nil {
		return err
	}
	// The plan is the one zip, known from the start: nothing more is
	// being found.
	rep.PlanKnown()
	defer func() {
		// An event stream that cannot be written is said here; the
		// command goes on, and its own reporter says it again if it fails
		// too.
		var eventsErr error
		done(&eventsErr)
		if eventsErr != nil {
			printError(c.stderr, eventsErr)
		}
	}()
	opts := c.mirrorOptions(env, rep.Mirror)
	// A 76 MB zip can take longer than --max-total allows one file on a
	// slow link; --stall and --min-rate still end a download that stops
	// moving.
	opts.Policy.MaxTotal = 0
	list, err := mirrors.New(env.Proxy.Entries, opts)
	if err != nil {
		return err
	}
	defer list.Close()
	var db *checksum.DB
	db, err = checksum.Open(checksum.Options{
		Env: env,
		Remote: func(ctx context.Context, name, path string) ([]byte, error) {
			return list.SumDB(ctx, name, db.URL(), path)
		},
	})
	if err != nil {
		return err
	}
	return toolchain.Install(ctx, mod, toolchain.Options{
		Cache:       cache,
		Fetch:       list.Fetch,
		Lookup:      db.Lookup,
		SumDB:       db.Name(),
		Progress:    rep.File,
		Downloading: rep.GoLine,
	})
}

// openEvents opens --json-file for a reporter: emptied by the first one of
// the command, appended to by the next (the toolchain's comes first).
func (c *command) openEvents() (*os.File, error) {
	flag := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if !c.eventsOpened {
		flag |= os.O_TRUNC
	}
	c.eventsOpened = true
	return os.OpenFile(c.cfg.jsonFile, flag, 0o666)
}
