package doctor

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/gomodx/gomodx/goenv"
	"github.com/gomodx/gomodx/mirrors"
	"github.com/gomodx/gomodx/modcache"
)

var quiet = log.New(io.Discard, "", 0)

// mirror is a fake module mirror on 127.0.0.1 that logs the paths asked.
type mirror struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func (m *mirror) asked() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.seen)
}

// mirrorHandler serves what a healthy mirror serves: the checksum
// database's supported endpoint, the sample zip, and version lists of
// public modules (paths under notFound answer 404).
func mirrorHandler(m *mirror, notFound ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.seen = append(m.seen, r.URL.Path)
		m.mu.Unlock()
		p := strings.TrimPrefix(r.URL.Path, "/")
		switch {
		case p == "sumdb/sum.golang.org/supported":
		case p == sampleFile:
			w.Write(bytes.Repeat([]byte("z"), 32<<10))
		case strings.HasSuffix(p, "/@v/list"):
			for _, nf := range notFound {
				if strings.HasPrefix(p, nf) {
					http.Error(w, "not found: "+p, http.StatusNotFound)
					return
				}
			}
			fmt.Fprintln(w, "v1.0.0")
		default:
			http.NotFound(w, r)
		}
	}
}

func newMirror(t *testing.T, notFound ...string) *mirror {
	m := &mirror{}
	m.Server = httptest.NewServer(mirrorHandler(m, notFound...))
	t.Cleanup(m.Close)
	return m
}

// statusMirror answers every request with status.
func statusMirror(t *testing.T, status int) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, http.StatusText(status), status)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// slowMirror answers nothing until the client gives up, or the test ends:
// whatever the timeout, and however loaded the machine, it never answers
// in time.
func slowMirror(t *testing.T) string {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) }) // runs before srv.Close
	return srv.URL
}

// generous is the timeout of a check that must succeed, or fail at once
// (refused, no such host, a certificate): far more than a loaded machine
// needs, so that only a hanging mirror ever reaches it.
const generous = time.Minute

// closedPort returns a loopback URL nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// testNet is the mirrors' network for a test: it resolves only the given
// names (to 127.0.0.1), trusts roots, and uses no HTTP proxy, so nothing
// leaves the loopback interface; any other name does not resolve.
func testNet(roots *x509.CertPool, names ...string) mirrors.Options {
	return mirrors.Options{
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				if host != "localhost" && !slices.Contains(names, host) {
					return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
				}
				host = "127.0.0.1"
			}
			var d net.Dialer
			return d.DialContext(ctx, network, net.JoinHostPort(host, port))
		},
		RootCAs: roots,
		Proxy:   func(*http.Request) (*url.URL, error) { return nil, nil },
	}
}

// fixture is a project, a cache and the options to run doctor on them.
type fixture struct {
	dir  string
	env  map[string]string // the process environment
	vars goenv.Vars        // what 'go env' says
	opts Options
}

const gomod = `module example.com/m

go 1.22

require (
	golang.org/x/text v0.14.0
	git.corp.example.com/team/lib v1.2.0
	github.com/acme/secret v0.1.0
	github.com/pkg/errors v0.9.1
)
`

func newFixture(t *testing.T, goproxy string) *fixture {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "go.mod"), gomod)
	write(t, filepath.Join(dir, "go.sum"), "")
	cache := filepath.Join(dir, "modcache")
	if err := os.MkdirAll(cache, 0o777); err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: dir, env: map[string]string{"HOME": filepath.Join(dir, "home")}}
	f.vars = goenv.Vars{
		GOVERSION:  "go1.26.0",
		GOPROXY:    goproxy,
		GOSUMDB:    "sum.golang.org",
		GOMODCACHE: cache,
		GOPATH:     filepath.Join(dir, "gopath"),
		GOMOD:      filepath.Join(dir, "go.mod"),
		GOWORK:     "",
		GOFLAGS:    "",
	}
	f.opts = Options{
		GoPath:   "/usr/local/go/bin/go",
		Getenv:   func(k string) string { return f.env[k] },
		Timeout:  generous,
		Mirrors:  testNet(nil),
		Disk:     func(string) (DiskSpace, error) { return DiskSpace{Free: 50 << 30, Total: 100 << 30}, nil },
		Writable: func(string) error { return nil },
	}
	return f
}

func write(t *testing.T, file, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) run(t *testing.T) *Report {
	t.Helper()
	f.opts.Env = goenv.New(f.vars, f.opts.Getenv)
	rep := Run(t.Context(), f.opts)
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", buf.String())
	return rep
}

// find returns the check of area whose name contains name.
func find(t *testing.T, rep *Report, area Area, name string) Check {
	t.Helper()
	for _, c := range rep.Checks {
		if c.Area == area && strings.Contains(c.Name, name) {
			return c
		}
	}
	t.Fatalf("no %s check named %q in %+v", area, name, rep.Checks)
	return Check{}
}

// expect checks a verdict and that its detail and fix say what they must.
func expect(t *testing.T, c Check, status Status, detail, fix string) {
	t.Helper()
	if c.Status != status || !strings.Contains(c.Detail, detail) || !strings.Contains(c.Fix, fix) {
		t.Errorf("%s %s: got %s %q (fix %q)\nwant %s containing %q (fix containing %q)", c.Area, c.Name, c.Status, c.Detail, c.Fix, status, detail, fix)
	}
}

// selfSigned returns a TLS certificate for 127.0.0.1 issued by a new CA,
// valid from notBefore to notAfter, and a pool trusting that CA.
func selfSigned(t *testing.T, notBefore, notAfter time.Time) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Root CA"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "mirror"},
		NotBefore: notBefore, NotAfter: notAfter,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// TestMirrors probes one mirror of each kind and checks what the report
// tells the user: the failing step in plain words, and the fix.
func TestMirrors(t *testing.T) {
	healthyTLS := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	healthyTLS.Config.ErrorLog = quiet // handshakes fail on purpose
	healthyTLS.StartTLS()
	t.Cleanup(healthyTLS.Close)
	trusted := x509.NewCertPool()
	trusted.AddCert(healthyTLS.Certificate())

	expiredCert, expiredRoots := selfSigned(t, time.Now().Add(-72*time.Hour), time.Now().Add(-24*time.Hour))
	expired := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	expired.TLS = &tls.Config{Certificates: []tls.Certificate{expiredCert}}
	expired.Config.ErrorLog = quiet
	expired.StartTLS()
	t.Cleanup(expired.Close)

	_, port, _ := net.SplitHostPort(strings.TrimPrefix(healthyTLS.URL, "https://"))

	tests := []struct {
		name    string
		url     string
		net     mirrors.Options
		timeout time.Duration // generous unless the mirror hangs
		status  Status
		detail  string
		fix     string
	}{
		{name: "healthy", url: newMirror(t).URL, status: OK, detail: "first byte"},
		{name: "healthy over TLS", url: healthyTLS.URL, net: testNet(trusted), status: OK, detail: "tls "},
		{name: "down", url: closedPort(t), status: Fail, detail: "connect: connection refused", fix: "nothing listens at 127.0.0.1:"},
		{name: "slow", url: slowMirror(t), timeout: 300 * time.Millisecond, status: Fail, detail: "no response within 300ms", fix: "put a faster mirror first"},
		{name: "unresolvable", url: "https://mirror.invalid", status: Fail, detail: "DNS: no such host mirror.invalid", fix: "check the host name"},
		{name: "intercepted TLS", url: healthyTLS.URL, status: Fail, detail: "certificate signed by unknown authority", fix: "SSL_CERT_FILE"},
		{name: "expired certificate", url: expired.URL, net: testNet(expiredRoots), status: Fail, detail: "certificate has expired", fix: "check the system clock"},
		{name: "wrong host", url: "https://wrong.test:" + port, net: testNet(trusted, "wrong.test"), status: Fail, detail: "not wrong.test", fix: "check the host name"},
		{name: "forbidden", url: statusMirror(t, 403), status: Fail, detail: "answers 403 Forbidden", fix: ".netrc"},
		{name: "failing", url: statusMirror(t, 502), status: Fail, detail: "answers 502 Bad Gateway", fix: "put a healthy mirror first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tt.url)
			if tt.timeout != 0 {
				f.opts.Timeout = tt.timeout
			}
			if tt.net.Dial != nil {
				f.opts.Mirrors = tt.net
			}
			rep := f.run(t)
			expect(t, find(t, rep, AreaMirrors, strings.TrimSuffix(tt.url, "/")), tt.status, tt.detail, tt.fix)
			if rep.Failed() != (tt.status == Fail) {
				t.Errorf("Failed() = %v", rep.Failed())
			}
		})
	}
}

// TestFallThrough checks that the report explains GOPROXY's separators
// when a mirror fails: '|' moves on, ',' stops.
func TestFallThrough(t *testing.T) {
	down, good := closedPort(t), newMirror(t).URL

	f := newFixture(t, down+"|"+good)
	c := find(t, f.run(t), AreaMirrors, down)
	expect(t, c, Warn, "go moves on to "+good+" after it ('|')", "nothing listens")

	f = newFixture(t, down+","+good)
	c = find(t, f.run(t), AreaMirrors, down)
	expect(t, c, Fail, "with ',' after it go stops here instead of trying "+good, "put '|' after it in GOPROXY, so that go falls through to "+good)
}

func TestGOPROXY(t *testing.T) {
	tests := []struct {
		goproxy string
		status  Status
		detail  string
		fix     string
	}{
		{"off", Fail, "downloads nothing", "go env -w GOPROXY=https://proxy.golang.org,direct"},
		{"direct", Warn, "fetched from its own repository", "go env -w GOPROXY="},
		{"https://a.example|https://b.example,direct", OK, "https://a.example, then https://b.example after any error, then direct only after 404 or 410", ""},
		{"https://a.example", OK, "nothing after that", ""},
		{"ftp://a.example", Fail, "invalid proxy URL scheme (must be https, http, file): ftp://a.example", "GOPROXY"},
		{"https://user:pa55@a.example", OK, "https://user:xxxxx@a.example", ""},
		{"https://user:pa55@a b.example", Fail, `parse "https://user:xxxxx@a b.example": invalid character " " in host name`, "GOPROXY"},
	}
	for i, tt := range tests {
		// Not named after GOPROXY: t.TempDir's name would hold the password.
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			f := newFixture(t, tt.goproxy)
			f.opts.Offline = true
			rep := f.run(t)
			expect(t, find(t, rep, AreaProxy, "GOPROXY"), tt.status, tt.detail, tt.fix)
			var buf bytes.Buffer
			rep.WriteText(&buf)
			rep.WriteJSON(&buf)
			if strings.Contains(buf.String(), "pa55") {
				t.Error("the report shows a password from GOPROXY")
			}
		})
	}
}

// TestPrivateModules runs doctor on a project that requires modules a
// public mirror does not have, and checks the verdicts, the GOPRIVATE fix,
// and that doctor asks the mirror only about paths go would send it.
func TestPrivateModules(t *testing.T) {
	newMirrorNF := func() *mirror { return newMirror(t, "git.corp.example.com/", "github.com/acme/") }

	t.Run("uncovered", func(t *testing.T) {
		m := newMirrorNF()
		f := newFixture(t, m.URL)
		rep := f.run(t)
		const fix = "go env -w GOPRIVATE=git.corp.example.com,github.com/acme"
		expect(t, find(t, rep, AreaPrivate, "git.corp.example.com/team/lib"), Fail, "looks private: "+m.URL+" does not have it (404), and GOPRIVATE does not cover it, so go sends its path to "+m.URL, fix)
		expect(t, find(t, rep, AreaPrivate, "github.com/acme/secret"), Warn, "does not have it (404): if it is private, GOPRIVATE must cover it", fix)
		if got := rep.GoEnvFixes; len(got) != 1 || strings.Join(got[0], " ") != "env -w GOPRIVATE=git.corp.example.com,github.com/acme" {
			t.Errorf("GoEnvFixes = %q", got)
		}
		if rep.First[0] != fix {
			t.Errorf("first thing to do = %q, want %q", rep.First[0], fix)
		}
		// The hosts need credentials: no .netrc here.
		expect(t, find(t, rep, AreaCredentials, "git.corp.example.com"), Warn, "no credentials for it", "machine git.corp.example.com login <user> password <token>")
	})

	t.Run("covered", func(t *testing.T) {
		m := newMirrorNF()
		f := newFixture(t, m.URL)
		f.vars.GOPRIVATE = "git.corp.example.com,github.com/acme"
		rep := f.run(t)
		expect(t, find(t, rep, AreaPrivate, "requirements"), OK, "; 2 private, covered by GOPRIVATE/GONOPROXY and fetched directly (git.corp.example.com/team/lib and github.com/acme/secret)", "")
		for _, p := range m.asked() {
			if strings.Contains(p, "corp") || strings.Contains(p, "acme") {
				t.Errorf("doctor asked the mirror for %s, which GOPRIVATE covers", p)
			}
		}
		if len(rep.GoEnvFixes) != 0 {
			t.Errorf("GoEnvFixes = %q", rep.GoEnvFixes)
		}
	})

	t.Run("GONOPROXY without GONOSUMDB", func(t *testing.T) {
		f := newFixture(t, newMirrorNF().URL)
		f.vars.GONOPROXY = "git.corp.example.com,github.com/acme"
		rep := f.run(t)
		expect(t, find(t, rep, AreaPrivate, "git.corp.example.com/team/lib"), Fail, "GONOSUMDB does not cover it", "go env -w GONOSUMDB=git.corp.example.com")
	})

	t.Run("GOPRIVATE set in the environment", func(t *testing.T) {
		f := newFixture(t, newMirrorNF().URL)
		f.vars.GOPRIVATE = "git.other.example"
		f.env["GOPRIVATE"] = "git.other.example"
		rep := f.run(t)
		expect(t, find(t, rep, AreaPrivate, "git.corp.example.com/team/lib"), Fail, "looks private", "export GOPRIVATE=git.other.example,git.corp.example.com,github.com/acme (it is set in the environment")
		if len(rep.GoEnvFixes) != 0 {
			t.Errorf("GoEnvFixes = %q: go env -w cannot override the environment", rep.GoEnvFixes)
		}
	})

	t.Run("offline", func(t *testing.T) {
		f := newFixture(t, "https://proxy.golang.org,direct")
		f.opts.Offline = true
		rep := f.run(t)
		expect(t, find(t, rep, AreaPrivate, "git.corp.example.com/team/lib"), Warn, "looks private (git.corp.example.com is not a public code host; not checked on the mirrors)", "go env -w GOPRIVATE=git.corp.example.com")
		for _, c := range rep.Checks {
			if strings.Contains(c.Name, "github.com/acme") {
				t.Errorf("offline, a module on a public host was flagged: %+v", c)
			}
		}
	})

	t.Run("GOSUMDB off", func(t *testing.T) {
		f := newFixture(t, "off")
		f.vars.GOSUMDB = "off"
		f.opts.Offline = true
		expect(t, find(t, f.run(t), AreaPrivate, "GOSUMDB"), Warn, "accepted without checking", "go env -u GOSUMDB")
	})
}

func TestToolchain(t *testing.T) {
	t.Run("GO111MODULE=off", func(t *testing.T) {
		f := newFixture(t, "off")
		f.opts.Offline = true
		f.vars.GO111MODULE = "off"
		expect(t, find(t, f.run(t), AreaToolchain, "GO111MODULE"), Fail, "modules are disabled", "go env -u GO111MODULE")
		f.env["GO111MODULE"] = "off"
		expect(t, find(t, f.run(t), AreaToolchain, "GO111MODULE"), Fail, "modules are disabled", "unset GO111MODULE in the environment")
	})
	t.Run("GOFLAGS", func(t *testing.T) {
		f := newFixture(t, "off")
		f.opts.Offline = true
		f.vars.GOFLAGS = "-mod=vendor -modcacherw"
		expect(t, find(t, f.run(t), AreaToolchain, "GOFLAGS"), Warn, "-mod=vendor: packages come from vendor/", "go env -w GOFLAGS=-modcacherw")
		f.vars.GOFLAGS = "-insecure"
		expect(t, find(t, f.run(t), AreaToolchain, "GOFLAGS"), Warn, "no effect since go 1.17", "GOINSECURE")
	})
	t.Run("newer go needed", func(t *testing.T) {
		f := newFixture(t, "https://proxy.golang.org")
		f.opts.Offline = true
		write(t, filepath.Join(f.dir, "go.mod"), strings.Replace(gomod, "go 1.22", "go 1.99.1", 1))
		f.vars.GOTOOLCHAIN = "local"
		expect(t, find(t, f.run(t), AreaToolchain, "go version"), Fail, "go1.26.0 (/usr/local/go/bin/go), but the project needs go 1.99.1 and GOTOOLCHAIN=local forbids switching", "install go 1.99.1")

		// What package toolchain decided, as 'gomodx doctor' hands it over.
		f.vars.GOTOOLCHAIN = "auto"
		why := "go line in " + filepath.Join(f.dir, "go.mod")
		f.opts.Toolchain = Toolchain{Name: "go1.99.1", Why: why, Fetch: true}
		expect(t, find(t, f.run(t), AreaToolchain, "go version"), OK,
			"go1.26.0 (/usr/local/go/bin/go); go switches to go1.99.1 for this project ("+why+", GOTOOLCHAIN=auto), not in the module cache yet: gomodx fetches it through the mirrors on the next 'gomodx download', 'gomodx tidy' or 'gomodx go'", "")
		f.opts.Toolchain = Toolchain{Name: "go1.99.1", Why: why, Leave: "already in the module cache"}
		expect(t, find(t, f.run(t), AreaToolchain, "go version"), OK, "; gomodx does not fetch it: already in the module cache", "")
		f.opts.Toolchain = Toolchain{Name: "go1.99.1", Why: why, PathOnly: true, Leave: "GOTOOLCHAIN looks only in PATH"}
		f.vars.GOTOOLCHAIN = "path"
		expect(t, find(t, f.run(t), AreaToolchain, "go version"), Fail, "GOTOOLCHAIN=path), but go looks for it only in PATH, and it is not there", "install go1.99.1 in PATH")
		f.opts.Toolchain = Toolchain{Name: "go1.99.1", Why: why, PathOnly: true, InPath: "/sdk/go1.99.1", Leave: "go1.99.1 is in PATH (/sdk/go1.99.1)"}
		expect(t, find(t, f.run(t), AreaToolchain, "go version"), OK, "gomodx does not fetch it: go1.99.1 is in PATH (/sdk/go1.99.1)", "")
		// A pinned toolchain older than the go line: go switches, then
		// refuses the project.
		f.vars.GOTOOLCHAIN = "go1.98.0"
		f.opts.Toolchain = Toolchain{Name: "go1.98.0", Why: "GOTOOLCHAIN=go1.98.0", Fetch: true}
		expect(t, find(t, f.run(t), AreaToolchain, "go version"), Fail, "go switches to go1.98.0 for this project (GOTOOLCHAIN=go1.98.0), but the project needs go 1.99.1", "go env -w GOTOOLCHAIN=auto")
		f.vars.GOTOOLCHAIN = "bogus"
		f.opts.Toolchain = Toolchain{Err: errors.New(`invalid GOTOOLCHAIN "bogus"`)}
		expect(t, find(t, f.run(t), AreaToolchain, "go version"), Fail, `go refuses to start here: invalid GOTOOLCHAIN "bogus"`, "GOTOOLCHAIN takes auto")

		f.vars.GOTOOLCHAIN = "auto"
		f.opts.Toolchain = Toolchain{Name: "go1.99.1", Why: why, Leave: "GOPROXY is off, or starts with direct"}
		f.vars.GOPROXY = "off"
		expect(t, find(t, f.run(t), AreaToolchain, "go version"), Fail, "which go downloads through GOPROXY, but GOPROXY=off", "install go1.99.1")
	})
	t.Run("toolchain line", func(t *testing.T) {
		// A toolchain line only says which toolchain to prefer: with
		// GOTOOLCHAIN=local an older go runs the project.
		f := newFixture(t, "off")
		f.opts.Offline = true
		write(t, filepath.Join(f.dir, "go.mod"), strings.Replace(gomod, "go 1.22", "go 1.22\ntoolchain go1.99.1", 1))
		f.vars.GOTOOLCHAIN = "local"
		expect(t, find(t, f.run(t), AreaToolchain, "go version"), OK, "go1.26.0 (/usr/local/go/bin/go)", "")
		// "toolchain default": only GOTOOLCHAIN counts, and go switches to
		// nothing, whatever the go line needs.
		write(t, filepath.Join(f.dir, "go.mod"), strings.Replace(gomod, "go 1.22", "go 1.99.1\ntoolchain default", 1))
		f.vars.GOTOOLCHAIN = "auto"
		expect(t, find(t, f.run(t), AreaToolchain, "go version"), Fail, "the project needs go 1.99.1 and go does not switch to it (its toolchain line says default)", "install go 1.99.1")
	})
	t.Run("no go", func(t *testing.T) {
		f := newFixture(t, "off")
		f.opts.Offline = true
		f.opts.GoErr = errors.New(`exec: "go": executable file not found in $PATH`)
		expect(t, find(t, f.run(t), AreaToolchain, "go version"), Fail, "cannot run 'go env'", "GOMODX_GO")
	})
}

func TestSumdb(t *testing.T) {
	t.Run("through a mirror", func(t *testing.T) {
		m := newMirror(t)
		f := newFixture(t, m.URL)
		expect(t, find(t, f.run(t), AreaSumdb, "sum.golang.org"), OK, "reached through "+m.URL, "")
	})
	t.Run("directly", func(t *testing.T) {
		db := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/latest" {
				http.NotFound(w, r)
			}
		}))
		t.Cleanup(db.Close)
		f := newFixture(t, statusMirror(t, 404))
		_, vkey, err := note.GenerateKey(rand.Reader, "sum.test")
		if err != nil {
			t.Fatal(err)
		}
		f.vars.GOSUMDB = vkey + " " + db.URL
		expect(t, find(t, f.run(t), AreaSumdb, "sum.test"), OK, "reached directly at "+db.URL, "")
	})
	t.Run("walk stops at ','", func(t *testing.T) {
		down, m := closedPort(t), newMirror(t)
		f := newFixture(t, down+","+m.URL)
		expect(t, find(t, f.run(t), AreaSumdb, "sum.golang.org"), Fail, "go asks "+down+" first whether it serves the database, and it fails (connect: connection refused)", "put '|' after it")
		f = newFixture(t, down+"|"+m.URL)
		expect(t, find(t, f.run(t), AreaSumdb, "sum.golang.org"), OK, "reached through "+m.URL, "")
	})
	t.Run("unreachable", func(t *testing.T) {
		f := newFixture(t, statusMirror(t, 404))
		expect(t, find(t, f.run(t), AreaSumdb, "sum.golang.org"), Fail, "https://sum.golang.org cannot be reached: DNS: no such host sum.golang.org", "GOSUMDB=sum.golang.google.cn")
	})
}

func TestCache(t *testing.T) {
	base := func(t *testing.T) *fixture {
		f := newFixture(t, "off")
		f.opts.Offline = true
		return f
	}
	t.Run("read-only file system", func(t *testing.T) {
		f := base(t)
		f.opts.Writable = func(dir string) error { return &os.PathError{Op: "access", Path: dir, Err: syscall.EROFS} }
		expect(t, find(t, f.run(t), AreaCache, "GOMODCACHE"), Fail, "on a read-only file system (read-only file system)", "go env -w GOMODCACHE=<a directory on a writable disk>")
	})
	t.Run("not writable", func(t *testing.T) {
		f := base(t)
		f.opts.Writable = func(dir string) error { return &os.PathError{Op: "access", Path: dir, Err: syscall.EACCES} }
		expect(t, find(t, f.run(t), AreaCache, "GOMODCACHE"), Fail, "not writable by this user (permission denied)", "sudo chown -R")
	})
	t.Run("read-only directory", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root may write anywhere")
		}
		f := base(t)
		f.opts.Writable = nil // the real access(2)
		os.Chmod(f.vars.GOMODCACHE, 0o555)
		t.Cleanup(func() { os.Chmod(f.vars.GOMODCACHE, 0o755) })
		expect(t, find(t, f.run(t), AreaCache, "GOMODCACHE"), Fail, "not writable by this user", "chown")
	})
	t.Run("disk full", func(t *testing.T) {
		f := base(t)
		f.opts.Disk = func(string) (DiskSpace, error) { return DiskSpace{Free: 10 << 20, Total: 100 << 30}, nil }
		rep := f.run(t)
		expect(t, find(t, rep, AreaCache, "disk space"), Fail, "only 10.0 MB free on the disk holding", "free some space")
		if !rep.Failed() {
			t.Error("a full disk did not fail the report")
		}
	})
	t.Run("disk low", func(t *testing.T) {
		f := base(t)
		f.opts.Disk = func(string) (DiskSpace, error) { return DiskSpace{Free: 1 << 30}, nil }
		expect(t, find(t, f.run(t), AreaCache, "disk space"), Warn, "1.0 GB free", "free some space")
	})
	t.Run("real statfs", func(t *testing.T) {
		f := base(t)
		f.opts.Disk = nil
		c := find(t, f.run(t), AreaCache, "disk space")
		if !strings.Contains(c.Detail, "free") {
			t.Errorf("disk space: %+v", c)
		}
	})
	t.Run("missing, parent writable", func(t *testing.T) {
		f := base(t)
		f.vars.GOMODCACHE = filepath.Join(f.dir, "not", "yet")
		var asked []string
		f.opts.Writable = func(dir string) error { asked = append(asked, dir); return nil }
		expect(t, find(t, f.run(t), AreaCache, "GOMODCACHE"), OK, "does not exist yet", "")
		if len(asked) != 1 || asked[0] != f.dir {
			t.Errorf("checked writability of %q, want the nearest existing parent %s", asked, f.dir)
		}
	})
	t.Run("relative", func(t *testing.T) {
		f := base(t)
		f.vars.GOMODCACHE = "pkg/mod"
		expect(t, find(t, f.run(t), AreaCache, "GOMODCACHE"), Fail, "is relative", "absolute")
	})
	t.Run("faulty entries", func(t *testing.T) {
		f := base(t)
		cache := f.vars.GOMODCACHE
		// A zip that is not a zip, listed in go.sum.
		write(t, filepath.Join(cache, "cache/download/golang.org/x/text/@v/v0.14.0.zip"), "<html>502</html>")
		write(t, filepath.Join(cache, "cache/download/golang.org/x/text/@v/v0.14.0.ziphash"), "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
		write(t, filepath.Join(f.dir, "go.sum"), "golang.org/x/text v0.14.0 h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
		rep := f.run(t)
		expect(t, find(t, rep, AreaCache, "quick verify"), Fail, "1 faulty entries: golang.org/x/text@v0.14.0 zip-corrupt", "gomodx clean")
		if len(rep.Faults) != 1 || rep.Faults[0].Kind != modcache.ZipCorrupt {
			t.Errorf("Faults = %v", rep.Faults)
		}
	})
	t.Run("intact", func(t *testing.T) {
		f := base(t)
		expect(t, find(t, f.run(t), AreaCache, "quick verify"), OK, "intact", "")
	})
}

func TestCredentials(t *testing.T) {
	f := newFixture(t, "off")
	f.opts.Offline = true
	f.vars.GOPRIVATE = "git.corp.example.com"
	netrc := filepath.Join(f.dir, "netrc")
	write(t, netrc, "machine git.corp.example.com\n  login alice\n  password s3cr3t-t0ken\nmacdef init\nmachine evil.example login x password y\n\n")
	f.env["NETRC"] = netrc
	rep := f.run(t)
	expect(t, find(t, rep, AreaCredentials, "git.corp.example.com"), OK, "machine git.corp.example.com in "+netrc+": login alice, password set", "")
	var buf bytes.Buffer
	rep.WriteText(&buf)
	rep.WriteJSON(&buf)
	if strings.Contains(buf.String(), "s3cr3t") {
		t.Error("the report shows a password from .netrc")
	}

	os.Chmod(netrc, 0o644)
	expect(t, find(t, f.run(t), AreaCredentials, netrc), Warn, "readable by other users", "chmod 600 "+netrc)

	write(t, netrc, "machine other.example login bob password pw\n")
	expect(t, find(t, f.run(t), AreaCredentials, "git.corp.example.com"), Warn, "no credentials for it in "+netrc, "add 'machine git.corp.example.com login <user> password <token>' to "+netrc)

	f.vars.GOAUTH = "off"
	expect(t, find(t, f.run(t), AreaCredentials, "GOAUTH"), Warn, "go sends no credentials to git.corp.example.com", "go env -u GOAUTH")
}

// TestNetrcDefault checks that a "default" netrc entry, which the go
// command ignores, is not taken for credentials.
func TestNetrcDefault(t *testing.T) {
	f := newFixture(t, "off")
	f.opts.Offline = true
	f.vars.GOPRIVATE = "git.corp.example.com"
	netrc := filepath.Join(f.dir, "netrc")
	write(t, netrc, "machine other.example login bob password pw\ndefault login anon password an0n\n")
	f.env["NETRC"] = netrc
	expect(t, find(t, f.run(t), AreaCredentials, "git.corp.example.com"), Warn, "no credentials for it in "+netrc, "add 'machine git.corp.example.com")
}

func TestProxyEnv(t *testing.T) {
	f := newFixture(t, "off")
	f.opts.Offline = true
	f.env["HTTPS_PROXY"] = "http://bob:hunter2@proxy.corp.example:3128"
	f.env["http_proxy"] = "carol:pa55word@proxy.corp.example:8080"
	f.env["NO_PROXY"] = "localhost,.corp.example"
	rep := f.run(t)
	expect(t, find(t, rep, AreaNetwork, "HTTPS_PROXY"), OK, "http://bob:xxxxx@proxy.corp.example:3128 (go and git use it for https requests)", "")
	expect(t, find(t, rep, AreaNetwork, "http_proxy"), OK, "carol:xxxxx@proxy.corp.example:8080", "")
	expect(t, find(t, rep, AreaNetwork, "NO_PROXY"), OK, "localhost,.corp.example", "")
	var buf bytes.Buffer
	rep.WriteText(&buf)
	rep.WriteJSON(&buf)
	if strings.Contains(buf.String(), "hunter2") || strings.Contains(buf.String(), "pa55word") {
		t.Error("the report shows a proxy password")
	}

	f.env["HTTPS_PROXY"] = "http://[bad"
	expect(t, find(t, f.run(t), AreaNetwork, "HTTPS_PROXY"), Fail, "does not parse", "http://[user:password@]host:port")
}

// TestConnectThroughProxy checks that a failure to reach the HTTP proxy
// is not blamed on the mirror.
func TestConnectThroughProxy(t *testing.T) {
	f := newFixture(t, "https://mirror.example")
	proxy := closedPort(t)
	f.env["HTTPS_PROXY"] = proxy
	pu, _ := url.Parse(proxy)
	f.opts.Mirrors.Proxy = http.ProxyURL(pu)
	expect(t, find(t, f.run(t), AreaMirrors, "mirror.example"), Fail, "connection refused (reaching the proxy HTTPS_PROXY="+proxy+")", "check the HTTP proxy settings")
}

// TestRunBounded checks that doctor ends when every mirror hangs: each
// check gives up at its timeout. The mirrors hang until the test ends, and
// the wait for doctor is bounded by far more than it may take, so that a
// loaded machine cannot fail it and a doctor that waits forever cannot
// hang it.
func TestRunBounded(t *testing.T) {
	slow := slowMirror(t)
	f := newFixture(t, slow+"|"+slow+"/2|"+slow+"/3")
	f.opts.Timeout = 200 * time.Millisecond
	done := make(chan *Report, 1)
	go func() { done <- f.run(t) }()
	select {
	case rep := <-done:
		if !rep.Failed() {
			t.Error("hanging mirrors did not fail the report")
		}
	case <-time.After(5 * time.Minute):
		t.Fatal("doctor still running 5 minutes after three mirrors hung, with a 200ms timeout")
	}
}

func TestReportOutput(t *testing.T) {
	rep := &Report{Checks: []Check{
		{Area: AreaMirrors, Name: "https://m.example", Status: Fail, Detail: "connect: connection refused", Fix: "start the mirror"},
		{Area: AreaToolchain, Name: "go", Status: OK, Detail: "go1.26.0"},
		{Area: AreaCache, Name: "disk space", Status: Warn, Detail: "1.0 GB free", Fix: "free some space"},
	}}
	d := &run{report: rep}
	d.summarize()
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	want := `toolchain
  ok    go: go1.26.0
mirrors
  FAIL  https://m.example: connect: connection refused
        fix: start the mirror
module cache
  warn  disk space: 1.0 GB free
        fix: free some space

summary: 1 FAIL, 1 warn; what to do first:
  1. start the mirror
  2. free some space
`
	if buf.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", buf.String(), want)
	}
	buf.Reset()
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var js struct {
		OK     bool
		Checks []Check
		First  []string
	}
	if err := json.Unmarshal(buf.Bytes(), &js); err != nil {
		t.Fatal(err)
	}
	if js.OK || len(js.Checks) != 3 || js.Checks[0].Status != Fail || len(js.First) != 2 {
		t.Errorf("JSON = %s", buf.String())
	}
}

// TestRecommendGOPROXY runs doctor where GOPROXY's only mirror does not
// resolve, as goproxy.cn does not on some networks, and a public mirror
// doctor measures does answer: the fix is the GOPROXY its measurements
// show works, not a fall-through to direct (which is not measured), and
// --fix applies it; GOPRIVATE is left alone.
func TestRecommendGOPROXY(t *testing.T) {
	works := newMirror(t)
	f := newFixture(t, "https://goproxy.cn,direct")
	f.vars.GOPRIVATE = "git.corp.example.com,github.com/acme"
	f.opts.Mirrors.Builtin = []string{works.URL, "https://goproxy.cn"}
	rep := f.run(t)
	want := "go env -w GOPROXY=" + works.URL + ",direct"
	c := expectFind(t, rep, AreaMirrors, "https://goproxy.cn")
	expect(t, c, Fail, "DNS: no such host goproxy.cn", want)
	if strings.Contains(c.Fix, "falls through to direct") {
		t.Errorf("fix %q sends go to direct, which doctor did not measure", c.Fix)
	}
	if rep.First[0] != c.Fix {
		t.Errorf("first thing to do = %q, want %q", rep.First[0], c.Fix)
	}
	if got := rep.GoEnvFixes; len(got) != 1 || strings.Join(got[0], " ") != "env -w GOPROXY="+works.URL+",direct" {
		t.Errorf("GoEnvFixes = %q", got)
	}
	// The built-in mirrors are listed, with when they are used.
	expect(t, find(t, rep, AreaMirrors, "built-in mirrors"), OK, works.URL+": gomodx asks them only when GOPROXY's mirrors cannot serve a file", "")
	expect(t, find(t, rep, AreaMirrors, works.URL), OK, "built-in: ", "")
}

// expectFind is find for a check whose name is exactly name.
func expectFind(t *testing.T, rep *Report, area Area, name string) Check {
	t.Helper()
	for _, c := range rep.Checks {
		if c.Area == area && c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s check named %q in %+v", area, name, rep.Checks)
	return Check{}
}

// TestNoBuiltin checks that doctor says the built-in mirrors are not used
// when gomodx is told not to use them, and then recommends no GOPROXY of
// them either.
func TestNoBuiltin(t *testing.T) {
	works := newMirror(t)
	f := newFixture(t, "https://goproxy.cn,direct")
	f.opts.Mirrors.Builtin = []string{works.URL, "https://goproxy.cn"}
	f.opts.Mirrors.NoBuiltin = true
	rep := f.run(t)
	expect(t, find(t, rep, AreaMirrors, "built-in mirrors"), OK, "not used (--no-builtin-mirrors)", "")
	if c := expectFind(t, rep, AreaMirrors, "https://goproxy.cn"); strings.Contains(c.Fix, works.URL) {
		t.Errorf("fix %q names a built-in mirror", c.Fix)
	}
	for _, fix := range rep.GoEnvFixes {
		if strings.Contains(strings.Join(fix, " "), "GOPROXY") {
			t.Errorf("GoEnvFixes = %q", rep.GoEnvFixes)
		}
	}
}
