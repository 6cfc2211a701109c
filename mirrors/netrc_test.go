package mirrors

import (
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
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
