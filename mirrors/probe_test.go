package mirrors

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestProbe checks what Probe reports for each kind of mirror, and the
// ranking it makes.
func TestProbe(t *testing.T) {
	sumdb := serveProbe(t, func(_ int, w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
		io.WriteString(w, "")
	}, status(http.StatusOK))
	plain := serve(t, status(http.StatusOK))
	forbidden := serveProbe(t, status(http.StatusForbidden), status(http.StatusOK))
	refused := refusedURL(t)
	const invalid = "http://gomodx-test.invalid"
	untrusted := httptest.NewUnstartedServer(http.NotFoundHandler())
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0)
	untrusted.StartTLS()
	t.Cleanup(untrusted.Close)
	alone := serve(t, status(http.StatusOK))

	opts := isolated(t)
	l := newList(t, strings.Join([]string{refused, sumdb.URL, invalid, plain.URL, untrusted.URL, forbidden.URL}, "|")+","+alone.URL+",direct", opts)
	results := l.Probe(testCtx(t))

	type want struct {
		mirror     string
		group      int
		rank       int
		status     string
		reachable  bool
		sumdb      bool
		httpStatus int
	}
	wants := []want{
		{sumdb.URL, 0, 1, "ok", true, true, 200},
		{plain.URL, 0, 2, "ok", true, false, 404},
		{forbidden.URL, 0, 3, "403 Forbidden", true, false, 403},
		{refused, 0, 0, "connection refused", false, false, 0},
		{invalid, 0, 0, "DNS failure", false, false, 0},
		{untrusted.URL, 0, 0, "TLS error", false, false, 0},
		{alone.URL, 1, 4, "ok", true, false, 404},
	}
	if len(results) != len(wants) {
		t.Fatalf("%d results, want %d: %+v", len(results), len(wants), results)
	}
	for i, w := range wants {
		r := results[i]
		got := want{r.Mirror, r.Group, r.Rank, r.Status, r.Reachable, r.SumDB, r.HTTPStatus}
		if got != w {
			t.Errorf("result %d = %+v\nwant %+v", i, got, w)
		}
		if r.Reachable != (r.Err == nil) {
			t.Errorf("%s: reachable %v with error %v", r.Mirror, r.Reachable, r.Err)
		}
		if r.Reachable && (r.FirstByte <= 0 || r.Connect <= 0 || r.DNS != 0 || r.TLS != 0) {
			t.Errorf("%s: times DNS %v, connect %v, TLS %v, first byte %v; want connect and first byte only", r.Mirror, r.DNS, r.Connect, r.TLS, r.FirstByte)
		}
	}

	// The group of several mirrors is in the rank cache, best first; the
	// single mirror is not.
	data, err := os.ReadFile(opts.RankCache)
	if err != nil {
		t.Fatal(err)
	}
	var f rankFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Groups) != 1 {
		t.Fatalf("rank cache has %d groups, want 1:\n%s", len(f.Groups), data)
	}
	for _, e := range f.Groups {
		if len(e.Mirrors) != 6 || e.Mirrors[0].URL != sumdb.URL || !e.Mirrors[0].SumDB || e.Mirrors[5].Reachable {
			t.Errorf("rank cache entry: %+v", e)
		}
	}
}

// TestProbeFile checks the probe of a file:// mirror.
func TestProbeFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, filepath.FromSlash(probePath))
	if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	slash := filepath.ToSlash(dir)
	if !strings.HasPrefix(slash, "/") {
		slash = "/" + slash
	}
	fileURL := (&url.URL{Scheme: "file", Path: slash}).String()
	missing := (&url.URL{Scheme: "file", Path: slash + "/missing"}).String()
	l := newList(t, fileURL+"|"+missing, isolated(t))
	results := l.Probe(testCtx(t))
	if len(results) != 2 {
		t.Fatalf("results: %+v", results)
	}
	if r := results[0]; !r.Reachable || !r.SumDB || r.Rank != 1 || r.Status != "ok" {
		t.Errorf("file mirror: %+v", r)
	}
	if r := results[1]; r.Reachable || r.Rank != 0 || r.Status != "not found" {
		t.Errorf("missing file mirror: %+v", r)
	}
}

// TestRanking checks that a mirror slower to answer its probe is asked
// after a faster one, and that the second run takes the ranking from the
// rank cache without probing.
func TestRanking(t *testing.T) {
	served := make(chan struct{})
	var once sync.Once
	// slow answers its probe only once fast has served the file: the
	// ranking must not wait for it.
	slow := serveProbe(t, func(_ int, w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		select {
		case <-served:
		case <-r.Context().Done():
		case <-stop:
		}
		http.NotFound(w, r)
	}, content("slow"))
	fast := serve(t, func(_ int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		io.WriteString(w, "fast")
		once.Do(func() { close(served) })
	})
	opts := isolated(t)
	opts.ProbeTimeout = time.Minute // longer than the test may take

	for run := 1; run <= 2; run++ {
		l := newList(t, slow.URL+"|"+fast.URL, opts)
		var k keeper
		if err := l.Fetch(testCtx(t), modA, "zip", k.store); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		l.wg.Wait() // the late probe, and the cache written after it
		l.Close()
		if k.got != "fast" {
			t.Errorf("run %d: stored %q, want the fast mirror's", run, k.got)
		}
		if slow.hits.Load() != 0 || fast.hits.Load() != int32(run) {
			t.Errorf("run %d: requests slow %d, fast %d", run, slow.hits.Load(), fast.hits.Load())
		}
		if slow.probes.Load() != 1 || fast.probes.Load() != 1 {
			t.Errorf("run %d: probes slow %d, fast %d; want 1 each, in the first run only", run, slow.probes.Load(), fast.probes.Load())
		}
	}
}

// TestRankCacheStale checks that a ranking older than RankTTL is probed
// again, and that the new ranking is then used.
func TestRankCacheStale(t *testing.T) {
	a := serve(t, content("a"))
	b := serve(t, content("b"))
	opts := isolated(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, tc := range []struct {
		at         time.Duration
		wantProbes int32
	}{
		{0, 1},
		{5 * time.Minute, 1},  // fresh
		{11 * time.Minute, 2}, // stale: probed again
		{12 * time.Minute, 2}, // fresh from the second probe
	} {
		opts.now = func() time.Time { return start.Add(tc.at) }
		l := newList(t, a.URL+"|"+b.URL, opts)
		var k keeper
		if err := l.Fetch(testCtx(t), modA, "mod", k.store); err != nil {
			t.Fatal(err)
		}
		l.Close()
		if a.probes.Load() != tc.wantProbes || b.probes.Load() != tc.wantProbes {
			t.Errorf("run %d at +%v: probes %d and %d, want %d", i+1, tc.at, a.probes.Load(), b.probes.Load(), tc.wantProbes)
		}
	}
}

// TestRankCacheReprobe checks that a group ranked from the cache is probed
// again when its first mirror fails, and that the cache is corrected.
func TestRankCacheReprobe(t *testing.T) {
	down := refusedURL(t)
	good := serve(t, content("good"))
	opts := isolated(t)
	entry := rankEntry{Probed: time.Now().UTC(), Mirrors: []rankedMirror{
		{URL: down, Reachable: true, FirstByte: time.Millisecond},
		{URL: good.URL, Reachable: true, FirstByte: 300 * time.Millisecond},
	}}
	l := newList(t, down+"|"+good.URL, opts)
	data, _ := json.Marshal(rankFile{Groups: map[string]rankEntry{rankKey(l.groups[0]): entry}})
	if err := os.WriteFile(opts.RankCache, data, 0o666); err != nil {
		t.Fatal(err)
	}
	var k keeper
	if err := l.Fetch(testCtx(t), modA, "zip", k.store); err != nil || k.got != "good" {
		t.Fatalf("Fetch = %v with %q", err, k.got)
	}
	l.wg.Wait() // the re-probe
	l.Close()
	if n := good.probes.Load(); n != 1 {
		t.Errorf("good mirror probed %d times, want 1 (the re-probe)", n)
	}
	f := (&List{rankCache: opts.RankCache}).readRankFile()
	e := f.Groups[rankKey(l.groups[0])]
	if len(e.Mirrors) != 2 || e.Mirrors[0].URL != good.URL || e.Mirrors[1].Reachable {
		t.Errorf("rank cache after the re-probe: %+v", e)
	}
}

// TestRankOrder checks the ranking by probe results alone.
func TestRankOrder(t *testing.T) {
	l := newList(t, "https://a.example|https://b.example|https://c.example|https://d.example", Options{})
	ms := l.groups[0].mirrors
	a, b, c, d := ms[0], ms[1], ms[2], ms[3]
	got := map[*mirror]*ProbeResult{
		a: {Reachable: true, FirstByte: 400 * time.Millisecond},
		b: {Reachable: false},
		c: {Reachable: true, FirstByte: 90 * time.Millisecond},
		d: {Reachable: true, FirstByte: 20 * time.Millisecond}, // same band as c
	}
	order := rankOrder(ms, got)
	if want := []*mirror{c, d, a, b}; !slices.Equal(order, want) {
		var names []string
		for _, m := range order {
			names = append(names, m.URL)
		}
		t.Errorf("order %v, want c d a b", names)
	}
}

// TestProbeTimeout checks a mirror that does not answer within the probe
// deadline.
func TestProbeTimeout(t *testing.T) {
	hung := serveProbe(t, func(_ int, w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}, status(http.StatusOK))
	opts := isolated(t)
	opts.ProbeTimeout = 50 * time.Millisecond
	l := newList(t, hung.URL, opts)
	results := l.Probe(testCtx(t))
	if len(results) != 1 || results[0].Status != "timeout" || results[0].Reachable || results[0].Rank != 0 {
		t.Errorf("results: %+v", results)
	}
}

// TestProbeSetsAsideUnreachable checks that a mirror the probe could not
// reach at all (no such host) is not failed over to: the go command's own
// lookups through gomodx (prefixes of an import path) are refused by the
// reachable mirror all the time, and each one would otherwise try it again.
func TestProbeSetsAsideUnreachable(t *testing.T) {
	const invalid = "http://gomodx-test.invalid"
	forbidden := serve(t, status(http.StatusForbidden))
	opts := isolated(t)
	l := newList(t, forbidden.URL+"|"+invalid, opts)
	l.Probe(testCtx(t))

	var events []Event
	var mu sync.Mutex
	l.onEvent = func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, ev)
	}
	if err := l.Get(testCtx(t), "example.com/@v/list", func(io.Reader) error { return nil }); err == nil {
		t.Fatal("Get succeeded")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, ev := range events {
		if ev.Mirror == invalid && ev.Kind == Started {
			t.Errorf("the unreachable mirror was asked: %+v", ev)
		}
	}
}

// TestProbeStagesAndSample checks that a probe names the step where it
// failed, and measures the throughput on the sample file.
func TestProbeStagesAndSample(t *testing.T) {
	const sample = "golang.org/x/sync/@v/v0.10.0.zip"
	body := strings.Repeat("z", 32<<10)
	good := serve(t, func(_ int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		if strings.HasSuffix(r.URL.Path, "/"+sample) {
			io.WriteString(w, body)
			return
		}
		http.NotFound(w, r)
	})
	refused := refusedURL(t)
	const invalid = "http://gomodx-test.invalid"
	opts := isolated(t)
	opts.ProbeSample = sample
	l := newList(t, good.URL+"|"+refused+"|"+invalid, opts)
	byURL := map[string]ProbeResult{}
	for _, r := range l.Probe(testCtx(t)) {
		byURL[r.Mirror] = r
	}
	if r := byURL[good.URL]; r.Err != nil || r.Stage != "" || r.Bytes != int64(len(body)) || r.Transfer <= 0 {
		t.Errorf("good mirror: %+v", r)
	}
	if r := byURL[refused]; r.Stage != StageConnect {
		t.Errorf("refused: stage %q, want connect (%v)", r.Stage, r.Err)
	}
	if r := byURL[invalid]; r.Stage != StageDNS {
		t.Errorf("unresolvable: stage %q, want dns (%v)", r.Stage, r.Err)
	}
}
