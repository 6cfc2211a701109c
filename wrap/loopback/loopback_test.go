package loopback

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"

	"github.com/gomodx/gomodx/mirrors"
	"github.com/gomodx/gomodx/modcache"
	"github.com/gomodx/gomodx/prefetch"
	"github.com/gomodx/gomodx/retry"
)

// fakeMirrors serves protocol files from memory and records what it was
// asked for. Paths under example.com/broken/ fail with a 502.
type fakeMirrors struct {
	files map[string][]byte // path relative to a mirror's root → body
	mu    sync.Mutex
	asked []string
}

func (m *fakeMirrors) Get(ctx context.Context, path string, store func(io.Reader) error) error {
	m.mu.Lock()
	m.asked = append(m.asked, path)
	m.mu.Unlock()
	if strings.HasPrefix(path, "example.com/broken/") {
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
	ep, err := Serve(f, m, Options{Private: private, Shown: "https://mirror.example", Log: slog.New(slog.DiscardHandler)})
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
	// The go command writes what it keeps of what it asked for (its .info,
	// .mod and zip), as it would without gomodx: the endpoint writes none.
	for _, kind := range []modcache.Kind{modcache.Info, modcache.Mod, modcache.Zip} {
		if cache.Has(mod, kind, "") {
			t.Errorf("the endpoint wrote the %s, which the go command writes", kind)
		}
	}
	// What the cache holds is served from it, not fetched again.
	f := prefetch.NewFetcher(t.Context(), cache, m, sums, prefetch.Options{})
	for _, kind := range []modcache.Kind{modcache.Info, modcache.Mod} {
		if _, err := f.Ensure(t.Context(), mod, kind); err != nil {
			t.Fatal(err)
		}
	}
	before := len(m.requests())
	for _, kind := range []string{"info", "mod"} {
		if code, body := get(t, ep.URL+"/example.com/a/@v/v1.0.0."+kind); code != 200 || body == "" {
			t.Errorf(".%s from the cache: %d %q", kind, code, body)
		}
	}
	if after := m.requests(); len(after) != before {
		t.Errorf("cached files were fetched again: %q", after[before:])
	}
}

// A zip that does not match go.sum is never cached; the go command gets
// the mirror's bytes as they are, to check them itself and refuse them in
// its own words (its SECURITY ERROR).
func TestEndpointPassesOnAZipThatDoesNotMatchGoSum(t *testing.T) {
	files, sums := moduleA(t)
	mod := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	sums[mod] = "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	ep, _, cache := serve(t, files, sums)
	code, body := get(t, ep.URL+"/example.com/a/@v/v1.0.0.zip")
	if code != http.StatusOK || body != string(files["example.com/a/@v/v1.0.0.zip"]) {
		t.Errorf("mismatched zip: %d, want 200 with the mirror's bytes", code)
	}
	if cache.Has(mod, modcache.Zip, "") {
		t.Error("a zip that does not match go.sum was cached")
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
	if code, body := get(t, ep.URL+"/example.com/broken/@v/list"); code != 502 || !strings.Contains(body, "502 Bad Gateway") {
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

// Only paths of the GOPROXY protocol are passed on: nothing that leaves a
// mirror's base path, however it is spelled.
func TestEndpointRefusesPathsOutsideTheProtocol(t *testing.T) {
	files, sums := moduleA(t)
	ep, m, _ := serve(t, files, sums)
	base := strings.TrimPrefix(ep.URL, "http://")
	host, secret, _ := strings.Cut(base, "/")
	for _, path := range []string{
		"/../../x",
		"/%2e%2e/%2e%2e/x",
		"/%2E%2E/admin",
		"/sumdb/../../admin",
		"/sumdb/sum.golang.org/../../admin",
		"/sumdb/sum.golang.org/lookup/../../../etc",
		"/example.com/a/@v/../../../../x.zip",
		"/example.com/a/@v/v1.0.0.exe",
		"/example.com/a/@v/list/extra",
		"/example.com//a/@v/list",
		"/./example.com/a/@v/list",
		"/example.com%2fa/@v/list/..",
		"/admin",
	} {
		// Sent as written: no client-side cleaning of the path.
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET /%s%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", secret, path, host)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, resp.StatusCode)
		}
	}
	if got := m.requests(); len(got) != 0 {
		t.Errorf("paths outside the protocol reached the mirrors: %q", got)
	}
	for _, path := range []string{
		"example.com/a/@v/list", "example.com/a/@latest", "example.com/a/@v/master.info",
		"example.com/!upper/@v/v1.0.0.mod", "sumdb/sum.golang.org/supported",
		"sumdb/sum.golang.org/lookup/example.com/a@v1.0.0", "sumdb/sum.golang.org/tile/8/0/x001/234.p/5",
		"sumdb/localhost.localdev/sumdb/supported",
	} {
		if !protocolPath(path) {
			t.Errorf("protocolPath(%q) = false, want true", path)
		}
	}
}

// The go command gets the answer the user's GOPROXY would have given:
// the status and explanation of the mirror that decided, a 404 when the
// walk went past every mirror (so go moves on to direct or off).
func TestEndpointAnswersAsGOPROXYWould(t *testing.T) {
	notFound := &retry.StatusError{Code: 404, Status: "404 Not Found", Body: "404 page not found"}
	forbidden := &retry.StatusError{Code: 403, Status: "403 Forbidden", Body: "no access"}
	unreachable := errors.New("dial tcp: lookup goproxy.cn: no such host")
	tests := []struct {
		name     string
		attempts []mirrors.Attempt
		code     int
		body     string
		shown    string
	}{
		{"an unreachable mirror, then a 404, then direct: on to direct",
			[]mirrors.Attempt{{Mirror: "https://goproxy.cn", Err: unreachable, Named: true}, {Mirror: "https://proxy.golang.org", Err: notFound, Named: true}, {Mirror: "direct", Err: mirrors.ErrDirect}},
			404, "", ""},
		{"a 404 at the end of GOPROXY: the mirror's own 404",
			[]mirrors.Attempt{{Mirror: "https://proxy.golang.org", Err: notFound, Named: true}},
			404, "404 page not found\n", "https://proxy.golang.org"},
		{"a 403 stops at ',': the mirror's 403",
			[]mirrors.Attempt{{Mirror: "https://corp.example", Err: forbidden, Named: true}},
			403, "no access\n", "https://corp.example"},
		{"an unreachable mirror and a 404 from a built-in one: go would report the unreachable one",
			[]mirrors.Attempt{{Mirror: "https://goproxy.cn", Err: unreachable, Named: true}, {Mirror: "https://goproxy.io", Err: notFound}},
			502, "gomodx: https://goproxy.cn: dial tcp: lookup goproxy.cn: no such host\n", "https://goproxy.cn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := &Endpoint{log: slog.New(slog.DiscardHandler), answer: map[string]string{}, shown: "https://first.example"}
			rec := httptest.NewRecorder()
			ep.fail(rec, "example.com/x/@v/list", &mirrors.Error{File: "example.com/x/@v/list", Attempts: tt.attempts})
			if rec.Code != tt.code || (tt.body != "" && rec.Body.String() != tt.body) {
				t.Errorf("answer %d %q, want %d %q", rec.Code, rec.Body.String(), tt.code, tt.body)
			}
			want := tt.shown
			if want == "" {
				want = "https://first.example"
			}
			if got := ep.shownFor("example.com/x/@v/list"); got != want {
				t.Errorf("go's messages name %q, want %q", got, want)
			}
		})
	}
}

// go's output names the user's mirror where it would have named the
// loopback proxy, however the output is cut into writes.
func TestRewrite(t *testing.T) {
	ep := &Endpoint{URL: "http://127.0.0.1:4242/0123abcd", shown: "https://proxy.golang.org", answer: map[string]string{
		"example.com/x/@v/list": "https://corp.example",
	}}
	in := "go: example.com/x@latest: reading http://127.0.0.1:4242/0123abcd/example.com/x/@v/list: 404 Not Found\n" +
		"# get http://127.0.0.1:4242/0123abcd/rsc.io/quote/@v/v1.5.2.mod: 200 OK (0.001s)\n" +
		"\"Error\": \"reading http://127.0.0.1:4242/0123abcd/example.com/y/@v/v1.0.0.info: 410 Gone\"\n" +
		"http://127.0.0.1:4242/0123abcd"
	want := "go: example.com/x@latest: reading https://corp.example/example.com/x/@v/list: 404 Not Found\n" +
		"# get https://proxy.golang.org/rsc.io/quote/@v/v1.5.2.mod: 200 OK (0.001s)\n" +
		"\"Error\": \"reading https://proxy.golang.org/example.com/y/@v/v1.0.0.info: 410 Gone\"\n" +
		"https://proxy.golang.org"
	for _, size := range []int{1, 2, 3, 7, 31, len(in)} {
		var out bytes.Buffer
		w := ep.Rewrite(&out)
		for i := 0; i < len(in); i += size {
			w.Write([]byte(in[i:min(i+size, len(in))]))
		}
		w.Flush()
		if out.String() != want {
			t.Errorf("writes of %d bytes:\n%s\nwant:\n%s", size, out.String(), want)
		}
	}
}
