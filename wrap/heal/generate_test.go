package heal

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rogpeppe/go-internal/goproxytest"
	"github.com/rogpeppe/go-internal/txtar"
	sumdbpkg "golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"

	"github.com/gomodx/gomodx/checksum/checksumtest"
)

// With -update, TestGenerate runs the real go command against a broken
// module cache, once per kind of breakage, and writes what it printed to
// testdata/<name>.txt, where TestDiagnose reads it:
//
//	go test ./wrap/heal -run TestGenerate -update
//
// Only the fixtures it can produce are rewritten; the others say in their
// comment where their message comes from.
var update = flag.Bool("update", false, "rewrite testdata from the real go command's messages")

const sumdbName = "sum.example.test"

// scenario is one way to break the cache, and what Diagnose must make of
// go's complaint about it.
type scenario struct {
	name    string
	about   string // the fixture's comment: what is broken
	gosum   bool   // the project's go.sum has the lines
	sumdb   bool   // GOSUMDB is the fake database
	tls     bool   // the mirror speaks TLS with a certificate go does not trust
	fork    bool   // breakIt switches to a second database with the same key and another history
	args    []string
	breakIt func(t *testing.T, cache, gopath, dir string)
	first   []string // the go command that fills the cache, if not args
	want    string   // the want line of the fixture
}

var scenarios = []scenario{
	{
		name:  "unzip-not-a-zip",
		about: "a zip that is not a zip, with its .ziphash, and no extracted tree (the zip error also reads as one naming no module)",
		gosum: true,
		breakIt: func(t *testing.T, cache, _, _ string) {
			write(t, filepath.Join(cache, "cache/download/example.com/a/@v/v1.0.0.zip"), "<html>not a zip</html>")
			removeTree(t, filepath.Join(cache, "example.com/a@v1.0.0"))
		},
		want: "mods example.com/a@v1.0.0\nwant unnamed",
	},
	{
		name:  "bare-not-a-zip",
		about: "a zip that is not a zip, without .ziphash or extracted tree: go names no module",
		gosum: true,
		breakIt: func(t *testing.T, cache, _, _ string) {
			write(t, filepath.Join(cache, "cache/download/example.com/a/@v/v1.0.0.zip"), "<html>not a zip</html>")
			os.Remove(filepath.Join(cache, "cache/download/example.com/a/@v/v1.0.0.ziphash"))
			removeTree(t, filepath.Join(cache, "example.com/a@v1.0.0"))
		},
		want: "unnamed",
	},
	{
		name:  "ziphash-gosum-mismatch",
		about: "a .ziphash that disagrees with go.sum (another module's hash)",
		gosum: true,
		breakIt: func(t *testing.T, cache, _, _ string) {
			write(t, filepath.Join(cache, "cache/download/example.com/a/@v/v1.0.0.ziphash"), "h1:39Z2nMyp254fr37e0mt49i4PiK3oogxePn04pu8d4ik=")
		},
		want: "mods example.com/a@v1.0.0",
	},
	{
		name:  "gomod-gosum-mismatch",
		about: "a cached .mod that disagrees with go.sum",
		gosum: true,
		breakIt: func(t *testing.T, cache, _, _ string) {
			write(t, filepath.Join(cache, "cache/download/example.com/b/@v/v1.0.0.mod"), "module example.com/b\n\ngo 1.99\n")
		},
		want: "mods example.com/b@v1.0.0",
	},
	{
		name:  "unexpected-ziphash",
		about: "a .ziphash of the right length without its h1: prefix",
		gosum: true,
		breakIt: func(t *testing.T, cache, _, _ string) {
			write(t, filepath.Join(cache, "cache/download/example.com/a/@v/v1.0.0.ziphash"), "h2:QUOLiTYaT3sns40kU17eKMQv5jKau946ieUPxIy6Ek8=")
		},
		want: "mods example.com/a@v1.0.0",
	},
	{
		name:  "tree-compile-error",
		about: "an extracted tree whose file was changed: go reports a compile error inside the cache, by a path relative to where it runs",
		gosum: true,
		breakIt: func(t *testing.T, cache, _, _ string) {
			file := filepath.Join(cache, "example.com/a@v1.0.0/a.go")
			os.Chmod(filepath.Dir(file), 0o755)
			write(t, file, "package a\n\nfunc A() string { return undefined }\n")
		},
		want: "mods example.com/a@v1.0.0",
	},
	{
		name:  "sumdb-lookup-malformed",
		about: "a checksum-database lookup record in the cache that is garbage, for a module go.sum does not list",
		sumdb: true,
		args:  []string{"mod", "download", "example.com/a@v1.0.0"},
		breakIt: func(t *testing.T, cache, _, dir string) {
			os.Remove(filepath.Join(dir, "go.sum"))
			write(t, filepath.Join(cache, "cache/download/sumdb", sumdbName, "lookup/example.com/a@v1.0.0"), "garbage\n")
			for _, ext := range []string{"zip", "ziphash", "mod", "info"} {
				os.Remove(filepath.Join(cache, "cache/download/example.com/a/@v/v1.0.0."+ext))
			}
			removeTree(t, filepath.Join(cache, "example.com/a@v1.0.0"))
		},
		want: "mods example.com/a@v1.0.0",
	},
	{
		name:  "sumdb-latest-malformed",
		about: "the checksum database's latest tree note in GOPATH, cut short",
		sumdb: true,
		args:  []string{"mod", "download", "example.com/c@v1.0.0"},
		breakIt: func(t *testing.T, _, gopath, _ string) {
			write(t, filepath.Join(gopath, "pkg/sumdb", sumdbName, "latest"), "go.sum database tree\n")
		},
		want: "unnamed",
	},
	{
		name:  "sumdb-tile-truncated",
		about: "the checksum database's tiles in the cache, cut short",
		sumdb: true,
		first: []string{"mod", "download", "example.com/a@v1.0.0", "example.com/b@v1.0.0", "example.com/c@v1.0.0"},
		args:  []string{"mod", "download", "example.com/d@v1.0.0"},
		breakIt: func(t *testing.T, cache, _, dir string) {
			os.Remove(filepath.Join(dir, "go.sum"))
			filepath.WalkDir(filepath.Join(cache, "cache/download/sumdb", sumdbName, "tile"), func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					write(t, p, "short")
				}
				return nil
			})
		},
		want: "unnamed",
	},
	{
		name:  "sumdb-misbehavior",
		about: "a checksum database that shows a history which does not extend the one go saw before: a security problem, not the cache's",
		sumdb: true,
		fork:  true,
		first: []string{"mod", "download", "example.com/a@v1.0.0"},
		args:  []string{"mod", "download", "example.com/c@v1.0.0"},
		breakIt: func(t *testing.T, _, _, dir string) {
			os.Remove(filepath.Join(dir, "go.sum"))
		},
		want: "notcache",
	},
	{
		name:  "untrusted-certificate",
		about: "a mirror whose certificate go does not trust: the network's problem, not the cache's",
		tls:   true,
		args:  []string{"mod", "download", "example.com/c@v1.0.0"},
		want:  "notcache",
	},
}

// TestGenerate writes the fixtures; see update.
func TestGenerate(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata from the real go command")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	mods := goproxytest.NewTestServer(t, "../../testdata/mod", "")
	sumdb, gosumdb := checksumtest.NewServer(t, sumdbName, checksumtest.DirSums("../../testdata/mod"))
	// Two databases with one key: the second has looked up b first, so
	// its history forks from the first's.
	skey, forkKey, err := note.GenerateKey(rand.Reader, sumdbName)
	if err != nil {
		t.Fatal(err)
	}
	sums := checksumtest.DirSums("../../testdata/mod")
	gosum := func(path, version string) ([]byte, error) {
		data, err := sums(path, version)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &fs.PathError{Op: "lookup", Path: path, Err: fs.ErrNotExist}
		}
		return data, err
	}
	var honest, forked http.Handler = sumdbpkg.NewServer(sumdbpkg.NewTestServer(skey, gosum)), sumdbpkg.NewServer(sumdbpkg.NewTestServer(skey, gosum))
	forked.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/lookup/example.com/b@v1.0.0", nil))
	var db atomic.Pointer[http.Handler] // the database in use
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/sumdb/"+sumdbName); ok {
			if rest == "/supported" {
				return
			}
			r.URL.Path = rest
			(*db.Load()).ServeHTTP(w, r)
			return
		}
		resp, err := http.Get(mods.URL + r.URL.Path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			w.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(front.Close)
	untrusted := httptest.NewTLSServer(front.Config.Handler)
	t.Cleanup(untrusted.Close)

	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			work := t.TempDir()
			cache, gopath, dir := filepath.Join(work, "modcache"), filepath.Join(work, "gopath"), filepath.Join(work, "m")
			write(t, filepath.Join(dir, "go.mod"), "module example.com/m\n\ngo 1.22\n\nrequire example.com/a v1.0.0\n\nrequire example.com/b v1.0.0 // indirect\n")
			write(t, filepath.Join(dir, "m.go"), "package main\n\nimport \"example.com/a\"\n\nfunc main() { println(a.A()) }\n")
			if sc.gosum {
				write(t, filepath.Join(dir, "go.sum"), projectSum)
			}
			proxy := front.URL
			if sc.tls {
				proxy = untrusted.URL
			}
			var key string
			switch {
			case sc.fork:
				db.Store(&honest)
				key = forkKey
			default:
				db.Store(&sumdb)
				key = gosumdb
			}
			env := append(os.Environ(), "GOPROXY="+proxy, "GOMODCACHE="+cache, "GOPATH="+gopath, "GOFLAGS=-mod=mod",
				"GONOSUMDB=", "GONOPROXY=", "GOPRIVATE=", "GOTOOLCHAIN=local", "GOWORK=off", "GOSUMDB=off")
			if sc.sumdb {
				env = append(env, "GOSUMDB="+key)
			}
			run := func(args ...string) (string, error) {
				cmd := exec.Command(gobin, args...)
				cmd.Dir, cmd.Env = dir, env
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			args := sc.args
			if args == nil {
				args = []string{"build", "-o", os.DevNull, "."}
			}
			if !sc.tls {
				first := sc.first
				if first == nil {
					first = args
				}
				if out, err := run(first...); err != nil {
					t.Fatalf("go %s on a good cache: %v\n%s", strings.Join(first, " "), err, out)
				}
				sc.breakIt(t, cache, gopath, dir)
				if sc.fork {
					db.Store(&forked)
				}
			}
			out, err := run(args...)
			if err == nil {
				t.Fatalf("go %s succeeded on a broken cache:\n%s", strings.Join(args, " "), out)
			}
			out = strings.NewReplacer(cache, "$GOMODCACHE", work, "$WORK", strings.TrimPrefix(proxy, "http://"), "$PROXY", strings.TrimPrefix(proxy, "https://"), "$PROXY").Replace(out)
			a := &txtar.Archive{
				Comment: fmt.Appendf(nil, "%s.\nProduced by 'go %s' (%s), see TestGenerate.\nwant %s\n", sc.about, strings.Join(args, " "), goVersion(t, gobin), sc.want),
				Files:   []txtar.File{{Name: "stderr", Data: []byte(out)}},
			}
			if err := os.WriteFile(filepath.Join("testdata", sc.name+".txt"), txtar.Format(a), 0o666); err != nil {
				t.Fatal(err)
			}
			os.Chmod(cache, 0o777)
			filepath.WalkDir(cache, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					os.Chmod(p, 0o777)
				}
				return nil
			})
		})
	}
}

const projectSum = `example.com/a v1.0.0 h1:QUOLiTYaT3sns40kU17eKMQv5jKau946ieUPxIy6Ek8=
example.com/a v1.0.0/go.mod h1:Iz4LqFwWPTXGh7fB4pLUjv0WBm2F5Au27mBiQgYnuU8=
example.com/b v1.0.0 h1:39Z2nMyp254fr37e0mt49i4PiK3oogxePn04pu8d4ik=
example.com/b v1.0.0/go.mod h1:rjc9Jkp/xiv8OktC5V16OuYntMeTjs1dkvTkFbgnZKw=
`

func goVersion(t *testing.T, gobin string) string {
	out, err := exec.Command(gobin, "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func write(t *testing.T, file, data string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(file), 0o777)
	os.Chmod(file, 0o666)
	if err := os.WriteFile(file, []byte(data), 0o666); err != nil {
		t.Fatal(err)
	}
}

func removeTree(t *testing.T, dir string) {
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o777)
		}
		return nil
	})
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
}
