package mirrors

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Scoreboard tuning.
const (
	alpha           = 0.3              // weight of a new sample in the moving averages
	breakerFailures = 3                // failures in a row that set a mirror aside
	breakerCooldown = 30 * time.Second // for this long
	failurePenalty  = 2 * time.Second  // expected cost of a failure: a backoff and another request
	band            = 100 * time.Millisecond
	minRateBytes    = 32 << 10 // bodies smaller than this say nothing about throughput
	smallFileBytes  = 2 << 10  // the size expected of a .info or .mod
	defaultZipBytes = 256 << 10

	// The hedge budget of a mirror: it may take hedgeBurst hedges at
	// once, and earns a tenth of one with every request that is not a
	// hedge, and one a second whatever the traffic (so that the last
	// files of a run, when few requests are left to earn it, are not
	// starved), so that hedges add at most one request in ten, and one a
	// second, to a mirror that is slow for everyone. (Counted in tenths
	// of a hedge.)
	hedgeBurst  = 10
	hedgeCost   = 10 // tenths
	hedgeRefill = time.Second

	// healthyErrs is the largest failure average of a healthy mirror
	// (see fetch.anotherRound).
	healthyErrs = 0.5
)

// score is one mirror's record in this run. Its fields are guarded by
// List.mu.
type score struct {
	lat     time.Duration // moving average of the time to response headers; 0 if unknown
	samples int           // latency samples from real requests (probes not counted)
	rate    float64       // moving average of body throughput in bytes per second; 0 if unknown
	errs    float64       // moving average of failures (1) against answers (0)
	queued  float64       // bytes expected from requests in flight
	running int           // requests in flight, bodies being stored included

	fails     int       // failures in a row
	lastErr   error     // the last of them
	openUntil time.Time // set aside by the circuit breaker until then
	down      error     // unreachable or untrusted: set aside for the run
	// downByProbe says down came from a probe, which a later probe that
	// reaches the mirror may clear.
	downByProbe bool
	lied        error // store rejected its bytes: not asked again while there is another

	delivered int       // files it delivered in this run
	hedgeDebt int       // tenths of hedges taken and not yet earned back; the budget is what is left of hedgeBurst
	hedgeAt   time.Time // when hedgeDebt was last paid down by time

	sumDB bool // its probe says it serves the checksum database
}

func ewma(old, sample float64) float64 { return old + alpha*(sample-old) }

// expectedBytes is what a request for file is expected to bring.
func (l *List) expectedBytes(file string) float64 {
	if file == "zip" {
		return l.zipBytes
	}
	return smallFileBytes
}

// estimate is the time m is expected to take to deliver file now. Under l.mu.
func (l *List) estimate(m *mirror, file string) time.Duration {
	s := m.score
	lat := s.lat
	if lat == 0 {
		lat = l.probeTimeout // not measured: its probe failed or never ran
	}
	e := float64(lat) + s.errs*float64(failurePenalty)
	if s.rate > 0 {
		e += (s.queued + l.expectedBytes(file)) / s.rate * float64(time.Second)
	}
	return time.Duration(e)
}

// bandOf puts d in a band: everything under 100 ms is one band, then each
// band is √2 times wider. Mirrors in one band are taken as equally fast.
func bandOf(d time.Duration) int {
	if d < band {
		return 0
	}
	return 1 + int(2*math.Log2(float64(d)/float64(band)))
}

// setAside returns why m may not be asked now, or nil. Under l.mu.
func (l *List) setAside(m *mirror) error {
	s := m.score
	switch {
	case s.down != nil:
		return &setAsideError{reason: "unreachable", err: s.down}
	case l.now().Before(s.openUntil):
		return &setAsideError{reason: fmt.Sprintf("set aside after %d failures in a row", s.fails), err: s.lastErr}
	}
	return nil
}

// setAsideError is why a mirror was not asked.
type setAsideError struct {
	reason string
	err    error
}

func (e *setAsideError) Error() string {
	if e.err == nil {
		return "not asked: " + e.reason
	}
	return "not asked: " + e.reason + ": " + e.err.Error()
}
func (e *setAsideError) Unwrap() error { return e.err }

// order returns the mirrors of g that file may be asked of now, best first,
// leaving out those in skip. A mirror that lied comes only when nothing
// else is left; those in later (whose bytes for this file were rejected)
// come after the others; sticky, if usable, comes first (a body being
// retried).
func (l *List) order(g *group, file string, skip map[*mirror]bool, sticky *mirror, later map[*mirror]bool) []*mirror {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ok, liars []*mirror
	for _, m := range g.mirrors {
		if skip[m] || l.setAside(m) != nil {
			continue
		}
		if m.score.lied != nil {
			liars = append(liars, m)
			continue
		}
		ok = append(ok, m)
	}
	if len(ok) == 0 {
		ok = liars
	}
	if len(ok) < 2 {
		return ok
	}
	key := make(map[*mirror][2]int, len(ok))
	for _, m := range ok {
		rank, known := g.rank[m]
		if !known {
			rank = len(g.mirrors) + slices.Index(g.mirrors, m)
		}
		key[m] = [2]int{bandOf(l.estimate(m, file)), rank}
	}
	slices.SortStableFunc(ok, func(a, b *mirror) int {
		if later[a] != later[b] {
			if later[a] {
				return 1
			}
			return -1
		}
		ka, kb := key[a], key[b]
		if ka[0] != kb[0] {
			return ka[0] - kb[0]
		}
		return ka[1] - kb[1]
	})
	if i := slices.Index(ok, sticky); i > 0 {
		ok = slices.Insert(slices.Delete(ok, i, i+1), 0, sticky)
	}
	return ok
}

// begin counts a request for file to m as in flight.
func (l *List) begin(m *mirror, file string) {
	l.mu.Lock()
	m.score.queued += l.expectedBytes(file)
	m.score.running++
	l.mu.Unlock()
}

// end takes a request for file off m's queue.
func (l *List) end(m *mirror, file string) {
	l.mu.Lock()
	m.score.queued = max(0, m.score.queued-l.expectedBytes(file))
	m.score.running--
	l.mu.Unlock()
}

// worthWidening reports whether a file from m that one stream would
// finish in alone is worth widening to ranges (see ranged.widen): fewer
// than widenBelow requests are in flight to m, and alone is at least a
// second and eight times m's latency.
func (l *List) worthWidening(m *mirror, alone time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return m.score.running < widenBelow && alone >= max(time.Second, 8*m.score.lat)
}

// answered records that m answered (any status, not-found included) after
// waiting d for the headers.
func (l *List) answered(m *mirror, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := m.score
	if s.samples == 0 {
		s.lat = d
	} else {
		s.lat = time.Duration(ewma(float64(s.lat), float64(d)))
	}
	s.samples++
	s.errs = ewma(s.errs, 0)
}

// slow records that a request to m was abandoned after d without headers
// (it lost a hedge): m takes at least that long.
func (l *List) slow(m *mirror, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := m.score; d > s.lat {
		s.lat = time.Duration(ewma(float64(s.lat), float64(d)))
	}
}

// received records a body of n bytes that took d after the headers, and
// that store kept.
func (l *List) received(m *mirror, file string, n int64, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := m.score
	s.fails = 0
	s.delivered++
	if n >= minRateBytes && d > 0 {
		r := float64(n) / d.Seconds()
		if s.rate == 0 {
			s.rate = r
		} else {
			s.rate = ewma(s.rate, r)
		}
	}
	if file == "zip" {
		l.zipBytes = ewma(l.zipBytes, float64(n))
	}
}

// failed records a failure of m and reports whether it set m aside just
// now. Not-found is an answer, not a failure; a refusal (401, 403) and our
// own cancellation say nothing about m's health.
func (l *List) failed(m *mirror, err error) (setAside bool) {
	if errors.Is(err, context.Canceled) {
		return false
	}
	c := Classify(err)
	l.mu.Lock()
	defer l.mu.Unlock()
	s := m.score
	switch c {
	case NotFound:
		s.fails = 0
		return false
	case Auth:
		return false
	}
	s.errs = ewma(s.errs, 1)
	if c == Unreachable || c == Certificate {
		if s.down == nil {
			s.down = err
			return true
		}
		return false
	}
	s.fails++
	s.lastErr = err
	if s.fails >= breakerFailures && !l.now().Before(s.openUntil) {
		// Set aside, or set aside again after a failed trial.
		s.openUntil = l.now().Add(breakerCooldown)
		return true
	}
	return false
}

// attemptFailed records an attempt of a request to m that failed with err
// while the request goes on to retry, and another mirror was asked too: a
// mirror found unreachable (or untrusted) is set aside for the run at
// once, as when its request ends, and it reports so. Any other failure is
// left for the request's end to record, if it fails.
func (l *List) attemptFailed(m *mirror, err error) (setAside bool) {
	switch Classify(err) {
	case Unreachable, Certificate:
		return l.failed(m, err)
	}
	return false
}

// broke records that a body from m broke or stalled after a 200. That
// demotes m within its group, but does not count towards setting it aside:
// the mirror answers, the link between is what drops, and on a lossy link
// the file's own retries are what gets it through.
func (l *List) broke(m *mirror) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m.score.errs = ewma(m.score.errs, 1)
}

// lied records that store rejected m's bytes.
func (l *List) lied(m *mirror, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m.score.lied == nil {
		m.score.lied = err
	}
}

// rejectedBody records that store rejected a whole body from m, which
// demotes m, and reports whether m is a liar already.
func (l *List) rejectedBody(m *mirror) (liar bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := m.score
	s.errs = ewma(s.errs, 1)
	return s.lied != nil
}

// hasOther reports whether g has a mirror other than m, not in skip, that
// may be asked now and is not a liar.
func (l *List) hasOther(g *group, m *mirror, skip map[*mirror]bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, o := range g.mirrors {
		if o != m && !skip[o] && l.setAside(o) == nil && o.score.lied == nil {
			return true
		}
	}
	return false
}

// healthy reports whether m delivered files in this run, most of its
// recent requests succeeded, and it is neither set aside nor a liar.
func (l *List) healthy(m *mirror) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := m.score
	return s.delivered > 0 && s.errs < healthyErrs && s.lied == nil && l.setAside(m) == nil
}

// earnHedge adds to m's hedge budget for a request that is not a hedge.
func (l *List) earnHedge(m *mirror) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := m.score; s.hedgeDebt > 0 {
		s.hedgeDebt--
	}
}

// mayHedge takes one hedge from m's budget, and reports whether there was
// one to take.
func (l *List) mayHedge(m *mirror) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := m.score
	now := l.now()
	if s.hedgeAt.IsZero() {
		s.hedgeAt = now
	}
	if n := now.Sub(s.hedgeAt) / hedgeRefill; n > 0 {
		if s.hedgeDebt > 0 {
			s.hedgeDebt = max(0, s.hedgeDebt-int(n)*hedgeCost)
		}
		s.hedgeAt = s.hedgeAt.Add(n * hedgeRefill)
	}
	if s.hedgeDebt+hedgeCost > hedgeBurst*hedgeCost {
		return false
	}
	s.hedgeDebt += hedgeCost
	return true
}
