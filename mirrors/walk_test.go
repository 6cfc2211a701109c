package mirrors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomodx/gomodx/retry"
	"golang.org/x/mod/module"
)

var modB = module.Version{Path: "example.com/b", Version: "v1.0.0"}

// events collects the events of a List.
type events struct {
	mu  sync.Mutex
	evs []Event
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
}

// kinds renders the events as "Started a, Retrying a 2, ...", with each
// mirror named by names.
func (e *events) kinds(names map[string]string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.evs {
		if ev.Kind == Progress {
			continue // as many as the chunks the body came in
		}
		s := [...]string{"Started", "Retrying", "FailedOver", "Hedged", "Lied", "Done", "Rescued"}[ev.Kind] + " " + names[ev.Mirror]
		switch ev.Kind {
		case Retrying:
			s += fmt.Sprint(" ", ev.Attempt)
		case FailedOver, Hedged, Lied:
			if ev.Next != "" {
				s += " → " + names[ev.Next]
			}
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

// isolated returns options whose rank cache is the test's own.
func isolated(t *testing.T) Options {
	return Options{Policy: policy(), RankCache: filepath.Join(t.TempDir(), "mirrors.json")}
}

// TestFetchFaults has a case per fault a single mirror may show, each
// followed by success: the file must arrive whole, with the right number
// of requests.
func TestFetchFaults(t *testing.T) {
	const full = "0123456789abcdefghij"
	tests := []struct {
		name         string
		first        handler // for the first request; later ones get full
		policy       func(*retry.Policy)
		wantRequests int
		wantRetryErr string // in the Retrying event
	}{
		{
			name:         "503",
			first:        status(http.StatusServiceUnavailable),
			wantRequests: 2,
			wantRetryErr: "503 Service Unavailable",
		},
		{
			name: "429 with Retry-After",
			first: func(_ int, w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
				w.Header().Set("Retry-After", "1") // capped at WaitMax
				w.WriteHeader(http.StatusTooManyRequests)
			},
			wantRequests: 2,
			wantRetryErr: "429 Too Many Requests",
		},
		{
			name: "connection reset mid-body",
			first: func(_ int, w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
				conn, buf, err := http.NewResponseController(w).Hijack()
				if err != nil {
					panic(err)
				}
				fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(full), full[:5])
				buf.Flush()
				conn.(*net.TCPConn).SetLinger(0) // close with RST
				conn.Close()
			},
			wantRequests: 2,
			wantRetryErr: "connection reset",
		},
		{
			name: "truncated body with 200",
			first: func(_ int, w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
				conn, buf, err := http.NewResponseController(w).Hijack()
				if err != nil {
					panic(err)
				}
				defer conn.Close()
				fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(full), full[:7])
				buf.Flush()
			},
			wantRequests: 2,
			wantRetryErr: "unexpected EOF",
		},
		{
			name: "hang without headers",
			first: func(_ int, w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
				select {
				case <-r.Context().Done():
				case <-stop:
				}
			},
			policy:       func(p *retry.Policy) { p.Timeout = 50 * time.Millisecond },
			wantRequests: 2,
			wantRetryErr: "timeout awaiting response headers",
		},
		{
			name: "stall mid-body",
			first: func(_ int, w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
				w.Header().Set("Content-Length", fmt.Sprint(len(full)))
				io.WriteString(w, full[:3])
				http.NewResponseController(w).Flush()
				select {
				case <-r.Context().Done():
				case <-stop:
				}
			},
			policy:       func(p *retry.Policy) { p.Stall = 50 * time.Millisecond },
			wantRequests: 2,
			wantRetryErr: "stalled",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, func(n int, w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
				if n == 1 {
					tt.first(n, w, r, stop)
					return
				}
				io.WriteString(w, full)
			})
			var evs events
			opts := isolated(t)
			opts.OnEvent = evs.add
			if tt.policy != nil {
				tt.policy(&opts.Policy)
			}
			l := newList(t, srv.URL, opts)
			var k keeper
			if err := l.Fetch(testCtx(t), modA, "zip", k.store); err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if k.got != full {
				t.Errorf("stored %q, want %q", k.got, full)
			}
			if n := int(srv.hits.Load()); n != tt.wantRequests {
				t.Errorf("mirror saw %d requests, want %d", n, tt.wantRequests)
			}
			if n := srv.probes.Load(); n != 0 {
				t.Errorf("a single mirror was probed %d times", n)
			}
			names := map[string]string{srv.URL: "m"}
			if got, want := evs.kinds(names), "Started m, Retrying m 2, Done m"; got != want {
				t.Errorf("events: %s\nwant: %s", got, want)
			}
			if ev := evs.evs[1]; ev.Err == nil || !strings.Contains(ev.Err.Error(), tt.wantRetryErr) {
				t.Errorf("Retrying error %v, want %q", ev.Err, tt.wantRetryErr)
			}
			done := evs.evs[len(evs.evs)-1]
			if done.Bytes != int64(len(full)) || done.Elapsed <= 0 || done.Mod != modA || done.File != "zip" {
				t.Errorf("Done event %+v", done)
			}
		})
	}
}

// TestFetchLie checks that a mirror whose bytes store rejects is not asked
// again in the run while its group has another mirror.
func TestFetchLie(t *testing.T) {
	liar := serve(t, content("corrupt"))
	good := serve(t, content("good"))
	var evs events
	opts := isolated(t)
	opts.OnEvent = evs.add
	l := newList(t, liar.URL+"|"+good.URL, opts)
	var k keeper
	for _, mod := range []module.Version{modA, modB} {
		if err := l.Fetch(testCtx(t), mod, "zip", k.store); err != nil {
			t.Fatalf("Fetch(%v): %v", mod, err)
		}
		if k.got != "good" {
			t.Errorf("stored %q, want %q", k.got, "good")
		}
	}
	if n := liar.hits.Load(); n != 1 {
		t.Errorf("liar asked %d times, want once", n)
	}
	if n := good.hits.Load(); n != 2 {
		t.Errorf("good mirror asked %d times, want 2", n)
	}
	names := map[string]string{liar.URL: "liar", good.URL: "good"}
	want := "Started liar, Lied liar → good, Started good, Done good, Started good, Done good"
	if got := evs.kinds(names); got != want {
		t.Errorf("events: %s\nwant: %s", got, want)
	}
	if ev := evs.evs[1]; ev.Err == nil || ev.Err.Error() != "checksum mismatch" {
		t.Errorf("Lied error %v", ev.Err)
	}
}

// TestFetchLieOnlyMirror checks that a group's only mirror is still asked
// after a rejection: the store checks every byte, and one bad file must not
// fail every other. The bad file is asked for twice: the same rejected
// bytes twice are a lie, not a fault on the way.
func TestFetchLieOnlyMirror(t *testing.T) {
	srv := serve(t, func(n int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		if strings.Contains(r.URL.Path, "/a/") {
			io.WriteString(w, "corrupt")
			return
		}
		io.WriteString(w, "good")
	})
	var evs events
	opts := isolated(t)
	opts.OnEvent = evs.add
	l := newList(t, srv.URL+",direct", opts)
	var k keeper
	err := l.Fetch(testCtx(t), modA, "zip", k.store)
	if err == nil || errors.Is(err, ErrDirect) || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("Fetch(a) = %v, want the rejection, not direct", err)
	}
	if err := l.Fetch(testCtx(t), modB, "zip", k.store); err != nil {
		t.Fatalf("Fetch(b): %v", err)
	}
	names := map[string]string{srv.URL: "m"}
	if got, want := evs.kinds(names), "Started m, Retrying m 2, Lied m, Started m, Done m"; got != want {
		t.Errorf("events: %s\nwant: %s", got, want)
	}
}

// TestFetchNotFoundThenNext checks that 404 at one mirror of a group moves
// on to the next, and is not retried.
func TestFetchNotFoundThenNext(t *testing.T) {
	missing := serve(t, status(http.StatusNotFound))
	good := serve(t, content("good"))
	for _, sep := range []string{"|", ","} {
		t.Run(sep, func(t *testing.T) {
			var evs events
			opts := isolated(t)
			opts.OnEvent = evs.add
			l := newList(t, missing.URL+sep+good.URL, opts)
			var k keeper
			if err := l.Fetch(testCtx(t), modA, "mod", k.store); err != nil {
				t.Fatal(err)
			}
			names := map[string]string{missing.URL: "missing", good.URL: "good"}
			if got, want := evs.kinds(names), "Started missing, FailedOver missing → good, Started good, Done good"; got != want {
				t.Errorf("events: %s\nwant: %s", got, want)
			}
		})
	}
	if n := missing.hits.Load(); n != 2 {
		t.Errorf("404 mirror asked %d times, want once per run", n)
	}
}

// TestFetchFailureFailsOverAtOnce checks that a request whose attempt
// fails at one mirror of a group is sent to the next one at once (a
// failover), rather than after the failing mirror's backoff or when it has
// been slow for long enough to hedge: both an hour here, which would trip
// the test's deadline.
func TestFetchFailureFailsOverAtOnce(t *testing.T) {
	broken := serve(t, status(http.StatusBadGateway))
	good := serve(t, content("good"))
	var evs events
	opts := isolated(t)
	opts.Policy.WaitMin, opts.Policy.WaitMax = time.Hour, time.Hour
	opts.HedgeAfter = time.Hour
	opts.OnEvent = evs.add
	l := newList(t, broken.URL+"|"+good.URL, opts)
	// The failover takes no hedge budget: it is the request the failover
	// after the last retry would send anyway.
	for _, m := range l.groups[0].mirrors {
		m.score.hedgeDebt = hedgeBurst * hedgeCost
	}
	var k keeper
	if err := l.Fetch(testCtx(t), modA, "info", k.store); err != nil {
		t.Fatal(err)
	}
	if k.got != "good" {
		t.Errorf("stored %q", k.got)
	}
	names := map[string]string{broken.URL: "broken", good.URL: "good"}
	if got, want := evs.kinds(names), "Started broken, FailedOver broken → good, Started good, Done good"; got != want {
		t.Errorf("events: %s\nwant: %s", got, want)
	}
	if b, g := broken.hits.Load(), good.hits.Load(); b != 1 || g != 1 {
		t.Errorf("broken asked %d times, good %d; want once each", b, g)
	}

	// With a single mirror there is no one else to ask: its retry goes at
	// once (not after the hour), within its hedge budget.
	single := serve(t, func(n int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		if n == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		io.WriteString(w, "good")
	})
	var evs1 events
	opts = isolated(t)
	opts.Policy.WaitMin, opts.Policy.WaitMax = time.Hour, time.Hour
	opts.HedgeAfter = time.Hour
	opts.OnEvent = evs1.add
	l = newList(t, single.URL, opts)
	if err := l.Fetch(testCtx(t), modA, "info", k.store); err != nil {
		t.Fatal(err)
	}
	if got, want := evs1.kinds(map[string]string{single.URL: "m"}), "Started m, Retrying m 2, Done m"; got != want {
		t.Errorf("one mirror: events: %s\nwant: %s", got, want)
	}
}

// TestFetchBrokenBodyNextMirror checks that a body that breaks at one
// mirror of a group has the file asked for from the next one at once,
// rather than from the same mirror after its backoff (an hour here).
func TestFetchBrokenBodyNextMirror(t *testing.T) {
	const full = "good and whole"
	breaking := serve(t, func(_ int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(full), full[:4])
		buf.Flush()
		conn.Close()
	})
	good := serve(t, content(full))
	var evs events
	opts := isolated(t)
	opts.Policy.WaitMin, opts.Policy.WaitMax = time.Hour, time.Hour
	opts.HedgeAfter = time.Hour
	opts.OnEvent = evs.add
	l := newList(t, breaking.URL+"|"+good.URL, opts)
	var k keeper
	if err := l.Fetch(testCtx(t), modA, "zip", k.store); err != nil {
		t.Fatal(err)
	}
	if k.got != full {
		t.Errorf("stored %q", k.got)
	}
	names := map[string]string{breaking.URL: "a", good.URL: "b"}
	if got, want := evs.kinds(names), "Started a, FailedOver a → b, Started b, Done b"; got != want {
		t.Errorf("events: %s\nwant: %s", got, want)
	}
}

// TestFetchBrokenBodyAtOnce checks that a body that breaks, or is cut
// short and rejected, at the only mirror is asked for again at once on a
// new connection, within the mirror's hedge budget, rather than after the
// backoff (an hour here).
func TestFetchBrokenBodyAtOnce(t *testing.T) {
	const full = "good and whole"
	for _, short := range []bool{false, true} {
		t.Run(fmt.Sprintf("rejected=%v", short), func(t *testing.T) {
			var cs conns
			srv := serve(t, func(n int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
				cs.add(r)
				switch {
				case n > 1:
					io.WriteString(w, full)
				case short:
					io.WriteString(w, full[:4]) // a well-formed 200, cut short
				default:
					conn, buf, err := http.NewResponseController(w).Hijack()
					if err != nil {
						panic(err)
					}
					fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(full), full[:4])
					buf.Flush()
					conn.Close()
				}
			})
			var evs events
			opts := isolated(t)
			opts.Policy.WaitMin, opts.Policy.WaitMax = time.Hour, time.Hour
			opts.HedgeAfter = time.Hour
			opts.OnEvent = evs.add
			l := newList(t, srv.URL, opts)
			v := newVerifier(func(module.Version) string { return full })
			if err := l.Fetch(testCtx(t), modA, "zip", v.store(modA)); err != nil {
				t.Fatal(err)
			}
			if got, want := evs.kinds(map[string]string{srv.URL: "m"}), "Started m, Retrying m 2, Done m"; got != want {
				t.Errorf("events: %s\nwant: %s", got, want)
			}
			if !cs.distinct() {
				t.Errorf("asked again on the same connection: %v", cs.addrs)
			}
		})
	}
}

// TestFetchEventsRetryThenFailover checks the events of a mirror that
// fails its retries before the next one serves the file, when no hedge
// may be sent.
func TestFetchEventsRetryThenFailover(t *testing.T) {
	broken := serve(t, status(http.StatusInternalServerError))
	good := serve(t, content("good"))
	var evs events
	opts := isolated(t)
	opts.Policy.Retries = 1
	opts.HedgeAfter = -1
	opts.OnEvent = evs.add
	l := newList(t, broken.URL+"|"+good.URL, opts)
	var k keeper
	if err := l.Fetch(testCtx(t), modA, "info", k.store); err != nil {
		t.Fatal(err)
	}
	names := map[string]string{broken.URL: "broken", good.URL: "good"}
	want := "Started broken, Retrying broken 2, FailedOver broken → good, Started good, Done good"
	if got := evs.kinds(names); got != want {
		t.Errorf("events: %s\nwant: %s", got, want)
	}
	if ev := evs.evs[2]; ev.Err == nil || ev.Err.Error() != "500 Internal Server Error (2 tries)" {
		t.Errorf("FailedOver error %v", ev.Err)
	}
	for _, ev := range evs.evs {
		if ev.Mod != modA || ev.File != "info" {
			t.Errorf("event for %v %s", ev.Mod, ev.File)
		}
	}
}

// TestFetchHedge checks that a request waiting for headers longer than
// usual is sent to the next mirror of the group too, that the first answer
// wins, and that the other request is cancelled.
func TestFetchHedge(t *testing.T) {
	cancelled := make(chan struct{})
	slow := serve(t, func(_ int, w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-stop:
		}
	})
	fast := serve(t, content("fast"))
	var evs events
	opts := isolated(t)
	opts.HedgeAfter = 20 * time.Millisecond
	opts.OnEvent = evs.add
	l := newList(t, slow.URL+"|"+fast.URL, opts)
	var k keeper
	if err := l.Fetch(testCtx(t), modA, "zip", k.store); err != nil {
		t.Fatal(err)
	}
	if k.got != "fast" || k.calls != 1 {
		t.Errorf("store called %d times, last with %q; want once with %q", k.calls, k.got, "fast")
	}
	select {
	case <-cancelled:
	case <-testCtx(t).Done():
		t.Fatal("the slow mirror's request was not cancelled")
	}
	// A loaded machine may make the fast mirror slow enough for a hedge
	// of its own (to itself), so only the start and the end are certain.
	names := map[string]string{slow.URL: "slow", fast.URL: "fast"}
	if got, want := evs.kinds(names), "Started slow, Hedged slow → fast, Started fast, Done fast"; !strings.HasPrefix(got, strings.TrimSuffix(want, ", Done fast")) || !strings.HasSuffix(got, ", Done fast") {
		t.Errorf("events: %s\nwant: %s", got, want)
	}
	if slow.hits.Load() != 1 || fast.hits.Load() < 1 {
		t.Errorf("requests: slow %d, fast %d; want 1 each", slow.hits.Load(), fast.hits.Load())
	}
}

// TestFetchNoHedgeAcrossComma checks that a slow mirror is not hedged to a
// mirror after ',': that one may see the path only after a 404.
func TestFetchNoHedgeAcrossComma(t *testing.T) {
	release := make(chan struct{})
	slow := serve(t, func(_ int, w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		select {
		case <-release:
		case <-r.Context().Done():
		case <-stop:
		}
		io.WriteString(w, "slow")
	})
	next := serve(t, content("next"))
	opts := isolated(t)
	opts.HedgeAfter = time.Millisecond
	l := newList(t, slow.URL+","+next.URL, opts)
	done := make(chan error, 1)
	var k keeper
	ctx := testCtx(t)
	go func() { done <- l.Fetch(ctx, modA, "zip", k.store) }()
	// Once the request is in, give a wrong hedge twenty times its delay to
	// happen. (A slow machine can only hide a bug here, not fail the test.)
	for slow.hits.Load() == 0 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if k.got != "slow" || next.hits.Load() != 0 {
		t.Errorf("stored %q, next mirror asked %d times; want slow's, 0", k.got, next.hits.Load())
	}
}

// TestFetchUnreachable checks that a mirror whose name does not resolve is
// set aside for the run, and that the failure says what to do.
func TestFetchUnreachable(t *testing.T) {
	var dials atomic.Int32
	isolated := func(t *testing.T) Options {
		opts := isolated(t)
		opts.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if strings.HasPrefix(addr, "gomodx-test.invalid:") {
				dials.Add(1)
			}
			return loopbackOnly(ctx, network, addr)
		}
		return opts
	}
	const invalid = "http://gomodx-test.invalid"

	t.Run("alone", func(t *testing.T) {
		dials.Store(0)
		l := newList(t, invalid, isolated(t))
		err := l.Fetch(testCtx(t), modA, "zip", func(io.Reader) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "no such host") {
			t.Fatalf("Fetch = %v, want no such host", err)
		}
		if c := Classify(err); c != Unreachable {
			t.Errorf("Classify = %v, want unreachable", c)
		}
		err = l.Fetch(testCtx(t), modB, "zip", func(io.Reader) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "not asked: unreachable") {
			t.Errorf("second Fetch = %v, want it set aside", err)
		}
		if c := Classify(err); c != Unreachable {
			t.Errorf("Classify = %v, want unreachable", c)
		}
		if n := dials.Load(); n != 1 {
			t.Errorf("dialled %d times, want once", n)
		}
	})
	t.Run("next to a good mirror", func(t *testing.T) {
		dials.Store(0)
		good := serve(t, content("good"))
		l := newList(t, invalid+"|"+good.URL, isolated(t))
		var k keeper
		for _, mod := range []module.Version{modA, modB} {
			if err := l.Fetch(testCtx(t), mod, "zip", k.store); err != nil {
				t.Fatal(err)
			}
		}
		// Its probe failed, so it ranks last and is never needed.
		if n := dials.Load(); n != 1 {
			t.Errorf("dialled %d times, want once (the probe)", n)
		}
	})
}

// TestFetchCertificate checks that an untrusted certificate is not retried
// and is classified for its hint.
func TestFetchCertificate(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("handler reached through an untrusted certificate")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	good := serve(t, content("good"))

	opts := isolated(t)
	opts.Policy.WaitMin, opts.Policy.WaitMax = time.Hour, time.Hour // a retry would hang
	l := newList(t, srv.URL+","+good.URL, opts)
	err := l.Fetch(testCtx(t), modA, "zip", func(io.Reader) error { return nil })
	if err == nil {
		t.Fatal("Fetch succeeded")
	}
	if c := Classify(err); c != Certificate {
		t.Errorf("Classify(%v) = %v, want certificate", err, c)
	}
	if h := Classify(err).Hint(); !strings.Contains(h, "SSL_CERT_FILE") {
		t.Errorf("hint %q does not mention SSL_CERT_FILE", h)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
	if n := good.hits.Load(); n != 0 {
		t.Errorf("mirror after ',' asked %d times", n)
	}

	// Through '|', the next mirror serves it.
	l = newList(t, srv.URL+"|"+good.URL, isolated(t))
	var k keeper
	if err := l.Fetch(testCtx(t), modA, "zip", k.store); err != nil || k.got != "good" {
		t.Errorf("Fetch = %v with %q, want the good mirror's", err, k.got)
	}
}

// TestFetchBreaker checks that a mirror failing three files in a row is
// set aside for 30 seconds, then tried again.
func TestFetchBreaker(t *testing.T) {
	srv := serve(t, status(http.StatusBadGateway))
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	opts := isolated(t)
	opts.Policy.Retries = 0
	opts.now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	l := newList(t, srv.URL, opts)
	fetch := func() error {
		return l.Fetch(testCtx(t), modA, "zip", func(io.Reader) error { return nil })
	}
	for i := range 3 {
		if err := fetch(); err == nil || !strings.Contains(err.Error(), "502 Bad Gateway") {
			t.Fatalf("Fetch %d = %v, want 502", i+1, err)
		}
	}
	err := fetch()
	if err == nil || !strings.Contains(err.Error(), "not asked: set aside after 3 failures in a row") {
		t.Errorf("Fetch 4 = %v, want the mirror set aside", err)
	}
	if c := Classify(err); c != Transient {
		t.Errorf("Classify = %v, want transient", c)
	}
	if n := srv.hits.Load(); n != 3 {
		t.Errorf("mirror asked %d times, want 3", n)
	}

	mu.Lock()
	now = now.Add(31 * time.Second)
	mu.Unlock()
	if err := fetch(); err == nil || !strings.Contains(err.Error(), "502 Bad Gateway") {
		t.Errorf("Fetch after the cool-down = %v, want 502", err)
	}
	if n := srv.hits.Load(); n != 4 {
		t.Errorf("mirror asked %d times, want 4 (tried again)", n)
	}
	// One more failure sets it aside again at once.
	if err := fetch(); err == nil || !strings.Contains(err.Error(), "set aside") {
		t.Errorf("Fetch = %v, want set aside again", err)
	}
	if n := srv.hits.Load(); n != 4 {
		t.Errorf("mirror asked %d times, want 4", n)
	}
}

// TestFetchBreakerSkipsToNext checks that a set-aside mirror is skipped
// within its group.
func TestFetchBreakerSkipsToNext(t *testing.T) {
	broken := serve(t, status(http.StatusBadGateway))
	good := serve(t, content("good"))
	l := newList(t, broken.URL+"|"+good.URL, isolated(t))
	l.mu.Lock()
	s := l.groups[0].mirrors[0].score
	s.fails, s.openUntil = 3, time.Now().Add(time.Minute)
	l.mu.Unlock()
	var k keeper
	if err := l.Fetch(testCtx(t), modA, "zip", k.store); err != nil {
		t.Fatal(err)
	}
	if n := broken.hits.Load(); n != 0 {
		t.Errorf("set-aside mirror asked %d times", n)
	}
}

// TestFetchCommaWithRanking checks that ranking, hedging and extra mirrors
// never carry a path across ',': a company proxy's 500 stays final even
// when the mirror after the comma probes faster.
func TestFetchCommaWithRanking(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slowProbe := func(_ int, w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		select {
		case <-release:
		case <-r.Context().Done():
		case <-stop:
		}
	}
	corp1 := serveProbe(t, slowProbe, status(http.StatusInternalServerError))
	corp2 := serve(t, status(http.StatusServiceUnavailable))
	extra := serve(t, status(http.StatusBadGateway))
	public := serve(t, content("public"))

	opts := isolated(t)
	opts.Extra = []string{extra.URL}
	opts.HedgeAfter = time.Millisecond
	opts.Builtin = []string{public.URL}
	l := newList(t, corp1.URL+"|"+corp2.URL+","+public.URL+",direct", opts)
	err := l.Fetch(testCtx(t), modA, "zip", func(io.Reader) error { return nil })
	if err == nil {
		t.Fatal("Fetch succeeded through the public mirror")
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrDirect) {
		t.Errorf("error %v is not-found or direct", err)
	}
	if n := public.hits.Load() + public.probes.Load(); n != 0 {
		t.Errorf("public mirror saw %d requests", n)
	}
	for _, s := range []*mirrorServer{corp1, corp2, extra} {
		if s.hits.Load() == 0 {
			t.Errorf("%s not asked", s.URL)
		}
	}
}

// TestFetchPublicGroup checks GOPROXY's public mirror and the built-in
// ones behind it: a built-in mirror may serve a file GOPROXY's failed on,
// a not-found at GOPROXY's mirror leads to direct even when a built-in
// mirror failed, and a failure of GOPROXY's own mirror does not.
func TestFetchPublicGroup(t *testing.T) {
	tests := []struct {
		name      string
		named     handler // GOPROXY's mirror
		builtin   handler
		wantData  string
		wantError error
	}{
		{name: "the other serves", named: status(http.StatusBadGateway), builtin: content("builtin"), wantData: "builtin"},
		{name: "not found at both goes direct", named: status(http.StatusNotFound), builtin: status(http.StatusGone), wantError: ErrDirect},
		{name: "a built-in mirror's failure does not block direct", named: status(http.StatusNotFound), builtin: status(http.StatusInternalServerError), wantError: ErrDirect},
		{name: "GOPROXY's mirror failing stops at comma", named: status(http.StatusInternalServerError), builtin: status(http.StatusNotFound)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			named := serve(t, tt.named)
			builtin := serve(t, tt.builtin)
			opts := isolated(t)
			opts.Builtin = []string{named.URL, builtin.URL}
			l := newList(t, named.URL+",direct", opts)
			if len(l.groups) != 2 || l.rescue == nil || len(l.rescue.mirrors) != 1 {
				t.Fatalf("groups: %s", describeGroups(l.groups))
			}
			var k keeper
			err := l.Fetch(testCtx(t), modA, "zip", k.store)
			switch {
			case tt.wantData != "":
				if err != nil || k.got != tt.wantData {
					t.Errorf("Fetch = %v with %q, want %q", err, k.got, tt.wantData)
				}
			case tt.wantError != nil:
				if !errors.Is(err, tt.wantError) {
					t.Errorf("Fetch = %v, want %v", err, tt.wantError)
				}
			default:
				if err == nil || errors.Is(err, ErrDirect) || errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Fetch = %v, want a failure that stops the walk", err)
				}
			}
		})
	}
}

// TestFetchTimeLimit checks Policy.MaxTotal: a mirror that never answers is
// given up on when the time per file runs out, whatever its Timeout.
func TestFetchTimeLimit(t *testing.T) {
	srv := serve(t, func(_ int, w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	opts := isolated(t)
	opts.Policy.MaxTotal = 50 * time.Millisecond
	l := newList(t, srv.URL, opts)
	err := l.Fetch(testCtx(t), modA, "zip", func(io.Reader) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "time limit of 50ms reached") {
		t.Fatalf("Fetch = %v, want the time limit", err)
	}
	if c := Classify(err); c != Transient {
		t.Errorf("Classify = %v, want transient", c)
	}
}

// TestOrder checks the live choice among the mirrors of a group.
func TestOrder(t *testing.T) {
	l := newList(t, "https://a.example|https://b.example", Options{})
	g := l.groups[0]
	a, b := g.mirrors[0], g.mirrors[1]
	names := func(ms []*mirror) string {
		var s []string
		for _, m := range ms {
			s = append(s, strings.TrimSuffix(strings.TrimPrefix(m.URL, "https://"), ".example"))
		}
		return strings.Join(s, " ")
	}
	set := func(m *mirror, lat time.Duration, rate, queued, errs float64) {
		*m.score = score{lat: lat, rate: rate, queued: queued, errs: errs, samples: 1}
	}
	tests := []struct {
		name    string
		setup   func()
		file    string
		sticky  *mirror
		want    string
		skipped map[*mirror]bool
		later   map[*mirror]bool
	}{
		{"equal: configured order", func() { set(a, 10*time.Millisecond, 0, 0, 0); set(b, 5*time.Millisecond, 0, 0, 0) }, "info", nil, "a b", nil, nil},
		{"clearly faster first", func() { set(a, 300*time.Millisecond, 0, 0, 0); set(b, 80*time.Millisecond, 0, 0, 0) }, "info", nil, "b a", nil, nil},
		{"rank breaks ties", func() {
			set(a, 10*time.Millisecond, 0, 0, 0)
			set(b, 10*time.Millisecond, 0, 0, 0)
			g.rank = map[*mirror]int{b: 0, a: 1}
		}, "info", nil, "b a", nil, nil},
		{"failures demote", func() { g.rank = nil; set(a, 10*time.Millisecond, 0, 0, 0.3); set(b, 10*time.Millisecond, 0, 0, 0) }, "info", nil, "b a", nil, nil},
		{"a busy mirror spills zips over", func() { set(a, 10*time.Millisecond, 1e6, 8e6, 0); set(b, 40*time.Millisecond, 1e6, 0, 0) }, "zip", nil, "b a", nil, nil},
		{"unknown throughput does not spill", func() { set(a, 10*time.Millisecond, 0, 8e6, 0); set(b, 40*time.Millisecond, 0, 0, 0) }, "zip", nil, "a b", nil, nil},
		{"sticky first", func() { set(a, 10*time.Millisecond, 0, 0, 0); set(b, 900*time.Millisecond, 0, 0, 0) }, "zip", b, "b a", nil, nil},
		{"rejected bytes: the others first", func() { set(a, 10*time.Millisecond, 0, 0, 0); set(b, 900*time.Millisecond, 0, 0, 0) }, "zip", nil, "b a", nil, map[*mirror]bool{a: true}},
		{"liar last resort only", func() {
			set(a, 10*time.Millisecond, 0, 0, 0)
			a.score.lied = errors.New("x")
			set(b, 900*time.Millisecond, 0, 0, 0)
		}, "zip", nil, "b", nil, nil},
		{"liar when nothing else", func() { set(a, 10*time.Millisecond, 0, 0, 0); a.score.lied = errors.New("x") }, "zip", nil, "a", map[*mirror]bool{b: true}, nil},
		{"down left out", func() {
			set(a, 10*time.Millisecond, 0, 0, 0)
			a.score.down = errors.New("x")
			set(b, 900*time.Millisecond, 0, 0, 0)
		}, "zip", nil, "b", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup()
			if got := names(l.order(g, tt.file, tt.skipped, tt.sticky, tt.later)); got != tt.want {
				t.Errorf("order = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestFetchConcurrent fetches many files at once through a group whose
// first mirror is flaky, under the race detector, and checks that each
// file arrives whole and that store is never called concurrently for one
// file.
func TestFetchConcurrent(t *testing.T) {
	var flaky atomic.Int32
	a := serve(t, func(n int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		if flaky.Add(1)%3 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, r.URL.Path)
	})
	b := serve(t, func(n int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		io.WriteString(w, r.URL.Path)
	})
	opts := isolated(t)
	opts.Policy.Retries = 1
	opts.HedgeAfter = time.Millisecond
	l := newList(t, a.URL+"|"+b.URL, opts)
	var wg sync.WaitGroup
	for i := range 40 {
		mod := module.Version{Path: fmt.Sprintf("example.com/m%d", i), Version: "v1.0.0"}
		wg.Go(func() {
			var busy atomic.Bool
			var got string
			err := l.Fetch(testCtx(t), mod, "zip", func(body io.Reader) error {
				if !busy.CompareAndSwap(false, true) {
					t.Error("store called concurrently")
				}
				defer busy.Store(false)
				data, err := io.ReadAll(body)
				got = string(data)
				return err
			})
			if want := "/" + mod.Path + "/@v/v1.0.0.zip"; err != nil || got != want {
				t.Errorf("Fetch(%v) = %v, stored %q; want %q", mod, err, got, want)
			}
		})
	}
	wg.Wait()
	if a.hits.Load()+b.hits.Load() < 40 {
		t.Errorf("only %d requests for 40 files", a.hits.Load()+b.hits.Load())
	}
}
