package mirrors

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// bigFile returns n pseudo-random bytes, different for each seed.
func bigFile(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// rangeLog records the requests a ranged mirror saw.
type rangeLog struct {
	mu   sync.Mutex
	reqs []rangeReq
}

type rangeReq struct {
	rng  string // the Range header
	addr string // the client's address: one per connection
}

func (l *rangeLog) add(r *http.Request) {
	l.mu.Lock()
	l.reqs = append(l.reqs, rangeReq{r.Header.Get("Range"), r.RemoteAddr})
	l.mu.Unlock()
}

func (l *rangeLog) get() []rangeReq {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]rangeReq(nil), l.reqs...)
}

// ranges returns the starts of the range requests seen.
func (l *rangeLog) starts() []int64 {
	var s []int64
	for _, r := range l.get() {
		if v, ok := strings.CutPrefix(r.rng, "bytes="); ok {
			a, _, _ := strings.Cut(v, "-")
			n, _ := strconv.ParseInt(a, 10, 64)
			s = append(s, n)
		}
	}
	return s
}

// rangeFault decides what a ranged mirror does with a request for bytes
// from..to (inclusive; from -1 for a request without Range): it returns
// how many bytes of the range to send before cutting the connection (-1:
// all of them), or handles the request itself and returns -2.
type rangeFault func(n int, from, to int64, w http.ResponseWriter, r *http.Request, stop <-chan struct{}) int64

// serveRanged starts a mirror that serves data, with Accept-Ranges, an
// ETag and 206 answers to Range requests, as proxy.golang.org does.
func serveRanged(t *testing.T, data []byte, log *rangeLog, fault rangeFault) *mirrorServer {
	etag := fmt.Sprintf(`"%x"`, len(data))
	return serve(t, func(n int, w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		log.add(r)
		from, to := int64(-1), int64(len(data)-1)
		if v, ok := strings.CutPrefix(r.Header.Get("Range"), "bytes="); ok {
			a, b, _ := strings.Cut(v, "-")
			from, _ = strconv.ParseInt(a, 10, 64)
			if b != "" {
				to, _ = strconv.ParseInt(b, 10, 64)
			}
			to = min(to, int64(len(data)-1))
		}
		send := int64(-1)
		if fault != nil {
			if send = fault(n, from, to, w, r, stop); send == -2 {
				return
			}
		}
		h := w.Header()
		h.Set("Accept-Ranges", "bytes")
		h.Set("ETag", etag)
		body, status := data, http.StatusOK
		if from >= 0 {
			if ir := r.Header.Get("If-Range"); ir != "" && ir != etag {
				h.Set("Content-Length", strconv.Itoa(len(data)))
				w.WriteHeader(http.StatusOK)
				w.Write(data)
				return
			}
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to, len(data)))
			body, status = data[from:to+1], http.StatusPartialContent
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		if send >= 0 && send < int64(len(body)) {
			// Send the headers and part of the body, then close the
			// connection (cleanly: the client gets what was sent).
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			defer conn.Close()
			fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
			h.Write(buf)
			buf.WriteString("\r\n")
			buf.Write(body[:send])
			buf.Flush()
			return
		}
		w.WriteHeader(status)
		w.Write(body)
	})
}

// fileStore is a store that writes the body into a temp file as modcache
// does (empty it, then io.Copy, which lets the body write itself at
// offsets), and accepts it only if it is want.
type fileStore struct {
	t     *testing.T
	want  []byte
	f     *os.File
	calls int
}

func newFileStore(t *testing.T, want []byte) *fileStore {
	f, err := os.Create(filepath.Join(t.TempDir(), "v1.0.0.zip.tmp"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &fileStore{t: t, want: want, f: f}
}

func (s *fileStore) store(body io.Reader) error {
	s.calls++
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := s.f.Truncate(0); err != nil {
		return err
	}
	if _, err := io.Copy(s.f, body); err != nil {
		return err
	}
	got, err := os.ReadFile(s.f.Name())
	if err != nil {
		return err
	}
	if !bytes.Equal(got, s.want) {
		return mismatch{}
	}
	return nil
}

// The threshold and smallest part of ranged fetches in tests: small, so
// that the race detector does not make the tests slow.
const (
	testRangeMin  = 256 << 10
	testRangePart = 16 << 10
)

// rangeOptions are isolated options with the tests' range sizes.
func rangeOptions(t *testing.T) Options {
	opts := isolated(t)
	opts.rangeMin, opts.rangePart = testRangeMin, testRangePart
	return opts
}

// rangedOptions also have a small hedge delay, so that a stalled range is
// taken over at once, and a stall timeout longer than any test.
func rangedOptions(t *testing.T) Options {
	opts := rangeOptions(t)
	opts.HedgeAfter = time.Millisecond
	opts.Policy.Stall = time.Hour
	opts.Policy.Timeout = time.Hour
	return opts
}

// TestFetchRanged checks that a large zip is fetched in ranges over
// several connections and arrives whole, with progress events.
func TestFetchRanged(t *testing.T) {
	data := bigFile(4*testRangeMin, 1)
	var log rangeLog
	srv := serveRanged(t, data, &log, nil)
	var evs events
	opts := rangeOptions(t)
	opts.OnEvent = evs.add
	l := newList(t, srv.URL, opts)
	s := newFileStore(t, data)
	if err := l.Fetch(testCtx(t), modA, "zip", s.store); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if s.calls != 1 {
		t.Errorf("store called %d times, want 1", s.calls)
	}
	reqs := log.get()
	if reqs[0].rng != "" {
		t.Errorf("first request has Range %q, want none", reqs[0].rng)
	}
	conns := map[string]bool{}
	for _, r := range reqs {
		conns[r.addr] = true
	}
	if len(reqs) < 4 || len(conns) < 4 {
		t.Errorf("%d requests on %d connections, want several of each", len(reqs), len(conns))
	}
	var last int64
	for _, ev := range evs.evs {
		if ev.Kind != Progress {
			continue
		}
		if ev.Size != int64(len(data)) || ev.Bytes <= last || ev.Bytes > ev.Size {
			t.Errorf("Progress %d of %d after %d", ev.Bytes, ev.Size, last)
		}
		last = ev.Bytes
	}
	if last != int64(len(data)) {
		t.Errorf("last Progress at %d of %d bytes, want all of them", last, len(data))
	}
	// A loaded machine may see a range's connection fail and be retried
	// (net/http: "persistConn.readLoop exiting"); the file still arrives
	// whole, from the one mirror, and nothing fails over.
	got := evs.kinds(map[string]string{srv.URL: "m"})
	got = regexp.MustCompile(`, Retrying m \d+`).ReplaceAllString(got, "")
	if got != "Started m, Done m" {
		for _, ev := range evs.evs {
			if ev.Err != nil {
				t.Logf("%v %v", ev.Kind, ev.Err)
			}
		}
		t.Errorf("events: %s", got)
	}
}

// TestProgressUnknownSize checks that a large file whose answer has no
// Content-Length (chunked, or compressed on the way) reports its progress
// too, of an unknown size, from the threshold on; a small one does not.
func TestProgressUnknownSize(t *testing.T) {
	for _, n := range []int{4 * testRangeMin, testRangeMin - 1} {
		data := bigFile(n, 5)
		srv := serve(t, func(_ int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush() // no Content-Length: chunked
			w.Write(data)
		})
		var evs events
		opts := rangeOptions(t)
		opts.OnEvent = evs.add
		l := newList(t, srv.URL, opts)
		if err := l.Fetch(testCtx(t), modA, "zip", newFileStore(t, data).store); err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		var got []int64
		for _, ev := range evs.evs {
			if ev.Kind == Progress {
				if ev.Size != -1 {
					t.Errorf("%d bytes: Progress of size %d, want -1", n, ev.Size)
				}
				got = append(got, ev.Bytes)
			}
		}
		switch {
		case n < testRangeMin && len(got) > 0:
			t.Errorf("%d bytes: Progress %v, want none", n, got)
		case n >= testRangeMin && (len(got) < 2 || got[0] < testRangeMin || !slices.IsSorted(got) || got[len(got)-1] != int64(n)):
			t.Errorf("%d bytes: Progress %v, want several, from %d on, the last at %d", n, got, testRangeMin, n)
		}
	}
}

// TestFetchRangedSmall checks that a file under the threshold is fetched
// in one request, as always.
func TestFetchRangedSmall(t *testing.T) {
	data := bigFile(testRangeMin-1, 2)
	var log rangeLog
	srv := serveRanged(t, data, &log, nil)
	l := newList(t, srv.URL, rangeOptions(t))
	s := newFileStore(t, data)
	if err := l.Fetch(testCtx(t), modA, "zip", s.store); err != nil {
		t.Fatal(err)
	}
	if reqs := log.get(); len(reqs) != 1 || reqs[0].rng != "" {
		t.Errorf("requests %v, want one without Range", reqs)
	}
}

// TestFetchRangedResume checks that a range whose connection is cut is
// asked for again from where it stopped, not from its start, and that the
// file arrives whole.
func TestFetchRangedResume(t *testing.T) {
	data := bigFile(8*testRangeMin, 3)
	const cut = 64 << 10
	var mu sync.Mutex
	cutAt := map[int64]bool{} // starts of the ranges cut
	var log rangeLog
	srv := serveRanged(t, data, &log, func(n int, from, to int64, _ http.ResponseWriter, _ *http.Request, _ <-chan struct{}) int64 {
		mu.Lock()
		defer mu.Unlock()
		if from <= 0 || cutAt[from] || to-from+1 <= 2*cut {
			return -1
		}
		cutAt[from] = true
		return cut
	})
	var evs events
	opts := rangedOptions(t)
	opts.HedgeAfter = -1 // no range is taken over: each is resumed by its own connection
	opts.OnEvent = evs.add
	l := newList(t, srv.URL, opts)
	s := newFileStore(t, data)
	if err := l.Fetch(testCtx(t), modA, "zip", s.store); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if s.calls != 1 {
		t.Errorf("store called %d times, want 1: the file was fetched again", s.calls)
	}
	if len(cutAt) == 0 {
		t.Fatal("no range was cut")
	}
	starts := log.starts()
	for from := range cutAt {
		resumed := false
		for _, s := range starts {
			if s > from && s <= from+cut {
				resumed = true
			}
		}
		if !resumed {
			t.Errorf("the range cut at %d+%d was not resumed from where it stopped; starts %v", from, cut, starts)
		}
	}
	if !strings.Contains(evs.kinds(map[string]string{srv.URL: "m"}), "Retrying m") {
		t.Errorf("no Retrying event: %s", evs.kinds(map[string]string{srv.URL: "m"}))
	}
}

// TestFetchRangedStall checks that a range that stops sending is taken
// over by another connection, from where it stopped, without waiting for
// the stall timeout.
func TestFetchRangedStall(t *testing.T) {
	data := bigFile(2*testRangeMin, 4)
	var once sync.Once
	cancelled := make(chan struct{})
	var log rangeLog
	srv := serveRanged(t, data, &log, func(n int, from, to int64, w http.ResponseWriter, r *http.Request, stop <-chan struct{}) int64 {
		stall := false
		if from > 0 {
			once.Do(func() { stall = true })
		}
		if !stall {
			return -1
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to, len(data)))
		w.Header().Set("Content-Length", strconv.FormatInt(to-from+1, 10))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(data[from : from+1000])
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-stop:
		}
		return -2
	})
	l := newList(t, srv.URL, rangedOptions(t))
	s := newFileStore(t, data)
	if err := l.Fetch(testCtx(t), modA, "zip", s.store); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	select {
	case <-cancelled:
	case <-testCtx(t).Done():
		t.Fatal("the stalled range was not cancelled")
	}
}

// TestFetchRangedWiden checks that a zip below the range threshold, but
// not far below, starts in one stream and is widened to ranges when that
// stream alone would take long and few requests share the mirror: here
// the stream sends 16 KiB and then nothing more, and the rest comes in
// ranges, the stalled stream taken over.
func TestFetchRangedWiden(t *testing.T) {
	data := bigFile(testRangeMin/2, 13)
	var log rangeLog
	srv := serveRanged(t, data, &log, func(n int, from, to int64, w http.ResponseWriter, r *http.Request, stop <-chan struct{}) int64 {
		if from >= 0 {
			return -1
		}
		h := w.Header()
		h.Set("Accept-Ranges", "bytes")
		h.Set("ETag", fmt.Sprintf(`"%x"`, len(data)))
		h.Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:16<<10])
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
		case <-stop:
		}
		return -2
	})
	l := newList(t, srv.URL, rangedOptions(t))
	s := newFileStore(t, data)
	if err := l.Fetch(testCtx(t), modA, "zip", s.store); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	reqs := log.get()
	if len(reqs) < 2 || reqs[0].rng != "" {
		t.Fatalf("requests %v, want one without Range, then ranges", reqs)
	}
	for _, r := range reqs[1:] {
		if !strings.HasPrefix(r.rng, "bytes=") {
			t.Errorf("request %v after the first has no Range", r)
		}
	}
	if s.calls != 1 {
		t.Errorf("store called %d times, want 1", s.calls)
	}
}

// TestFetchRangedIgnored checks that a mirror that says it serves ranges
// but answers 200 to a range request gets the file fetched in one stream.
func TestFetchRangedIgnored(t *testing.T) {
	data := bigFile(2*testRangeMin, 5)
	var log rangeLog
	srv := serveRanged(t, data, &log, func(n int, from, to int64, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) int64 {
		w.Header().Set("Accept-Ranges", "bytes")
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data) // whatever the Range
		return -2
	})
	var evs events
	opts := rangeOptions(t)
	opts.OnEvent = evs.add
	l := newList(t, srv.URL, opts)
	s := newFileStore(t, data)
	if err := l.Fetch(testCtx(t), modA, "zip", s.store); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	// The first answer, the range requests answered 200 (cancelled as
	// soon as one is), then the file again in one stream.
	if n := plainRequests(log.get()); n != 2 {
		t.Errorf("%d requests without Range, want 2", n)
	}
	if s.calls != 2 {
		t.Errorf("store called %d times, want 2", s.calls)
	}
	if got := evs.kinds(map[string]string{srv.URL: "m"}); !strings.HasPrefix(got, "Started m, Retrying m") || !strings.HasSuffix(got, "Done m") {
		t.Errorf("events: %s", got)
	}
}

// TestFetchRangedNewVersion checks that ranges of another version of the
// file (another ETag: If-Range answered with 200) are not used.
func TestFetchRangedNewVersion(t *testing.T) {
	data := bigFile(2*testRangeMin, 6)
	var log rangeLog
	srv := serveRanged(t, data, &log, func(n int, from, to int64, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) int64 {
		if n == 1 {
			w.Header().Set("ETag", `"old"`)
			w.Header().Set("Accept-Ranges", "bytes")
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Write(data)
			return -2
		}
		return -1
	})
	l := newList(t, srv.URL, rangeOptions(t))
	s := newFileStore(t, data)
	if err := l.Fetch(testCtx(t), modA, "zip", s.store); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if s.calls != 2 {
		t.Errorf("store called %d times, want 2 (ranges given up, then one stream)", s.calls)
	}
}

// TestFetchRangedTwoMirrors checks that the ranges of a file are spread
// over the interchangeable mirrors of its group, and that a mirror whose
// file has another size serves none of the bytes.
func TestFetchRangedTwoMirrors(t *testing.T) {
	data := bigFile(4*testRangeMin, 7)
	t.Run("same file", func(t *testing.T) {
		var la, lb rangeLog
		a := serveRanged(t, data, &la, nil)
		b := serveRanged(t, data, &lb, nil)
		l := newList(t, a.URL+"|"+b.URL, rangeOptions(t))
		s := newFileStore(t, data)
		if err := l.Fetch(testCtx(t), modA, "zip", s.store); err != nil {
			t.Fatal(err)
		}
		if len(la.starts()) == 0 || len(lb.starts()) == 0 {
			t.Errorf("range requests: %d to a, %d to b; want some to each", len(la.starts()), len(lb.starts()))
		}
	})
	t.Run("other size", func(t *testing.T) {
		var la, lb rangeLog
		a := serveRanged(t, data, &la, nil)
		b := serveRanged(t, data[:len(data)-1], &lb, nil)
		l := newList(t, a.URL+"|"+b.URL, rangeOptions(t))
		s := newFileStore(t, data)
		if err := l.Fetch(testCtx(t), modA, "zip", s.store); err != nil {
			t.Fatal(err)
		}
		if s.calls != 1 {
			t.Errorf("store called %d times, want 1", s.calls)
		}
		// Each connection given to b asks it once, finds the size wrong
		// and moves to a.
		if n := len(lb.starts()); n > rangeConns/2 {
			t.Errorf("b was asked for %d ranges, want at most one per connection", n)
		}
	})
	t.Run("same size, other bytes", func(t *testing.T) {
		var la, lb rangeLog
		a := serveRanged(t, data, &la, nil)
		b := serveRanged(t, bigFile(len(data), 8), &lb, nil)
		l := newList(t, a.URL+"|"+b.URL, rangeOptions(t))
		s := newFileStore(t, data)
		if err := l.Fetch(testCtx(t), modA, "zip", s.store); err != nil {
			t.Fatal(err)
		}
		// Mixed, then the first to answer alone: a, or b (rejected), then a.
		if s.calls != 2 && s.calls != 3 {
			t.Errorf("store called %d times, want 2 or 3", s.calls)
		}
		for _, m := range l.groups[0].mirrors {
			if m.score.lied != nil {
				t.Errorf("%s made a liar", m.URL)
			}
		}
	})
}

// TestFetchRangedCancel checks that cancelling the fetch stops every
// range.
func TestFetchRangedCancel(t *testing.T) {
	data := bigFile(2*testRangeMin, 9)
	ctx, cancel := context.WithCancel(testCtx(t))
	var log rangeLog
	srv := serveRanged(t, data, &log, func(n int, from, to int64, w http.ResponseWriter, r *http.Request, stop <-chan struct{}) int64 {
		if from <= 0 {
			return -1
		}
		cancel()
		select {
		case <-r.Context().Done():
		case <-stop:
		}
		return -2
	})
	l := newList(t, srv.URL, rangedOptions(t))
	s := newFileStore(t, data)
	err := l.Fetch(ctx, modA, "zip", s.store)
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch = %v, want context.Canceled", err)
	}
}

// TestFetchRangedCredentials checks that the range requests to a mirror
// with credentials carry them, as its other requests do.
func TestFetchRangedCredentials(t *testing.T) {
	data := bigFile(2*testRangeMin, 12)
	var mu sync.Mutex
	var ranges, unauthorized int
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, pass, ok := r.BasicAuth(); !ok || user != "u" || pass != "p" {
			mu.Lock()
			unauthorized++
			mu.Unlock()
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.Header.Get("Range") != "" {
			mu.Lock()
			ranges++
			mu.Unlock()
		}
		w.Header().Set("ETag", `"x"`)
		http.ServeContent(w, r, "v1.0.0.zip", time.Time{}, bytes.NewReader(data))
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	opts := rangeOptions(t)
	opts.RootCAs = x509.NewCertPool()
	opts.RootCAs.AddCert(srv.Certificate())
	l := newList(t, strings.Replace(srv.URL, "https://", "https://u:p@", 1), opts)
	s := newFileStore(t, data)
	if err := l.Fetch(testCtx(t), modA, "zip", s.store); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if s.calls != 1 || ranges == 0 || unauthorized != 0 {
		t.Errorf("store called %d times; %d range requests, %d without credentials", s.calls, ranges, unauthorized)
	}
}
