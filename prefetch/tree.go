package prefetch

import (
	"archive/zip"
	"errors"
	"io"
	"io/fs"
	"os"
	pathpkg "path"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/mod/module"

	"github.com/gomodx/gomodx/modcache"
)

// A tree is the source of one module: a zip in the module cache, or a
// directory (a main module, or a directory replacement). The package
// loader reads it to learn which directories hold packages and what they
// import, as the go command reads the extracted module.
type tree interface {
	// goFiles lists the names of the regular files in dir (slash-separated,
	// relative to the module root) and reports whether dir exists.
	files(dir string) (names []string, ok bool)
	// read returns the contents of dir/name.
	read(dir, name string) ([]byte, error)
	// local reports whether the tree is a directory on disk, where nested
	// modules (directories with a go.mod) are cut out of the module.
	local() bool
	// hasGoMod reports whether dir holds a go.mod file.
	hasGoMod(dir string) bool
}

// zipTree is a module zip, read through its central directory. It keeps
// the file open until close.
type zipTree struct {
	r    *zip.ReadCloser
	dirs map[string][]*zip.File // directory → its regular files
}

// openZipTree indexes the module zip file, whose entries all start with
// "<path>@<version>/".
func openZipTree(file string, mod module.Version) (*zipTree, error) {
	r, err := zip.OpenReader(file)
	if err != nil {
		return nil, err
	}
	prefix := mod.Path + "@" + mod.Version + "/"
	t := &zipTree{r: r, dirs: map[string][]*zip.File{}}
	for _, f := range r.File {
		name, ok := strings.CutPrefix(f.Name, prefix)
		if !ok || strings.HasSuffix(name, "/") {
			continue
		}
		dir := pathpkg.Dir(name)
		if dir == "." {
			dir = ""
		}
		t.dirs[dir] = append(t.dirs[dir], f)
		// Parent directories exist even when they hold no file.
		for d := dir; d != ""; {
			d = pathpkg.Dir(d)
			if d == "." {
				d = ""
			}
			if _, ok := t.dirs[d]; !ok {
				t.dirs[d] = nil
			}
		}
	}
	return t, nil
}

func (t *zipTree) files(dir string) ([]string, bool) {
	fs, ok := t.dirs[dir]
	names := make([]string, 0, len(fs))
	for _, f := range fs {
		names = append(names, pathpkg.Base(f.Name))
	}
	return names, ok
}

func (t *zipTree) read(dir, name string) ([]byte, error) {
	for _, f := range t.dirs[dir] {
		if pathpkg.Base(f.Name) == name {
			rc, err := f.Open()
			if err != nil {
				return nil, err
			}
			defer rc.Close()
			return io.ReadAll(io.LimitReader(rc, maxSourceFile))
		}
	}
	return nil, fs.ErrNotExist
}

// maxSourceFile bounds what is read of one source file: imports come first.
const maxSourceFile = 16 << 20

func (t *zipTree) local() bool              { return false }
func (t *zipTree) hasGoMod(dir string) bool { return false }

// dirTree is a module in a directory on disk.
type dirTree struct{ root string }

func (t dirTree) files(dir string) ([]string, bool) {
	entries, err := os.ReadDir(filepath.Join(t.root, filepath.FromSlash(dir)))
	if err != nil {
		return nil, false
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
			continue
		}
		if e.Type()&fs.ModeSymlink != 0 {
			// A symlink counts as what it points at; a broken one is ignored.
			if fi, err := os.Stat(filepath.Join(t.root, filepath.FromSlash(dir), e.Name())); err == nil && fi.Mode().IsRegular() {
				names = append(names, e.Name())
			}
		}
	}
	return names, true
}

func (t dirTree) read(dir, name string) ([]byte, error) {
	f, err := os.Open(filepath.Join(t.root, filepath.FromSlash(dir), name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxSourceFile))
}

func (t dirTree) local() bool { return true }

func (t dirTree) hasGoMod(dir string) bool {
	fi, err := os.Stat(filepath.Join(t.root, filepath.FromSlash(dir), "go.mod"))
	return err == nil && !fi.IsDir()
}

// pkgDir returns the directory of package path within module mpath, as the
// go command's dirInModule does, and whether it holds any .go file. In a
// local tree, a directory below a nested go.mod belongs to another module.
func pkgDir(t tree, path, mpath string) (dir string, ok bool) {
	switch {
	case path == mpath:
		dir = ""
	case strings.HasPrefix(path, mpath+"/"):
		dir = path[len(mpath)+1:]
	default:
		return "", false
	}
	if t.local() {
		for d := dir; d != "" && d != "."; d = pathpkg.Dir(d) {
			if t.hasGoMod(d) {
				return "", false
			}
		}
	}
	names, exists := t.files(dir)
	if !exists {
		return dir, false
	}
	for _, n := range names {
		if strings.HasSuffix(n, ".go") {
			return dir, true
		}
	}
	return dir, false
}

// errUnseen is a module whose source the plan cannot see (left to the go
// command, or not fetched): whatever depends on its contents is not planned.
var errUnseen = errors.New("module source not available to the plan")

// treeCall is one module source that several goroutines may wait for.
type treeCall struct {
	once sync.Once
	t    tree
	err  error
}

// tree returns the source of module m (the main modules and directory
// replacements from disk, anything else from its zip, fetched and verified
// into the cache first, then unpacked there as the go command would).
func (p *planner) tree(m module.Version) (tree, error) {
	if dir, ok := p.proj.MainDirs[m.Path]; ok && m.Version == "" {
		return dirTree{root: dir}, nil
	}
	actual := p.proj.resolve(m)
	if actual.Version == "" {
		return dirTree{root: actual.Path}, nil
	}
	if p.mustHaveSum(actual, p.proj.Sums.Zip(actual)) {
		return nil, errSumMissing
	}
	c, _ := p.trees.LoadOrStore(actual, new(treeCall))
	call := c.(*treeCall)
	call.once.Do(func() {
		state, err := p.f.Ensure(p.ctx, actual, modcache.Zip)
		p.record(state, err)
		if state != Fetched && state != Cached {
			call.err = errUnseen
			return
		}
		p.f.extract(p.ctx, actual)
		file, err := p.f.cache.Path(actual, "zip")
		if err != nil {
			call.err = err
			return
		}
		zt, err := openZipTree(file, actual)
		if err != nil {
			call.err = err
			return
		}
		call.t = zt
	})
	return call.t, call.err
}
