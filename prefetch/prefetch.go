// Package prefetch plans which module files the go command is going to need and
// fetches them into the module cache, many at a time, before the go command runs.
//
// The plan follows cmd/go/internal/modload: the roots are the main modules'
// requirements; a dependency's go.mod is read, and its own requirements
// followed, according to graph pruning (go 1.17 and later) or not (earlier
// versions, workspaces); the selected version of a path is the highest one
// required anywhere. go.sum decides which bytes may enter the cache.
//
// prefetch never talks to the network itself: it fetches through a Source,
// which the mirrors package satisfies.
package prefetch

import (
	"context"
	"io"

	"golang.org/x/mod/module"
)

// A Source fetches one protocol file ("info", "mod" or "zip") of a module
// version, handing each candidate body to store until store accepts one. An
// error matching errors.ErrUnsupported means the Source will not serve it
// (GOPROXY says "direct" or "off"), so it is left to the go command. A Source
// must be safe for concurrent use.
type Source interface {
	Fetch(ctx context.Context, mod module.Version, file string, store func(body io.Reader) error) error
}
