//go:build rangebench

// The ranged-download measurement: one large module zip behind a modelled
// long, lossy link, fetched by the plain go command and by gomodx. Not part
// of make test (it takes minutes and times things); run it with
//
//	go test -tags rangebench -run RangeBench -v -timeout 30m ./mirrors
//
// Parameters come from the environment: RANGEBENCH_SIZE (bytes of random
// content in the zip, default 76 MB), RANGEBENCH_RTT (150ms),
// RANGEBENCH_CONN_RATE (bytes a second per connection, 1 MB),
// RANGEBENCH_RESET (a connection is reset once per this many bytes sent,
// 20 MB; 0 for none), RANGEBENCH_TIMEOUT (per command, 120s),
// RANGEBENCH_SWEEP (1 to also time one stream against ranges for sizes
// from 1 to 16 MB, to choose RangeThreshold; RANGEBENCH_SIZE=0 for only
// that).
package mirrors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"

	"github.com/gomodx/gomodx/modcache"
)

// benchLink is the modelled link: every answer waits one RTT before its
// headers, a new connection costs two more (TCP and TLS) before its first
// request is read, each connection carries at most rate bytes a second
// (what one TCP flow gets at this RTT and loss), and once per reset bytes
// sent (all connections together), the connection sending is reset.
type benchLink struct {
	rtt   time.Duration
	rate  float64
	reset int64

	sent   atomic.Int64
	resets atomic.Int64
	conns  atomic.Int64
}

// benchMirror serves dir as a GOPROXY, with Range support (as
// proxy.golang.org answers: Accept-Ranges, 206, ETag), over link.
func benchMirror(t *testing.T, dir string, link *benchLink, ranges bool) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(link.rtt)
		name := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(r.URL.Path, "/")))
		f, err := os.Open(name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil || fi.IsDir() {
			http.NotFound(w, r)
			return
		}
		if !ranges {
			w.Header().Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
			io.Copy(w, f)
			return
		}
		w.Header().Set("ETag", fmt.Sprintf(`"%x"`, fi.Size()))
		http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
	})}
	go srv.Serve(&benchListener{Listener: ln, link: link})
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

type benchListener struct {
	net.Listener
	link *benchLink
}

func (l *benchListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.link.conns.Add(1)
	return &benchConn{Conn: c, link: l.link, ready: time.Now().Add(2 * l.link.rtt)}, nil
}

// benchConn paces its writes at the link's rate per connection, and is
// reset when the link's byte count crosses a multiple of reset.
type benchConn struct {
	net.Conn
	link  *benchLink
	ready time.Time
	once  sync.Once
	next  time.Time
}

func (c *benchConn) Read(p []byte) (int, error) {
	c.once.Do(func() { time.Sleep(time.Until(c.ready)) })
	return c.Conn.Read(p)
}

func (c *benchConn) Write(p []byte) (int, error) {
	const chunk = 16 << 10
	written := 0
	for len(p) > 0 {
		n := min(len(p), chunk)
		now := time.Now()
		if c.next.Before(now) {
			c.next = now
		}
		c.next = c.next.Add(time.Duration(float64(n) / c.link.rate * float64(time.Second)))
		time.Sleep(time.Until(c.next))
		after := c.link.sent.Add(int64(n))
		if r := c.link.reset; r > 0 {
			if after/r != (after-int64(n))/r {
				c.link.resets.Add(1)
				if tc, ok := c.Conn.(*net.TCPConn); ok {
					tc.SetLinger(0)
				}
				c.Conn.Close()
				return written, errors.New("reset")
			}
		}
		m, err := c.Conn.Write(p[:n])
		written += m
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// benchModule writes a module of about size bytes of random content into
// a GOPROXY tree under dir, and returns its version and go.sum lines.
func benchModule(t *testing.T, dir string, size int) (module.Version, string) {
	mod := module.Version{Path: "example.com/big", Version: "v1.0.0"}
	blob := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i+8 <= len(blob); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			blob[i+j] = byte(v >> (8 * j))
		}
	}
	gomod := []byte("module example.com/big\n\ngo 1.21\n")
	var zb bytes.Buffer
	files := []modzip.File{zipFile{"go.mod", gomod}, zipFile{"big.go", []byte("package big\n")}, zipFile{"testdata/blob", blob}}
	if err := modzip.Create(&zb, mod, files); err != nil {
		t.Fatal(err)
	}
	at := filepath.Join(dir, "example.com", "big", "@v")
	if err := os.MkdirAll(at, 0o777); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(at, name), data, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	write("v1.0.0.zip", zb.Bytes())
	write("v1.0.0.mod", gomod)
	write("v1.0.0.info", []byte(`{"Version":"v1.0.0","Time":"2024-01-02T03:04:05Z"}`))
	write("list", []byte("v1.0.0\n"))
	zipSum, err := dirhash.HashZip(filepath.Join(at, "v1.0.0.zip"), dirhash.DefaultHash)
	if err != nil {
		t.Fatal(err)
	}
	modSum, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gomod)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return mod, fmt.Sprintf("%s %s %s\n%s %s/go.mod %s\n", mod.Path, mod.Version, zipSum, mod.Path, mod.Version, modSum)
}

func envInt(t *testing.T, name string, def int64) int64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

// TestRangeBench times go mod download and gomodx download of one large
// zip over the modelled link, and reports them with the link's limit.
func TestRangeBench(t *testing.T) {
	size := envInt(t, "RANGEBENCH_SIZE", 76<<20)
	link := &benchLink{
		rtt:   envDuration(t, "RANGEBENCH_RTT", 150*time.Millisecond),
		rate:  float64(envInt(t, "RANGEBENCH_CONN_RATE", 1<<20)),
		reset: envInt(t, "RANGEBENCH_RESET", 20<<20),
	}
	timeout := envDuration(t, "RANGEBENCH_TIMEOUT", 120*time.Second)
	if size == 0 {
		sweep(t, link)
		return
	}
	tmp := t.TempDir()
	tree := filepath.Join(tmp, "proxy")
	mod, sums := benchModule(t, tree, int(size))
	zipSize, _ := os.Stat(filepath.Join(tree, "example.com/big/@v/v1.0.0.zip"))
	url := benchMirror(t, tree, link, true)

	project := filepath.Join(tmp, "project")
	os.MkdirAll(project, 0o777)
	os.WriteFile(filepath.Join(project, "go.mod"), []byte("module example.com/m\n\ngo 1.22\n\nrequire "+mod.Path+" "+mod.Version+"\n"), 0o666)
	os.WriteFile(filepath.Join(project, "go.sum"), []byte(sums), 0o666)

	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	gomodx := filepath.Join(tmp, "gomodx")
	build := exec.Command(goBin, "build", "-o", gomodx, "github.com/gomodx/gomodx")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building gomodx: %v\n%s", err, out)
	}

	run := func(name string, argv ...string) string {
		cache := filepath.Join(tmp, "cache-"+name)
		env := append(os.Environ(),
			"GOPROXY="+url, "GOSUMDB=off", "GOFLAGS=-modcacherw", "GOMODCACHE="+cache,
			"GOTOOLCHAIN=local", "GONOSUMDB=", "GOPRIVATE=", "GONOPROXY=", "GOWORK=off",
			"GOMODX_GO="+goBin, "GOMODX_NO_BUILTIN_MIRRORS=1", "HTTPS_PROXY=", "HTTP_PROXY=",
		)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		sent, resets := link.sent.Load(), link.resets.Load()
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir, cmd.Env = project, env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		wall := time.Since(start)
		res := fmt.Sprintf("ok %.1f s", wall.Seconds())
		switch {
		case ctx.Err() != nil:
			res = fmt.Sprintf("unfinished at %.0f s", timeout.Seconds())
		case err != nil:
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			res = fmt.Sprintf("FAIL after %.1f s (%s)", wall.Seconds(), lines[len(lines)-1])
		default:
			verify := exec.Command(goBin, "mod", "verify")
			verify.Dir = project
			verify.Env = append(env, "GOPROXY=off", "GOFLAGS=-mod=mod")
			if vout, err := verify.CombinedOutput(); err != nil || !strings.Contains(string(vout), "all modules verified") {
				res += fmt.Sprintf(", but go mod verify: %v %s", err, vout)
			} else {
				res += ", verified"
			}
		}
		res += fmt.Sprintf("; %.1f MB sent, %d resets", float64(link.sent.Load()-sent)/1e6, link.resets.Load()-resets)
		t.Logf("%-7s %s", name, res)
		return res
	}

	t.Logf("one zip of %.1f MB; RTT %v, new connection 2 RTT more, %.2f MB/s per connection, a reset every %.0f MB sent",
		float64(zipSize.Size())/1e6, link.rtt, link.rate/1e6, float64(link.reset)/1e6)
	goRes := run("go", goBin, "mod", "download")
	gomodxRes := run("gomodx", gomodx, "download")
	// The limit: the file over rangeConns connections at the link's rate,
	// after a connection's handshake and one round trip, without faults.
	limit := 3*link.rtt + time.Duration(float64(zipSize.Size())/(rangeConns*link.rate)*float64(time.Second))
	t.Logf("| tool | result |")
	t.Logf("|---|---|")
	t.Logf("| go | %s |", goRes)
	t.Logf("| gomodx | %s |", gomodxRes)
	t.Logf("| limit | %.1f s (%d connections at %.2f MB/s, no resets) |", limit.Seconds(), rangeConns, link.rate/1e6)

	if os.Getenv("RANGEBENCH_SWEEP") == "1" {
		sweep(t, link)
	}
}

// sweep times one file of each size fetched by a List into the module
// cache, in one stream (the mirror does not offer ranges) and in ranges,
// without resets: the threshold is where ranges start to pay.
func sweep(t *testing.T, shape *benchLink) {
	t.Logf("| size | one stream | ranges |")
	t.Logf("|---:|---:|---:|")
	for _, mb := range []int{1, 2, 4, 8, 16} {
		tree := t.TempDir()
		mod, sums := benchModule(t, tree, mb<<20)
		want := strings.Fields(sums)[2]
		var cells []string
		for _, ranged := range []bool{false, true} {
			link := &benchLink{rtt: shape.rtt, rate: shape.rate}
			url := benchMirror(t, tree, link, ranged)
			opts := Options{RankTTL: -1, Policy: policy(), rangeMin: 1}
			l := newList(t, url, opts)
			c, err := modcache.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = c.PutZip(context.Background(), mod, want, func(store func(io.Reader) error) error {
				return l.Fetch(context.Background(), mod, "zip", store)
			})
			if err != nil {
				t.Fatal(err)
			}
			cells = append(cells, fmt.Sprintf("%.2f s", time.Since(start).Seconds()))
		}
		t.Logf("| %d MB | %s | %s |", mb, cells[0], cells[1])
	}
}
