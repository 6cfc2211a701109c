package retry

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// Body wraps a response body so that a read that waits longer than p.Stall
// for any byte returns an error matching [ErrStalled]. ctx is the request's
// context and cancel cancels it: that is what unblocks the read. When ctx is
// cancelled by someone else, reads return ctx.Err().
//
// Only time spent inside Read counts, so a slow consumer is not a stall.
// With Stall <= 0, Body returns body itself.
func (p Policy) Body(ctx context.Context, cancel context.CancelFunc, body io.ReadCloser) io.ReadCloser {
	if p.Stall <= 0 {
		return body
	}
	b := &stallBody{body: body, ctx: ctx, stall: p.Stall}
	b.timer = time.AfterFunc(p.Stall, func() {
		b.fired.Store(true)
		cancel()
	})
	b.timer.Stop()
	return b
}

type stallBody struct {
	body  io.ReadCloser
	ctx   context.Context
	stall time.Duration
	timer *time.Timer // armed only while a Read waits
	fired atomic.Bool
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
	return n, err
}

func (b *stallBody) stalled() error {
	return fmt.Errorf("%w for %v", ErrStalled, b.stall)
}

func (b *stallBody) Close() error {
	b.timer.Stop()
	return b.body.Close()
}
