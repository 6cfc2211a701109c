package loopback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"

	"github.com/gomodx/gomodx/modcache"
	"github.com/gomodx/gomodx/prefetch"
)

// fakeMirrors serves protocol files from memory and records what it was
// asked for. Paths under broken/ fail with a 502.
type fakeMirrors struct {
	files map[string][]byte // path relative to a mirror's root → body
	mu    sync.Mutex
	asked []string
}

func (m *fakeMirrors) Get(ctx context.Context, path string, store func(io.Reader) error) error {
	m.mu.Lock()
	m.asked = append(m.asked, path)
	m.mu.Unlock()
	if strings.HasPrefix(path, "broken/") {
		return errors.New(path + ": 502 Bad Gateway")
	}
	body, ok := m.files[path]
	if !ok {
		return fmt.Errorf("%s: 404 Not Found: %w", path, fs.ErrNotExist)
	}
	return store(bytes.NewReader(body))
}

func (m *fakeMirrors) Fetch(ctx context.Context, mod module.Version, file string, store func(io.Reader) error) error {
	return m.Get(ctx, mod.Path+"/@v/"+mod.Version+"."+file, store)
}

func (m *fakeMirrors) requests() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.asked...)
}

type memFile struct {
	path string
	data []byte
}

func (f memFile) Path() string                 { return f.path }
func (f memFile) Lstat() (fs.FileInfo, error)  { return memInfo{f}, nil }
func (f memFile) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }

type memInfo struct{ f memFile }

func (i memInfo) Name() string       { return i.f.path }
func (i memInfo) Size() int64        { return int64(len(i.f.data)) }
func (i memInfo) Mode() fs.FileMode  { return 0o644 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

// moduleA is example.com/a v1.0.0 as a mirror serves it, with its go.sum lines.
func moduleA(t *testing.T) (map[string][]byte, prefetch.Sums) {
	t.Helper()
	mod := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	gomod := []byte("module example.com/a\n")
	var zbuf bytes.Buffer
	files := []modzip.File{memFile{"go.mod", gomod}, memFile{"a.go", []byte("package a\n")}}
	if err := modzip.Create(&zbuf, mod, files); err != nil {
		t.Fatal(err)
	}
	zipFile := filepath.Join(t.TempDir(), "a.zip")
	if err := os.WriteFile(zipFile, zbuf.Bytes(), 0o666); err != nil {
		t.Fatal(err)
	}
	zipSum, err := dirhash.HashZip(zipFile, dirhash.DefaultHash)
	if err != nil {
		t.Fatal(err)
	}
	modSum, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gomod)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
			"example.com/a/@v/v1.0.0.info":   []byte(`{"Version":"v1.0.0","Time":"2024-01-02T03:04:05Z"}`),
			"example.com/a/@v/v1.0.0.mod":    gomod,
			"example.com/a/@v/v1.0.0.zip":    zbuf.Bytes(),
			"example.com/a/@v/list":          []byte("v1.0.0\n"),
			"sumdb/sum.golang.org/supported": nil,
		}, prefetch.Sums{
			mod: zipSum,
			{Path: mod.Path, Version: mod.Version + "/go.mod"}: modSum,
		}
}

func serve(t *testing.T, files map[string][]byte, sums prefetch.Sums) (*Endpoint, *fakeMirrors, *modcache.Cache) {
	t.Helper()
	m := &fakeMirrors{files: files}
	cache, err := modcache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := prefetch.NewFetcher(t.Context(), cache, m, sums, prefetch.Options{})
	private := func(path string) bool { return strings.HasPrefix(path, "corp.example.com/") }
	ep, err := Serve(f, m, private, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ep.Close()
		f.Wait()
	})
	return ep, m, cache
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestEndpointServesVerifiedFilesFromTheCache(t *testing.T) {
	files, sums := moduleA(t)
	ep, m, cache := serve(t, files, sums)
	mod := module.Version{Path: "example.com/a", Version: "v1.0.0"}

	for _, kind := range []string{"info", "mod", "zip"} {
		code, body := get(t, ep.URL+"/example.com/a/@v/v1.0.0."+kind)
		if code != http.StatusOK || body != string(files["example.com/a/@v/v1.0.0."+kind]) {
			t.Errorf(".%s: %d, %d bytes; want 200 and the mirror's bytes", kind, code, len(body))
		}
	}
	if !cache.Has(mod, modcache.Mod, sums.GoMod(mod)) || !cache.Has(mod, modcache.Info, "") {
		t.Error("the endpoint did not leave .info and .mod in the cache")
	}
	// The go command asks for a zip while holding its lock, and writes it
	// itself: the endpoint must leave the zip alone.
	if cache.Has(mod, modcache.Zip, "") {
		t.Error("the endpoint wrote the zip, which the go command writes")
	}
	// A second round takes .info and .mod from the cache.
	before := len(m.requests())
	for _, kind := range []string{"info", "mod"} {
		get(t, ep.URL+"/example.com/a/@v/v1.0.0."+kind)
	}
	if after := m.requests(); len(after) != before {
		t.Errorf("cached files were fetched again: %q", after[before:])
	}
}

func TestEndpointRefusesAZipThatDoesNotMatchGoSum(t *testing.T) {
	files, sums := moduleA(t)
	mod := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	sums[mod] = "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	ep, _, _ := serve(t, files, sums)
	code, body := get(t, ep.URL+"/example.com/a/@v/v1.0.0.zip")
	if code != http.StatusBadGateway || !strings.Contains(body, "go.sum has h1:AAAA") {
		t.Errorf("mismatched zip: %d %q, want 502 naming the go.sum hash", code, body)
	}
}

func TestEndpointForwardsWhatTheCacheCannotAnswer(t *testing.T) {
	files, sums := moduleA(t)
	ep, m, _ := serve(t, files, sums)

	if code, body := get(t, ep.URL+"/example.com/a/@v/list"); code != 200 || body != "v1.0.0\n" {
		t.Errorf("list: %d %q", code, body)
	}
	if code, _ := get(t, ep.URL+"/sumdb/sum.golang.org/supported"); code != 200 {
		t.Errorf("sumdb supported: %d, want 200 (forwarded)", code)
	}
	// A module go.sum does not vouch for is passed through, not cached.
	files["example.com/b/@v/v1.0.0.mod"] = []byte("module example.com/b\n")
	if code, body := get(t, ep.URL+"/example.com/b/@v/v1.0.0.mod"); code != 200 || body != "module example.com/b\n" {
		t.Errorf("unverifiable .mod: %d %q, want it passed through", code, body)
	}
	want := []string{"example.com/a/@v/list", "sumdb/sum.golang.org/supported", "example.com/b/@v/v1.0.0.mod"}
	if got := m.requests(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("mirrors were asked %q, want %q", got, want)
	}
}

func TestEndpointErrors(t *testing.T) {
	files, sums := moduleA(t)
	ep, m, _ := serve(t, files, sums)

	// Not found everywhere: 404, so that go falls through to direct.
	if code, body := get(t, ep.URL+"/example.com/missing/@v/list"); code != 404 || !strings.HasPrefix(body, "gomodx: ") {
		t.Errorf("not found: %d %q", code, body)
	}
	// Any other failure: 502 with the reason, which go prints.
	if code, body := get(t, ep.URL+"/broken/@v/list"); code != 502 || !strings.Contains(body, "502 Bad Gateway") {
		t.Errorf("mirror failure: %d %q", code, body)
	}
	// A private module never reaches a mirror, whatever is asked.
	before := len(m.requests())
	for _, path := range []string{"/corp.example.com/x/@v/list", "/corp.example.com/x/@latest", "/corp.example.com/x/@v/v1.0.0.zip", "/corp.example.com/x/@v/v1.0.0.info"} {
		if code, body := get(t, ep.URL+path); code != 404 || !strings.Contains(body, "private") {
			t.Errorf("%s: %d %q, want 404 naming it private", path, code, body)
		}
	}
	if len(m.requests()) != before {
		t.Errorf("a private path reached the mirrors: %q", m.requests()[before:])
	}
	// Without the secret path the endpoint answers nothing.
	base := ep.URL[:strings.LastIndex(ep.URL, "/")]
	before = len(m.requests())
	if code, _ := get(t, base+"/example.com/a/@v/list"); code != http.StatusForbidden {
		t.Errorf("no secret: %d, want 403", code)
	}
	if code, _ := get(t, base+"/wrong/example.com/a/@v/list"); code != http.StatusForbidden {
		t.Errorf("wrong secret: %d, want 403", code)
	}
	if len(m.requests()) != before {
		t.Error("a request without the secret reached the mirrors")
	}
}
