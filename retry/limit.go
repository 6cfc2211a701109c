package retry

import (
	"context"
	"net/http"
	"time"
)

// LimitError reports that the time limit of a request ([Policy.MaxTotal])
// ran out before it got an answer.
type LimitError struct {
	Limit time.Duration
}

func (e *LimitError) Error() string {
	return "gave up: time limit of " + e.Limit.String() + " reached"
}

// Timeout and Temporary make a LimitError a timeout, like any other.
func (e *LimitError) Timeout() bool   { return true }
func (e *LimitError) Temporary() bool { return true }

type limitKey struct{}

// limit is the deadline a context carries for [Policy.MaxTotal].
type limit struct {
	deadline time.Time
	d        time.Duration
}

// Limit returns ctx carrying the policy's time limit, [Policy.MaxTotal],
// counted from now. Requests of [Policy.Client] and calls of [Policy.Do]
// under it start no attempt after the limit, cut their wait for response
// headers at it, and give up with a *LimitError or a *GiveUpError whose
// Limit is set. A response body that is arriving is never cut short by the
// limit: Stall watches it instead, so a big download on a slow but working
// link still completes.
//
// The limit is not a context deadline (which would cut the body too); it
// is carried as a value. When ctx already carries a limit, or MaxTotal is
// not positive, Limit returns ctx unchanged.
func (p Policy) Limit(ctx context.Context) context.Context {
	if p.MaxTotal <= 0 || limitFrom(ctx) != nil {
		return ctx
	}
	return context.WithValue(ctx, limitKey{}, &limit{deadline: time.Now().Add(p.MaxTotal), d: p.MaxTotal})
}

func limitFrom(ctx context.Context) *limit {
	l, _ := ctx.Value(limitKey{}).(*limit)
	return l
}

// CheckLimit returns a *LimitError when the time limit that ctx carries
// (see [Policy.Limit]) has passed, and nil otherwise.
func CheckLimit(ctx context.Context) error {
	if l := limitFrom(ctx); l != nil && !time.Now().Before(l.deadline) {
		return &LimitError{Limit: l.d}
	}
	return nil
}

// Pause waits before the retry that follows the failed attempt number
// attempt (0 for the first), with the policy's backoff. It returns ctx.Err()
// when ctx is done first, and a *LimitError at once, without waiting, when
// the retry would start after ctx's time limit.
func (p Policy) Pause(ctx context.Context, attempt int) error {
	d := p.backoff(attempt)
	if l := limitFrom(ctx); l != nil && time.Now().Add(d).After(l.deadline) {
		return &LimitError{Limit: l.d}
	}
	return Sleep(ctx, d)
}

type hookKey struct{}

// OnRetry returns ctx with a function that requests made under it through
// [Policy.Client], and calls of [Policy.Do], call before each retry: attempt
// is the number of the attempt about to start (2 for the first retry) and
// err the reason the previous one failed. f is called on the goroutine
// that makes the request.
func OnRetry(ctx context.Context, f func(attempt int, err error)) context.Context {
	return context.WithValue(ctx, hookKey{}, f)
}

// OnBackoff returns a context under which a [Policy.ClientFor] client calls
// f when an attempt failed and the next one waits for its backoff: the
// server answered (or failed) at once, so the request is not hung while
// it waits. f is called on the goroutine that makes the request.
func OnBackoff(ctx context.Context, f func()) context.Context {
	return context.WithValue(ctx, backoffKey{}, f)
}

type backoffKey struct{}

func backoffHookFrom(ctx context.Context) func() {
	f, _ := ctx.Value(backoffKey{}).(func())
	return f
}

func hookFrom(ctx context.Context) func(int, error) {
	f, _ := ctx.Value(hookKey{}).(func(int, error))
	return f
}

type failKey struct{}

// OnFailure returns ctx with a function that requests made under it through
// [Policy.Client] call when an attempt fails and another is to follow,
// before the wait between them: err is why it failed. A caller that can
// ask elsewhere at once (another mirror) need not sit out the wait. When
// f returns true, and the attempt failed with a response that does not
// ask for a wait (a 5xx; not a 429, nor a Retry-After), the next attempt
// is made at once instead: the caller keeps such retries within a budget
// of its own. f is called on the goroutine that makes the request.
func OnFailure(ctx context.Context, f func(err error) (now bool)) context.Context {
	return context.WithValue(ctx, failKey{}, f)
}

func failHookFrom(ctx context.Context) func(error) bool {
	f, _ := ctx.Value(failKey{}).(func(error) bool)
	return f
}

type stateKey struct{}

// reqState follows one request of a Client through its attempts.
// Attempts are sequential, so it needs no lock.
type reqState struct {
	attempts int   // made so far
	last     error // why the last one failed
	prev     error // why the one before failed
	unsent   bool  // the last attempt was not sent: the time limit had passed
	hook     func(int, error)
	failed   func(error) bool // see OnFailure
	now      bool             // the next attempt is made at once (OnFailure)
	limit    *limit
}

func stateFrom(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

// stateTransport gives each request a reqState that the attempts below
// it record into and the retry policy reads.
type stateTransport struct {
	next http.RoundTripper
}

func (t *stateTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	st := &reqState{hook: hookFrom(ctx), failed: failHookFrom(ctx), limit: limitFrom(ctx)}
	return t.next.RoundTrip(req.WithContext(context.WithValue(ctx, stateKey{}, st)))
}

// limitStop is CheckRetry's verdict that the next attempt would start past
// the time limit; giveUp turns it into a *GiveUpError.
type limitStop struct {
	cause  error // the transport error; nil when the attempt got a response
	d      time.Duration
	unsent bool // the last attempt counted by retryablehttp was never sent
}

func (e *limitStop) Error() string { return (&LimitError{Limit: e.d}).Error() }
