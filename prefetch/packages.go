package prefetch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	pathpkg "path"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/mod/module"
)

// The package loader follows cmd/go/internal/modload's: it finds the
// module that provides each imported package by looking at every module
// whose path is a prefix of the import path (the roots of the module graph
// first, when the graph is pruned, and the whole graph only when the roots
// do not provide the package), reads the package's imports, and goes on.
// Every module it looks into is one whose zip the go command downloads.
// Where the plan cannot see a module's source (a private module not yet
// in the cache, say), the packages that would depend on it are not
// followed, and the plan says it is incomplete: later stages, which
// depend on the whole set of packages, are then left to the go command.

// loadMode says which packages are loaded, and with what.
type loadMode struct {
	tags Tags
	// allIsRoot: the "all" pattern is what is loaded ('go mod tidy'):
	// every package of the main modules, what they import, and what
	// their tests import, and every package in "all" is a root.
	allIsRoot bool
	// loadTests: the tests of the root packages are loaded too.
	loadTests bool
	// allClosesOverTests: the main module's go version is older than
	// 1.16, where "all" also holds the imports of the tests of every
	// package in "all".
	allClosesOverTests bool
	// skipModFiles: 'go mod tidy' of a module older than go 1.21 does not
	// read the go.mod of the module providing each package.
	skipModFiles bool
}

type pkgFlags uint8

const (
	inAll         pkgFlags = 1 << iota // the package is in "all"
	isRoot                             // the package matches a root pattern
	importsLoaded                      // the package's imports are known
)

func (f pkgFlags) has(want pkgFlags) bool { return f&want == want }

// lpkg is one loaded package, or the test of one (testOf set).
type lpkg struct {
	path        string
	testOf      *lpkg
	flags       pkgFlags
	mod         module.Version // the providing module; zero for std and "C"
	viaGraph    bool           // found only by looking at the whole module graph
	imports     []*lpkg
	testImports []string
	test        *lpkg
	err         error
	missing     bool // no module provides it: the go command will look for one
}

func (p *lpkg) isTest() bool { return p.testOf != nil }

// loader loads packages for one plan.
type loader struct {
	p    *planner
	mode loadMode
	// roots are the requirements of the main modules (the highest
	// version of each path); nil when the graph is unpruned, where the
	// whole graph is used from the start.
	roots map[string]string
	// full returns the module graph of the main modules' requirements,
	// loading it the first time.
	full func() *graph

	mu    sync.Mutex
	pkgs  map[string]*lpkg
	wg    sync.WaitGroup
	blind bool // some package's module could not be seen
}

func newLoader(p *planner, mode loadMode, roots map[string]string, full func() *graph) *loader {
	return &loader{p: p, mode: mode, roots: roots, full: full, pkgs: map[string]*lpkg{}}
}

// add loads the package path with flags, and waits for nothing.
func (l *loader) add(path string, flags pkgFlags) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pkgLocked(path, flags)
}

// wait waits until every package reachable so far is loaded.
func (l *loader) wait() { l.wg.Wait() }

func (l *loader) pkgLocked(path string, flags pkgFlags) *lpkg {
	pkg := l.pkgs[path]
	if pkg == nil {
		pkg = &lpkg{path: path}
		l.pkgs[path] = pkg
		l.wg.Go(func() { l.load(pkg) })
	}
	l.apply(pkg, flags)
	return pkg
}

// load finds pkg's module and reads its imports.
func (l *loader) load(pkg *lpkg) {
	mod, t, dir, viaGraph, err := l.importFrom(pkg.path)
	var imports, testImports []string
	if err == nil && t != nil {
		names, _ := t.files(dir)
		imports, testImports, err = scanPackage(l.mode.tags, names, func(name string) ([]byte, error) { return t.read(dir, name) })
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	pkg.mod, pkg.viaGraph, pkg.err = mod, viaGraph, err
	if errors.Is(err, errUnseen) {
		l.blind = true
	}
	var missing *missingError
	pkg.missing = errors.As(err, &missing)
	if l.isMain(mod) {
		l.apply(pkg, inAll)
	}
	if t == nil || (err != nil && !errors.Is(err, errNoGo)) {
		return
	}
	var importFlags pkgFlags
	if pkg.flags.has(inAll) {
		importFlags = inAll
	}
	for _, path := range imports {
		pkg.imports = append(pkg.imports, l.pkgLocked(path, importFlags))
	}
	pkg.testImports = testImports
	l.apply(pkg, importsLoaded)
}

// apply sets flags on pkg and follows what they imply, as the go command's
// applyPkgFlags does: a package in "all" is a root when "all" is what is
// loaded, a root's test is loaded when tests are, and "all" spreads to the
// imports of what is in it.
func (l *loader) apply(pkg *lpkg, flags pkgFlags) {
	if flags == 0 {
		return
	}
	if flags.has(inAll) && l.mode.allIsRoot && !pkg.isTest() {
		flags |= isRoot
	}
	old := pkg.flags
	now := old | flags
	pkg.flags = now
	if now == old || !now.has(importsLoaded) {
		return
	}
	if !pkg.isTest() {
		main := l.isMain(pkg.mod)
		wantTest := (l.mode.allIsRoot && main) ||
			(l.mode.allIsRoot && l.mode.allClosesOverTests && now.has(inAll)) ||
			(l.mode.loadTests && now.has(isRoot))
		if wantTest {
			var testFlags pkgFlags
			if main || (l.mode.allClosesOverTests && now.has(inAll)) {
				testFlags = inAll
			}
			l.pkgTest(pkg, testFlags)
		}
	}
	if now.has(inAll) && !old.has(inAll|importsLoaded) {
		for _, dep := range pkg.imports {
			l.apply(dep, inAll)
		}
	}
}

// pkgTest loads the test of pkg, whose imports are loaded.
func (l *loader) pkgTest(pkg *lpkg, testFlags pkgFlags) {
	if pkg.test != nil {
		l.apply(pkg.test, testFlags)
		return
	}
	test := &lpkg{path: pkg.path, testOf: pkg, mod: pkg.mod, err: pkg.err}
	pkg.test = test
	l.apply(test, testFlags)
	var importFlags pkgFlags
	if test.flags.has(inAll) {
		importFlags = inAll
	}
	for _, path := range pkg.testImports {
		test.imports = append(test.imports, l.pkgLocked(path, importFlags))
	}
	pkg.testImports = nil
	l.apply(test, importsLoaded)
}

// isMain reports whether mod is one of the main modules.
func (l *loader) isMain(mod module.Version) bool {
	return mod.Version == "" && mod.Path != "" && l.p.proj.Mains[mod.Path]
}

// external reports whether pkg comes from a dependency.
func (l *loader) external(pkg *lpkg) bool {
	return pkg.mod.Path != "" && !l.isMain(pkg.mod)
}

// missingError is an import that no module in the graph provides.
type missingError struct{ path string }

func (e *missingError) Error() string { return "no required module provides package " + e.path }

// importFrom finds the module that provides the package path, as the go
// command's importFromModules does, fetching the zip of every module whose
// path is a prefix of it: first among the roots (for a pruned graph), then
// in the whole graph. It returns the module, its source and the package's
// directory in it; a nil tree is a package with no directory of its own
// (the standard library, "C").
func (l *loader) importFrom(path string) (mod module.Version, t tree, dir string, viaGraph bool, err error) {
	if path == "C" {
		return module.Version{}, nil, "", false, nil
	}
	if err := module.CheckImportPath(path); err != nil {
		return module.Version{}, nil, "", false, err
	}
	if l.p.isStd(path) {
		return module.Version{}, nil, "", false, nil
	}
	var g *graph
	if l.roots == nil {
		if g = l.full(); !g.complete {
			return module.Version{}, nil, "", false, errUnseen
		}
	}
	for {
		type found struct {
			mod module.Version
			t   tree
			dir string
		}
		var mods []found
		unseen, sumMissing := false, false
		for prefix := path; prefix != "."; prefix = pathpkg.Dir(prefix) {
			if prefix == "go" || prefix == "toolchain" {
				continue // the go version's own pseudo-modules
			}
			var v string
			var ok bool
			if l.p.proj.Mains[prefix] {
				v, ok = "", true
			} else if g == nil {
				v, ok = l.roots[prefix]
			} else {
				v = g.Selected(prefix)
				ok = v != ""
			}
			if !ok || v == "none" {
				continue
			}
			m := module.Version{Path: prefix, Version: v}
			mt, err := l.p.tree(m)
			if errors.Is(err, errSumMissing) {
				sumMissing = true
				continue
			}
			if err != nil {
				unseen = true
				continue
			}
			if d, ok := pkgDir(mt, path, prefix); ok {
				mods = append(mods, found{m, mt, d})
			}
		}
		switch {
		case unseen:
			return module.Version{}, nil, "", false, errUnseen
		case len(mods) > 1:
			return module.Version{}, nil, "", false, fmt.Errorf("ambiguous import: found package %s in %d modules", path, len(mods))
		case sumMissing:
			return module.Version{}, nil, "", false, errSumMissing
		case len(mods) == 1:
			m := mods[0]
			if !l.mode.skipModFiles && !l.isMain(m.mod) {
				// The go command reads the module's go.mod for its go version.
				if _, err := l.p.summary(m.mod); errors.Is(err, errSumMissing) {
					return module.Version{}, nil, "", false, err
				} else if err != nil {
					return module.Version{}, nil, "", false, errUnseen
				}
			}
			return m.mod, m.t, m.dir, g != nil && l.roots != nil, nil
		case g != nil:
			return module.Version{}, nil, "", false, &missingError{path: path}
		}
		if g = l.full(); !g.complete {
			return module.Version{}, nil, "", false, errUnseen
		}
	}
}

// mainPackages lists the packages of the main modules, as the go command
// matches "all" in them: every directory with Go files that count, except
// testdata and directories starting with '.' or '_', and those of nested
// modules or ignored by go.mod's ignore directives.
func (l *loader) mainPackages() []string {
	var pkgs []string
	for mpath, root := range l.p.proj.MainDirs {
		ignored := l.p.proj.Ignore[mpath]
		t := dirTree{root: root}
		filepath.WalkDir(root, func(file string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(root, file)
			rel = filepath.ToSlash(rel)
			if rel == "." {
				rel = ""
			} else {
				elem := d.Name()
				if strings.HasPrefix(elem, ".") || strings.HasPrefix(elem, "_") || elem == "testdata" || ignored(rel) {
					return filepath.SkipDir
				}
				if t.hasGoMod(rel) {
					return filepath.SkipDir
				}
			}
			names, _ := t.files(rel)
			if _, _, err := scanPackage(l.mode.tags, names, func(name string) ([]byte, error) { return t.read(rel, name) }); !errors.Is(err, errNoGo) {
				pkgs = append(pkgs, pathpkg.Join(mpath, rel))
			}
			return nil
		})
	}
	return pkgs
}

// isStd reports whether path is a package of the standard library: its
// first element has no dot, and GOROOT has it.
func (p *planner) isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	if strings.Contains(first, ".") {
		return false
	}
	if p.goroot == "" {
		// Cannot tell: a main module's package is not std; anything else
		// without a dot is not looked for in modules.
		for m := range p.proj.Mains {
			if path == m || strings.HasPrefix(path, m+"/") {
				return false
			}
		}
		return true
	}
	entries, err := os.ReadDir(filepath.Join(p.goroot, "src", filepath.FromSlash(path)))
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".go") {
			return true
		}
	}
	return false
}
