package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// mirror is a fake GOPROXY on 127.0.0.1 serving a file tree, with the costs
// of a distant mirror put back in: every response waits one RTT before its
// first byte, every new connection waits handshake×RTT more before its first
// request is read (TCP, plus TLS for an https mirror), and all responses
// share an optional bandwidth limit. It counts what it sees, so the report
// can show how hard each tool pushed it.
type mirror struct {
	root      string
	handshake float64 // RTTs a new connection costs
	limit     *limiter
	rtt       atomic.Int64 // time.Duration

	srv *http.Server
	ln  net.Listener
	url string

	requests, conns, bytes atomic.Int64
	inflight, peak         atomic.Int64
}

// mirrorStats is what a mirror counted between two resets.
type mirrorStats struct {
	requests, conns, bytes, peak int64
}

// startMirror serves root on a random loopback port.
func startMirror(root string, handshake, bytesPerSec float64) (*mirror, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &mirror{root: root, handshake: handshake, url: "http://" + ln.Addr().String()}
	if bytesPerSec > 0 {
		m.limit = &limiter{rate: bytesPerSec}
	}
	m.ln = &slowListener{Listener: ln, m: m}
	m.srv = &http.Server{
		Handler:           m,
		ReadHeaderTimeout: time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
	go m.srv.Serve(m.ln)
	return m, nil
}

// setRTT changes the latency for the requests and connections that follow.
func (m *mirror) setRTT(d time.Duration) { m.rtt.Store(int64(d)) }

// reset returns the counts since the last reset and starts new ones.
func (m *mirror) reset() mirrorStats {
	return mirrorStats{
		requests: m.requests.Swap(0),
		conns:    m.conns.Swap(0),
		bytes:    m.bytes.Swap(0),
		peak:     m.peak.Swap(m.inflight.Load()),
	}
}

// close stops the server, waiting at most until ctx is done.
func (m *mirror) close(ctx context.Context) error {
	err := m.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return m.srv.Close()
	}
	return err
}

// ServeHTTP answers GOPROXY protocol requests from the file tree: a file
// that is there is served, anything else is 404, which the go command reads
// as "this mirror does not have it".
func (m *mirror) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.requests.Add(1)
	n := m.inflight.Add(1)
	defer m.inflight.Add(-1)
	for p := m.peak.Load(); n > p && !m.peak.CompareAndSwap(p, n); p = m.peak.Load() {
	}

	if !sleep(r.Context(), time.Duration(m.rtt.Load())) {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := filepath.Join(m.root, filepath.FromSlash(path.Clean("/"+r.URL.Path)))
	f, err := os.Open(name)
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
	w.Header().Set("Content-Type", contentType(name))
	if r.Method == http.MethodHead {
		return
	}
	var written int64
	if m.limit == nil {
		written, _ = io.Copy(w, f)
	} else {
		written, _ = m.limit.copy(r.Context(), w, f)
	}
	m.bytes.Add(written)
}

// contentType returns what proxy.golang.org sends for each kind of file.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".zip":
		return "application/zip"
	case ".info":
		return "application/json"
	default:
		return "text/plain; charset=UTF-8"
	}
}

// sleep waits for d, or less if ctx is done first; it reports whether the
// whole wait happened.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// slowListener counts connections and gives each one its handshake cost.
type slowListener struct {
	net.Listener
	m *mirror
}

func (l *slowListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.m.conns.Add(1)
	cost := time.Duration(l.m.handshake * float64(l.m.rtt.Load()))
	return &slowConn{Conn: c, ready: time.Now().Add(cost)}, nil
}

// slowConn delays its first read until the handshake would be over: the
// client sent its request at once, but a real one could only send it after
// the handshake, so the server must not see it earlier.
type slowConn struct {
	net.Conn
	ready time.Time
	once  sync.Once
}

func (c *slowConn) Read(p []byte) (int, error) {
	c.once.Do(func() { time.Sleep(time.Until(c.ready)) })
	return c.Conn.Read(p)
}

// limiter shares a bandwidth among all responses, like the one link they
// cross: each chunk reserves its transmission time on a common timeline.
type limiter struct {
	rate float64 // bytes per second
	mu   sync.Mutex
	next time.Time
}

// chunk is small enough that concurrent responses interleave finely.
const chunk = 32 << 10

// copy writes src to w at the shared rate.
func (l *limiter) copy(ctx context.Context, w io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, chunk)
	var total int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !sleep(ctx, l.reserve(n)) {
				return total, ctx.Err()
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// reserve books n bytes on the timeline and returns how long to wait until
// they have been sent.
func (l *limiter) reserve(n int) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	l.next = l.next.Add(time.Duration(float64(n) / l.rate * float64(time.Second)))
	return time.Until(l.next)
}
