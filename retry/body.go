package retry

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// Body wraps a response body so that a read that waits longer than p.Stall
// for any byte returns an error matching [ErrStalled], and so does a body
// that brings less than p.MinRate bytes a second over a Stall window. ctx is the request's
// context and cancel cancels it: that is what unblocks the read. When ctx is
// cancelled by someone else, reads return ctx.Err().
//
// Only time spent inside Read counts, so a slow consumer is not a stall.
// With Stall <= 0, Body returns body itself.
func (p Policy) Body(ctx context.Context, cancel context.CancelFunc, body io.ReadCloser) io.ReadCloser {
	if p.Stall <= 0 {
		return body
	}
	b := &stallBody{body: body, ctx: ctx, cancel: cancel, stall: p.Stall, minRate: p.MinRate, window: time.Now()}
	b.timer = time.AfterFunc(p.Stall, func() {
		b.fired.Store(true)
		cancel()
	})
	b.timer.Stop()
	return b
}

type stallBody struct {
	body    io.ReadCloser
	ctx     context.Context
	cancel  context.CancelFunc
	stall   time.Duration
	minRate int64
	timer   *time.Timer // armed only while a Read waits
	fired   atomic.Bool
	slow    error // set when the body fell below minRate

	window time.Time // start of the current Stall window
	got    int64     // bytes received in it
}

func (b *stallBody) Read(p []byte) (int, error) {
	if b.fired.Load() {
		return 0, b.stalled()
	}
	b.timer.Reset(b.stall)
	n, err := b.body.Read(p)
	if !b.timer.Stop() {
		// The timer went off: the request is being cancelled, and whatever
		// this read returned is not to be trusted.
		b.fired.Store(true)
		return n, b.stalled()
	}
	if err != nil && err != io.EOF && b.ctx.Err() != nil {
		return n, b.ctx.Err()
	}
	if err == nil && b.tooSlow(n) {
		b.cancel()
		return n, b.slow
	}
	return n, err
}

// tooSlow counts n more bytes and reports whether a whole Stall window
// brought fewer than minRate bytes a second.
func (b *stallBody) tooSlow(n int) bool {
	if b.minRate <= 0 {
		return false
	}
	b.got += int64(n)
	elapsed := time.Since(b.window)
	if elapsed < b.stall {
		return false
	}
	if floor := int64(float64(b.minRate) * elapsed.Seconds()); b.got < floor {
		b.fired.Store(true)
		b.slow = fmt.Errorf("%w: %d bytes in %v, below %d bytes/s", ErrStalled, b.got, elapsed.Round(time.Millisecond), b.minRate)
		return true
	}
	b.window, b.got = time.Now(), 0
	return false
}

func (b *stallBody) stalled() error {
	if b.slow != nil {
		return b.slow
	}
	return fmt.Errorf("%w for %v", ErrStalled, b.stall)
}

func (b *stallBody) Close() error {
	b.timer.Stop()
	return b.body.Close()
}
