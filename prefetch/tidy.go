package prefetch

import (
	"context"
	"go/version"
	pathpkg "path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// TidyOptions are what changes which files 'go mod tidy' reads.
type TidyOptions struct {
	GoVersion string // -go: the go version to tidy for
	Compat    string // -compat: the oldest go version to keep go.sum working for
	GOROOT    string // the go command's GOROOT, where the standard library is
}

// Tidy fetches the files 'go mod tidy' reads, and no others: the zips of
// the modules it looks into for the packages of "all" and their tests, the
// go.mod files of the module graph it builds from them, and, for a module
// that must stay compatible with go 1.16, the go.mod files of its unpruned
// graph. It follows the go command's loader stage by stage, and stops
// planning where the next stage depends on something it cannot know (a
// package no required module provides, which the go command looks up; a
// module whose source it cannot see; a go.mod that tidy will change in a
// way that makes the go command load packages again): the go command then
// fetches the rest itself, through the loopback proxy. p may be nil
// outside a module.
func Tidy(ctx context.Context, f *Fetcher, p *Project, opts TidyOptions) error {
	if p == nil || p.Pruning == Workspace {
		return nil // 'go mod tidy' works on one module
	}
	if p.Warm(f.cache, false) {
		return nil
	}
	pl := newPlanner(ctx, f, p, opts.GOROOT)
	defer pl.close()
	pl.tidy(opts)
	return pl.wait()
}

func (pl *planner) tidy(opts TidyOptions) {
	p := pl.proj
	goVersion := p.GoVersion
	if opts.GoVersion != "" {
		if pruningFor(opts.GoVersion) != p.Pruning {
			return // tidy converts the graph first: left to the go command
		}
		goVersion = opts.GoVersion
	}
	for _, r := range p.Roots {
		if p.Exclude[r] {
			return // the go command replaces an excluded requirement first, by a query
		}
	}
	mode := loadMode{
		allIsRoot:          true,
		loadTests:          true,
		allClosesOverTests: goLess(goVersion, "1.16"),
		skipModFiles:       goLess(goVersion, "1.21"),
	}
	old := &lazyGraph{load: func() *graph { return pl.loadGraph(p.Roots, p.Pruning) }}
	var roots map[string]string
	if p.Pruning != Unpruned {
		roots = rootVersions(p.Roots)
	}
	l := newLoader(pl, mode, roots, old.get)
	for _, path := range l.mainPackages() {
		l.add(path, inAll|isRoot)
	}
	for _, path := range p.Tools {
		l.add(path, inAll|isRoot)
	}
	l.wait()
	if l.blind || pl.ctx.Err() != nil {
		return
	}

	tidyRoots := pl.loadedModules(l, true)
	if p.Pruning == Pruned {
		var ok bool
		if tidyRoots, ok = pl.tidyPrunedRoots(l); !ok {
			return
		}
		if !pl.updatePrunedRoots(l, roots, tidyRoots, old) {
			return
		}
	}
	for _, pkg := range l.pkgs {
		if pkg.missing {
			return // the go command looks for a module that provides it
		}
	}
	pl.compat(l, goVersion, opts.Compat, tidyRoots)
}

// loadedModules returns the modules that provide the packages of "all"
// (or, with !inAllOnly, every loaded package) from dependencies, sorted.
func (pl *planner) loadedModules(l *loader, inAllOnly bool) []module.Version {
	seen := map[string]bool{}
	var mods []module.Version
	for _, pkg := range l.pkgs {
		if !l.external(pkg) || (inAllOnly && !pkg.flags.has(inAll)) || seen[pkg.mod.Path] {
			continue
		}
		seen[pkg.mod.Path] = true
		mods = append(mods, pkg.mod)
	}
	sortVersions(mods)
	return mods
}

// tidyPrunedRoots follows the go command's tidyPrunedRoots: the modules
// that provide packages in "all" become the roots; a test dependency whose
// version the graph of those roots would lower becomes one too, depth by
// depth; and a package that would become ambiguous with only those roots
// gets its module as a root. Each step reads the graph of the roots.
func (pl *planner) tidyPrunedRoots(l *loader) ([]module.Version, bool) {
	var roots []module.Version
	pathIsRoot := map[string]bool{}
	for path := range pl.proj.Mains {
		pathIsRoot[path] = true
	}
	var queue []*lpkg
	queued := map[*lpkg]bool{}
	for _, pkg := range l.sorted() {
		if !pkg.flags.has(inAll) {
			continue
		}
		if l.external(pkg) && !pathIsRoot[pkg.mod.Path] {
			roots = append(roots, pkg.mod)
			pathIsRoot[pkg.mod.Path] = true
		}
		queue = append(queue, pkg)
		queued[pkg] = true
	}
	for len(queue) > 0 {
		g := pl.loadGraph(roots, Pruned)
		if !g.complete {
			return nil, false
		}
		prev := queue
		queue = nil
		for _, pkg := range prev {
			if pkg.mod.Path == "" {
				continue
			}
			for _, dep := range pkg.imports {
				if !queued[dep] {
					queue = append(queue, dep)
					queued[dep] = true
				}
			}
			if pkg.test != nil && !queued[pkg.test] {
				queue = append(queue, pkg.test)
				queued[pkg.test] = true
			}
			if m := pkg.mod; !pathIsRoot[m.Path] && semver.Compare(g.Selected(m.Path), m.Version) < 0 {
				roots = append(roots, m)
				pathIsRoot[m.Path] = true
			}
		}
	}
	if g := pl.loadGraph(roots, Pruned); !g.complete {
		return nil, false
	}

	// A package of a module outside the roots, which lazy loading no longer
	// disambiguates, gets its module promoted to a root.
	for range 100 {
		rootSel := rootVersions(roots)
		var added []module.Version
		for _, pkg := range l.sorted() {
			if pkg.mod.Path == "" || pathIsRoot[pkg.mod.Path] {
				continue
			}
			n, ok := pl.countProviders(l, pkg.path, rootSel)
			if !ok {
				return nil, false
			}
			if n > 1 && !slices.Contains(added, pkg.mod) {
				added = append(added, pkg.mod)
			}
		}
		if len(added) == 0 {
			break
		}
		for _, m := range added {
			roots = append(roots, m)
			pathIsRoot[m.Path] = true
		}
		if g := pl.loadGraph(roots, Pruned); !g.complete {
			return nil, false
		}
	}
	sortVersions(roots)
	return roots, true
}

// countProviders counts the modules among roots (and the main modules) that
// hold package path, fetching each one's zip as the go command would.
func (pl *planner) countProviders(l *loader, path string, roots map[string]string) (int, bool) {
	if path == "C" || module.CheckImportPath(path) != nil || pl.isStd(path) {
		return 0, true
	}
	n := 0
	for prefix := path; prefix != "."; prefix = parentPath(prefix) {
		if prefix == "go" || prefix == "toolchain" {
			continue
		}
		v, ok := roots[prefix]
		if pl.proj.Mains[prefix] {
			v, ok = "", true
		}
		if !ok || v == "none" {
			continue
		}
		t, err := pl.tree(module.Version{Path: prefix, Version: v})
		if err != nil {
			return 0, false
		}
		if _, ok := pkgDir(t, path, prefix); ok {
			n++
		}
	}
	return n, true
}

// updatePrunedRoots follows what the go command does with the roots after
// loading, in updateRequirements: the modules of the packages in "all"
// and the tidy roots join the roots; if any root moves, the graph of the
// new roots is read, and when that changes the version of a module that
// provides a loaded package, the go command loads everything again (not
// planned: it reports false). Otherwise it spot-checks the go.mod files of
// the roots that provide packages, or reads the whole graph when they
// disagree with the roots.
func (pl *planner) updatePrunedRoots(l *loader, rootSel map[string]string, add []module.Version, old *lazyGraph) bool {
	roots := slices.Clone(pl.proj.Roots)
	upgraded := false
	added := map[string]bool{}
	spot := map[module.Version]bool{}
	for _, pkg := range l.sorted() {
		if !l.external(pkg) || !(pkg.flags.has(inAll) || pkg.flags.has(isRoot)) {
			continue
		}
		if _, ok := rootSel[pkg.mod.Path]; ok {
			spot[pkg.mod] = true
		} else if !added[pkg.mod.Path] {
			roots = append(roots, pkg.mod)
			added[pkg.mod.Path] = true
			upgraded = true
		}
	}
	for _, m := range add {
		if v, ok := rootSel[m.Path]; !ok || semver.Compare(v, m.Version) < 0 {
			roots = append(roots, m)
			upgraded = true
		}
	}
	if !upgraded {
		if !old.loaded.Load() && !pl.spotCheck(spot, rootSel) {
			if g := old.get(); !g.complete {
				return false
			}
		}
		return true
	}
	for range 100 {
		g := pl.loadGraph(roots, Pruned)
		if !g.complete {
			return false
		}
		next, moved := []module.Version{}, false
		seen := map[string]bool{}
		for path := range pl.proj.Mains {
			seen[path] = true
		}
		sortVersions(roots)
		for _, r := range roots {
			if seen[r.Path] {
				continue
			}
			seen[r.Path] = true
			v := g.Selected(r.Path)
			next = append(next, module.Version{Path: r.Path, Version: v})
			moved = moved || v != r.Version
		}
		roots = next
		if moved {
			continue
		}
		// The roots changed: a package whose module the new graph selects
		// at another version makes the go command load everything again.
		for _, pkg := range l.pkgs {
			if l.external(pkg) && g.Selected(pkg.mod.Path) != pkg.mod.Version {
				return false
			}
			if pkg.err != nil {
				return false // the go command tries it again with the new roots
			}
		}
		return true
	}
	return false
}

// spotCheck reads the go.mod of each module and reports whether every one
// of their requirements on a root is at most that root's version.
func (pl *planner) spotCheck(mods map[module.Version]bool, roots map[string]string) bool {
	var wg sync.WaitGroup
	var bad atomic.Bool
	for m := range mods {
		wg.Go(func() {
			s, err := pl.summary(m)
			if err != nil {
				bad.Store(true)
				return
			}
			for _, r := range s.require {
				if v, ok := roots[r.Path]; ok && semver.Compare(v, r.Version) < 0 {
					bad.Store(true)
				}
			}
		})
	}
	wg.Wait()
	return !bad.Load()
}

// compat reads, for a module that tidy keeps usable by go 1.16 (a go 1.17
// module by default, or -compat=1.16), the go.mod files of the unpruned
// graph of the tidy roots, and looks for every package again in it, as
// the go command's compatibility check does.
func (pl *planner) compat(l *loader, goVersion, compat string, roots []module.Version) {
	if compat == "" {
		compat = goVersion
		if goLess(goVersion, "1.21") {
			compat = prevGo(goVersion)
		}
	}
	if goLess(goVersion, compat) {
		compat = goVersion
	}
	if pruningFor(compat) == pl.proj.Pruning || pl.proj.Pruning != Pruned {
		return
	}
	g := pl.loadGraph(roots, Unpruned)
	if !g.complete {
		return
	}
	compatLoader := newLoader(pl, l.mode, nil, func() *graph { return g })
	var wg sync.WaitGroup
	for _, pkg := range l.sorted() {
		if pkg.mod.Path == "" && pkg.err == nil {
			continue // the standard library
		}
		wg.Go(func() { compatLoader.importFrom(pkg.path) })
	}
	wg.Wait()
}

// sorted returns the loaded packages (not their tests), by path.
func (l *loader) sorted() []*lpkg {
	l.mu.Lock()
	defer l.mu.Unlock()
	pkgs := make([]*lpkg, 0, len(l.pkgs))
	for _, pkg := range l.pkgs {
		pkgs = append(pkgs, pkg)
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].path < pkgs[j].path })
	return pkgs
}

// lazyGraph is a module graph read the first time it is needed.
type lazyGraph struct {
	load   func() *graph
	once   sync.Once
	g      *graph
	loaded atomic.Bool
}

func (lg *lazyGraph) get() *graph {
	lg.once.Do(func() {
		lg.g = lg.load()
		lg.loaded.Store(true)
	})
	return lg.g
}

// rootVersions maps each path of roots to its highest version there.
func rootVersions(roots []module.Version) map[string]string {
	sel := map[string]string{}
	for _, r := range roots {
		if v, ok := sel[r.Path]; !ok || semver.Compare(v, r.Version) < 0 {
			sel[r.Path] = r.Version
		}
	}
	return sel
}

func sortVersions(mods []module.Version) {
	sort.Slice(mods, func(i, j int) bool {
		if mods[i].Path != mods[j].Path {
			return mods[i].Path < mods[j].Path
		}
		return semver.Compare(mods[i].Version, mods[j].Version) < 0
	})
}

// goLess reports whether go version a is older than b ("1.16" < "1.21"),
// as go directives compare.
func goLess(a, b string) bool {
	return version.Compare("go"+a, "go"+b) < 0
}

// prevGo is the go language version before v's: "1.17.3" → "1.16".
func prevGo(v string) string {
	lang := strings.TrimPrefix(version.Lang("go"+v), "go")
	major, minor, ok := strings.Cut(lang, ".")
	n, err := strconv.Atoi(minor)
	if !ok || err != nil || n == 0 {
		return v
	}
	return major + "." + strconv.Itoa(n-1)
}

// parentPath is the import path one element up: "a/b/c" → "a/b", "a" → ".".
func parentPath(path string) string { return pathpkg.Dir(path) }
