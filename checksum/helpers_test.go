package checksum

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gomodx/gomodx/checksum/checksumtest"
	"github.com/gomodx/gomodx/goenv"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
)

// testModule is a module with its zip and the hashes go.sum would hold.
type testModule struct {
	mod     module.Version
	gomod   string
	zip     []byte
	zipHash string
	modHash string
}

func newModule(t *testing.T, path, version string, files map[string]string) testModule {
	t.Helper()
	mod := module.Version{Path: path, Version: version}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := slices.Sorted(maps.Keys(files))
	for _, name := range names {
		w, err := zw.Create(mod.String() + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, files[name])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zipFile := filepath.Join(t.TempDir(), "m.zip")
	if err := os.WriteFile(zipFile, buf.Bytes(), 0o666); err != nil {
		t.Fatal(err)
	}
	zipHash, err := dirhash.HashZip(zipFile, dirhash.DefaultHash)
	if err != nil {
		t.Fatal(err)
	}
	modHash, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(files["go.mod"])), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return testModule{mod: mod, gomod: files["go.mod"], zip: buf.Bytes(), zipHash: zipHash, modHash: modHash}
}

// The modules of these tests. Upper exercises path escaping in cache names.
func testModules(t *testing.T) (a, upper testModule) {
	a = newModule(t, "example.com/a", "v1.0.0", map[string]string{
		"go.mod": "module example.com/a\n\ngo 1.21\n",
		"a.go":   "package a\n\n// A is used by m.\nconst A = \"a\"\n",
	})
	upper = newModule(t, "example.com/Upper", "v1.2.3", map[string]string{
		"go.mod":   "module example.com/Upper\n\ngo 1.21\n",
		"upper.go": "package upper\n\n// U is used by m.\nconst U = \"u\"\n",
	})
	return a, upper
}

// sums answers for mods the way the checksum database learns go.sum lines.
func sums(mods ...testModule) func(path, version string) ([]byte, error) {
	return func(path, version string) ([]byte, error) {
		for _, m := range mods {
			if m.mod.Path == path && m.mod.Version == version {
				return fmt.Appendf(nil, "%s %s %s\n%s %s/go.mod %s\n", path, version, m.zipHash, path, version, m.modHash), nil
			}
		}
		return nil, fmt.Errorf("%s@%s: %w", path, version, fs.ErrNotExist)
	}
}

// remote is a Remote that serves from a handler in-process and records
// the paths asked.
type remote struct {
	h http.Handler

	mu    sync.Mutex
	paths []string
}

func (r *remote) read(ctx context.Context, name, path string) ([]byte, error) {
	r.mu.Lock()
	r.paths = append(r.paths, path)
	r.mu.Unlock()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req)
	switch rec.Code {
	case http.StatusOK:
		return rec.Body.Bytes(), nil
	case http.StatusNotFound, http.StatusGone:
		return nil, fmt.Errorf("%s%s: %s: %w", name, path, http.StatusText(rec.Code), fs.ErrNotExist)
	default:
		return nil, fmt.Errorf("%s%s: %s", name, path, http.StatusText(rec.Code))
	}
}

// asked returns how many reads had a path starting with prefix.
func (r *remote) asked(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, p := range r.paths {
		if strings.HasPrefix(p, prefix) {
			n++
		}
	}
	return n
}

// env is a GOPATH and GOMODCACHE of one test.
type env struct {
	gopath, gomodcache string
}

func newEnv(t *testing.T) env {
	return env{gopath: t.TempDir(), gomodcache: t.TempDir()}
}

func (e env) open(t *testing.T, gosumdb string, r Remote) *DB {
	t.Helper()
	db, err := Open(Options{Env: testEnv(gosumdb, e.gopath, e.gomodcache), Remote: r})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func (e env) latest(name string) string {
	return filepath.Join(e.gopath, "pkg", "sumdb", name, "latest")
}

func (e env) lookupFile(t *testing.T, name string, mod module.Version) string {
	t.Helper()
	epath, err := module.EscapePath(mod.Path)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(e.gomodcache, "cache", "download", "sumdb", name, "lookup", epath+"@"+mod.Version)
}

func (e env) tiles(t *testing.T, name string) []string {
	t.Helper()
	var files []string
	root := filepath.Join(e.gomodcache, "cache", "download", "sumdb", name, "tile")
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	return files
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

const dbName = "sum.example.test"

// newServer starts a checksum database that knows mods.
func newServer(t *testing.T, mods ...testModule) (*remote, string) {
	h, gosumdb := checksumtest.NewServer(t, dbName, sums(mods...))
	return &remote{h: h}, gosumdb
}

// testEnv is the go command's configuration for GOSUMDB, GOPATH and
// GOMODCACHE, without the process environment.
func testEnv(gosumdb, gopath, gomodcache string) *goenv.Config {
	return goenv.New(goenv.Vars{GOSUMDB: gosumdb, GOPATH: gopath, GOMODCACHE: gomodcache}, func(string) string { return "" })
}
