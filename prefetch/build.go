package prefetch

import (
	"context"
	"os"
	pathpkg "path"
	"path/filepath"
	"strings"

	"golang.org/x/mod/module"

	"github.com/gomodx/gomodx/modcache"
)

// BuildOptions describe a go command that loads packages, as build,
// install, run, test, vet and list do.
type BuildOptions struct {
	Patterns []string // the package patterns given
	Dir      string   // where the go command runs: relative patterns start there
	Tests    bool     // the tests of the matched packages are loaded too (test, vet, list -test)
	// BuildTags are the -tags given; Tags is the whole tag set of the
	// build (see [BuildTags]), which the caller makes from them.
	BuildTags []string
	Tags      Tags
	GOROOT    string
	// ModMod: -mod=mod. Otherwise (-mod=readonly, the default) the go
	// command fetches nothing go.sum has no line for.
	ModMod bool
}

// Build fetches what a package-loading go command reads: the zip of every
// module it looks into for the packages the patterns match and what they
// import (and their tests' imports, with Tests), and the .info and .mod of
// every module that provides one of them. Patterns it cannot resolve the
// way the go command would (files, std, cmd, patterns over dependencies)
// make it plan nothing. p may be nil outside a module: nothing is planned.
func Build(ctx context.Context, f *Fetcher, p *Project, opts BuildOptions) error {
	if p == nil || p.Warm(f.cache, true) {
		return nil
	}
	roots, all, ok := rootPackages(p, opts)
	if !ok {
		return nil
	}
	pl := newPlanner(ctx, f, p, opts.GOROOT)
	pl.readonly = !opts.ModMod
	defer pl.close()

	mode := loadMode{
		tags:               opts.Tags,
		allIsRoot:          all,
		loadTests:          opts.Tests,
		allClosesOverTests: goLess(p.GoVersion, "1.16"),
	}
	old := &lazyGraph{load: func() *graph { return pl.loadGraph(p.Roots, p.Pruning) }}
	var rootSel map[string]string
	if p.Pruning != Unpruned {
		rootSel = rootVersions(p.Roots)
	}
	l := newLoader(pl, mode, rootSel, old.get)
	if all {
		roots = append(roots, l.mainPackages()...)
		for _, t := range p.Tools {
			l.add(t, inAll|isRoot)
		}
	}
	for _, path := range roots {
		l.add(path, isRoot)
	}
	l.wait()
	if l.blind || !pl.rootsHold(l, rootSel, old) {
		// The go command stops to say go.mod needs updating (or, with
		// -mod=mod, updates it and loads again): not planned further.
		return pl.wait()
	}
	// The go command describes the module of every package it loaded
	// (its version's .info and its go.mod).
	for _, m := range pl.loadedModules(l, false) {
		actual := p.resolve(m)
		if actual.Version == "" {
			continue
		}
		pl.wg.Go(func() { pl.ensure(actual, modcache.Info) })
		pl.wg.Go(func() { pl.summary(m) })
	}
	return pl.wait()
}

// rootsHold reports whether loading leaves go.mod's requirements as they
// are, as the go command's updateRequirements finds: every module that
// provides a package in "all" or matched by a pattern is required by the
// main module, and the requirements of those modules (or, once it has been
// read, the whole graph) select no other version of a requirement. The
// spot check reads the go.mod files the go command reads for it.
func (pl *planner) rootsHold(l *loader, rootSel map[string]string, old *lazyGraph) bool {
	if pl.proj.Pruning != Pruned {
		return false // unpruned and workspace roots are not planned further
	}
	spot := map[module.Version]bool{}
	for _, pkg := range l.sorted() {
		if !l.external(pkg) || !(pkg.flags.has(inAll) || pkg.flags.has(isRoot)) {
			continue
		}
		if _, ok := rootSel[pkg.mod.Path]; !ok {
			return false
		}
		spot[pkg.mod] = true
	}
	if !old.loaded.Load() && pl.spotCheck(spot, rootSel) {
		return true
	}
	g := old.get()
	if !g.complete {
		return false
	}
	for path, v := range rootSel {
		if g.Selected(path) != v {
			return false
		}
	}
	return true
}

// rootPackages resolves the patterns to package paths, as far as it can
// without the module graph: relative directories and "./..." patterns
// within a main module, import paths, and "all". ok is false when some
// pattern is beyond that.
func rootPackages(p *Project, opts BuildOptions) (pkgs []string, all, ok bool) {
	patterns := opts.Patterns
	if len(patterns) == 0 {
		patterns = []string{"."}
	}
	for _, pat := range patterns {
		switch {
		case pat == "all":
			all = true
		case pat == "std" || pat == "cmd" || strings.HasSuffix(pat, ".go") || strings.Contains(pat, "@"):
			return nil, false, false
		case isRelative(pat):
			dir, dots := strings.CutSuffix(filepath.ToSlash(pat), "/...")
			if pat == "..." || pat == "./..." {
				dir, dots = ".", true
			}
			abs := filepath.Join(opts.Dir, filepath.FromSlash(dir))
			mpath, rel, ok := p.mainPackage(abs)
			if !ok {
				return nil, false, false
			}
			if !dots {
				pkgs = append(pkgs, pathpkg.Join(mpath, rel))
				continue
			}
			pkgs = append(pkgs, p.packagesBelow(mpath, rel, opts.Tags)...)
		case strings.Contains(pat, "..."):
			prefix, _ := strings.CutSuffix(pat, "/...")
			mpath, rel, ok := p.mainImportPath(prefix)
			if !ok || strings.Contains(prefix, "...") {
				return nil, false, false
			}
			pkgs = append(pkgs, p.packagesBelow(mpath, rel, opts.Tags)...)
		default:
			pkgs = append(pkgs, pat)
		}
	}
	return pkgs, all, true
}

func isRelative(pat string) bool {
	return pat == "." || pat == ".." || pat == "..." || strings.HasPrefix(pat, "./") || strings.HasPrefix(pat, "../")
}

// mainPackage finds the main module whose directory holds dir, and dir's
// slash-separated path within it.
func (p *Project) mainPackage(dir string) (mpath, rel string, ok bool) {
	best := ""
	for path, root := range p.MainDirs {
		r, err := filepath.Rel(root, dir)
		if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			continue
		}
		if best == "" || len(root) > len(p.MainDirs[best]) {
			best, rel = path, filepath.ToSlash(r)
		}
	}
	if best == "" {
		return "", "", false
	}
	if rel == "." {
		rel = ""
	}
	return best, rel, true
}

// mainImportPath finds the main module whose path is a prefix of the
// import path.
func (p *Project) mainImportPath(path string) (mpath, rel string, ok bool) {
	for m := range p.Mains {
		if path == m {
			return m, "", true
		}
		if r, ok := strings.CutPrefix(path, m+"/"); ok {
			return m, r, true
		}
	}
	return "", "", false
}

// packagesBelow lists the packages of main module mpath in directory rel
// and below, as the go command matches "rel/...": as for "all", without
// testdata, '.' and '_' directories, nested modules and ignored ones.
func (p *Project) packagesBelow(mpath, rel string, tags Tags) []string {
	root := p.MainDirs[mpath]
	ignored := p.Ignore[mpath]
	t := dirTree{root: root}
	var pkgs []string
	start := filepath.Join(root, filepath.FromSlash(rel))
	filepath.WalkDir(start, func(file string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		r, _ := filepath.Rel(root, file)
		r = filepath.ToSlash(r)
		if r == "." {
			r = ""
		}
		if file != start {
			elem := d.Name()
			if strings.HasPrefix(elem, ".") || strings.HasPrefix(elem, "_") || elem == "testdata" {
				return filepath.SkipDir
			}
		}
		if r != "" && ((ignored != nil && ignored(r)) || t.hasGoMod(r)) {
			return filepath.SkipDir
		}
		names, _ := t.files(r)
		if _, _, err := scanPackage(tags, names, func(name string) ([]byte, error) { return t.read(r, name) }); err != errNoGo {
			pkgs = append(pkgs, pathpkg.Join(mpath, r))
		}
		return nil
	})
	return pkgs
}
