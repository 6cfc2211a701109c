package prefetch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/gomodx/gomodx/modcache"
)

// summary is what the module graph needs from one dependency's go.mod:
// its requirements (without the main modules' excluded versions) and
// whether its own graph is pruned.
type summary struct {
	goVersion string
	pruning   Pruning
	require   []module.Version
}

// summaryCall is one go.mod read that several goroutines may wait for.
type summaryCall struct {
	once sync.Once
	s    *summary
	err  error
}

// summary reads the go.mod of m, or of its replacement, as the go command's
// goModSummary does. Each file is read once per plan.
func (p *planner) summary(m module.Version) (*summary, error) {
	c, _ := p.summaries.LoadOrStore(m, new(summaryCall))
	call := c.(*summaryCall)
	call.once.Do(func() { call.s, call.err = p.readSummary(m) })
	return call.s, call.err
}

func (p *planner) readSummary(m module.Version) (*summary, error) {
	actual := p.proj.resolve(m)
	if p.mustHaveSum(actual, p.proj.Sums.GoMod(actual)) {
		return nil, errSumMissing
	}
	var file string
	if actual.Version == "" {
		file = filepath.Join(actual.Path, "go.mod")
	} else {
		if err := p.ensure(actual, modcache.Mod); err != nil {
			return nil, err
		}
		var err error
		if file, err = p.f.cache.Path(actual, "mod"); err != nil {
			return nil, err
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	// Dependencies' go.mod files are parsed leniently, as cmd/go does.
	mf, err := modfile.ParseLax(file, data, nil)
	if err != nil {
		return nil, err
	}
	if actual.Version != "" {
		if mf.Module == nil {
			return nil, fmt.Errorf("%s: parsing go.mod: missing module line", actual)
		}
		if mp := mf.Module.Mod.Path; mp != m.Path && mp != actual.Path {
			return nil, fmt.Errorf("%s: module declares its path as %s", actual, mp)
		}
	}
	s := &summary{pruning: Unpruned}
	if mf.Go != nil {
		s.goVersion = mf.Go.Version
		s.pruning = pruningFor(mf.Go.Version)
	}
	for _, r := range mf.Require {
		if !p.proj.Exclude[r.Mod] {
			s.require = append(s.require, r.Mod)
		}
	}
	return s, nil
}

// errSumMissing is a file the go command will not fetch in -mod=readonly
// because go.sum has no line for it.
var errSumMissing = errors.New("missing go.sum entry")

// mustHaveSum reports whether the go command refuses to fetch a file of m
// whose go.sum line is sum: in -mod=readonly, outside a workspace, when the
// line is missing.
func (p *planner) mustHaveSum(m module.Version, sum string) bool {
	return p.readonly && p.proj.Pruning != Workspace && m.Version != "" && sum == ""
}

// graph is a module requirement graph as the go command's readModGraph
// loads it from a set of roots: the requirements of every go.mod it read,
// and the version of each path that minimal version selection picks.
type graph struct {
	selected map[string]string                   // path → selected version
	reqs     map[module.Version][]module.Version // the go.mod files read
	// complete is false when some go.mod could not be read (left to the
	// go command, or failed): a selection may then be too low.
	complete bool
	// failed is set when a go.mod failed (not only left to the go
	// command): the go command fails to load this graph too.
	failed bool
}

// Selected returns the version of path the graph selects, or "".
func (g *graph) Selected(path string) string { return g.selected[path] }

// loadGraph reads the module graph from roots, as readModGraph does: a
// root's requirements are always read; a dependency's own requirements
// only when the graph is unpruned, or the module that requires it has an
// unpruned go.mod (go older than 1.17). In a workspace, the requirements
// of the selected versions of the roots' dependencies are read as well,
// until nothing changes.
func (p *planner) loadGraph(roots []module.Version, pruning Pruning) *graph {
	g := &graph{selected: map[string]string{}, reqs: map[module.Version][]module.Version{}, complete: true}
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		loading = map[loadKey]bool{}
	)
	require := func(m module.Version) {
		if p.proj.Mains[m.Path] || m.Version == "none" {
			return
		}
		if v, ok := g.selected[m.Path]; !ok || semver.Compare(v, m.Version) < 0 {
			g.selected[m.Path] = m.Version
		}
	}
	var enqueue func(m module.Version, pruning Pruning)
	enqueue = func(m module.Version, pruning Pruning) {
		if m.Version == "none" || p.proj.Mains[m.Path] {
			return
		}
		mu.Lock()
		key := loadKey{m, pruning}
		if loading[key] {
			mu.Unlock()
			return
		}
		loading[key] = true
		mu.Unlock()
		wg.Go(func() {
			s, err := p.summary(m)
			mu.Lock()
			if err != nil {
				g.complete = false
				if !errors.Is(err, ErrLeft) {
					g.failed = true
				}
				mu.Unlock()
				return
			}
			if _, done := g.reqs[m]; !done {
				g.reqs[m] = s.require
				for _, r := range s.require {
					require(r)
				}
			}
			mu.Unlock()
			next := s.pruning
			if pruning == Unpruned {
				next = Unpruned
			}
			for _, r := range s.require {
				if pruning != Pruned || s.pruning == Unpruned {
					enqueue(r, next)
				}
			}
		})
	}
	mu.Lock()
	for _, r := range roots {
		require(r)
	}
	mu.Unlock()
	for _, r := range roots {
		enqueue(r, pruning)
	}
	wg.Wait()

	if pruning == Workspace {
		// The requirements of the roots' dependencies at their selected
		// versions, until the selection settles.
		depsInAll := map[string]bool{}
		seen := map[module.Version]bool{}
		for _, r := range roots {
			depsInAll[r.Path] = true
		}
		for range 1000 { // each round loads a higher version of something
			need := map[module.Version]bool{}
			for path := range depsInAll {
				m := module.Version{Path: path, Version: g.selected[path]}
				if !seen[m] {
					need[m] = true
					continue
				}
				for _, r := range g.reqs[m] {
					s := module.Version{Path: r.Path, Version: g.selected[r.Path]}
					if semver.Compare(s.Version, r.Version) > 0 && !seen[s] {
						need[s] = true
					}
				}
			}
			if len(need) == 0 {
				break
			}
			for m := range need {
				seen[m] = true
				depsInAll[m.Path] = true
				enqueue(m, Workspace)
			}
			wg.Wait()
		}
	}
	return g
}

// loadKey is a module read in the graph with the pruning it was reached with.
type loadKey struct {
	mod     module.Version
	pruning Pruning
}
