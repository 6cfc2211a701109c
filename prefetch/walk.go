package prefetch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/gomodx/gomodx/modcache"
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
	// GoSum adds every file go.sum names: 'go mod tidy' reads them all.
	GoSum bool
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

// Run fetches every file the go command needs to load p's module graph and
// to download t. p may be nil outside a module. It tries every file and
// returns the errors of all that failed, joined and sorted.
func Run(ctx context.Context, f *Fetcher, p *Project, t Targets) error {
	if p == nil {
		p = &Project{Mains: map[string]bool{}, Replace: map[module.Version]module.Version{}, Exclude: map[module.Version]bool{}, Sums: Sums{}}
		t.NoGraph = true
	}
	w := &walk{
		ctx: ctx, f: f, proj: p,
		loading:  map[loadKey]bool{},
		selected: map[string]string{},
		zips:     map[module.Version]bool{},
	}
	wantPath := map[string]bool{}
	for _, path := range t.Paths {
		wantPath[path] = true
	}
	for _, m := range t.Versions {
		w.zip(m)
	}
	// go.sum names, at depth one, what the last tidy needed; its lines
	// verify themselves, so nothing unverified can come of this. Without
	// graph pruning the go command reads every go.mod in the graph and
	// downloads the whole build list, which is what a tidy go.sum lists:
	// fetching it all at once spares the walk its level-by-level waits.
	if t.GoSum || (t.All && !t.NoGraph && p.Pruning != Pruned) {
		// A zip line for an older version than another line of the same
		// path is stale (a workspace's modules disagree): go selects one.
		latest := map[string]string{}
		for key := range p.Sums {
			if !strings.HasSuffix(key.Version, "/go.mod") && semver.Compare(key.Version, latest[key.Path]) > 0 {
				latest[key.Path] = key.Version
			}
		}
		for key := range p.Sums {
			if v, ok := strings.CutSuffix(key.Version, "/go.mod"); ok {
				w.file(module.Version{Path: key.Path, Version: v}, modcache.Mod)
			} else if latest[key.Path] == key.Version {
				w.zip(key)
			}
		}
	}
	if !t.NoGraph {
		for _, m := range p.Roots {
			w.require(m)
			// In a consistent pruned go.mod the required version of a root
			// is its selected version, so its zip need not wait for the walk.
			if p.Pruning == Pruned && wantPath[m.Path] {
				w.zip(m)
			}
		}
		for _, m := range p.Roots {
			w.load(m, p.Pruning)
		}
	}
	w.wg.Wait()
	if !t.NoGraph {
		w.mu.Lock()
		var later []module.Version
		for path, v := range w.selected {
			if t.All || wantPath[path] {
				later = append(later, module.Version{Path: path, Version: v})
			}
		}
		w.mu.Unlock()
		for _, m := range later {
			w.zip(m)
		}
		w.wg.Wait()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	errs := slices.Clone(w.errs)
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

type loadKey struct {
	mod     module.Version
	pruning Pruning
}

// walk is one traversal of the module graph.
type walk struct {
	ctx  context.Context
	f    *Fetcher
	proj *Project
	wg   sync.WaitGroup

	mu       sync.Mutex
	loading  map[loadKey]bool
	selected map[string]string // path → highest version required so far
	zips     map[module.Version]bool
	errs     []error
}

// require records that some loaded go.mod requires m, for version selection.
func (w *walk) require(m module.Version) {
	if w.proj.Mains[m.Path] {
		return
	}
	w.mu.Lock()
	if v, ok := w.selected[m.Path]; !ok || semver.Compare(v, m.Version) < 0 {
		w.selected[m.Path] = m.Version
	}
	w.mu.Unlock()
}

// load reads m's go.mod, as modload.readModGraph does, and follows its
// requirements as pruning says.
func (w *walk) load(m module.Version, pruning Pruning) {
	if m.Version == "none" || w.proj.Mains[m.Path] {
		return
	}
	w.mu.Lock()
	key := loadKey{m, pruning}
	if w.loading[key] {
		w.mu.Unlock()
		return
	}
	w.loading[key] = true
	w.mu.Unlock()

	w.wg.Go(func() {
		mf, err := w.goMod(m)
		if err != nil {
			return // reported by ensure, or left to the go command
		}
		own := Unpruned
		if mf.Go != nil {
			own = pruningFor(mf.Go.Version)
		}
		next := own
		if pruning == Unpruned {
			next = Unpruned
		}
		for _, req := range mf.Require {
			if w.proj.Exclude[req.Mod] {
				continue
			}
			w.require(req.Mod)
			if pruning != Pruned || own == Unpruned {
				w.load(req.Mod, next)
			}
		}
	})
}

// goMod returns the parsed go.mod of m, or of its replacement.
func (w *walk) goMod(m module.Version) (*modfile.File, error) {
	actual := w.proj.resolve(m)
	var file string
	if actual.Version == "" {
		file = filepath.Join(actual.Path, "go.mod")
	} else {
		if err := w.ensure(actual, modcache.Mod); err != nil {
			return nil, err
		}
		var err error
		if file, err = w.f.cache.Path(actual, "mod"); err != nil {
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
func (w *walk) zip(m module.Version) {
	if w.proj.Mains[m.Path] {
		return
	}
	actual := w.proj.resolve(m)
	if actual.Version == "" {
		return // a directory replacement: nothing to download
	}
	w.mu.Lock()
	dup := w.zips[actual]
	w.zips[actual] = true
	w.mu.Unlock()
	if dup {
		return
	}
	w.file(actual, modcache.Info)
	w.file(actual, modcache.Mod)
	w.wg.Go(func() {
		state, err := w.f.Ensure(w.ctx, actual, modcache.Zip)
		w.record(state, err)
		if state == Fetched || state == Cached {
			w.f.extract(w.ctx, actual)
		}
	})
}

// file fetches one file in the background.
func (w *walk) file(m module.Version, kind modcache.Kind) {
	w.wg.Go(func() { w.ensure(m, kind) })
}

// ensure fetches one file and records its failure.
func (w *walk) ensure(m module.Version, kind modcache.Kind) error {
	state, err := w.f.Ensure(w.ctx, m, kind)
	w.record(state, err)
	return err
}

// record keeps a failure for Run's error.
func (w *walk) record(state State, err error) {
	if state == Failed {
		w.mu.Lock()
		if !slices.ContainsFunc(w.errs, func(e error) bool { return e == err }) {
			w.errs = append(w.errs, err)
		}
		w.mu.Unlock()
	}
}
