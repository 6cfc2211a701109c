package toolchain

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"

	"github.com/gomodx/gomodx/goenv"
	"github.com/gomodx/gomodx/mirrors"
	"github.com/gomodx/gomodx/modcache"
	"github.com/gomodx/gomodx/prefetch"
	"github.com/gomodx/gomodx/retry"
)

var testMod = Module("go1.999.0", "linux", "amd64")

// fakeToolchain is the layout of a real toolchain zip, in small: the files
// the go command marks executable and some it leaves alone.
var fakeToolchain = map[string]string{
	"go.mod":                          "module golang.org/toolchain\n",
	"VERSION":                         "go1.999.0\n",
	"bin/go":                          "#!/bin/sh\necho fake go\n",
	"bin/gofmt":                       "#!/bin/sh\n",
	"pkg/tool/linux_amd64/compile":    "fake compiler",
	"pkg/tool/linux_amd64/link":       "fake linker",
	"lib/wasm/go_js_wasm_exec":        "#!/bin/sh\n",
	"lib/wasm/go_wasip1_wasm_exec":    "#!/bin/sh\n",
	"lib/wasm/wasm_exec.js":           "// not a command\n",
	"lib/time/zoneinfo.zip":           "zones",
	"misc/go_android_exec/README":     "not under lib",
	"src/_go.mod":                     "module std\n",
	"src/cmd/_go.mod":                 "module cmd\n",
	"src/cmd/go/main.go":              "package main\n",
	"pkg/include/asm_ppc64x.h":        "// header\n",
	"lib/fips140/v1.0.0.zip":          "nested zip",
	"lib/go_notexec_because_no_parts": "x",
}

// wantExecutable are the files of fakeToolchain the go command makes
// executable (cmd/go/internal/toolchain.Exec).
var wantExecutable = []string{
	"bin/go",
	"bin/gofmt",
	"lib/wasm/go_js_wasm_exec",
	"lib/wasm/go_wasip1_wasm_exec",
	"pkg/tool/linux_amd64/compile",
	"pkg/tool/linux_amd64/link",
}

func makeZip(t testing.TB, mod module.Version, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		w, err := zw.Create(mod.Path + "@" + mod.Version + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, files[name])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipHash(t testing.TB, data []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "z.zip")
	if err := os.WriteFile(f, data, 0o666); err != nil {
		t.Fatal(err)
	}
	h, err := dirhash.HashZip(f, dirhash.DefaultHash)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// mirror serves one zip, with faults, and counts requests.
type mirror struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string
	zip      []byte
	cut      int // bodies to cut in half before serving whole ones
}

func newMirror(t *testing.T, data []byte) *mirror {
	m := &mirror{zip: data}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.requests = append(m.requests, r.URL.Path)
		cut := m.cut > 0
		m.cut--
		m.mu.Unlock()
		if !strings.HasSuffix(r.URL.Path, ".zip") || m.zip == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(m.zip)))
		if cut {
			w.Write(m.zip[:len(m.zip)/2])
			panic(http.ErrAbortHandler)
		}
		w.Write(m.zip)
	}))
	t.Cleanup(m.Close)
	return m
}

// count is the number of zip requests (probes of a group ask for other
// files).
func (m *mirror) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, r := range m.requests {
		if strings.HasSuffix(r, ".zip") {
			n++
		}
	}
	return n
}

func newList(t *testing.T, goproxy string) *mirrors.List {
	entries, err := goenv.ParseProxy(goproxy)
	if err != nil {
		t.Fatal(err)
	}
	l, err := mirrors.New(entries, mirrors.Options{
		Policy:     retry.Policy{Retries: 2, WaitMin: time.Millisecond, WaitMax: time.Millisecond},
		RankCache:  filepath.Join(t.TempDir(), "mirrors.json"),
		HedgeAfter: -1,
		NoBuiltin:  true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// fixture is one Install: a cache, the mirrors, a checksum database that
// knows want, and what Install reported.
type fixture struct {
	cache   *modcache.Cache
	opts    Options
	lookups int
	events  []prefetch.Event
	lines   []string
}

func newFixture(t *testing.T, goproxy, want string) *fixture {
	cache, err := modcache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { makeWritable(cache.Root()) })
	f := &fixture{cache: cache}
	list := newList(t, goproxy)
	f.opts = Options{
		Cache: cache,
		Fetch: list.Fetch,
		Lookup: func(ctx context.Context, mod module.Version) (string, string, error) {
			f.lookups++
			if want == "" {
				return "", "", fmt.Errorf("verifying %s: checksum database sum.test: 404 Not Found: %w", mod, fs.ErrNotExist)
			}
			return want, "h1:gomod", nil
		},
		SumDB:       "sum.test",
		Progress:    func(ev prefetch.Event) { f.events = append(f.events, ev) },
		Downloading: func(line string) { f.lines = append(f.lines, line) },
	}
	return f
}

func (f *fixture) states() []prefetch.State {
	var s []prefetch.State
	for _, ev := range f.events {
		s = append(s, ev.State)
	}
	return s
}

// makeWritable lets t.TempDir remove a tree made read-only as go makes it.
func makeWritable(dir string) {
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(path, 0o777)
		}
		return nil
	})
}

func TestInstall(t *testing.T) {
	data := makeZip(t, testMod, fakeToolchain)
	m := newMirror(t, data)
	f := newFixture(t, m.URL, zipHash(t, data))

	if err := Install(context.Background(), testMod, f.opts); err != nil {
		t.Fatal(err)
	}
	if !f.cache.Has(testMod, modcache.Zip, zipHash(t, data)) {
		t.Errorf("zip and ziphash not in the cache")
	}
	// Only the zip: the go command asks for no .info or .mod of a toolchain.
	if want := []string{"/golang.org/toolchain/@v/v0.0.1-go1.999.0.linux-amd64.zip"}; !slices.Equal(m.requests, want) {
		t.Errorf("requests = %q, want %q", m.requests, want)
	}
	if want := []string{"go: downloading go1.999.0 (linux/amd64)"}; !slices.Equal(f.lines, want) {
		t.Errorf("go's lines = %q, want %q", f.lines, want)
	}
	if got, want := f.states(), []prefetch.State{prefetch.Planned, prefetch.Fetched}; !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
	if n := f.events[len(f.events)-1].Bytes; n != int64(len(data)) {
		t.Errorf("Fetched %d bytes, want %d", n, len(data))
	}

	dir, _ := extractedDir(f.cache, testMod)
	var executable []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if fi.Mode()&0o222 != 0 {
				t.Errorf("%s: directory is writable (%v); go leaves toolchains read-only", rel, fi.Mode())
			}
			return nil
		}
		if _, ok := fakeToolchain[rel]; !ok {
			t.Errorf("%s: not in the zip", rel)
		}
		if fi.Mode()&0o111 != 0 {
			if fi.Mode()&0o111 != 0o111 {
				t.Errorf("%s: mode %v, want execute bits for all", rel, fi.Mode())
			}
			executable = append(executable, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "windows" {
		wantExecutable = nil
	}
	if !slices.Equal(executable, wantExecutable) {
		t.Errorf("executable files:\n%q\nwant\n%q", executable, wantExecutable)
	}

	// A second Install finds everything in place and asks no mirror.
	if err := Install(context.Background(), testMod, f.opts); err != nil {
		t.Fatal(err)
	}
	if n := m.count(); n != 1 {
		t.Errorf("second Install: %d requests in all, want 1", n)
	}
	if got := f.states(); got[len(got)-1] != prefetch.Cached {
		t.Errorf("second Install: events %v, want it cached", got)
	}
}

// TestInstallRetriesBrokenBody checks that a body cut short is asked for
// again and the checksum database asked once.
func TestInstallRetriesBrokenBody(t *testing.T) {
	data := makeZip(t, testMod, fakeToolchain)
	m := newMirror(t, data)
	m.cut = 1
	f := newFixture(t, m.URL, zipHash(t, data))
	if err := Install(context.Background(), testMod, f.opts); err != nil {
		t.Fatal(err)
	}
	if n := m.count(); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	if f.lookups != 1 {
		t.Errorf("%d checksum database lookups, want 1", f.lookups)
	}
	if !f.cache.Has(testMod, modcache.Zip, zipHash(t, data)) {
		t.Errorf("zip not in the cache")
	}
}

// TestInstallMismatch checks that bytes the checksum database does not
// vouch for never enter the cache, and that with '|' the next mirror's
// right bytes are used.
func TestInstallMismatch(t *testing.T) {
	good := makeZip(t, testMod, fakeToolchain)
	evil := maps(fakeToolchain, "bin/go", "#!/bin/sh\nrm -rf ~\n")
	bad := makeZip(t, testMod, evil)
	want := zipHash(t, good)

	t.Run("only mirror", func(t *testing.T) {
		m := newMirror(t, bad)
		f := newFixture(t, m.URL, want)
		err := Install(context.Background(), testMod, f.opts)
		if _, ok := errors.AsType[*modcache.HashMismatchError](err); !ok {
			t.Fatalf("Install error = %v, want a checksum mismatch", err)
		}
		// Named after the checksum database: a toolchain has no go.sum.
		if !strings.Contains(err.Error(), "checksum mismatch\n\tdownloaded: "+zipHash(t, bad)+"\n\tsum.test: "+want) {
			t.Errorf("error = %v", err)
		}
		assertNothingCached(t, f.cache)
		if got, want := f.states(), []prefetch.State{prefetch.Planned, prefetch.Failed}; !slices.Equal(got, want) {
			t.Errorf("events = %v, want %v", got, want)
		}
	})
	t.Run("next mirror", func(t *testing.T) {
		liar, honest := newMirror(t, bad), newMirror(t, good)
		f := newFixture(t, liar.URL+"|"+honest.URL, want)
		if err := Install(context.Background(), testMod, f.opts); err != nil {
			t.Fatal(err)
		}
		if !f.cache.Has(testMod, modcache.Zip, want) {
			t.Errorf("the honest mirror's zip is not in the cache")
		}
		if liar.count()+honest.count() != 2 || f.lookups != 1 {
			t.Errorf("requests: %d to the liar, %d to the honest mirror, %d lookups; want 1, 1, 1", liar.count(), honest.count(), f.lookups)
		}
	})
}

// TestInstallNotFound checks that a toolchain no mirror has costs no
// checksum database lookup (go would make none) and is reported not found,
// for go to say "toolchain not available".
func TestInstallNotFound(t *testing.T) {
	m := newMirror(t, nil)
	f := newFixture(t, m.URL, "h1:unused")
	err := Install(context.Background(), testMod, f.opts)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Install error = %v, want not found", err)
	}
	if f.lookups != 0 {
		t.Errorf("%d checksum database lookups for a toolchain no mirror has", f.lookups)
	}
	assertNothingCached(t, f.cache)
}

// TestInstallLookupFails checks that a checksum database that cannot answer
// ends the download at once (no other mirror can help) and caches nothing.
func TestInstallLookupFails(t *testing.T) {
	data := makeZip(t, testMod, fakeToolchain)
	a, b := newMirror(t, data), newMirror(t, data)
	f := newFixture(t, a.URL+"|"+b.URL, "")
	err := Install(context.Background(), testMod, f.opts)
	if err == nil || !strings.Contains(err.Error(), "checksum database sum.test: 404 Not Found") {
		t.Fatalf("Install error = %v, want the lookup's", err)
	}
	if n := a.count() + b.count(); n != 1 || f.lookups != 1 {
		t.Errorf("%d requests and %d lookups, want 1 and 1", n, f.lookups)
	}
	assertNothingCached(t, f.cache)
}

// TestInstallDirect checks that a GOPROXY that leads to direct leaves the
// toolchain to go, reported as left.
func TestInstallDirect(t *testing.T) {
	m := newMirror(t, nil)
	f := newFixture(t, m.URL+",direct", "h1:unused")
	err := Install(context.Background(), testMod, f.opts)
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Install error = %v, want one that leaves it to go", err)
	}
	if got, want := f.states(), []prefetch.State{prefetch.Planned, prefetch.Left}; !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}

// TestMarkExecutableMissingDir checks that a toolchain without one of the
// directories go walks is an error, as it is for go, and that bin/go then
// stays unmarked, so that go tries again and reports it.
func TestMarkExecutableMissingDir(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"bin/go", "bin/gofmt", "pkg/tool/x/compile"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o777)
		os.WriteFile(filepath.Join(dir, name), nil, 0o444)
	}
	if runtime.GOOS == "windows" {
		t.Skip("no execute bits")
	}
	if err := markExecutable(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("markExecutable = %v, want lib missing", err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "bin/go")); fi.Mode()&0o111 != 0 {
		t.Errorf("bin/go marked executable although lib is missing")
	}
}

func assertNothingCached(t *testing.T, c *modcache.Cache) {
	t.Helper()
	for _, ext := range []string{"zip", "ziphash", "partial"} {
		p, _ := c.Path(testMod, ext)
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left in the cache", filepath.Base(p))
		}
	}
	dir, _ := extractedDir(c, testMod)
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("%s extracted", dir)
	}
	p, _ := c.Path(testMod, "zip")
	if tmp, _ := filepath.Glob(p + "*.tmp"); len(tmp) > 0 {
		t.Errorf("temp files left: %v", tmp)
	}
}

func maps(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for kk, vv := range m {
		if kk != k {
			out[kk] = vv
		}
	}
	return out
}

// TestInstallInterrupted checks that a download cancelled mid-file leaves
// nothing behind but a valid cache, and says it was cancelled.
func TestInstallInterrupted(t *testing.T) {
	data := makeZip(t, testMod, maps(fakeToolchain, "big", strings.Repeat("x", 1<<20)))
	sent := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		once.Do(func() { close(sent) })
		<-r.Context().Done() // the rest never comes
	}))
	defer srv.Close()
	f := newFixture(t, srv.URL, zipHash(t, data))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-sent
		cancel()
	}()
	err := Install(ctx, testMod, f.opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Install error = %v, want cancelled", err)
	}
	assertNothingCached(t, f.cache)
}
