package mirrors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomodx/gomodx/goenv"
	"github.com/gomodx/gomodx/retry"
	"golang.org/x/mod/module"
)

var modA = module.Version{Path: "example.com/a", Version: "v1.0.0"}

// policy has waits short enough for tests.
func policy() retry.Policy {
	return retry.Policy{
		Retries: 3,
		WaitMin: time.Millisecond,
		WaitMax: 5 * time.Millisecond,
		Timeout: 10 * time.Second,
		Stall:   10 * time.Second,
	}
}

// newList is New for tests: GOPROXY is parsed as the go command does, the
// List dials nothing but loopback unless opts says otherwise, and it is
// closed when the test ends, before its servers are.
func newList(t *testing.T, goproxy string, opts Options) *List {
	t.Helper()
	entries, err := goenv.ParseProxy(goproxy)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Dial == nil {
		opts.Dial = loopbackOnly
	}
	l, err := New(entries, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// testCtx bounds every wait of a test.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestMain keeps the tests hermetic: neither the user's HTTP proxy nor the
// user's rank cache is used. (newList sees that nothing but loopback is
// ever dialled.)
func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "mirrors-test-")
	if err != nil {
		panic(err)
	}
	for k, v := range map[string]string{
		"HOME":           tmp,
		"XDG_CACHE_HOME": filepath.Join(tmp, "cache"),
		"HTTP_PROXY":     "",
		"HTTPS_PROXY":    "",
		"http_proxy":     "",
		"https_proxy":    "",
	} {
		os.Setenv(k, v)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// loopbackOnly dials loopback addresses only; for any other host it fails
// the way a name that does not resolve fails.
func loopbackOnly(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// mirrorServer is a fake mirror on loopback that counts its requests,
// probes apart.
type mirrorServer struct {
	*httptest.Server
	hits   atomic.Int32 // requests other than probes
	probes atomic.Int32
	stop   chan struct{} // closed when the test ends
}

// handler handles a mirror's requests: n is the 1-based number of the
// request (probes not counted). Handlers that block should also watch stop.
type handler func(n int, w http.ResponseWriter, r *http.Request, stop <-chan struct{})

// serve starts a mirror whose probes get a quick 404 (reachable, no
// checksum database).
func serve(t *testing.T, h handler) *mirrorServer {
	return serveProbe(t, nil, h)
}

// serveProbe starts a mirror whose probes are answered by probe.
func serveProbe(t *testing.T, probe, h handler) *mirrorServer {
	t.Helper()
	s := &mirrorServer{stop: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/"+probePath) {
			n := int(s.probes.Add(1))
			if probe == nil {
				http.NotFound(w, r)
				return
			}
			probe(n, w, r, s.stop)
			return
		}
		h(int(s.hits.Add(1)), w, r, s.stop)
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(s.stop) }) // runs before s.Close
	return s
}

// status is a mirror answering every request with code.
func status(code int) handler {
	return func(_ int, w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
		w.WriteHeader(code)
	}
}

// content is a mirror answering every request with 200 and body.
func content(body string) handler {
	return func(_ int, w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
		io.WriteString(w, body)
	}
}

// refusedURL returns the URL of a loopback port nobody listens on.
func refusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// keeper is a store that keeps the last body it accepted and rejects the
// body "corrupt", as a go.sum check would.
type keeper struct {
	calls int
	got   string
}

func (k *keeper) store(body io.Reader) error {
	k.calls++
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	switch string(b) {
	case "corrupt":
		return mismatch{}
	case "disk full":
		return errors.New("write: no space left on device")
	}
	k.got = string(b)
	return nil
}

// mismatch is how a store says the bytes are wrong (a Rejection).
type mismatch struct{}

func (mismatch) Error() string  { return "checksum mismatch" }
func (mismatch) Rejected() bool { return true }

// TestFetchWalk has a case per rule of cmd/go's walk of GOPROXY
// (testdata/script/mod_proxy_list.txt): the first mirror fails in some way,
// and the second, which has the file, is reached or not.
func TestFetchWalk(t *testing.T) {
	tests := []struct {
		name          string
		first         handler
		refused       bool // the first mirror does not even accept connections
		sep           string
		wantReached   bool
		wantFirstHits int
		wantErr       string // substring of the error when the second is not reached
		// slowRetry makes a retry wait an hour: the second mirror, asked
		// as soon as the first fails, wins long before.
		slowRetry bool
	}{
		{name: "404 falls through comma", first: status(404), sep: ",", wantReached: true, wantFirstHits: 1},
		{name: "410 falls through comma", first: status(410), sep: ",", wantReached: true, wantFirstHits: 1},
		{name: "403 stops at comma", first: status(403), sep: ",", wantFirstHits: 1, wantErr: "from http://127.0.0.1:"},
		{name: "500 stops at comma", first: status(500), sep: ",", wantFirstHits: 4, wantErr: "500 Internal Server Error (4 tries)"},
		{name: "403 falls through pipe", first: status(403), sep: "|", wantReached: true, wantFirstHits: 1},
		{name: "500 falls through pipe", first: status(500), sep: "|", wantReached: true, wantFirstHits: 1, slowRetry: true},
		{name: "404 falls through pipe", first: status(404), sep: "|", wantReached: true, wantFirstHits: 1},
		// The same rejected bytes twice: a liar, not a fault on the way.
		{name: "store rejection stops at comma", first: content("corrupt"), sep: ",", wantFirstHits: 2, wantErr: ": checksum mismatch"},
		{name: "store rejection falls through pipe", first: content("corrupt"), sep: "|", wantReached: true, wantFirstHits: 1},
		{name: "a full disk stops at pipe", first: content("disk full"), sep: "|", wantFirstHits: 1, wantErr: "no space left on device"},
		{name: "connection refused stops at comma", refused: true, sep: ",", wantErr: "connection refused"},
		{name: "connection refused falls through pipe", refused: true, sep: "|", wantReached: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var firstURL string
			var first *mirrorServer
			if tt.refused {
				firstURL = refusedURL(t)
			} else {
				first = serve(t, tt.first)
				firstURL = first.URL
			}
			second := serve(t, content("good"))
			p := policy()
			if tt.slowRetry {
				p.WaitMin, p.WaitMax = time.Hour, time.Hour
			}
			l := newList(t, firstURL+tt.sep+second.URL, Options{Policy: p})
			var k keeper
			err := l.Fetch(testCtx(t), modA, "zip", k.store)
			if tt.wantReached {
				if err != nil {
					t.Fatalf("Fetch: %v", err)
				}
				if k.got != "good" {
					t.Errorf("stored %q, want %q", k.got, "good")
				}
			} else {
				if err == nil {
					t.Fatalf("Fetch succeeded with %q", k.got)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
				if _, ok := errors.AsType[*Error](err); !ok {
					t.Errorf("error %q is not a *mirrors.Error", err)
				}
				if errors.Is(err, fs.ErrNotExist) {
					t.Errorf("error %q matches fs.ErrNotExist", err)
				}
				if n := second.hits.Load(); n != 0 {
					t.Errorf("second mirror saw %d requests, want 0", n)
				}
			}
			if first != nil {
				if n := int(first.hits.Load()); n != tt.wantFirstHits {
					t.Errorf("first mirror saw %d requests, want %d", n, tt.wantFirstHits)
				}
			}
		})
	}
}

func TestFetchEnd(t *testing.T) {
	tests := []struct {
		name       string
		goproxy    func(notFound, gone, broken string) string
		wantIs     []error
		wantNotIs  []error
		wantErr    string
		wantBroken int32 // requests the 500 mirror sees
	}{
		{
			name:    "not found everywhere reports the last",
			goproxy: func(nf, g, _ string) string { return nf + "," + g },
			wantIs:  []error{fs.ErrNotExist},
			wantErr: "all mirrors failed\n\thttp://127.0.0.1:",
		},
		{
			name:       "not found then failure is not not-found",
			goproxy:    func(nf, _, b string) string { return nf + "," + b },
			wantNotIs:  []error{fs.ErrNotExist},
			wantErr:    "500 Internal Server Error (4 tries)",
			wantBroken: 4,
		},
		{
			name:    "direct reached",
			goproxy: func(nf, _, _ string) string { return nf + ",direct" },
			wantIs:  []error{ErrDirect},
		},
		{
			name:    "direct alone",
			goproxy: func(_, _, _ string) string { return "direct" },
			wantIs:  []error{ErrDirect},
			wantErr: "example.com/a@v1.0.0: downloading zip: reached 'direct' in GOPROXY",
		},
		{
			name:       "failure at comma does not reach direct",
			goproxy:    func(_, _, b string) string { return b + ",direct" },
			wantNotIs:  []error{ErrDirect, fs.ErrNotExist},
			wantBroken: 4,
		},
		{
			name:    "off",
			goproxy: func(_, _, _ string) string { return "off" },
			wantIs:  []error{ErrOff},
			wantErr: "example.com/a@v1.0.0: downloading zip: module lookup disabled by GOPROXY=off",
		},
		{
			name:       "failure through pipe reaches off",
			goproxy:    func(_, _, b string) string { return b + "|off" },
			wantIs:     []error{ErrOff},
			wantNotIs:  []error{fs.ErrNotExist},
			wantBroken: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notFound := serve(t, status(404))
			gone := serve(t, status(410))
			broken := serve(t, status(500))
			l := newList(t, tt.goproxy(notFound.URL, gone.URL, broken.URL), Options{Policy: policy()})
			err := l.Fetch(testCtx(t), modA, "zip", func(io.Reader) error {
				t.Error("store called")
				return nil
			})
			if err == nil {
				t.Fatal("Fetch succeeded")
			}
			for _, target := range tt.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("error %q does not match %v", err, target)
				}
			}
			for _, target := range tt.wantNotIs {
				if errors.Is(err, target) {
					t.Errorf("error %q matches %v", err, target)
				}
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if n := broken.hits.Load(); n != tt.wantBroken {
				t.Errorf("500 mirror saw %d requests, want %d", n, tt.wantBroken)
			}
		})
	}
}

func TestFetchRequest(t *testing.T) {
	type seen struct{ path, agent string }
	got := make(chan seen, 1)
	srv := serve(t, func(_ int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		// The go command sends '!' as %21 (url.PathEscape); the path decodes to it.
		got <- seen{r.URL.Path, r.UserAgent()}
		io.WriteString(w, "module example.com/Foo/Bar\n")
	})
	// A path under the host and a trailing slash, as in GOPROXY=https://host/go/.
	l := newList(t, srv.URL+"/go/", Options{Policy: policy(), UserAgent: "gomodx/test"})
	mod := module.Version{Path: "example.com/Foo/Bar", Version: "v1.0.0-RC1"}
	var k keeper
	if err := l.Fetch(testCtx(t), mod, "mod", k.store); err != nil {
		t.Fatal(err)
	}
	s := <-got
	if want := "/go/example.com/!foo/!bar/@v/v1.0.0-!r!c1.mod"; s.path != want {
		t.Errorf("requested %s, want %s", s.path, want)
	}
	if s.agent != "gomodx/test" {
		t.Errorf("User-Agent %q, want %q", s.agent, "gomodx/test")
	}
	if k.got != "module example.com/Foo/Bar\n" {
		t.Errorf("stored %q", k.got)
	}
}

func TestFetchBadInput(t *testing.T) {
	l := newList(t, "direct", Options{})
	store := func(io.Reader) error { return nil }
	if err := l.Fetch(t.Context(), modA, "tar", store); err == nil || !strings.Contains(err.Error(), `unknown protocol file "tar"`) {
		t.Errorf("Fetch(tar) = %v", err)
	}
	bad := module.Version{Path: "example.com/a b", Version: "v1.0.0"}
	if err := l.Fetch(t.Context(), bad, "zip", store); err == nil || errors.Is(err, ErrDirect) {
		t.Errorf("Fetch(%v) = %v, want an invalid path error", bad, err)
	}
}

func TestFetchErrorMessage(t *testing.T) {
	noBody := serve(t, status(http.StatusServiceUnavailable))
	withBody := serve(t, func(_ int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		http.Error(w, "upstream timed out", http.StatusBadGateway)
	})
	notFound := serve(t, status(http.StatusNotFound))

	tests := []struct {
		name    string
		goproxy string
		want    string
	}{
		{
			name:    "one mirror",
			goproxy: noBody.URL,
			want:    "example.com/a@v1.0.0: downloading zip from " + noBody.URL + ": 503 Service Unavailable (4 tries)",
		},
		{
			name:    "one mirror with server response",
			goproxy: withBody.URL,
			want:    "example.com/a@v1.0.0: downloading zip from " + withBody.URL + ": 502 Bad Gateway (4 tries)\n\tserver response: upstream timed out",
		},
		{
			name:    "several mirrors",
			goproxy: noBody.URL + "|" + withBody.URL + "|" + notFound.URL,
			want: "example.com/a@v1.0.0: downloading zip: all mirrors failed" +
				"\n\t" + noBody.URL + ": 503 Service Unavailable (4 tries)" +
				"\n\t" + withBody.URL + ": 502 Bad Gateway (4 tries)\n\t\tserver response: upstream timed out" +
				"\n\t" + notFound.URL + ": 404 Not Found",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// No hedges: the mirrors fail one after the other, so the
			// message lists them in order.
			l := newList(t, tt.goproxy, Options{Policy: policy(), HedgeAfter: -1})
			err := l.Fetch(testCtx(t), modA, "zip", func(io.Reader) error { return nil })
			if err == nil {
				t.Fatal("Fetch succeeded")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Error() =\n%s\nwant\n%s", got, tt.want)
			}
			if _, ok := errors.AsType[*retry.StatusError](err); !ok {
				t.Errorf("error %q has no *retry.StatusError", err)
			}
		})
	}
}

// TestFetchBrokenBody checks that a body that breaks after a 200 is fetched
// again and that store then sees the whole of it.
func TestFetchBrokenBody(t *testing.T) {
	const full = "0123456789abcdefghij"
	tests := []struct {
		name  string
		first func(w http.ResponseWriter, stop <-chan struct{})
	}{
		{
			name: "cut short",
			first: func(w http.ResponseWriter, _ <-chan struct{}) {
				// Promise the whole body, send half and hang up.
				conn, buf, err := http.NewResponseController(w).Hijack()
				if err != nil {
					panic(err)
				}
				defer conn.Close()
				fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(full), full[:len(full)/2])
				buf.Flush()
			},
		},
		{
			name: "stalled",
			first: func(w http.ResponseWriter, stop <-chan struct{}) {
				w.Header().Set("Content-Length", fmt.Sprint(len(full)))
				io.WriteString(w, full[:len(full)/2])
				http.NewResponseController(w).Flush()
				<-stop
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, func(n int, w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
				if n == 1 {
					merged := make(chan struct{})
					go func() {
						select {
						case <-stop:
						case <-r.Context().Done():
						}
						close(merged)
					}()
					tt.first(w, merged)
					return
				}
				io.WriteString(w, full)
			})
			p := policy()
			p.Stall = 50 * time.Millisecond
			l := newList(t, srv.URL, Options{Policy: p})
			var bodies []string
			var readErrs []error
			err := l.Fetch(testCtx(t), modA, "zip", func(body io.Reader) error {
				b, err := io.ReadAll(body)
				bodies = append(bodies, string(b))
				readErrs = append(readErrs, err)
				return err
			})
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if len(bodies) != 2 || bodies[1] != full {
				t.Fatalf("store saw %q, want a broken body then %q", bodies, full)
			}
			if !retry.Transient(readErrs[0]) {
				t.Errorf("first read error %v is not transient", readErrs[0])
			}
			if n := srv.hits.Load(); n != 2 {
				t.Errorf("mirror saw %d requests, want 2", n)
			}
		})
	}
}

func TestFetchTooLarge(t *testing.T) {
	srv := serve(t, content(strings.Repeat("x", 100)))
	l := newList(t, srv.URL, Options{Policy: policy()})
	// Walk with a small limit; Fetch uses the go command's.
	err := l.walk(testCtx(t), &Error{Mod: modA, File: "zip"}, "example.com/a/@v/v1.0.0.zip", 10, func(body io.Reader) error {
		_, err := io.Copy(io.Discard, body)
		return err
	})
	if err == nil || !strings.HasSuffix(err.Error(), ": downloaded zip file too large") {
		t.Errorf("walk = %v, want too large", err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("mirror saw %d requests, want 1 (not retried)", n)
	}
}

func TestFetchCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(testCtx(t))
	first := serve(t, func(_ int, w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		cancel()
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	second := serve(t, content("good"))
	l := newList(t, first.URL+"|"+second.URL, Options{Policy: policy()})
	err := l.Fetch(ctx, modA, "zip", func(io.Reader) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch = %v, want context.Canceled", err)
	}
	if n := second.hits.Load(); n != 0 {
		t.Errorf("second mirror saw %d requests after cancel", n)
	}
}

func TestFetchFile(t *testing.T) {
	dir := t.TempDir()
	at := filepath.Join(dir, "example.com", "a", "@v")
	if err := os.MkdirAll(at, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(at, "v1.0.0.mod"), []byte("module example.com/a\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	p := filepath.ToSlash(dir)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // C:/x
	}
	fileURL := (&url.URL{Scheme: "file", Path: p}).String()
	good := serve(t, content("zip bytes"))
	l := newList(t, fileURL+","+good.URL, Options{Policy: policy()})

	var k keeper
	if err := l.Fetch(testCtx(t), modA, "mod", k.store); err != nil {
		t.Fatal(err)
	}
	if k.got != "module example.com/a\n" || good.hits.Load() != 0 {
		t.Errorf("stored %q with %d requests to the next mirror; want the file's content", k.got, good.hits.Load())
	}
	// Not in the directory: falls through the comma like a 404.
	if err := l.Fetch(testCtx(t), modA, "zip", k.store); err != nil {
		t.Fatal(err)
	}
	if k.got != "zip bytes" {
		t.Errorf("stored %q, want the next mirror's", k.got)
	}
}
