package mirrors

import (
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestParseNetrc(t *testing.T) {
	const data = `machine a.example login alice password s3cret
machine b.example
	login bob
	password hunter2
machine incomplete.example login carol
macdef init
machine ignored.example login x password y

machine c.example login dave password pw
machine a.example login second password ignored
default
machine after.example login e password f
`
	want := []netrcLine{
		{"a.example", "alice", "s3cret"},
		{"b.example", "bob", "hunter2"},
		{"c.example", "dave", "pw"},
		{"a.example", "second", "ignored"},
	}
	if got := parseNetrc(data); !reflect.DeepEqual(got, want) {
		t.Errorf("parseNetrc =\n%+v\nwant\n%+v", got, want)
	}
}

func TestUseNetrc(t *testing.T) {
	for goauth, want := range map[string]bool{
		"":                         true,
		"netrc":                    true,
		"off":                      false,
		"git /src":                 false,
		"git /src; netrc":          true,
		"/usr/bin/creds-helper -x": false,
	} {
		if got := useNetrc(goauth); got != want {
			t.Errorf("useNetrc(%q) = %v, want %v", goauth, got, want)
		}
	}
}

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
	netrc := filepath.Join(t.TempDir(), "netrc")
	if err := os.WriteFile(netrc, []byte("machine "+host+"/go login "+user+" password "+password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NETRC", netrc)

	var evs events
	opts := isolated(t)
	opts.roots = x509Pool(srv)
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
	opts.GOAUTH = "off"
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
	netrc := filepath.Join(t.TempDir(), "netrc")
	u, _ := url.Parse(srv.URL)
	os.WriteFile(netrc, []byte("machine "+u.Host+" login a password p\n"), 0o600)
	t.Setenv("NETRC", netrc)
	l := newList(t, srv.URL, isolated(t))
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
