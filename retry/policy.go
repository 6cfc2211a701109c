// Package retry is gomodx's HTTP policy: per-attempt timeouts, stall
// detection for response bodies, backoff with jitter, a time limit per
// request, and the classes of errors worth another attempt.
//
// It knows nothing about modules or mirrors. A [Policy] builds an
// *http.Client on go-retryablehttp ([Policy.Client]) that retries requests
// until response headers arrive; what can go wrong after that (a body cut
// short, a body that stops delivering bytes) is retried as a whole by
// [Policy.Do], with [Policy.Body] turning a silent connection into
// [ErrStalled]. [Policy.Limit] puts a bound on the total time of one
// request across its attempts, and [OnRetry] reports each retry.
//
// The defaults suit a slow, lossy link (300 ms round trips, 1% loss): the
// first retry waits half a second, header waits allow for a handshake that
// loses a packet or two, and only a body silent for 20 s counts as stalled.
package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"
)

// Policy is how hard one mirror is tried for one request.
//
// A field's zero value means zero, not its default: no retries, no wait,
// no timeout, no stall detection. Start from [Default] and override fields.
type Policy struct {
	Retries int           // extra attempts after the first (default 3); negative means 0
	WaitMin time.Duration // first backoff (default 500ms); jittered, doubling up to WaitMax
	WaitMax time.Duration // default 10s; also caps a server's Retry-After
	Timeout time.Duration // per attempt, until response headers arrive (default 30s); 0 means none
	Stall   time.Duration // a body that delivers no bytes for this long is abandoned (default 20s); 0 means never
	// MinRate is the low-speed limit, as cargo's: a body that brings fewer
	// than MinRate bytes a second over a whole Stall window is abandoned
	// too, so a mirror that trickles cannot hold a download forever
	// (default 1 KiB/s). 0 means any progress will do.
	MinRate int64

	// MaxTotal bounds one request across all its attempts (default 5m): no
	// attempt starts after it and no wait for headers goes past it, though
	// a body that keeps arriving is not cut (see [Policy.Limit]). 0 means
	// no bound.
	MaxTotal time.Duration
}

// Default returns the policy gomodx uses unless told otherwise.
func Default() Policy {
	return Policy{
		Retries: 3,
		WaitMin: 500 * time.Millisecond,
		WaitMax: 10 * time.Second,
		Timeout: 30 * time.Second,
		Stall:   20 * time.Second,
		MinRate: 1 << 10,

		MaxTotal: 5 * time.Minute,
	}
}

// retries returns the number of extra attempts, never negative.
func (p Policy) retries() int {
	return max(p.Retries, 0)
}

// backoff returns how long to wait after the failed attempt number attempt
// (0 for the first): WaitMin doubled attempt times, capped at WaitMax, with
// ±25% jitter so that many clients failing together do not retry together.
func (p Policy) backoff(attempt int) time.Duration {
	if p.WaitMin <= 0 {
		return 0
	}
	ceiling := max(p.WaitMax, p.WaitMin)
	d := p.WaitMin
	for i := 0; i < attempt && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	if q := int64(d / 4); q > 0 {
		d += time.Duration(rand.Int64N(2*q+1) - q)
	}
	return min(d, ceiling)
}

// Backoff returns how long to wait after the failed attempt number attempt
// (0 for the first): WaitMin doubled attempt times, capped at WaitMax, with
// ±25% jitter.
func (p Policy) Backoff(attempt int) time.Duration {
	return p.backoff(attempt)
}

// waitBound is the longest wait returns for the same arguments.
func (p Policy) waitBound(attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return min(d, max(p.WaitMax, p.WaitMin, 0))
		}
	}
	if p.WaitMin <= 0 {
		return 0
	}
	ceiling := max(p.WaitMax, p.WaitMin)
	d := p.WaitMin
	for i := 0; i < attempt && d < ceiling; i++ {
		d *= 2
	}
	return min(d+d/4, ceiling)
}

// wait returns how long to wait after the failed attempt number attempt,
// which got resp (nil after a transport error). A Retry-After header on a
// 429 or 503 replaces the backoff, capped at WaitMax: a mirror asking for
// minutes is better left to the next mirror than waited for.
func (p Policy) wait(attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return min(d, max(p.WaitMax, p.WaitMin, 0))
		}
	}
	return p.backoff(attempt)
}

// retryAfter parses a Retry-After value: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	var secs int64
	digits := true
	for _, c := range v {
		if c < '0' || c > '9' {
			digits = false
			break
		}
		secs = secs*10 + int64(c-'0')
		if secs > int64(24*time.Hour/time.Second) {
			return 24 * time.Hour, true
		}
	}
	if digits {
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// Sleep waits for d or until ctx is done, whichever comes first, and
// returns ctx's error in the second case.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Do runs op up to 1+Retries times while its error is [Transient], waiting
// with the policy's backoff between attempts. It is for failures the HTTP
// client cannot retry by itself: a body that breaks after a 200 response.
// op must start from scratch each time.
//
// An error that already carries a [*GiveUpError] (the client ran out of
// retries) is not retried again. When Do gives up on a transient error after
// more than one request, it returns a *GiveUpError counting every request
// made, including the client's own retries; any other error is returned as
// op returned it. Cancelling ctx stops the wait at once.
//
// Do keeps to ctx's time limit, set from MaxTotal by [Policy.Limit] unless
// ctx already has one: it starts no retry that would begin after it, and
// then returns a *GiveUpError whose Limit is set. Before each retry it
// calls the function of [OnRetry], if any.
func (p Policy) Do(ctx context.Context, op func(ctx context.Context) error) error {
	ctx = p.Limit(ctx)
	tries := 0
	for attempt := 0; ; attempt++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		var gu *GiveUpError
		exhausted := errors.As(err, &gu)
		if exhausted {
			tries += gu.Tries
		} else {
			tries++
		}
		if ctx.Err() != nil || !Transient(err) {
			return err
		}
		cause := err
		if exhausted {
			cause = gu.Err
		}
		if exhausted || attempt >= p.retries() {
			if tries > 1 {
				return &GiveUpError{Tries: tries, Err: cause}
			}
			return err
		}
		if err := p.Pause(ctx, attempt); err != nil {
			if le, ok := err.(*LimitError); ok {
				return &GiveUpError{Tries: tries, Err: cause, Limit: le.Limit}
			}
			return err
		}
		if f := hookFrom(ctx); f != nil {
			f(tries+1, cause)
		}
	}
}
