package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// mirror is a fake GOPROXY on 127.0.0.1 serving a file tree, with the costs
// of a distant mirror put back in (see link): every response waits one RTT
// before its first byte, every new connection waits handshake×RTT more
// before its first request is read (TCP, plus TLS for an https mirror),
// each connection's responses are held to a per-connection bandwidth (one
// TCP flow over a long, lossy link), and all responses share a total one.
// A Range request gets its one range, with 206. It counts what it sees,
// so the report can show how hard each tool pushed it. With faults set, it
// also fails the way real mirrors fail (see faults).
type mirror struct {
	root   string
	link   link
	limit  *limiter     // the total bandwidth, nil for none
	rtt    atomic.Int64 // time.Duration
	faults *faults      // nil for none; set before the first request
	// certFile is the PEM certificate of an https mirror, for the tools'
	// SSL_CERT_FILE; "" for http.
	certFile string

	attemptsMu sync.Mutex
	attempts   map[string]int // requests per URL path since the last reset

	srv *http.Server
	ln  net.Listener
	url string

	requests, conns, bytes, faulted atomic.Int64
	inflight, peak                  atomic.Int64
	active                          atomic.Int64 // UnixNano of the last request begun or answered
}

// mirrorStats is what a mirror counted between two resets.
type mirrorStats struct {
	requests, conns, bytes, peak int64
	faulted                      int64 // responses the faults spoiled
}

// add sums s and t, as the counts of all the mirrors of one GOPROXY.
func (s mirrorStats) add(t mirrorStats) mirrorStats {
	return mirrorStats{
		requests: s.requests + t.requests,
		conns:    s.conns + t.conns,
		bytes:    s.bytes + t.bytes,
		peak:     s.peak + t.peak,
		faulted:  s.faulted + t.faulted,
	}
}

// link is what lies between the tools and a mirror, besides the RTT.
type link struct {
	handshake float64 // RTTs a new connection costs before its first request
	total     float64 // bytes per second shared by all responses; 0: unlimited
	perConn   float64 // bytes per second of each connection; 0: unlimited
	// tls serves https with HTTP/2 (and HTTP/1.1 for clients that ask),
	// with a self-signed certificate written to certDir.
	tls     bool
	certDir string
}

// startMirror serves root on a random loopback port.
func startMirror(root string, l link) (*mirror, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &mirror{root: root, link: l, url: "http://" + ln.Addr().String()}
	if l.total > 0 {
		m.limit = &limiter{rate: l.total}
	}
	m.ln = &slowListener{Listener: ln, m: m}
	m.srv = &http.Server{
		Handler:           m,
		ReadHeaderTimeout: time.Minute,
		IdleTimeout:       2 * time.Minute,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if l.perConn > 0 {
				ctx = context.WithValue(ctx, connLimitKey{}, &limiter{rate: l.perConn})
			}
			return ctx
		},
	}
	if l.tls {
		cfg, certFile, err := selfSigned(l.certDir)
		if err != nil {
			ln.Close()
			return nil, err
		}
		m.srv.TLSConfig = cfg
		m.certFile = certFile
		m.url = "https://" + ln.Addr().String()
		m.ln = tls.NewListener(m.ln, cfg)
	}
	go m.srv.Serve(m.ln)
	return m, nil
}

// connLimitKey keys a connection's own limiter in its context.
type connLimitKey struct{}

// setRTT changes the latency for the requests and connections that follow.
func (m *mirror) setRTT(d time.Duration) { m.rtt.Store(int64(d)) }

// reset returns the counts since the last reset and starts new ones. It
// also forgets how often each path was asked for, so that the next run
// meets the same faults as the last one.
func (m *mirror) reset() mirrorStats {
	m.attemptsMu.Lock()
	m.attempts = nil
	m.attemptsMu.Unlock()
	return mirrorStats{
		requests: m.requests.Swap(0),
		conns:    m.conns.Swap(0),
		bytes:    m.bytes.Swap(0),
		peak:     m.peak.Swap(m.inflight.Load()),
		faulted:  m.faulted.Swap(0),
	}
}

// idle returns how long ago the mirror last began or finished answering
// a request.
func (m *mirror) idle() time.Duration {
	return time.Since(time.Unix(0, m.active.Load()))
}

// attempt returns how many requests for path came before this one since
// the last reset.
func (m *mirror) attempt(path string) int {
	m.attemptsMu.Lock()
	defer m.attemptsMu.Unlock()
	if m.attempts == nil {
		m.attempts = make(map[string]int)
	}
	n := m.attempts[path]
	m.attempts[path] = n + 1
	return n
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
// as "this mirror does not have it". The faults, if any, decide on the
// way whether the answer is spoiled.
func (m *mirror) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.requests.Add(1)
	m.active.Store(time.Now().UnixNano())
	n := m.inflight.Add(1)
	defer func() {
		m.inflight.Add(-1)
		m.active.Store(time.Now().UnixNano())
	}()
	for p := m.peak.Load(); n > p && !m.peak.CompareAndSwap(p, n); p = m.peak.Load() {
	}

	ctx := r.Context()
	f := m.faults
	if !sleep(ctx, time.Duration(m.rtt.Load())+f.delayFor()) {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	urlPath := path.Clean("/" + r.URL.Path)
	var fault faultKind
	attempt := 0
	if f != nil {
		attempt = m.attempt(urlPath)
		fault = f.pick(urlPath, attempt, r.Header.Get("Range") != "")
	}
	switch fault {
	case faultHang:
		m.faulted.Add(1)
		<-ctx.Done() // no headers until the client gives up
		return
	case faultStatus:
		m.faulted.Add(1)
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		status := f.statusFor(urlPath, attempt)
		http.Error(w, http.StatusText(status), status)
		return
	}

	name := filepath.Join(m.root, filepath.FromSlash(urlPath))
	file, err := os.Open(name)
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	var body io.ReadSeeker = file
	size := fi.Size()
	if b, ok := f.tampered(urlPath); ok {
		m.faulted.Add(1)
		body, size = bytes.NewReader(b), int64(len(b))
	}
	if fault == faultTruncate {
		m.faulted.Add(1)
		size = f.cut(urlPath, attempt, size)
		body = readSeeker{io.LimitReader(body, size), body}
	}
	w.Header().Set("Content-Type", contentType(name))
	w.Header().Set("Accept-Ranges", "bytes")
	status := http.StatusOK
	if start, end, ok, err := parseRange(r.Header.Get("Range"), size); err != nil {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
		http.Error(w, "range not satisfiable", http.StatusRequestedRangeNotSatisfiable)
		return
	} else if ok {
		if _, err := body.Seek(start, io.SeekStart); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end-1, size))
		body = readSeeker{io.LimitReader(body, end-start), body}
		size, status = end-start, http.StatusPartialContent
	}
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	if fault == faultReset || fault == faultStall {
		// Half the body, then the connection is closed (reset) or goes
		// silent while held open (stall).
		m.faulted.Add(1)
		m.bytes.Add(m.send(ctx, w, io.LimitReader(body, size/2)))
		http.NewResponseController(w).Flush()
		if fault == faultReset {
			panic(http.ErrAbortHandler) // closes the connection, quietly
		}
		<-ctx.Done()
		return
	}
	m.bytes.Add(m.send(ctx, w, body))
}

// send copies src to w, at the bandwidth limits if there are any: the
// total one and the connection's own.
func (m *mirror) send(ctx context.Context, w io.Writer, src io.Reader) int64 {
	var limits []*limiter
	if m.limit != nil {
		limits = append(limits, m.limit)
	}
	if l, ok := ctx.Value(connLimitKey{}).(*limiter); ok {
		limits = append(limits, l)
	}
	if len(limits) == 0 {
		written, _ := io.Copy(w, src)
		return written
	}
	written, _ := copyLimited(ctx, w, src, limits)
	return written
}

// readSeeker is a reader with the Seek of the file it reads.
type readSeeker struct {
	io.Reader
	io.Seeker
}

// parseRange parses a Range header of one range ("bytes=a-b", "bytes=a-",
// "bytes=-n") against a body of size bytes: ok is false for no header (or
// one this mirror ignores, as a server may: several ranges), err is set
// for a range that cannot be satisfied. end is exclusive.
func parseRange(h string, size int64) (start, end int64, ok bool, err error) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if h == "" || !found || strings.Contains(spec, ",") {
		return 0, 0, false, nil
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, errors.New("bad range")
	}
	switch {
	case first == "":
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false, errors.New("bad range")
		}
		start, end = max(size-n, 0), size
	default:
		start, err = strconv.ParseInt(first, 10, 64)
		if err != nil || start < 0 {
			return 0, 0, false, errors.New("bad range")
		}
		end = size
		if last != "" {
			l, err := strconv.ParseInt(last, 10, 64)
			if err != nil || l < start {
				return 0, 0, false, errors.New("bad range")
			}
			end = min(l+1, size)
		}
	}
	if start >= size {
		return 0, 0, false, errors.New("range starts past the end")
	}
	return start, end, true, nil
}

// faults is how a fault-injecting mirror fails: a share of its requests
// get an error status, a body cut short, a stall or no answer at all; it
// may be slow, or serve altered bytes for some files. Which requests fail
// is decided by a hash of the seed, the path and the attempt (how many
// requests for that path came before, since the last reset): every tool
// meets the same faults in the same places, and a retry can succeed.
type faults struct {
	seed uint64

	status     int     // answer this status (502, 429) instead …
	statusRate float64 // … to this share of requests,
	statusZip1 bool    // … or to the first request of every zip
	retryAfter string  // with this Retry-After header, if set

	// statuses, if set, are the statuses answered instead of status,
	// each as likely (the mix: 502 and 503).
	statuses []int

	reset    float64 // share of zip bodies cut at half, connection closed
	resetAny float64 // share of all responses cut at half, connection closed
	stall    float64 // share of zip bodies that stop at half, connection held open
	hang     float64 // share of requests that get no headers until the client gives up
	// truncate is the share of zips served cut short, but as a
	// well-formed 200 whose Content-Length matches the bytes sent: only
	// the checksum can tell. Not applied to a Range request.
	truncate float64

	// salt tells apart the draws of mirrors that share a seed (GOPROXY=A|B
	// with the same faults on both, drawn independently).
	salt uint64

	delay  time.Duration     // added to every response
	tamper map[string][]byte // URL path → the altered bytes served for it
}

// faultKind is what happens to one request.
type faultKind int

const (
	faultNone     faultKind = iota
	faultStatus             // an error status
	faultHang               // no headers, ever
	faultReset              // half the body, then the connection closes
	faultStall              // half the body, then nothing
	faultTruncate           // a 200 with part of the zip, Content-Length to match
)

// pick decides the fate of the request for urlPath that follows attempt
// earlier ones. One draw per request, in bands laid end to end: hang,
// status, reset, stall, truncate; so the shares add up as given (10% 5xx
// and 2% resets spoil 12% of requests, never one twice).
func (f *faults) pick(urlPath string, attempt int, ranged bool) faultKind {
	zip := strings.HasSuffix(urlPath, ".zip")
	if f.status != 0 && f.statusZip1 && zip && attempt == 0 {
		return faultStatus
	}
	d := f.draw(urlPath, attempt)
	bands := []struct {
		share float64
		kind  faultKind
	}{
		{f.hang, faultHang},
		{f.statusShare(), faultStatus},
		{f.resetAny, faultReset},
		{zipOnly(zip, f.reset), faultReset},
		{zipOnly(zip, f.stall), faultStall},
		{zipOnly(zip && !ranged, f.truncate), faultTruncate},
	}
	for _, b := range bands {
		if d < b.share {
			return b.kind
		}
		d -= b.share
	}
	return faultNone
}

// statusShare is the share of requests answered with an error status.
func (f *faults) statusShare() float64 {
	if f.status == 0 && len(f.statuses) == 0 {
		return 0
	}
	return f.statusRate
}

// zipOnly is share for a zip, 0 for anything else.
func zipOnly(zip bool, share float64) float64 {
	if !zip {
		return 0
	}
	return share
}

// statusFor is the error status of a faultStatus answer to the request
// for urlPath that follows attempt earlier ones.
func (f *faults) statusFor(urlPath string, attempt int) int {
	if len(f.statuses) == 0 {
		return f.status
	}
	i := int(f.draw(urlPath+"#status", attempt) * float64(len(f.statuses)))
	return f.statuses[min(i, len(f.statuses)-1)]
}

// cut is how many of size bytes a truncated zip keeps: between a tenth
// and nine tenths, drawn.
func (f *faults) cut(urlPath string, attempt int, size int64) int64 {
	return int64((0.1 + 0.8*f.draw(urlPath+"#cut", attempt)) * float64(size))
}

// draw returns a number in [0, 1) that depends only on the seed, the salt,
// the path and the attempt.
func (f *faults) draw(urlPath string, attempt int) float64 {
	h := sha256.Sum256(fmt.Appendf(nil, "%d\x00%d\x00%s\x00%d", f.seed, f.salt, urlPath, attempt))
	return float64(binary.BigEndian.Uint64(h[:])>>11) / (1 << 53)
}

// delayFor returns the delay added to each response.
func (f *faults) delayFor() time.Duration {
	if f == nil {
		return 0
	}
	return f.delay
}

// tampered returns the altered bytes served for urlPath, if any.
func (f *faults) tampered(urlPath string) ([]byte, bool) {
	if f == nil {
		return nil, false
	}
	b, ok := f.tamper[urlPath]
	return b, ok
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
	cost := time.Duration(l.m.link.handshake * float64(l.m.rtt.Load()))
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

// limiter shares a bandwidth among the responses that cross it, like the
// one link (or the one TCP flow) they cross: each chunk reserves its
// transmission time on a common timeline.
type limiter struct {
	rate float64 // bytes per second
	mu   sync.Mutex
	next time.Time
}

// chunk is small enough that concurrent responses interleave finely.
const chunk = 32 << 10

// copyLimited writes src to w at the rate of the slowest of limits.
func copyLimited(ctx context.Context, w io.Writer, src io.Reader, limits []*limiter) (int64, error) {
	buf := make([]byte, chunk)
	var total int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			var wait time.Duration
			for _, l := range limits {
				wait = max(wait, l.reserve(n))
			}
			if !sleep(ctx, wait) {
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
