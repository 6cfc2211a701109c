package checksumtest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gomodx/gomodx/checksum"
	"github.com/gomodx/gomodx/checksum/checksumtest"
	"github.com/gomodx/gomodx/goenv"
	"github.com/rogpeppe/go-internal/goproxytest"
	"github.com/rogpeppe/go-internal/txtar"
	"golang.org/x/mod/module"
)

const modA = `module example.com/a, used by m
-- go.mod --
module example.com/a

go 1.21
-- a.go --
package a

// A is used by m.
const A = "a"
`

// TestServer mounts the database under a goproxytest proxy, as the
// end-to-end tests do, and checks that gomodx's checksum package and the real
// go command both verify against it over HTTP on loopback.
func TestServer(t *testing.T) {
	modDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(modDir, "example.com_a_v1.0.0.txt"), []byte(modA), 0o666); err != nil {
		t.Fatal(err)
	}
	mods := goproxytest.NewTestServer(t, modDir, "127.0.0.1:0")
	sums := txtarSums(map[string]*txtar.Archive{"example.com/a@v1.0.0": txtar.Parse([]byte(modA))})

	const name = "sum.example.test"
	h, gosumdb := checksumtest.NewServer(t, name, sums)
	if !strings.HasPrefix(gosumdb, name+"+") {
		t.Errorf("gosumdb = %q, want %s+<key>", gosumdb, name)
	}
	modsURL, err := url.Parse(mods.URL)
	if err != nil {
		t.Fatal(err)
	}
	var sumdbReads atomic.Int32
	mux := http.NewServeMux()
	// GOPROXY=<front>/mod: the go command finds the database through
	// <proxy>/sumdb/<name>/supported.
	mux.Handle("/mod/sumdb/"+name+"/", http.StripPrefix("/mod/sumdb/"+name, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sumdbReads.Add(1)
		h.ServeHTTP(w, r)
	})))
	mux.Handle("/mod/", httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: modsURL.Host}))
	front := httptest.NewServer(mux) // 127.0.0.1
	t.Cleanup(front.Close)

	t.Run("gomodx", func(t *testing.T) {
		db, err := checksum.Open(checksum.Options{
			Env:    testEnv(gosumdb, t.TempDir(), t.TempDir()),
			Remote: httpRemote(front.URL + "/mod"),
		})
		if err != nil {
			t.Fatal(err)
		}
		lines, _ := sums("example.com/a", "v1.0.0")
		zip, gomod, err := db.Lookup(t.Context(), module.Version{Path: "example.com/a", Version: "v1.0.0"})
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("example.com/a v1.0.0 %s\nexample.com/a v1.0.0/go.mod %s\n", zip, gomod); got != string(lines) {
			t.Errorf("Lookup = %q, want %q", got, lines)
		}
		_, _, err = db.Lookup(t.Context(), module.Version{Path: "example.com/b", Version: "v1.0.0"})
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Lookup of an unknown module = %v, want fs.ErrNotExist", err)
		}
	})

	t.Run("go", func(t *testing.T) {
		gobin, err := exec.LookPath("go")
		if err != nil {
			t.Skip("go command not on PATH")
		}
		if testing.Short() {
			t.Skip("runs the go command")
		}
		work := t.TempDir()
		os.WriteFile(filepath.Join(work, "go.mod"), []byte("module m\n\ngo 1.21\n\nrequire example.com/a v1.0.0\n"), 0o666)
		os.WriteFile(filepath.Join(work, "m.go"), []byte("package m\n\nimport \"example.com/a\"\n\nvar _ = a.A\n"), 0o666)
		before := sumdbReads.Load()
		goPath, goModCache := t.TempDir(), t.TempDir()
		cmd := exec.CommandContext(t.Context(), gobin, "mod", "tidy")
		cmd.Dir = work
		cmd.Env = append(os.Environ(),
			"GOPATH="+goPath,
			"GOMODCACHE="+goModCache,
			"GOPROXY="+front.URL+"/mod",
			"GOSUMDB="+gosumdb,
			"GOFLAGS=-mod=mod -modcacherw",
			"GONOSUMDB=", "GONOSUMCHECK=", "GOPRIVATE=", "GONOPROXY=", "GOINSECURE=",
			"GOTOOLCHAIN=local", "GOWORK=off", "GOENV=off",
		)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go mod tidy: %v\n%s", err, out)
		}
		sum, err := os.ReadFile(filepath.Join(work, "go.sum"))
		if err != nil {
			t.Fatal(err)
		}
		if lines, _ := sums("example.com/a", "v1.0.0"); string(sum) != string(lines) {
			t.Errorf("go.sum =\n%s\nwant\n%s", sum, lines)
		}
		if sumdbReads.Load() == before {
			t.Errorf("the go command did not ask the checksum database")
		}

		// gomodx, looking up the same module, leaves the very files the go
		// command left.
		gopath, gomodcache := t.TempDir(), t.TempDir()
		db, err := checksum.Open(checksum.Options{Env: testEnv(gosumdb, gopath, gomodcache), Remote: httpRemote(front.URL + "/mod")})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.Lookup(t.Context(), module.Version{Path: "example.com/a", Version: "v1.0.0"}); err != nil {
			t.Fatal(err)
		}
		for _, dir := range []string{"pkg/sumdb", "pkg/mod/cache/download/sumdb"} {
			goDir, ours := filepath.Join(goPath, dir), filepath.Join(gopath, dir)
			if rest, ok := strings.CutPrefix(dir, "pkg/mod/"); ok {
				goDir, ours = filepath.Join(goModCache, rest), filepath.Join(gomodcache, rest)
			}
			want, got := tree(t, goDir), tree(t, ours)
			t.Logf("%s: %d entries: %v", dir, len(want), slices.Sorted(maps.Keys(want)))
			if len(want) == 0 {
				t.Errorf("the go command wrote nothing in %s", dir)
			}
			for name, data := range want {
				if got[name] != data {
					t.Errorf("%s/%s: gomodx wrote %q, the go command %q", dir, name, got[name], data)
				}
			}
			for name := range got {
				if _, ok := want[name]; !ok {
					t.Errorf("%s/%s: gomodx wrote it, the go command did not", dir, name)
				}
			}
		}
	})
}

// tree returns the files under dir by slash-separated relative name, with
// their contents and modes.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			files[filepath.ToSlash(rel)+"/"] = info.Mode().String()
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = info.Mode().String() + " " + string(data)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return files
}

// httpRemote reads from the checksum database behind proxy's /sumdb/<name>/.
func httpRemote(proxy string) checksum.Remote {
	return func(ctx context.Context, name, path string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, proxy+"/sumdb/"+name+path, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		switch {
		case err != nil:
			return nil, err
		case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
			return nil, fmt.Errorf("%s: %w", resp.Status, fs.ErrNotExist)
		case resp.StatusCode != http.StatusOK:
			return nil, fmt.Errorf("%s", resp.Status)
		}
		return data, nil
	}
}

// testEnv is the go command's configuration for GOSUMDB, GOPATH and
// GOMODCACHE, without the process environment.
func testEnv(gosumdb, gopath, gomodcache string) *goenv.Config {
	return goenv.New(goenv.Vars{GOSUMDB: gosumdb, GOPATH: gopath, GOMODCACHE: gomodcache}, func(string) string { return "" })
}
