package mirrors

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gomodx/gomodx/retry"
)

// probePath is what a probe asks a mirror for, unless Options.SumDB names
// another database: small, served by every mirror, and its answer says
// whether the mirror proxies the checksum database (200) or not (404, 410).
const probePath = "sumdb/sum.golang.org/supported"

// Stage is the step of a request where it failed.
type Stage string

const (
	StageDNS       Stage = "dns"        // looking the host up
	StageConnect   Stage = "connect"    // connecting (to the mirror, or to the HTTP proxy)
	StageTLS       Stage = "tls"        // the TLS handshake
	StageFirstByte Stage = "first-byte" // waiting for the answer
	StageDownload  Stage = "download"   // downloading the probe's sample file
)

// ProbeResult is what the probe of one mirror found.
type ProbeResult struct {
	Mirror string // the mirror's URL without its password
	Group  int    // the index of its group in the walk; mirrors of a group are interchangeable
	Rescue bool   // a built-in mirror, asked only when GOPROXY's mirrors cannot serve a file
	Rank   int    // 1 for the mirror asked first, and so on over the whole walk; 0 when unreachable

	Reachable  bool   // it answered with any HTTP status (a file:// directory exists)
	HTTPStatus int    // the status of the answer, 0 without one
	Status     string // "ok" (200, 404, 410), another HTTP status such as "403 Forbidden", "timeout", "DNS failure", "TLS error", "TLS handshake timeout", "connection refused", ...
	SumDB      bool   // it proxies the checksum database (the probe got 200)

	// Times of the steps, zero for a step that did not happen (no lookup
	// for an IP address, no TLS for http, nothing on a reused connection).
	DNS, Connect, TLS time.Duration
	FirstByte         time.Duration // from the start of the request to the first byte of the answer

	// Bytes of the sample file (Options.ProbeSample) received in
	// Transfer; 0 when there is none or the mirror does not have it.
	Bytes    int64
	Transfer time.Duration

	Err   error // why it is not reachable, or why the sample download failed
	Stage Stage // where Err happened; "" without Err
}

// Probe probes every mirror of the walk and of the rescue group at once,
// ignoring the rank cache, waits for all of them (at most
// [Options.ProbeTimeout], twice that with a sample file), ranks each group
// by the results, stores the rankings in the rank cache and uses them for
// later fetches. It returns
// one result per mirror of each group, in the order mirrors are asked:
// group by group, best first, the rescue group last. "direct" and "off"
// are not mirrors and have no result. (A probe carries no module path.)
func (l *List) Probe(ctx context.Context) []ProbeResult {
	seen := map[*mirror]bool{}
	var all []*mirror
	for _, g := range l.all() {
		for _, m := range g.mirrors {
			if !m.keyword() && !seen[m] {
				seen[m] = true
				all = append(all, m)
			}
		}
	}
	got := make(map[*mirror]*ProbeResult, len(all))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range all {
		wg.Go(func() {
			r := l.probe(ctx, m)
			mu.Lock()
			got[m] = &r
			mu.Unlock()
		})
	}
	wg.Wait()

	var out []ProbeResult
	rank := 0
	for i, g := range l.all() {
		if g.keyword() {
			continue
		}
		order := rankOrder(g.mirrors, got)
		if l.probed(g) {
			l.mu.Lock()
			g.ranking = true
			l.mu.Unlock()
			l.applyProbe(g, order, got)
			l.markReady(g)
			l.saveRank(g, order, got)
		}
		for _, m := range order {
			r := *got[m]
			r.Group, r.Rescue = i, g == l.rescue
			if r.Reachable {
				rank++
				r.Rank = rank
			}
			out = append(out, r)
		}
	}
	return out
}

// all returns the groups of the walk, then the rescue group if any.
func (l *List) all() []*group {
	if l.rescue == nil {
		return l.groups
	}
	return append(slices.Clip(l.groups), l.rescue)
}

// probed reports whether g is ranked by a probe: a group of several
// mirrors; or one alone with the rescue group behind it, whose probe can
// set it aside, so that its files go to the rescue group at once instead
// of failing there one by one.
func (l *List) probed(g *group) bool {
	if g.keyword() {
		return false
	}
	return len(g.mirrors) > 1 || l.rescue != nil && g != l.rescue
}

// ranked returns once g is ranked: at once for a group that is not
// probed, else from the rank cache or a probe.
func (l *List) ranked(ctx context.Context, g *group) {
	if !l.probed(g) {
		return
	}
	l.mu.Lock()
	first := !g.ranking
	g.ranking = true
	l.mu.Unlock()
	if first {
		l.startRanking(g)
	}
	select {
	case <-g.ready:
	case <-ctx.Done():
	}
}

func (l *List) markReady(g *group) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-g.ready:
	default:
		close(g.ready)
	}
}

// startRanking ranks g from the rank cache, or else starts probing its
// mirrors. The ranking is ready (g.ready closed) once every probe is in, or
// the probe deadline passed, or, sooner, once no answer still to come could
// rank first: a mirror that has not answered by twice the first answer's
// time (plus the width of a band) would come after it anyway. The late
// answers still update the scoreboard and the cache.
func (l *List) startRanking(g *group) {
	if e := l.cachedRank(g); e != nil {
		l.applyCached(g, e)
		l.markReady(g)
		return
	}
	l.probeGroup(g, true)
}

// probeGroup probes g's mirrors in the background; early says whether
// the ranking may be ready before the last answer.
func (l *List) probeGroup(g *group, early bool) {
	type probed struct {
		m *mirror
		r ProbeResult
	}
	results := make(chan probed, len(g.mirrors))
	for _, m := range g.mirrors {
		l.wg.Go(func() { results <- probed{m, l.probe(l.bg, m)} })
	}
	l.wg.Go(func() {
		start := time.Now()
		got := map[*mirror]*ProbeResult{}
		var cut <-chan time.Time
		armed, done := false, false
		for len(got) < len(g.mirrors) {
			select {
			case p := <-results:
				got[p.m] = &p.r
				if early && !armed && p.r.Reachable {
					armed = true
					cut = time.After(2*time.Since(start) + band)
				}
			case <-cut:
				cut = nil
				order := rankOrder(g.mirrors, got)
				l.applyProbe(g, order, got)
				l.markReady(g)
				l.saveRank(g, order, got)
				done = true
			}
		}
		if l.bg.Err() != nil {
			// Closed: the answers missing were cut short by us, not by
			// the mirrors, so they are not worth keeping.
			l.markReady(g)
			return
		}
		order := rankOrder(g.mirrors, got)
		l.applyProbe(g, order, got)
		if !done {
			l.markReady(g)
		}
		l.saveRank(g, order, got)
	})
}

// setAsideIn is called when a mirror of g was set aside. A ranking that
// came from the rank cache is then probed again, once per run, in the
// background.
func (l *List) setAsideIn(g *group) {
	l.mu.Lock()
	again := g.fromCache && !g.reprobed
	if again {
		g.reprobed = true
	}
	l.mu.Unlock()
	if again && l.bg.Err() == nil {
		l.probeGroup(g, false)
	}
}

// rankOrder orders ms by their probe results: reachable first, then by
// band of time to first byte; within a band, in the given order. A mirror
// without a result counts as unreachable.
func rankOrder(ms []*mirror, got map[*mirror]*ProbeResult) []*mirror {
	order := slices.Clone(ms)
	key := func(m *mirror) int {
		r := got[m]
		if r == nil || !r.Reachable {
			return 1 << 30
		}
		return bandOf(r.FirstByte)
	}
	slices.SortStableFunc(order, func(a, b *mirror) int { return key(a) - key(b) })
	return order
}

// applyProbe makes order g's ranking and seeds the scoreboard with the
// probes' times, for mirrors that have no time of their own yet.
func (l *List) applyProbe(g *group, order []*mirror, got map[*mirror]*ProbeResult) {
	l.mu.Lock()
	defer l.mu.Unlock()
	g.rank = make(map[*mirror]int, len(order))
	for i, m := range order {
		g.rank[m] = i
		if r := got[m]; r != nil && r.Reachable {
			if m.score.samples == 0 {
				m.score.lat = max(r.FirstByte, time.Microsecond)
			}
			m.score.sumDB = r.SumDB
		}
	}
	l.markDown(g, func(m *mirror) (bool, error) {
		r := got[m]
		if r == nil {
			return true, nil
		}
		err := finalProbe(r)
		return err == nil, err
	})
	g.fromCache = false
}

// finalProbe returns the failure of a probe that sets its mirror aside:
// only a verdict as final as a request's own (no such host, refused, an
// untrusted certificate); a slow probe only ranks the mirror last.
func finalProbe(r *ProbeResult) error {
	if r.Reachable || r.Err == nil {
		return nil
	}
	if c := Classify(r.Err); c != Unreachable && c != Certificate {
		return nil
	}
	return r.Err
}

// markDown sets aside, for the run, the mirrors of g that a probe found
// unreachable, so that no request fails over to them only to fail again,
// and clears that for those it reached. It leaves g alone when every
// mirror of it failed and nothing comes after it: a group must stay
// usable, and its own requests will tell. With the rescue group behind g,
// its files go there instead. Under l.mu.
func (l *List) markDown(g *group, probed func(*mirror) (reachable bool, err error)) {
	var down []*mirror
	for _, m := range g.mirrors {
		if ok, _ := probed(m); !ok {
			down = append(down, m)
		}
	}
	if len(down) == len(g.mirrors) && (l.rescue == nil || g == l.rescue) {
		return
	}
	for _, m := range g.mirrors {
		ok, err := probed(m)
		switch {
		case ok && m.score.down != nil && m.score.downByProbe:
			m.score.down, m.score.downByProbe = nil, false
		case !ok && m.score.down == nil:
			if err == nil {
				err = errors.New("unreachable when probed")
			}
			m.score.down, m.score.downByProbe = err, true
		}
	}
}

// probe asks m for the probe path once, timing each step, and then, if
// the List has a sample file, downloads it over the same connection to
// measure the throughput. Each of the two requests has the probe timeout.
func (l *List) probe(parent context.Context, m *mirror) ProbeResult {
	ctx, cancel := context.WithTimeout(parent, l.probeTimeout)
	defer cancel()
	r := ProbeResult{Mirror: m.redacted}
	path := "sumdb/" + l.sumdb + "/supported"
	start := time.Now()
	if m.base.Scheme == "file" {
		f, err := openFile(ctx, m, ".")
		if err != nil {
			r.Status, r.Err, r.Stage = "not found", err, StageFirstByte
			return r
		}
		f.Close()
		r.Reachable, r.Status, r.FirstByte = true, "ok", time.Since(start)
		if f, err := openFile(ctx, m, path); err == nil {
			f.Close()
			r.SumDB = true
		}
		return r
	}

	// The trace's functions may run on the transport's goroutines, even
	// after the request is over.
	var mu sync.Mutex
	var dnsStart, connStart, tlsStart time.Time
	var t ProbeResult
	at := func(p *time.Time) func() {
		return func() {
			mu.Lock()
			*p = time.Now()
			mu.Unlock()
		}
	}
	since := func(d *time.Duration, from *time.Time) {
		mu.Lock()
		if !from.IsZero() && *d == 0 {
			*d = time.Since(*from)
		}
		mu.Unlock()
	}
	trace := &httptrace.ClientTrace{
		DNSStart:          func(httptrace.DNSStartInfo) { at(&dnsStart)() },
		DNSDone:           func(httptrace.DNSDoneInfo) { since(&t.DNS, &dnsStart) },
		ConnectStart:      func(_, _ string) { at(&connStart)() },
		ConnectDone:       func(_, _ string, _ error) { since(&t.Connect, &connStart) },
		TLSHandshakeStart: at(&tlsStart),
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			since(&t.TLS, &tlsStart)
			if err != nil {
				mu.Lock()
				t.Stage = StageTLS
				mu.Unlock()
			}
		},
		GotFirstResponseByte: func() {
			mu.Lock()
			if t.FirstByte == 0 {
				t.FirstByte = time.Since(start)
			}
			mu.Unlock()
		},
	}
	resp, err := l.probeGet(httptrace.WithClientTrace(ctx, trace), m, path, 4<<10)
	mu.Lock()
	r.DNS, r.Connect, r.TLS, r.FirstByte = t.DNS, t.Connect, t.TLS, t.FirstByte
	tlsFailed := t.Stage == StageTLS
	mu.Unlock()
	if err != nil {
		r.Status, r.Err, r.FirstByte = probeStatus(err), err, 0
		r.Stage = stageOf(err, tlsFailed)
		return r
	}
	if r.FirstByte == 0 {
		r.FirstByte = time.Since(start)
	}
	r.Reachable, r.HTTPStatus = true, resp.StatusCode
	switch resp.StatusCode {
	case http.StatusOK:
		r.Status, r.SumDB = "ok", true
	case http.StatusNotFound, http.StatusGone:
		r.Status = "ok"
	default:
		r.Status = resp.Status
		if r.Status == "" {
			r.Status = http.StatusText(resp.StatusCode)
		}
	}
	if l.sample != "" {
		l.probeSample(parent, m, &r)
	}
	return r
}

// probeSample downloads the List's sample file from m, within the probe
// timeout of its own, and records its size and time in r: the
// throughput. A failure is recorded with StageDownload; the mirror still
// answered.
func (l *List) probeSample(parent context.Context, m *mirror, r *ProbeResult) {
	ctx, cancel := context.WithTimeout(parent, l.probeTimeout)
	defer cancel()
	start := time.Now()
	resp, err := l.probeGet(ctx, m, l.sample, 16<<20)
	switch {
	case err != nil:
		r.Stage, r.Err = StageDownload, err
	case resp.StatusCode == http.StatusOK:
		r.Bytes, r.Transfer = resp.ContentLength, time.Since(start)
	}
}

// probeGet sends one request for rel to m, with m's credentials, and reads
// at most limit bytes of the answer, whose size it puts in ContentLength.
// The body is closed.
func (l *List) probeGet(ctx context.Context, m *mirror, rel string, limit int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.urlFor(rel), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", l.userAgent)
	resp, err := l.probes.Do(req)
	if err != nil {
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		return nil, err
	}
	n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, limit))
	resp.Body.Close()
	resp.ContentLength = n
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// stageOf names the step of a request that err ended: DNS, connect, TLS
// (tlsFailed says the trace saw the handshake fail), or, when it got past
// those, the wait for the first byte of the answer.
func stageOf(err error, tlsFailed bool) Stage {
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.As(err, &dns):
		return StageDNS
	case tlsFailed, retry.Certificate(err), strings.Contains(err.Error(), "tls: "), strings.Contains(err.Error(), "TLS handshake"):
		return StageTLS
	case errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect"):
		return StageConnect
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return StageConnect
	}
	return StageFirstByte
}

// probeStatus names the reason a probe got no answer.
func probeStatus(err error) string {
	var dns *net.DNSError
	var rec tls.RecordHeaderError
	switch {
	case errors.As(err, &dns):
		return "DNS failure"
	case retry.Certificate(err):
		return "TLS error"
	case strings.Contains(err.Error(), "TLS handshake timeout"):
		return "TLS handshake timeout"
	case errors.As(err, &rec), strings.HasPrefix(err.Error(), "tls: "), strings.Contains(err.Error(), "remote error: tls"):
		return "TLS error"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return "timeout"
	}
	if errors.Is(err, os.ErrNotExist) {
		return "not found"
	}
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}
