package mirrors

import (
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/module"
)

// These tests are about one mirror with many faults: what a user with a
// single company proxy or public mirror meets. Hangs are indefinite (until
// the request is cancelled) and the header timeout is longer than the
// test's own deadline, so a test passes only if a hedge rescues the file.

// verifier is a store that accepts only the body want(path) for each file,
// as a go.sum check would: anything else is a rejection.
type verifier struct {
	mu   sync.Mutex
	got  map[string]string // the accepted body of each file
	want func(mod module.Version) string
}

func newVerifier(want func(module.Version) string) *verifier {
	return &verifier{got: map[string]string{}, want: want}
}

func (v *verifier) store(mod module.Version) func(io.Reader) error {
	return func(body io.Reader) error {
		b, err := io.ReadAll(body)
		if err != nil {
			return err
		}
		if string(b) != v.want(mod) {
			return mismatch{}
		}
		v.mu.Lock()
		v.got[mod.Path] = string(b)
		v.mu.Unlock()
		return nil
	}
}

// conns records the client address of each request, in order.
type conns struct {
	mu    sync.Mutex
	addrs []string
}

func (c *conns) add(r *http.Request) {
	c.mu.Lock()
	c.addrs = append(c.addrs, r.RemoteAddr)
	c.mu.Unlock()
}

// distinct reports whether the requests came on as many connections.
func (c *conns) distinct() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	for _, a := range c.addrs {
		if seen[a] {
			return false
		}
		seen[a] = true
	}
	return true
}

// hangPolicy is policy() with a header timeout longer than any test's
// deadline: a hang is over only when a hedge wins.
func hangOptions(t *testing.T) Options {
	opts := isolated(t)
	opts.Policy.Timeout = time.Hour
	opts.HedgeAfter = time.Millisecond
	return opts
}

// TestFetchRejectedRetried checks that a body store rejects is asked for
// again from the only mirror, on a new connection, and that the good body
// that follows is kept.
func TestFetchRejectedRetried(t *testing.T) {
	var cs conns
	srv := serve(t, func(n int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		cs.add(r)
		if n == 1 {
			io.WriteString(w, "goo") // cut short, with a matching Content-Length
			return
		}
		io.WriteString(w, "good")
	})
	var evs events
	opts := isolated(t)
	opts.OnEvent = evs.add
	l := newList(t, srv.URL, opts)
	v := newVerifier(func(module.Version) string { return "good" })
	if err := l.Fetch(testCtx(t), modA, "zip", v.store(modA)); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if v.got[modA.Path] != "good" {
		t.Errorf("stored %q", v.got[modA.Path])
	}
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("mirror saw %d requests, want 2", n)
	}
	if !cs.distinct() {
		t.Errorf("the retry came on the connection of the rejected body: %v", cs.addrs)
	}
	if got, want := evs.kinds(map[string]string{srv.URL: "m"}), "Started m, Retrying m 2, Done m"; got != want {
		t.Errorf("events: %s\nwant: %s", got, want)
	}
	if ev := evs.evs[1]; ev.Err == nil || ev.Err.Error() != "checksum mismatch" {
		t.Errorf("Retrying error %v, want the rejection", ev.Err)
	}
	if l.groups[0].mirrors[0].score.lied != nil {
		t.Error("the mirror was marked a liar for one bad body")
	}
}

// TestFetchTamperedQuickly checks the security case: a mirror that keeps
// serving the same tampered bytes ends with the rejection after its second
// request, never caches anything, and a liar's rejected bytes for the
// next file are not asked for again.
func TestFetchTamperedQuickly(t *testing.T) {
	srv := serve(t, content("tampered"))
	next := serve(t, content("good"))
	var evs events
	opts := isolated(t)
	opts.OnEvent = evs.add
	l := newList(t, srv.URL+","+next.URL, opts)
	v := newVerifier(func(module.Version) string { return "good" })
	for i, mod := range []module.Version{modA, modB} {
		err := l.Fetch(testCtx(t), mod, "zip", v.store(mod))
		if err == nil || err.Error() != mod.String()+": downloading zip from "+srv.URL+": checksum mismatch" {
			t.Fatalf("Fetch(%v) = %v, want the rejection", mod, err)
		}
		if n, want := srv.hits.Load(), int32(2+i); n != want {
			t.Errorf("after %v: mirror saw %d requests, want %d", mod, n, want)
		}
	}
	if len(v.got) != 0 || next.hits.Load() != 0 {
		t.Errorf("stored %v, next mirror asked %d times", v.got, next.hits.Load())
	}
	want := "Started m, Retrying m 2, Lied m, Started m, Lied m"
	if got := evs.kinds(map[string]string{srv.URL: "m"}); got != want {
		t.Errorf("events: %s\nwant: %s", got, want)
	}
}

// TestFetchRejectedEveryTime checks that a mirror whose bytes differ and
// fail every time is given up on when the file's retries run out.
func TestFetchRejectedEveryTime(t *testing.T) {
	srv := serve(t, func(n int, w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
		fmt.Fprintf(w, "bad %d", n)
	})
	l := newList(t, srv.URL, isolated(t))
	v := newVerifier(func(module.Version) string { return "good" })
	err := l.Fetch(testCtx(t), modA, "zip", v.store(modA))
	if err == nil || !strings.HasSuffix(err.Error(), ": checksum mismatch") {
		t.Fatalf("Fetch = %v, want the rejection", err)
	}
	if n := srv.hits.Load(); n != 4 {
		t.Errorf("mirror saw %d requests, want 4 (1 + 3 retries)", n)
	}
	if l.groups[0].mirrors[0].score.lied == nil {
		t.Error("the mirror is not a liar")
	}
}

// TestFetchRejectedOtherFirst checks that, in a group, a rejected body
// sends the request to the other mirror first, and that the first comes
// back (on a new connection) when the other fails.
func TestFetchRejectedOtherFirst(t *testing.T) {
	var cs conns
	a := serve(t, func(n int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		cs.add(r)
		if n == 1 {
			io.WriteString(w, "goo")
			return
		}
		io.WriteString(w, "good")
	})
	b := serve(t, status(http.StatusBadGateway))
	var evs events
	opts := isolated(t)
	opts.Policy.Retries = 1
	// b's retry would wait an hour: its failure sends the request back
	// to a at once, on a new connection.
	opts.Policy.WaitMin, opts.Policy.WaitMax = time.Hour, time.Hour
	opts.OnEvent = evs.add
	l := newList(t, a.URL+"|"+b.URL, opts)

	v := newVerifier(func(module.Version) string { return "good" })
	if err := l.Fetch(testCtx(t), modA, "zip", v.store(modA)); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	names := map[string]string{a.URL: "a", b.URL: "b"}
	want := "Started a, Lied a → b, Started b, FailedOver b → a, Done a"
	if got := evs.kinds(names); got != want {
		t.Errorf("events: %s\nwant: %s", got, want)
	}
	if !cs.distinct() {
		t.Errorf("a's second request came on the connection of its rejected body: %v", cs.addrs)
	}
}

// TestFetchHedgeSameMirror checks that a request that hangs at the only
// mirror is sent again to the same mirror on another connection, over
// HTTP/1.1 and HTTP/2 (where a second request would otherwise share the
// stuck connection), that the first answer wins, and that the hung
// request is cancelled.
func TestFetchHedgeSameMirror(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("http2=%v", h2), func(t *testing.T) {
			var cs conns
			var protos sync.Map
			cancelled := make(chan struct{})
			var hits atomic.Int32
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/"+probePath) {
					http.NotFound(w, r)
					return
				}
				cs.add(r)
				protos.Store(r.ProtoMajor, true)
				if hits.Add(1) == 1 {
					<-r.Context().Done()
					close(cancelled)
					return
				}
				io.WriteString(w, "good")
			}))
			opts := hangOptions(t)
			var evs events
			opts.OnEvent = evs.add
			if h2 {
				srv.EnableHTTP2 = true
				srv.StartTLS()
				opts.RootCAs = x509.NewCertPool()
				opts.RootCAs.AddCert(srv.Certificate())
			} else {
				srv.Start()
			}
			t.Cleanup(srv.Close)
			l := newList(t, srv.URL, opts)
			var k keeper
			if err := l.Fetch(testCtx(t), modA, "zip", k.store); err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if k.got != "good" || k.calls != 1 {
				t.Errorf("store called %d times, last with %q", k.calls, k.got)
			}
			select {
			case <-cancelled:
			case <-testCtx(t).Done():
				t.Fatal("the hung request was not cancelled")
			}
			if _, ok := protos.Load(map[bool]int{false: 1, true: 2}[h2]); !ok {
				t.Fatalf("no request over HTTP/%d", map[bool]int{false: 1, true: 2}[h2])
			}
			if !cs.distinct() {
				t.Errorf("the hedge shared the hung request's connection: %v", cs.addrs)
			}
			want := "Started m, Hedged m → m, Done m"
			if got := evs.kinds(map[string]string{srv.URL: "m"}); !strings.HasPrefix(got, "Started m, Hedged m → m") || !strings.HasSuffix(got, "Done m") {
				t.Errorf("events: %s\nwant: %s", got, want)
			}
		})
	}
}

// TestHedgeBudget checks the budget that keeps hedges from flooding a
// mirror that is slow for everyone: a few at once, then one for every ten
// requests, and one a second.
func TestHedgeBudget(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newList(t, "https://a.example", Options{now: func() time.Time { return now }})
	m := l.groups[0].mirrors[0]
	for i := range hedgeBurst {
		if !l.mayHedge(m) {
			t.Fatalf("hedge %d refused, want %d at once", i+1, hedgeBurst)
		}
	}
	if l.mayHedge(m) {
		t.Fatalf("hedge %d allowed", hedgeBurst+1)
	}
	for range 9 {
		l.earnHedge(m)
	}
	if l.mayHedge(m) {
		t.Fatal("hedge allowed after 9 requests")
	}
	l.earnHedge(m)
	if !l.mayHedge(m) {
		t.Fatal("hedge refused after 10 requests")
	}
	if l.mayHedge(m) {
		t.Fatal("two hedges allowed after 10 requests")
	}
	now = now.Add(1500 * time.Millisecond)
	if !l.mayHedge(m) {
		t.Fatal("hedge refused after a second")
	}
	if l.mayHedge(m) {
		t.Fatal("two hedges allowed after a second and a half")
	}
	now = now.Add(500 * time.Millisecond)
	if !l.mayHedge(m) {
		t.Fatal("hedge refused after two seconds")
	}
	now = now.Add(time.Hour)
	for i := range hedgeBurst {
		if !l.mayHedge(m) {
			t.Fatalf("hedge %d refused after an hour", i+1)
		}
	}
	if l.mayHedge(m) {
		t.Fatal("more than a burst allowed after an hour")
	}
}

// TestFetchNoHedgeWithoutBudget checks that a mirror whose hedge budget is
// spent gets no hedge, however long its request waits.
func TestFetchNoHedgeWithoutBudget(t *testing.T) {
	release := make(chan struct{})
	srv := serve(t, func(_ int, w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		select {
		case <-release:
		case <-r.Context().Done():
		case <-stop:
		}
		io.WriteString(w, "good")
	})
	l := newList(t, srv.URL, hangOptions(t))
	l.groups[0].mirrors[0].score.hedgeDebt = hedgeBurst * hedgeCost
	done := make(chan error, 1)
	var k keeper
	ctx := testCtx(t)
	go func() { done <- l.Fetch(ctx, modA, "zip", k.store) }()
	// Once the request is in, give a wrong hedge many times its delay to
	// happen. (A slow machine can only hide a bug here, not fail the test.)
	for srv.hits.Load() == 0 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(30 * time.Millisecond)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("mirror saw %d requests, want 1", n)
	}
}

// TestFetchAnotherRound checks that a healthy mirror, the only one, gets a
// second round of retries for a file whose first round all failed, and
// that the error counts every request when that fails too.
func TestFetchAnotherRound(t *testing.T) {
	var failing atomic.Int32
	srv := serve(t, func(_ int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		if strings.Contains(r.URL.Path, "/a/") && failing.Add(-1) >= 0 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		io.WriteString(w, "good")
	})
	var evs events
	opts := isolated(t)
	opts.OnEvent = evs.add
	l := newList(t, srv.URL, opts)
	var k keeper
	if err := l.Fetch(testCtx(t), modB, "zip", k.store); err != nil {
		t.Fatal(err)
	}

	failing.Store(4) // the first round: 1 + 3 retries
	if err := l.Fetch(testCtx(t), modA, "zip", k.store); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	want := "Started m, Done m, Started m, Retrying m 2, Retrying m 3, Retrying m 4, Retrying m 5, Done m"
	if got := evs.kinds(map[string]string{srv.URL: "m"}); got != want {
		t.Errorf("events: %s\nwant: %s", got, want)
	}

	failing.Store(100)
	modC := module.Version{Path: "example.com/a/c", Version: "v1.0.0"}
	err := l.Fetch(testCtx(t), modC, "zip", k.store)
	if err == nil || !strings.HasSuffix(err.Error(), ": 502 Bad Gateway (8 tries)") {
		t.Errorf("Fetch = %v, want 502 after 8 tries", err)
	}
}

// TestFetchOneMirrorManyFaults fetches files through one mirror that meets
// each file with its own sequence of faults (502s and 503s, a reset body,
// a hang, a cut body passed off as whole) before it serves it right. Every
// file must arrive, verified, and nothing else must be kept.
func TestFetchOneMirrorManyFaults(t *testing.T) {
	type fault int
	const (
		ok fault = iota
		bad
		unavailable
		reset
		hang
		short
	)
	plans := [][]fault{
		{bad},
		{unavailable, bad},
		{reset},
		{hang},
		{short},
		{short, reset},
		{bad, hang, reset, short},
		{hang, short},
		{reset, hang},
		{unavailable, short, bad},
		{},
	}
	mods := make([]module.Version, 3*len(plans))
	plan := map[string][]fault{}
	body := func(mod module.Version) string { return strings.Repeat(mod.Path+"\n", 50) }
	for i := range mods {
		mods[i] = module.Version{Path: fmt.Sprintf("example.com/m%02d", i), Version: "v1.0.0"}
		plan["/"+mods[i].Path+"/@v/v1.0.0.zip"] = plans[i%len(plans)]
	}
	var mu sync.Mutex
	hits := map[string]int{}
	srv := serve(t, func(_ int, w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		mu.Lock()
		n := hits[r.URL.Path]
		hits[r.URL.Path]++
		mu.Unlock()
		f := ok
		if p := plan[r.URL.Path]; n < len(p) {
			f = p[n]
		}
		full := strings.Repeat(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/@v/v1.0.0.zip")+"\n", 50)
		switch f {
		case bad:
			w.WriteHeader(http.StatusBadGateway)
		case unavailable:
			w.WriteHeader(http.StatusServiceUnavailable)
		case hang:
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		case reset:
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(full), full[:len(full)/3])
			buf.Flush()
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		case short:
			io.WriteString(w, full[:len(full)/2])
		default:
			io.WriteString(w, full)
		}
	})
	l := newList(t, srv.URL, hangOptions(t))
	// Hedges that a loaded machine makes of slow answers must not use up
	// what the hangs need: the budget has a test of its own.
	l.groups[0].mirrors[0].score.hedgeDebt = -1000 * hedgeCost
	v := newVerifier(body)
	var wg sync.WaitGroup
	for _, mod := range mods {
		wg.Go(func() {
			if err := l.Fetch(testCtx(t), mod, "zip", v.store(mod)); err != nil {
				t.Errorf("Fetch(%v): %v", mod, err)
			}
		})
	}
	wg.Wait()
	for _, mod := range mods {
		if v.got[mod.Path] != body(mod) {
			t.Errorf("%v: stored %q", mod, v.got[mod.Path])
		}
	}
}

// TestNoHedgeWhileBackingOff checks that a mirror that answers at once,
// with failures, is not hedged while its request waits to be retried: it
// is failing, not hung, and a hedge would only double what it is asked.
// It gets the request and its retries, no more.
func TestNoHedgeWhileBackingOff(t *testing.T) {
	m := serve(t, status(http.StatusServiceUnavailable))
	opts := isolated(t)
	// Backoffs far longer than the hedge delay: without the rule, every
	// backoff would be hedged.
	opts.Policy.WaitMin = 50 * time.Millisecond
	opts.Policy.WaitMax = 100 * time.Millisecond
	opts.HedgeAfter = time.Millisecond
	var evs events
	opts.OnEvent = evs.add
	l := newList(t, m.URL, opts)
	err := l.Fetch(testCtx(t), modA, "zip", func(io.Reader) error { return nil })
	if err == nil {
		t.Fatal("Fetch succeeded from a mirror that always fails")
	}
	if got, want := int(m.hits.Load()), opts.Policy.Retries+1; got != want {
		t.Errorf("the failing mirror got %d requests, want %d (the request and its retries)", got, want)
	}
	for _, ev := range evs.evs {
		if ev.Kind == Hedged {
			t.Errorf("hedged a mirror that answers: %+v", ev)
		}
	}
}
