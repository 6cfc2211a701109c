package mirrors

import (
	"context"
	"errors"
	"hash/maphash"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gomodx/gomodx/retry"
)

// maxLegs is how many requests for one file may be in flight at once: the
// first, a hedge, and a second hedge when both hang (or a failover while
// the others still run).
const maxLegs = 3

// fetch is one file on its way: the state of its walk over the groups.
// Its methods run on the goroutine that called walk, except where noted.
type fetch struct {
	l     *List
	fail  *Error // the attempts so far; Mod and File name the file
	rel   string // path under a mirror's root
	limit int64  // size limit
	store func(io.Reader) error
	start time.Time
	seed  maphash.Seed // for the digests of rejected bodies

	tries     map[*mirror]*atomic.Int32 // requests made to each mirror, retries included
	bodyFails map[*mirror]int           // bodies that broke or were rejected, per mirror
	rejects   map[*mirror][]digest      // the bodies of each mirror that store rejected
	fresh     map[*mirror]bool          // ask m on a new connection: its bytes were rejected
	later     map[*mirror]bool          // ask the group's other mirrors before m: its bytes were rejected
	rounds    map[*mirror]bool          // m had its second round (see anotherRound)
	noRanges  map[*mirror]bool          // m answered a range request wrongly: one stream only
	noMix     bool                      // bytes mixed from several mirrors were rejected: ranges from one mirror only
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
		seed:      maphash.MakeSeed(),
		tries:     map[*mirror]*atomic.Int32{},
		bodyFails: map[*mirror]int{},
		rejects:   map[*mirror][]digest{},
		fresh:     map[*mirror]bool{},
		later:     map[*mirror]bool{},
		rounds:    map[*mirror]bool{},
		noRanges:  map[*mirror]bool{},
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
		cands := f.l.order(g, f.fail.File, skipSet(asked), sticky, f.later)
		if len(cands) == 0 {
			if sticky = f.anotherRound(ctx, g, asked); sticky != nil {
				continue
			}
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
		done, again := f.deliver(ctx, g, win, asked)
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
	m       *mirror
	cancel  context.CancelFunc
	start   time.Time
	fresh   bool         // sent on a connection of its own
	attempt atomic.Int64 // when its latest attempt was sent (UnixNano): retries wait first
	backoff atomic.Bool  // its latest attempt failed and the next waits for its backoff
}

// waited is how long the leg's latest attempt has waited for its headers
// at t, so that a mirror's latency is that of one request, not of one
// request and the backoffs before its retries.
func (lg *leg) waited(t time.Time) time.Duration {
	return t.Sub(time.Unix(0, lg.attempt.Load()))
}

// legFailure is an attempt of a leg that failed with err, the leg going
// on to retry after its backoff.
type legFailure struct {
	*leg
	err error
}

// legResult is how a leg ended: with a 200 response, or err.
type legResult struct {
	*leg
	response
	err error
	at  time.Time // when the headers or the error came
}

// response is what a leg keeps of a 200 response.
type response struct {
	body   io.ReadCloser
	size   int64    // its Content-Length, or -1
	ranges bool     // it says Accept-Ranges: bytes
	etag   string   // its strong ETag, if any
	url    *url.URL // where it came from, after redirects
}

// race asks cands[0] for the file, and another leg as well when the
// request is slower than that mirror usually is (a hedge) or when it fails
// (a failover), keeping at most maxLegs requests in flight. A hedge goes
// to the next candidate, or, when there is none, to the same mirror on a
// new connection: a request that hangs is most often one stuck connection
// or one stuck server behind the mirror's load balancer, not the mirror.
// Each hedge spends from its mirror's hedge budget. race returns the first
// leg with a 200 response, after cancelling the others, or nil when every
// leg started has failed (each recorded in asked).
func (f *fetch) race(ctx context.Context, g *group, cands []*mirror, asked map[*mirror]error) *legResult {
	results := make(chan legResult, len(cands)+maxLegs)
	// failing gets a leg whose attempt failed and which now waits to
	// retry: its answer is at least a backoff away, so when the group has
	// another mirror to ask, that one is asked at once.
	failing := make(chan legFailure, maxLegs)
	var running []*leg
	next := 0
	var hedge *time.Timer
	var hedgeC <-chan time.Time
	defer func() {
		if hedge != nil {
			hedge.Stop()
		}
	}()
	start := func(m, hedgedFrom *mirror, fresh bool) {
		f.announce(m, hedgedFrom)
		running = append(running, f.startLeg(ctx, m, fresh, hedgedFrom != nil, next >= len(cands), results, failing))
		if hedge != nil {
			hedge.Stop()
			hedgeC = nil
		}
		if f.l.hedgeAfter > 0 {
			// The least delay there can be: when it fires, the delay is
			// worked out with what is known of m by then.
			hedge = time.NewTimer(f.l.hedgeAfter)
			hedgeC = hedge.C
		}
	}
	mayStart := func() bool {
		return len(running) < maxLegs && ctx.Err() == nil && retry.CheckLimit(ctx) == nil
	}
	startNext := func(hedgedFrom *mirror) {
		m := cands[next]
		next++
		start(m, hedgedFrom, f.fresh[m])
	}
	// hedgeFrom sends the request of a leg to from to the next candidate, or
	// to from again on a new connection when there is none, if the
	// budget of the mirror asked allows; it reports whether it did.
	hedgeFrom := func(from *mirror) bool {
		switch {
		case next < len(cands) && f.l.mayHedge(cands[next]):
			startNext(from)
		case next >= len(cands) && f.l.mayHedge(from):
			start(from, from, true)
		default:
			return false
		}
		return true
	}

	startNext(nil)
	for len(running) > 0 {
		select {
		case r := <-results:
			running = removeLeg(running, r.leg)
			if r.err == nil {
				f.l.answered(r.m, r.waited(r.at))
				for _, lg := range running {
					lg.cancel()
					if lg.m != r.m {
						// The other mirror takes at least that long. (A
						// leg lost to the same mirror says nothing of it.)
						f.l.slow(lg.m, time.Since(lg.start))
					}
				}
				go drain(results, len(running), f.l, f.fail.File)
				return &r
			}
			f.legFailed(ctx, g, r, asked)
			if next < len(cands) && mayStart() {
				startNext(nil)
			}
		case <-hedgeC:
			hedgeC = nil
			if !mayStart() {
				break
			}
			last := running[len(running)-1]
			from := last.m
			if last.backoff.Load() {
				// The mirror answers, with failures; the leg waits to try
				// again. Look again once its retry has waited as long.
				hedge.Reset(f.l.hedgeDelay(from))
				hedgeC = hedge.C
				break
			}
			if left := f.l.hedgeDelay(from) - last.waited(time.Now()); left > 0 {
				// Not yet: the mirror's latency is known to be longer
				// now, or the leg's retry has only just been sent.
				hedge.Reset(left)
				hedgeC = hedge.C
				break
			}
			if !hedgeFrom(from) {
				// No budget now: look again after the same delay, when
				// other requests may have earned some.
				hedge.Reset(f.l.hedgeDelay(from))
				hedgeC = hedge.C
			}
		case lf := <-failing:
			if !slices.Contains(running, lf.leg) || next >= len(cands) || !mayStart() || f.l.hedgeAfter <= 0 {
				break
			}
			// An early failover: the request the failover would send
			// after the leg's last retry, sent now, to the next mirror
			// of the group. It takes no hedge budget, since it adds no
			// request to what a failover sends: the leg's own retry,
			// after its backoff (which a failing mirror is owed), is
			// cancelled if the next mirror answers first.
			f.pending = &Event{Kind: FailedOver, Mod: f.fail.Mod, File: f.fail.File, Mirror: lf.m.redacted, Err: lf.err}
			startNext(nil)
			if f.l.attemptFailed(lf.m, lf.err) {
				// Heard now, as a failover would hear it: the leg may
				// yet lose the race, and a loser's failure is not
				// recorded when it ends.
				f.l.setAsideIn(g)
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

// startLeg sends the request to m on a goroutine of its own, on a new
// connection if fresh; its result arrives on results. Each time one of its
// attempts fails and a retry is to follow, the failure goes to failing,
// unless m is the last mirror left to ask (last): the retry then goes at
// once, as a hedge would, within m's hedge budget (see retryAtOnce). A
// request that is not a hedge earns m a little hedge budget.
func (f *fetch) startLeg(ctx context.Context, m *mirror, fresh, hedge, last bool, results chan<- legResult, failing chan<- legFailure) *leg {
	ctx, cancel := context.WithCancel(ctx)
	lg := &leg{m: m, cancel: cancel, start: time.Now(), fresh: fresh}
	lg.attempt.Store(lg.start.UnixNano())
	if !hedge {
		f.l.earnHedge(m)
	}
	tries := f.counter(m)
	tries.Add(1)
	ctx = retry.OnBackoff(ctx, func() {
		// The mirror answered (with a failure): waiting for the retry is
		// no hang to hedge.
		lg.backoff.Store(true)
	})
	ctx = retry.OnRetry(ctx, func(_ int, err error) {
		// On the leg's goroutine, after the backoff, as the retry is sent.
		lg.backoff.Store(false)
		lg.attempt.Store(time.Now().UnixNano())
		n := tries.Add(1)
		f.l.emit(Event{Kind: Retrying, Mod: f.fail.Mod, File: f.fail.File, Mirror: m.redacted, Attempt: int(n), Err: err})
	})
	ctx = retry.OnFailure(ctx, func(err error) bool {
		if last {
			return f.retryAtOnce(m, err)
		}
		select {
		case failing <- legFailure{lg, err}:
		default: // as many failures wait to be seen as can be
		}
		return false
	})
	f.l.begin(m, f.fail.File)
	go func() {
		resp, err := f.l.get(ctx, cancel, m, f.rel, fresh)
		results <- legResult{leg: lg, response: resp, err: err, at: time.Now()}
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
			f.l.answered(r.m, r.waited(r.at))
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
// body broke or was rejected and it has retries left), or nil.
func (f *fetch) deliver(ctx context.Context, g *group, win *legResult, asked map[*mirror]error) (done bool, again *mirror) {
	m := win.m
	body := f.body(ctx, g, win)
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
	if body.err == nil && body.mixed() && !f.noMix {
		// Bytes from several mirrors of the same size, and they do not
		// verify: who is to blame is not known. Asked for again from m
		// alone, which then answers for its own bytes.
		f.noMix = true
		f.bodyFails[m]++
		f.l.emit(Event{Kind: Retrying, Mod: f.fail.Mod, File: f.fail.File, Mirror: m.redacted, Attempt: int(f.counter(m).Load()) + 1, Err: err})
		return false, m
	}
	if body.err == nil {
		return false, f.rejected(ctx, g, m, err, body.digest(), asked)
	}
	if errors.Is(body.err, errNoRanges) {
		// The mirror said it serves ranges, then did not: the file is
		// fetched again in one stream, at once.
		f.noRanges[m] = true
		f.l.emit(Event{Kind: Retrying, Mod: f.fail.Mod, File: f.fail.File, Mirror: m.redacted, Attempt: int(f.counter(m).Load()) + 1, Err: body.err})
		return false, m
	}

	// The body broke: the group's next mirror is asked at once, as after
	// a failed attempt (see race), else the same mirror again after the
	// backoff, while the policy allows.
	berr := body.err
	f.l.broke(m)
	f.bodyFails[m]++
	if n := f.bodyFails[m]; retry.Transient(berr) && n <= max(f.l.policy.Retries, 0) {
		if !f.later[m] && f.l.hedgeAfter > 0 && f.l.hasOther(g, m, skipSet(asked)) {
			f.later[m] = true
			f.pending = &Event{Kind: FailedOver, Mod: f.fail.Mod, File: f.fail.File, Mirror: m.redacted, Err: berr}
			return false, nil
		}
		if !f.atOnce(m) && !f.pause(ctx, m, n-1, berr, asked) {
			return false, nil
		}
		f.l.emit(Event{Kind: Retrying, Mod: f.fail.Mod, File: f.fail.File, Mirror: m.redacted, Attempt: int(f.counter(m).Load()) + 1, Err: berr})
		return false, m
	}
	f.record(m, f.giveUp(m, berr, 0), asked)
	return false, nil
}

// pause waits before m is asked again after the failed attempt number
// attempt, and reports whether it may be. If not (the time limit, or ctx
// is done), m's failure is recorded: cause, with the limit if it was that.
func (f *fetch) pause(ctx context.Context, m *mirror, attempt int, cause error, asked map[*mirror]error) bool {
	err := f.l.policy.Pause(ctx, attempt)
	if err == nil {
		return true
	}
	if le, ok := err.(*retry.LimitError); ok {
		f.record(m, f.giveUp(m, cause, le.Limit), asked)
	} else {
		f.record(m, err, asked)
	}
	return false
}

// rejected handles store's rejection of a whole body from m (it does not
// match go.sum, or is not what was asked for), and returns m if m is to be
// asked again at once.
//
// A rejected body from a mirror that serves good bytes most of the time is
// far more likely a fault on the way (a cut file passed off as whole, one
// bad server behind the mirror) than a lie, so m is asked again, on a new
// connection, within the same budget as a body that broke; when the group
// has another mirror, that one is asked first. m is a liar (the rejection
// is final for this file, and m is the group's last resort from now on)
// when it serves the same rejected bytes twice, when its bytes keep failing
// until the file's retries run out, or when it is a liar already. So a
// mirror that serves tampered bytes ends with the rejection after its
// second request, and nothing that does not verify is ever kept.
func (f *fetch) rejected(ctx context.Context, g *group, m *mirror, err error, d digest, asked map[*mirror]error) *mirror {
	f.bodyFails[m]++
	n := f.bodyFails[m]
	repeated := slices.Contains(f.rejects[m], d)
	f.rejects[m] = append(f.rejects[m], d)
	liar := f.l.rejectedBody(m)
	if liar || repeated || n > max(f.l.policy.Retries, 0) {
		f.l.lied(m, err)
		f.record(m, err, asked)
		f.pending.Kind = Lied
		return nil
	}
	f.fresh[m] = true
	if f.l.hasOther(g, m, skipSet(asked)) {
		f.later[m] = true
		f.pending = &Event{Kind: Lied, Mod: f.fail.Mod, File: f.fail.File, Mirror: m.redacted, Err: err}
		return nil
	}
	if !f.atOnce(m) && !f.pause(ctx, m, n-1, err, asked) {
		return nil
	}
	f.l.emit(Event{Kind: Retrying, Mod: f.fail.Mod, File: f.fail.File, Mirror: m.redacted, Attempt: int(f.counter(m).Load()) + 1, Err: err})
	return m
}

// atOnce reports whether m, the mirror left to ask again for the file
// after its body broke or was rejected, is asked at once, on a new
// connection, rather than after the backoff: as a hedge, within m's
// hedge budget, so that a mirror failing everything is not hammered.
func (f *fetch) atOnce(m *mirror) bool {
	if !f.retryAtOnce(m, nil) {
		return false
	}
	f.fresh[m] = true
	return true
}

// retryAtOnce reports whether a request to m, the last mirror left to ask,
// whose attempt failed with err, is retried at once rather than after the
// backoff: within m's hedge budget (about one request in ten), so that a
// mirror failing everything is not hammered, and never after a 429, which
// asks for fewer requests. One failure is most often one bad server
// behind the mirror, or one bad connection.
func (f *fetch) retryAtOnce(m *mirror, err error) bool {
	return f.l.hedgeAfter > 0 && !tooManyRequests(err) && f.l.mayHedge(m)
}

// tooManyRequests reports whether err is a 429 answer.
func tooManyRequests(err error) bool {
	se, ok := errors.AsType[*retry.StatusError](err)
	return ok && se.Code == http.StatusTooManyRequests
}

// anotherRound picks a mirror of g to ask once more after every mirror
// that could be asked has failed: one whose last failure is transient (5xx,
// resets, timeouts) and which is healthy, that is, it delivered files in
// this run, most of its recent requests succeeded, and it is neither set
// aside nor a liar. A mirror that serves most requests, and is the only one
// left, is worth a second round of retries for a file that had bad luck
// (four 502s in a row from a mirror failing one request in ten happen one
// file in ten thousand); each mirror gets at most one per file, and the
// time limit still bounds the file. It returns nil when there is none, and
// otherwise has paused and announced the retry.
func (f *fetch) anotherRound(ctx context.Context, g *group, asked map[*mirror]error) *mirror {
	if retry.CheckLimit(ctx) != nil || ctx.Err() != nil {
		return nil
	}
	for _, m := range g.mirrors {
		err, ok := asked[m]
		if !ok || f.rounds[m] || Classify(err) != Transient || limited(err) || !f.l.healthy(m) {
			continue
		}
		f.rounds[m] = true
		cause := err
		if gu, ok := err.(*retry.GiveUpError); ok {
			cause = gu.Err
		}
		if f.l.policy.Pause(ctx, 0) != nil {
			return nil
		}
		delete(asked, m)
		f.fail.Attempts = slices.DeleteFunc(f.fail.Attempts, func(a Attempt) bool { return a.Mirror == m.redacted })
		f.pending = nil
		f.l.emit(Event{Kind: Retrying, Mod: f.fail.Mod, File: f.fail.File, Mirror: m.redacted, Attempt: int(f.counter(m).Load()) + 1, Err: cause})
		return m
	}
	return nil
}

// limited reports whether err says the time limit ended the tries.
func limited(err error) bool {
	if gu, ok := errors.AsType[*retry.GiveUpError](err); ok && gu.Limit > 0 {
		return true
	}
	_, ok := errors.AsType[*retry.LimitError](err)
	return ok
}

// get sends one request for rel to m and returns the body of its 200
// response. Any other status is a *retry.StatusError. With fresh, the
// request goes on a connection of its own, never one shared with another
// request (see [List.freshClient]).
func (l *List) get(ctx context.Context, cancel context.CancelFunc, m *mirror, rel string, fresh bool) (response, error) {
	if m.base.Scheme == "file" {
		f, err := openFile(ctx, m, rel)
		return response{body: f, size: -1}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.urlFor(rel), nil)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("User-Agent", l.userAgent)
	client := l.client
	if fresh && l.fresh != nil {
		client = l.fresh
	}
	resp, err := client.Do(req)
	if err != nil {
		// The mirror and file are named by Error; drop `Get "URL": `.
		if ue, ok := err.(*url.Error); ok {
			return response{}, ue.Err
		}
		return response{}, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return response{}, retry.NewStatusError(resp)
	}
	return response{
		body:   l.policy.Body(ctx, cancel, resp.Body),
		size:   resp.ContentLength,
		ranges: resp.Header.Get("Accept-Ranges") == "bytes" && !resp.Uncompressed,
		etag:   strongETag(resp.Header.Get("ETag")),
		url:    resp.Request.URL,
	}, nil
}

// urlFor is the URL of rel under m.
func (m *mirror) urlFor(rel string) string {
	u := *m.base
	u.Path = strings.TrimSuffix(m.base.Path, "/") + "/" + rel
	u.RawPath = strings.TrimSuffix(m.base.RawPath, "/") + "/" + pathEscape(rel)
	return u.String()
}

// hedgeDelay is how long a request to m may wait for its headers before
// another request is sent too (3 times m's usual latency, at least
// hedgeAfter; 3 times hedgeAfter while m's latency is unknown); 0 means
// never.
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
