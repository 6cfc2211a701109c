package modcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// fixMod is one module of a test cache, with what a mirror serves for it.
type fixMod struct {
	mod            module.Version
	info, gomod    string
	files          map[string]string
	zip            []byte
	zipSum, modSum string
}

// fixture is a module cache filled through PutInfo, PutMod and PutZip and
// extracted as the go command extracts it, plus a main module using it.
type fixture struct {
	c    *Cache
	mods []*fixMod
	work string // the main module's directory
	// gopath is $GOPATH for the go command, so that its sumdb config
	// stays out of the user's.
	gopath string
}

// sums is a GoSum from a fixture's go.sum.
type sums map[module.Version][2]string

func (s sums) Zip(m module.Version) string   { return s[m][0] }
func (s sums) GoMod(m module.Version) string { return s[m][1] }

func (f *fixture) sums() sums {
	s := sums{}
	for _, m := range f.mods {
		s[m.mod] = [2]string{m.zipSum, m.modSum}
	}
	return s
}

func (f *fixture) versions() []module.Version {
	var list []module.Version
	for _, m := range f.mods {
		list = append(list, m.mod)
	}
	return list
}

func (f *fixture) entry(t *testing.T, i int) *entry {
	t.Helper()
	e, err := f.c.entry(f.mods[i].mod)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// newFixture returns a cache holding three modules (one with an upper-case
// path, to exercise escaping), each complete and extracted, and a main
// module that imports them all.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{c: openCache(t), work: t.TempDir(), gopath: t.TempDir()}
	// The extracted trees are read-only, as the go command leaves them.
	t.Cleanup(func() { removeDir(f.c.Root()) })
	for _, path := range []string{"example.com/a", "example.com/b", "example.com/Upper"} {
		mod := module.Version{Path: path, Version: "v1.0.0"}
		name := strings.ToLower(filepath.Base(path))
		gomod := "module " + path + "\n\ngo 1.21\n"
		files := map[string]string{
			"go.mod":              gomod,
			name + ".go":          "package " + name + "\n\n// Name returns the package's name.\nfunc Name() string { return \"" + name + "\" }\n",
			"sub/" + name + ".go": "package sub\n\n// X is exported.\nconst X = 1\n",
		}
		m := &fixMod{
			mod:   mod,
			info:  `{"Version":"v1.0.0","Time":"2024-01-23T18:54:04Z"}`,
			gomod: gomod,
			files: files,
			zip:   makeZip(t, mod, files),
		}
		m.zipSum, m.modSum = zipSum(t, m.zip), modSum(t, gomod)
		f.mods = append(f.mods, m)
		f.put(t, m)
		f.extract(t, m.mod)
	}

	var gosum, imports, uses strings.Builder
	for _, m := range f.mods {
		fmt.Fprintf(&gosum, "%s %s %s\n%s %s/go.mod %s\n", m.mod.Path, m.mod.Version, m.zipSum, m.mod.Path, m.mod.Version, m.modSum)
		name := strings.ToLower(filepath.Base(m.mod.Path))
		fmt.Fprintf(&imports, "\t%q\n", m.mod.Path)
		fmt.Fprintf(&uses, "\tprintln(%s.Name())\n", name)
	}
	var req strings.Builder
	for _, m := range f.mods {
		fmt.Fprintf(&req, "require %s %s\n", m.mod.Path, m.mod.Version)
	}
	writeFiles(t, f.work, map[string]string{
		"go.mod":  "module m\n\ngo 1.21\n\n" + req.String(),
		"go.sum":  gosum.String(),
		"main.go": "package main\n\nimport (\n" + imports.String() + ")\n\nfunc main() {\n" + uses.String() + "}\n",
	})
	return f
}

// put writes m's files into the cache, as gomodx download does; a zip
// already there and complete is kept.
func (f *fixture) put(t *testing.T, m *fixMod) {
	t.Helper()
	ctx := t.Context()
	n := 0
	if err := f.c.PutInfo(ctx, m.mod, mirrors(&n, []byte(m.info))); err != nil {
		t.Fatal(err)
	}
	if err := f.c.PutMod(ctx, m.mod, m.modSum, mirrors(&n, []byte(m.gomod))); err != nil {
		t.Fatal(err)
	}
	if err := f.c.PutZip(ctx, m.mod, m.zipSum, mirrors(&n, m.zip)); err != nil {
		t.Fatal(err)
	}
}

// refill puts every module's files back, as a gomodx download after a
// repair would.
func (f *fixture) refill(t *testing.T) {
	t.Helper()
	for _, m := range f.mods {
		f.put(t, m)
	}
}

// extract unpacks mod's zip as modfetch.unzip does: under a .partial
// marker, then read-only.
func (f *fixture) extract(t *testing.T, mod module.Version) {
	t.Helper()
	e, err := f.c.entry(mod)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.partial, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := modzip.Unzip(e.dir, mod, e.zip); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(e.partial); err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(e.dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			defer os.Chmod(path, 0o555) // after the walk has read it
		}
		return nil
	})
}

// snapshot maps every file and directory under the cache root to a
// digest of its content ("dir" for directories, the target for links). Lock files are left out:
// Repair may create them, as the go command does.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		switch {
		case path == root, strings.HasSuffix(rel, ".lock"):
		case d.IsDir():
			snap[rel] = "dir"
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			snap[rel] = "link to " + target
		default:
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			snap[rel] = hex.EncodeToString(sum[:8])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// changed lists the paths that differ between two snapshots, sorted.
// A directory's descendants are summarized by the directory when the
// whole subtree was added or removed.
func changed(before, after map[string]string) []string {
	var diff []string
	for p, v := range before {
		if after[p] != v {
			diff = append(diff, p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			diff = append(diff, p)
		}
	}
	slices.Sort(diff)
	// Drop entries under a directory that is itself in the list.
	var out []string
	for _, p := range diff {
		if len(out) > 0 && strings.HasPrefix(p, out[len(out)-1]+"/") {
			continue
		}
		out = append(out, p)
	}
	return out
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		file := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(file), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(content), 0o666); err != nil {
			t.Fatal(err)
		}
	}
}

// goCmd runs the real go command in the fixture's main module, offline,
// and returns its combined output and whether it succeeded.
func (f *fixture) goCmd(t *testing.T, args ...string) (string, bool) {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not on PATH")
	}
	cmd := exec.CommandContext(t.Context(), gobin, args...)
	cmd.Dir = f.work
	cmd.Env = append(os.Environ(),
		"GOMODCACHE="+f.c.Root(),
		"GOPATH="+f.gopath,
		"GOPROXY=off",
		"GOFLAGS=-mod=mod",
		"GOSUMDB=off",
		"GONOSUMDB=", "GOPRIVATE=", "GONOPROXY=", "GOINSECURE=",
		"GOTOOLCHAIN=local",
		"GOWORK=off",
		"GOENV=off",
	)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// goWorks checks that the go command builds the main module offline and
// that 'go mod verify' passes, without downloading anything.
func (f *fixture) goWorks(t *testing.T) {
	t.Helper()
	if out, ok := f.goCmd(t, "build", "-o", os.DevNull, "."); !ok || strings.Contains(out, "downloading") {
		t.Errorf("go build (offline): ok=%v\n%s", ok, out)
	}
	if out, ok := f.goCmd(t, "mod", "verify"); !ok || !strings.Contains(out, "all modules verified") {
		t.Errorf("go mod verify: ok=%v\n%s", ok, out)
	}
}

// repairOne repairs one fault through Repair, the only entry point.
func repairOne(c *Cache, ctx context.Context, f Fault) error {
	return c.Repair(ctx, []Fault{f}, RepairOptions{})[0].Err
}
