package mirrors

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gomodx/gomodx/retry"
)

// maxLegs is how many requests for one file may be in flight at once: the
// first and one hedge (or a failover while the other still runs).
const maxLegs = 2

// fetch is one file on its way: the state of its walk over the groups.
// Its methods run on the goroutine that called walk, except where noted.
type fetch struct {
	l     *List
	fail  *Error // the attempts so far; Mod and File name the file
	rel   string // path under a mirror's root
	limit int64  // size limit
	store func(io.Reader) error
	start time.Time

	tries     map[*mirror]*atomic.Int32 // requests made to each mirror, retries included
	bodyFails map[*mirror]int           // bodies that broke, per mirror
	pending   *Event                    // a FailedOver or Lied waiting for the next mirror
	local     error                     // store could not keep a good body (a full disk): stop
}

// A Rejection is an error of store's that blames the bytes a mirror served
// (they do not match go.sum, or are not what was asked for), as opposed to
// a failure to keep them, such as a full disk. Only a rejection makes the
// mirror a liar and sends the request to another mirror; any other error
// of store's ends the walk, since no mirror can help with it.
type Rejection interface {
	error
	Rejected() bool
}

// rejected reports whether store's err blames the mirror's bytes.
func rejected(err error) bool {
	var r Rejection
	return errors.As(err, &r) && r.Rejected()
}

// walk gets rel from the groups in order, recording each failure in fail:
// see the package documentation for the rules.
func (l *List) walk(ctx context.Context, fail *Error, rel string, limit int64, store func(io.Reader) error) error {
	return l.walkGroups(ctx, l.groups, fail, rel, limit, store)
}

// walkGroups is walk over some of the groups only.
func (l *List) walkGroups(ctx context.Context, groups []*group, fail *Error, rel string, limit int64, store func(io.Reader) error) error {
	ctx = l.policy.Limit(ctx)
	f := &fetch{
		l: l, fail: fail, rel: rel, limit: limit, store: store, start: time.Now(),
		tries:     map[*mirror]*atomic.Int32{},
		bodyFails: map[*mirror]int{},
	}
	defer f.flush()
	failed := false
	for _, g := range groups {
		if g.keyword() {
			err := ErrOff
			if g.mirrors[0].URL == direct {
				err = ErrDirect
			}
			fail.Attempts = append(fail.Attempts, Attempt{Mirror: g.mirrors[0].URL, Err: err})
			return fail
		}
		ok, notFound := f.group(ctx, g)
		failed = !notFound
		switch {
		case ok:
			return nil
		case f.local != nil, ctx.Err() != nil, retry.CheckLimit(ctx) != nil:
			return fail
		case !notFound && !g.fallBackOnError:
			return f.rescue(ctx)
		}
	}
	if failed {
		return f.rescue(ctx)
	}
	return fail
}

// group tries the mirrors of g until one delivers the file. Otherwise it
// reports whether the group's verdict is not-found (see the package
// documentation).
func (f *fetch) group(ctx context.Context, g *group) (ok, notFound bool) {
	f.l.ranked(ctx, g)
	asked := map[*mirror]error{} // mirrors done with, and their last failure
	var sticky *mirror           // a mirror whose body broke, asked again first
	for ctx.Err() == nil {
		cands := f.l.order(g, f.fail.File, skipSet(asked), sticky)
		if len(cands) == 0 {
			break
		}
		if err := retry.CheckLimit(ctx); err != nil {
			f.record(cands[0], err, asked)
			break
		}
		win := f.race(ctx, g, cands, asked)
		sticky = nil
		if win == nil {
			continue
		}
		done, again := f.deliver(ctx, win, asked)
		if f.local != nil {
			return false, false
		}
		if done {
			return true, false
		}
		sticky = again
	}
	if ctx.Err() != nil && len(asked) == 0 {
		f.fail.Attempts = append(f.fail.Attempts, Attempt{Mirror: g.mirrors[0].redacted, Err: ctx.Err(), Named: g.mirrors[0].named})
		return false, false
	}

	var namedFailed, namedNotFound, extraFailed, extraNotFound bool
	for _, m := range g.mirrors {
		err, wasAsked := asked[m]
		if !wasAsked {
			if !m.named {
				continue // an extra mirror that could not help
			}
			f.l.mu.Lock()
			reason := f.l.setAside(m)
			if reason == nil && m.score.lied != nil {
				reason = &setAsideError{reason: "it served bad data earlier in this run", err: m.score.lied}
			}
			f.l.mu.Unlock()
			if reason != nil {
				f.fail.Attempts = append(f.fail.Attempts, Attempt{Mirror: m.redacted, Err: reason, Named: true})
				namedFailed = true
			}
			continue
		}
		nf := errors.Is(err, fs.ErrNotExist)
		switch {
		case m.named && nf:
			namedNotFound = true
		case m.named:
			namedFailed = true
		case nf:
			extraNotFound = true
		default:
			extraFailed = true
		}
	}
	if g.hasNamed() {
		return false, namedNotFound && !namedFailed
	}
	return false, extraNotFound && !extraFailed
}

func skipSet(asked map[*mirror]error) map[*mirror]bool {
	skip := make(map[*mirror]bool, len(asked))
	for m := range asked {
		skip[m] = true
	}
	return skip
}

// A leg is one request for the file to one mirror.
type leg struct {
	m      *mirror
	cancel context.CancelFunc
	start  time.Time
}

// legResult is how a leg ended: with the body of a 200 response, or err.
type legResult struct {
	*leg
	body io.ReadCloser
	err  error
	at   time.Time // when the headers or the error came
}

// race asks cands[0] for the file, and the next candidate as well when the
// request is slower than that mirror usually is (a hedge) or when it fails
// (a failover), keeping at most maxLegs requests in flight. It returns the
// first leg with a 200 response, after cancelling the others, or nil when
// every leg started has failed (each recorded in asked).
func (f *fetch) race(ctx context.Context, g *group, cands []*mirror, asked map[*mirror]error) *legResult {
	results := make(chan legResult, len(cands))
	var running []*leg
	next := 0
	var hedge *time.Timer
	var hedgeC <-chan time.Time
	defer func() {
		if hedge != nil {
			hedge.Stop()
		}
	}()
	start := func(hedgedFrom *mirror) {
		m := cands[next]
		next++
		f.announce(m, hedgedFrom)
		running = append(running, f.startLeg(ctx, m, results))
		if hedge != nil {
			hedge.Stop()
			hedgeC = nil
		}
		if d := f.l.hedgeDelay(m); d > 0 && next < len(cands) {
			hedge = time.NewTimer(d)
			hedgeC = hedge.C
		}
	}
	canStart := func() bool {
		return next < len(cands) && len(running) < maxLegs && ctx.Err() == nil && retry.CheckLimit(ctx) == nil
	}

	start(nil)
	for len(running) > 0 {
		select {
		case r := <-results:
			running = removeLeg(running, r.leg)
			if r.err == nil {
				f.l.answered(r.m, r.at.Sub(r.start))
				for _, lg := range running {
					lg.cancel()
					f.l.slow(lg.m, time.Since(lg.start))
				}
				go drain(results, len(running), f.l, f.fail.File)
				return &r
			}
			f.legFailed(ctx, g, r, asked)
			if canStart() {
				start(nil)
			}
		case <-hedgeC:
			hedgeC = nil
			if canStart() {
				start(running[len(running)-1].m)
			}
		case <-ctx.Done():
			// The legs end at once, with ctx's error.
			for len(running) > 0 {
				r := <-results
				running = removeLeg(running, r.leg)
				f.legFailed(ctx, g, r, asked)
			}
			return nil
		}
	}
	return nil
}

func removeLeg(legs []*leg, lg *leg) []*leg {
	for i, l := range legs {
		if l == lg {
			return append(legs[:i], legs[i+1:]...)
		}
	}
	return legs
}

// drain collects the n legs that lost a race, closing any body they got.
// It runs on its own goroutine.
func drain(results <-chan legResult, n int, l *List, file string) {
	for range n {
		r := <-results
		if r.body != nil {
			r.body.Close()
		}
		r.cancel()
		l.end(r.m, file)
	}
}

// startLeg sends the request to m on a goroutine of its own; its result
// arrives on results.
func (f *fetch) startLeg(ctx context.Context, m *mirror, results chan<- legResult) *leg {
	ctx, cancel := context.WithCancel(ctx)
	lg := &leg{m: m, cancel: cancel, start: time.Now()}
	tries := f.counter(m)
	tries.Add(1)
	ctx = retry.OnRetry(ctx, func(_ int, err error) {
		// On the leg's goroutine.
		n := tries.Add(1)
		f.l.emit(Event{Kind: Retrying, Mod: f.fail.Mod, File: f.fail.File, Mirror: m.redacted, Attempt: int(n), Err: err})
	})
	f.l.begin(m, f.fail.File)
	go func() {
		body, err := f.l.get(ctx, cancel, m, f.rel)
		results <- legResult{leg: lg, body: body, err: err, at: time.Now()}
	}()
	return lg
}

func (f *fetch) counter(m *mirror) *atomic.Int32 {
	n := f.tries[m]
	if n == nil {
		n = new(atomic.Int32)
		f.tries[m] = n
	}
	return n
}

// announce emits the events for a request about to go to m: the failure
// or rejection it follows, if any, and Started or Hedged.
func (f *fetch) announce(m *mirror, hedgedFrom *mirror) {
	if hedgedFrom != nil {
		f.l.emit(Event{Kind: Hedged, Mod: f.fail.Mod, File: f.fail.File, Mirror: hedgedFrom.redacted, Next: m.redacted})
	} else if f.pending != nil {
		ev := *f.pending
		f.pending = nil
		ev.Next = m.redacted
		f.l.emit(ev)
	}
	if n := f.tries[m]; n == nil || n.Load() == 0 {
		f.l.emit(Event{Kind: Started, Mod: f.fail.Mod, File: f.fail.File, Mirror: m.redacted, Attempt: 1})
	}
}

// flush emits a rejection that no other mirror followed.
func (f *fetch) flush() {
	if f.pending != nil && f.pending.Kind == Lied {
		f.l.emit(*f.pending)
	}
	f.pending = nil
}

// legFailed records the failure of a leg.
func (f *fetch) legFailed(ctx context.Context, g *group, r legResult, asked map[*mirror]error) {
	if r.body != nil {
		r.body.Close()
	}
	r.cancel()
	f.l.end(r.m, f.fail.File)
	if ctx.Err() == nil {
		if _, ok := errors.AsType[*retry.StatusError](r.err); ok {
			f.l.answered(r.m, r.at.Sub(r.start))
		}
		if f.l.failed(r.m, r.err) {
			f.l.setAsideIn(g)
		}
	}
	f.record(r.m, f.giveUp(r.m, r.err, 0), asked)
}

// record marks m as done with for this file, failing with err.
func (f *fetch) record(m *mirror, err error, asked map[*mirror]error) {
	asked[m] = err
	a := Attempt{Mirror: m.redacted, Err: err, Named: m.named}
	f.fail.Attempts = append(f.fail.Attempts, a)
	f.l.log.Debug("mirror failed", "path", f.rel, "mirror", a.Mirror, "error", a.describe())
	f.pending = &Event{Kind: FailedOver, Mod: f.fail.Mod, File: f.fail.File, Mirror: m.redacted, Err: err}
}

// giveUp is err, the last failure of m, with the count of requests made to
// m for this file when there was more than one, as [retry.Policy.Do] counts
// them. A positive limit says the time limit ended the retries.
func (f *fetch) giveUp(m *mirror, err error, limit time.Duration) error {
	tries := int(f.counter(m).Load())
	if gu, ok := err.(*retry.GiveUpError); ok {
		if tries <= gu.Tries && limit == 0 {
			return err
		}
		err, limit = gu.Err, max(limit, gu.Limit)
	}
	if tries > 1 || limit > 0 {
		return &retry.GiveUpError{Tries: max(tries, 1), Err: err, Limit: limit}
	}
	return err
}

// deliver hands the body of the race's winner to store. It reports whether
// the file is done; if not, again is the mirror to ask again first (its
// body broke and it has retries left), or nil.
func (f *fetch) deliver(ctx context.Context, win *legResult, asked map[*mirror]error) (done bool, again *mirror) {
	m := win.m
	body := &limitedBody{r: win.body, left: f.limit, file: fileName(f.rel)}
	err := f.store(body)
	win.body.Close()
	win.cancel()
	f.l.end(m, f.fail.File)
	if body.err == nil && err == nil {
		f.l.received(m, f.fail.File, body.n, time.Since(win.at))
		f.pending = nil
		f.l.emit(Event{Kind: Done, Mod: f.fail.Mod, File: f.fail.File, Mirror: m.redacted, Attempt: int(f.counter(m).Load()), Bytes: body.n, Elapsed: time.Since(f.start)})
		return true, nil
	}
	if ctx.Err() != nil {
		f.record(m, ctx.Err(), asked)
		return false, nil
	}
	if body.err == nil && !rejected(err) {
		// The bytes came whole but could not be kept: not the mirror's
		// doing, and no other mirror can help.
		f.local = err
		f.record(m, err, asked)
		return false, nil
	}
	if body.err == nil {
		// store rejected the bytes: a mirror serving a mismatch, or a
		// body that is no zip. The mirror lied.
		f.l.lied(m, err)
		f.record(m, err, asked)
		f.pending.Kind = Lied
		return false, nil
	}

	// The body broke: retried on the same mirror while the policy allows.
	berr := body.err
	f.l.broke(m)
	f.bodyFails[m]++
	if n := f.bodyFails[m]; retry.Transient(berr) && n <= max(f.l.policy.Retries, 0) {
		if err := f.l.policy.Pause(ctx, n-1); err != nil {
			if le, ok := err.(*retry.LimitError); ok {
				f.record(m, f.giveUp(m, berr, le.Limit), asked)
			} else {
				f.record(m, err, asked)
			}
			return false, nil
		}
		f.l.emit(Event{Kind: Retrying, Mod: f.fail.Mod, File: f.fail.File, Mirror: m.redacted, Attempt: int(f.counter(m).Load()) + 1, Err: berr})
		return false, m
	}
	f.record(m, f.giveUp(m, berr, 0), asked)
	return false, nil
}

// get sends one request for rel to m and returns the body of its 200
// response. Any other status is a *retry.StatusError.
func (l *List) get(ctx context.Context, cancel context.CancelFunc, m *mirror, rel string) (io.ReadCloser, error) {
	if m.base.Scheme == "file" {
		return openFile(ctx, m, rel)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.urlFor(rel), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", l.userAgent)
	resp, err := l.client.Do(req)
	if err != nil {
		// The mirror and file are named by Error; drop `Get "URL": `.
		if ue, ok := err.(*url.Error); ok {
			return nil, ue.Err
		}
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, retry.NewStatusError(resp)
	}
	return l.policy.Body(ctx, cancel, resp.Body), nil
}

// urlFor is the URL of rel under m.
func (m *mirror) urlFor(rel string) string {
	u := *m.base
	u.Path = strings.TrimSuffix(m.base.Path, "/") + "/" + rel
	u.RawPath = strings.TrimSuffix(m.base.RawPath, "/") + "/" + pathEscape(rel)
	return u.String()
}

// hedgeDelay is how long a request to m may wait for its headers before
// the next mirror is asked too; 0 means never.
func (l *List) hedgeDelay(m *mirror) time.Duration {
	if l.hedgeAfter < 0 {
		return 0
	}
	l.mu.Lock()
	lat := m.score.lat
	l.mu.Unlock()
	if lat == 0 {
		return 3 * l.hedgeAfter
	}
	return max(3*lat, l.hedgeAfter)
}

func (l *List) emit(ev Event) {
	if l.onEvent != nil {
		l.onEvent(ev)
	}
}
