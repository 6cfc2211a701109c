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
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/gomodx/gomodx/modcache"
)

// A Source fetches one protocol file ("info", "mod" or "zip") of a module
// version, handing each candidate body to store until store accepts one. An
// error matching errors.ErrUnsupported means the Source will not serve it
// (GOPROXY says "direct" or "off"), so it is left to the go command. A Source
// must be safe for concurrent use.
type Source interface {
	Fetch(ctx context.Context, mod module.Version, file string, store func(body io.Reader) error) error
}

// Options configures a Run.
type Options struct {
	// Jobs is how many files are fetched at once. The work waits on the
	// network, so the default (16) is well above the go command's GOMAXPROCS.
	Jobs int
	// Private reports whether a module path matches GONOPROXY/GOPRIVATE. Such
	// modules are never asked of a Source: the go command fetches them itself.
	Private func(path string) bool
	// NoSumCheck reports whether the go command would accept a module without
	// a checksum (GOSUMDB=off, or GONOSUMDB/GOPRIVATE matches). Files go.sum
	// has no line for are fetched only for such modules; the others are left
	// to the go command, which checks them against the checksum database.
	NoSumCheck func(path string) bool
	// Progress, if set, is called for every file as it is settled. It may be
	// called from several goroutines at once.
	Progress func(Event)
}

// Event reports what happened to one file of the plan.
type Event struct {
	Mod   module.Version
	Kind  modcache.Kind
	State State
	Err   error // set with Failed
}

// State is the outcome for one file.
type State int

const (
	Fetched State = iota // fetched, verified and written to the cache
	Cached               // already complete in the cache
	Left                 // left to the go command (private, no checksum, direct)
	Failed
)

// Targets says which module zips to download, as the arguments of
// 'go mod download' do. Every go.mod the go command reads while loading the
// module graph is fetched as well.
type Targets struct {
	All      bool             // every module in the build list ("all")
	Paths    []string         // these paths at their selected versions
	Versions []module.Version // exactly these versions
	// NoGraph skips loading the module graph, when the targets need none
	// (only exact versions were named).
	NoGraph bool
}

// DefaultTargets is what 'go mod download' with no arguments downloads
// (cmd/go/internal/modcmd/download.go): the main module's requirements when
// its graph is pruned, the whole build list otherwise.
func DefaultTargets(p *Project) Targets {
	if p.Pruning == Pruned {
		var t Targets
		for _, r := range p.Roots {
			t.Paths = append(t.Paths, r.Path)
		}
		return t
	}
	return Targets{All: len(p.Roots) > 0}
}

// Stats counts what a Run did.
type Stats struct {
	Fetched, Cached, Left, Failed int
}

// Run fetches into cache every file the go command needs to load p's module
// graph and to download t. p may be nil outside a module. It returns the
// errors of all files that failed, joined, after trying every one.
func Run(ctx context.Context, cache *modcache.Cache, src Source, p *Project, t Targets, opts Options) (Stats, error) {
	if opts.Jobs <= 0 {
		opts.Jobs = 16
	}
	if p == nil {
		p = &Project{Mains: map[string]bool{}, Replace: map[module.Version]module.Version{}, Exclude: map[module.Version]bool{}, Sums: Sums{}}
		t.NoGraph = true
	}
	r := &runner{
		ctx: ctx, cache: cache, src: src, proj: p, opts: opts,
		sem:      make(chan struct{}, opts.Jobs),
		files:    map[fileKey]*call{},
		loading:  map[loadKey]bool{},
		selected: map[string]string{},
		zips:     map[module.Version]bool{},
	}
	wantPath := map[string]bool{}
	for _, path := range t.Paths {
		wantPath[path] = true
	}
	for _, m := range t.Versions {
		r.zip(m)
	}
	if !t.NoGraph {
		for _, m := range p.Roots {
			r.require(m)
			// In a consistent pruned go.mod the required version of a root
			// is its selected version, so its zip need not wait for the walk.
			if p.Pruning == Pruned && wantPath[m.Path] {
				r.zip(m)
			}
		}
		for _, m := range p.Roots {
			r.load(m, p.Pruning)
		}
	}
	r.wg.Wait()
	if !t.NoGraph {
		r.mu.Lock()
		var later []module.Version
		for path, v := range r.selected {
			if t.All || wantPath[path] {
				later = append(later, module.Version{Path: path, Version: v})
			}
		}
		r.mu.Unlock()
		for _, m := range later {
			r.zip(m)
		}
		r.wg.Wait()
	}
	return r.stats, r.err()
}

type fileKey struct {
	mod  module.Version
	kind modcache.Kind
}

// call is one file fetch that several parts of the walk may wait for.
type call struct {
	done chan struct{}
	err  error
}

type loadKey struct {
	mod     module.Version
	pruning Pruning
}

type runner struct {
	ctx   context.Context
	cache *modcache.Cache
	src   Source
	proj  *Project
	opts  Options
	sem   chan struct{}
	wg    sync.WaitGroup

	mu       sync.Mutex
	files    map[fileKey]*call
	loading  map[loadKey]bool
	selected map[string]string // path → highest version required so far
	zips     map[module.Version]bool
	errs     []error
	stats    Stats
}

// errLeft marks a file left to the go command; it is not a failure.
var errLeft = errors.New("left to the go command")

// require records that some loaded go.mod requires m, for version selection.
func (r *runner) require(m module.Version) {
	if r.proj.Mains[m.Path] {
		return
	}
	r.mu.Lock()
	if v, ok := r.selected[m.Path]; !ok || semver.Compare(v, m.Version) < 0 {
		r.selected[m.Path] = m.Version
	}
	r.mu.Unlock()
}

// load reads m's go.mod, as modload.readModGraph does, and follows its
// requirements as pruning says.
func (r *runner) load(m module.Version, pruning Pruning) {
	if m.Version == "none" || r.proj.Mains[m.Path] {
		return
	}
	r.mu.Lock()
	key := loadKey{m, pruning}
	if r.loading[key] {
		r.mu.Unlock()
		return
	}
	r.loading[key] = true
	r.mu.Unlock()

	r.wg.Go(func() {
		f, err := r.goMod(m)
		if err != nil {
			return // reported by ensure, or left to the go command
		}
		own := Unpruned
		if f.Go != nil {
			own = pruningFor(f.Go.Version)
		}
		next := own
		if pruning == Unpruned {
			next = Unpruned
		}
		for _, req := range f.Require {
			if r.proj.Exclude[req.Mod] {
				continue
			}
			r.require(req.Mod)
			if pruning != Pruned || own == Unpruned {
				r.load(req.Mod, next)
			}
		}
	})
}

// goMod returns the parsed go.mod of m, or of its replacement.
func (r *runner) goMod(m module.Version) (*modfile.File, error) {
	actual := r.proj.resolve(m)
	var file string
	if actual.Version == "" {
		file = filepath.Join(actual.Path, "go.mod")
	} else {
		if err := r.ensure(actual, modcache.Mod); err != nil {
			return nil, err
		}
		var err error
		if file, err = r.cache.Path(actual, "mod"); err != nil {
			return nil, err
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	// Dependencies' go.mod files are parsed leniently, as cmd/go does.
	return modfile.ParseLax(file, data, nil)
}

// zip fetches what 'go mod download' writes for m: .info, .mod and .zip.
func (r *runner) zip(m module.Version) {
	if r.proj.Mains[m.Path] {
		return
	}
	actual := r.proj.resolve(m)
	if actual.Version == "" {
		return // a directory replacement: nothing to download
	}
	r.mu.Lock()
	dup := r.zips[actual]
	r.zips[actual] = true
	r.mu.Unlock()
	if dup {
		return
	}
	for _, kind := range []modcache.Kind{modcache.Info, modcache.Mod, modcache.Zip} {
		r.wg.Go(func() { r.ensure(actual, kind) })
	}
}

// ensure makes one file complete in the cache, fetching it at most once per
// run however many parts of the walk ask for it.
func (r *runner) ensure(m module.Version, kind modcache.Kind) error {
	key := fileKey{m, kind}
	r.mu.Lock()
	c, ok := r.files[key]
	if !ok {
		c = &call{done: make(chan struct{})}
		r.files[key] = c
	}
	r.mu.Unlock()
	if ok {
		<-c.done
		return c.err
	}
	state, err := r.fetch(m, kind)
	c.err = err
	close(c.done)

	r.mu.Lock()
	switch state {
	case Fetched:
		r.stats.Fetched++
	case Cached:
		r.stats.Cached++
	case Left:
		r.stats.Left++
	case Failed:
		r.stats.Failed++
		r.errs = append(r.errs, err)
	}
	r.mu.Unlock()
	if r.opts.Progress != nil {
		ev := Event{Mod: m, Kind: kind, State: state}
		if state == Failed {
			ev.Err = err
		}
		r.opts.Progress(ev)
	}
	return err
}

func (r *runner) fetch(m module.Version, kind modcache.Kind) (State, error) {
	sums := r.proj.Sums
	var want string
	switch kind {
	case modcache.Mod:
		want = sums.GoMod(m)
	case modcache.Zip:
		want = sums.Zip(m)
	case modcache.Info:
		// .info carries no checksum; it is fetched with the zip it describes,
		// so it follows the zip's rule below.
		want = sums.Zip(m)
	}
	if r.cache.Has(m, kind, wantFor(kind, want)) {
		return Cached, nil
	}
	if r.opts.Private != nil && r.opts.Private(m.Path) {
		return Left, errLeft
	}
	if want == "" && (r.opts.NoSumCheck == nil || !r.opts.NoSumCheck(m.Path)) {
		return Left, errLeft
	}
	select {
	case r.sem <- struct{}{}:
	case <-r.ctx.Done():
		return Failed, r.ctx.Err()
	}
	defer func() { <-r.sem }()

	dl := func(store func(io.Reader) error) error {
		return r.src.Fetch(r.ctx, m, string(kind), store)
	}
	var err error
	switch kind {
	case modcache.Info:
		err = r.cache.PutInfo(r.ctx, m, dl)
	case modcache.Mod:
		err = r.cache.PutMod(r.ctx, m, want, dl)
	case modcache.Zip:
		err = r.cache.PutZip(r.ctx, m, want, dl)
	}
	if errors.Is(err, errors.ErrUnsupported) {
		return Left, errLeft
	}
	if err != nil {
		return Failed, err
	}
	return Fetched, nil
}

// wantFor is the hash a cached file must have: .info has none.
func wantFor(kind modcache.Kind, want string) string {
	if kind == modcache.Info {
		return ""
	}
	return want
}

// err joins the failures, ordered by module so that output is stable.
func (r *runner) err() error {
	if r.ctx.Err() != nil {
		return r.ctx.Err()
	}
	errs := slices.Clone(r.errs)
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

// String renders a Targets for logs.
func (t Targets) String() string {
	var parts []string
	if t.All {
		parts = append(parts, "all")
	}
	parts = append(parts, t.Paths...)
	for _, m := range t.Versions {
		parts = append(parts, m.String())
	}
	return fmt.Sprint(strings.Join(parts, " "))
}
