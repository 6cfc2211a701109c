package mirrors

import (
	"context"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gomodx/gomodx/goenv"
)

// TestNetrcCredentials checks that a mirror gets the credentials the go
// command would send it, from the netrc file, only over https, and that
// they never show in errors or events.
func TestNetrcCredentials(t *testing.T) {
	const user, password = "alice", "s3cret-netrc"
	var mu sync.Mutex
	var saw []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if strings.HasSuffix(r.URL.Path, "/"+probePath) {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		saw = append(saw, u)
		mu.Unlock()
		if !ok || u != user || p != password {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "good")
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "https://")
	auth := goenv.Auth{UseNetrc: true, Netrc: goenv.ParseNetrc("machine " + host + "/go login " + user + " password " + password + "\n")}

	var evs events
	opts := isolated(t)
	opts.Auth = auth
	opts.RootCAs = x509Pool(srv)
	opts.OnEvent = evs.add
	l := newList(t, srv.URL+"/go", opts)
	var k keeper
	if err := l.Fetch(testCtx(t), modA, "info", k.store); err != nil || k.got != "good" {
		t.Fatalf("Fetch with netrc = %v, %q", err, k.got)
	}

	// Not under the machine's path: no credentials.
	l = newList(t, srv.URL+"/other", opts)
	err := l.Fetch(testCtx(t), modA, "info", k.store)
	if c := Classify(err); c != Auth {
		t.Errorf("Fetch without credentials = %v (%v), want auth", err, c)
	}
	if h := Auth.Hint(); !strings.Contains(h, "netrc") || !strings.Contains(h, "GOPRIVATE") || !strings.Contains(h, "GOAUTH") {
		t.Errorf("auth hint %q", h)
	}

	// GOAUTH=off: none either.
	opts.Auth = goenv.Auth{}
	l = newList(t, srv.URL+"/go", opts)
	err = l.Fetch(testCtx(t), modA, "info", k.store)
	if Classify(err) != Auth {
		t.Errorf("Fetch with GOAUTH=off = %v, want 401", err)
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("error shows the password: %v", err)
	}
	for _, ev := range evs.evs {
		if strings.Contains(ev.Mirror+ev.Next, password) {
			t.Errorf("event shows the password: %+v", ev)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{user, "", ""}; !reflect.DeepEqual(saw, want) {
		t.Errorf("users seen %q, want %q", saw, want)
	}
}

// TestNetrcNotOverHTTP checks that netrc credentials are not sent in clear.
func TestNetrcNotOverHTTP(t *testing.T) {
	got := make(chan string, 1)
	srv := serve(t, func(_ int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		_, p, _ := r.BasicAuth()
		got <- p
	})
	u, _ := url.Parse(srv.URL)
	opts := isolated(t)
	opts.Auth = goenv.Auth{UseNetrc: true, Netrc: goenv.ParseNetrc("machine " + u.Host + " login a password p\n")}
	l := newList(t, srv.URL, opts)
	l.Fetch(testCtx(t), modA, "info", func(io.Reader) error { return nil })
	if p := <-got; p != "" {
		t.Errorf("password %q sent over http", p)
	}
}

// x509Pool trusts srv's certificate.
func x509Pool(srv *httptest.Server) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return pool
}

// TestCredentialsNotOverHTTP checks that credentials in an http GOPROXY
// URL are never sent in clear: like the go command, gomodx refuses the
// request, and the mirror sees nothing, neither a fetch, nor a lookup
// forwarded for the go command, nor a probe.
func TestCredentialsNotOverHTTP(t *testing.T) {
	var seen atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		io.WriteString(w, "good")
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	u.User = url.UserPassword("alice", "s3cret")
	other := serve(t, content("other"))

	l := newList(t, u.String()+"|"+other.URL, isolated(t))
	want := "refusing to pass credentials to insecure URL: http://alice:xxxxx@" + u.Host + "/"
	for _, p := range l.Probe(testCtx(t)) {
		if p.Mirror == u.Redacted() && (p.Err == nil || !strings.Contains(p.Err.Error(), want)) {
			t.Errorf("probe: %v, want %q", p.Err, want)
		}
	}

	l = newList(t, u.String(), isolated(t))
	err := l.Fetch(testCtx(t), modA, "info", func(io.Reader) error { return nil })
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Fetch = %v, want %q", err, want)
	}
	err = l.Get(testCtx(t), "example.com/a/@v/list", func(io.Reader) error { return nil })
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Get = %v, want %q", err, want)
	}
	if n := seen.Load(); n != 0 {
		t.Errorf("the mirror saw %d requests", n)
	}
}

// TestCredentialsNotAfterRedirect checks that credentials, from the
// GOPROXY URL or the netrc file, go only to the mirror they are for: not
// to another host, nor another port, nor over http after a redirect.
func TestCredentialsNotAfterRedirect(t *testing.T) {
	var mu sync.Mutex
	got := map[string]string{} // target → Authorization it saw
	record := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			got[name] = r.Header.Get("Authorization")
			mu.Unlock()
			io.WriteString(w, "moved")
		})
	}
	otherPort := httptest.NewTLSServer(record("other port"))
	t.Cleanup(otherPort.Close)
	otherHost := httptest.NewTLSServer(record("other host"))
	t.Cleanup(otherHost.Close)
	plain := httptest.NewServer(record("http"))
	t.Cleanup(plain.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(otherHost.URL, "https://"))
	targets := map[string]string{
		"other host": "https://example.com:" + port, // httptest's certificate is valid for example.com
		"other port": otherPort.URL,
		"http":       plain.URL,
	}
	mirror := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/"+probePath) {
			http.NotFound(w, r)
			return
		}
		to := strings.TrimPrefix(r.URL.Path, "/go/")
		to, _, _ = strings.Cut(to, "/")
		http.Redirect(w, r, targets[strings.ReplaceAll(to, "-", " ")]+"/x", http.StatusFound)
	}))
	t.Cleanup(mirror.Close)
	pool := x509Pool(mirror)
	pool.AddCert(otherPort.Certificate())
	pool.AddCert(otherHost.Certificate())

	host := strings.TrimPrefix(mirror.URL, "https://")
	opts := isolated(t)
	opts.RootCAs = pool
	opts.Policy.Retries = 0
	opts.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if h, p, _ := net.SplitHostPort(addr); h == "example.com" {
			addr = net.JoinHostPort("127.0.0.1", p)
		}
		return loopbackOnly(ctx, network, addr)
	}
	for _, auth := range []struct {
		name, goproxy string
		netrc         string
	}{
		{"URL", "https://alice:s3cret@" + host + "/go", ""},
		{"netrc", "https://" + host + "/go", "machine " + host + " login alice password s3cret\n"},
	} {
		for name := range targets {
			mu.Lock()
			delete(got, name)
			mu.Unlock()
			opts.Auth = goenv.Auth{UseNetrc: true, Netrc: goenv.ParseNetrc(auth.netrc)}
			l := newList(t, auth.goproxy, opts)
			l.Get(testCtx(t), strings.ReplaceAll(name, " ", "-")+"/@v/list", func(io.Reader) error { return nil })
			mu.Lock()
			a, asked := got[name]
			mu.Unlock()
			if a != "" {
				t.Errorf("credentials from the %s sent after a redirect to %s: %q", auth.name, name, a)
			}
			if name == "http" && asked {
				t.Errorf("redirect from https to http followed")
			}
			if name != "http" && !asked {
				t.Errorf("redirect to %s not followed", name)
			}
		}
	}
}

// TestFetchCredentials checks that credentials in GOPROXY's URL reach
// an https mirror, and never show in errors or logs.
func TestFetchCredentials(t *testing.T) {
	const user, password = "alice", "s3cret"
	auth := func(code int) handler {
		return func(_ int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			if code != http.StatusOK {
				w.WriteHeader(code)
				return
			}
			io.WriteString(w, "good")
		}
	}
	withUser := func(raw string) string {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(user, password)
		return u.String()
	}
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	pool := x509.NewCertPool()
	serveTLS := func(h handler) *httptest.Server {
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(0, w, r, nil) }))
		t.Cleanup(srv.Close)
		pool.AddCert(srv.Certificate())
		return srv
	}
	ok := serveTLS(auth(http.StatusOK))
	failing := serveTLS(auth(http.StatusBadGateway))
	missing := serveTLS(auth(http.StatusNotFound))

	l := newList(t, withUser(ok.URL), Options{Policy: policy(), Logger: logger, RootCAs: pool})
	var k keeper
	if err := l.Fetch(testCtx(t), modA, "info", k.store); err != nil {
		t.Fatalf("Fetch with credentials: %v", err)
	}

	l = newList(t, withUser(missing.URL)+","+withUser(failing.URL), Options{Policy: policy(), Logger: logger, RootCAs: pool})
	err := l.Fetch(testCtx(t), modA, "info", k.store)
	if err == nil {
		t.Fatal("Fetch from failing mirrors succeeded")
	}
	if !strings.Contains(err.Error(), "502 Bad Gateway") {
		t.Errorf("error %q does not say 502", err)
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("error shows the password:\n%s", err)
	}
	if !strings.Contains(err.Error(), "https://alice:xxxxx@127.0.0.1:") {
		t.Errorf("error does not name the mirror redacted:\n%s", err)
	}
	if strings.Contains(logs.String(), password) {
		t.Errorf("log shows the password:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "mirror failed") {
		t.Errorf("log has no failure line:\n%s", logs.String())
	}
}
