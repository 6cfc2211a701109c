package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"testing"
	"time"
)

func TestDo(t *testing.T) {
	errBusy := &StatusError{Code: 503, Status: "503 Service Unavailable"}
	tests := []struct {
		name      string
		errs      []error // op's results in turn; nil ends the list
		wantCalls int
		wantIs    error // nil: want success
		wantTries int   // from a *GiveUpError; 0: none
	}{
		{"body broken once then whole", []error{io.ErrUnexpectedEOF, nil}, 2, nil, 0},
		{"not-found not retried", []error{fs.ErrNotExist}, 1, fs.ErrNotExist, 0},
		{"stalled until retries run out", []error{ErrStalled, ErrStalled, ErrStalled, ErrStalled}, 4, ErrStalled, 4},
		{"client give-up not retried again", []error{fmt.Errorf("Get %q: %w", "u", &GiveUpError{Tries: 4, Err: errBusy})}, 1, errBusy, 4},
		{"tries add up", []error{io.ErrUnexpectedEOF, &GiveUpError{Tries: 3, Err: errBusy}}, 2, errBusy, 4},
		{"transient then permanent", []error{io.ErrUnexpectedEOF, fs.ErrNotExist}, 2, fs.ErrNotExist, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := fast().Do(testCtx(t), func(ctx context.Context) error {
				calls++
				if calls > len(tt.errs) {
					t.Fatalf("call %d, only %d expected", calls, len(tt.errs))
				}
				return tt.errs[calls-1]
			})
			if calls != tt.wantCalls {
				t.Errorf("%d calls, want %d", calls, tt.wantCalls)
			}
			if tt.wantIs == nil {
				if err != nil {
					t.Errorf("got %v, want success", err)
				}
				return
			}
			if !errors.Is(err, tt.wantIs) {
				t.Errorf("got %v, want %v", err, tt.wantIs)
			}
			gu, ok := errors.AsType[*GiveUpError](err)
			switch {
			case tt.wantTries == 0 && ok:
				t.Errorf("error %q has a *GiveUpError", err)
			case tt.wantTries > 0 && (!ok || gu.Tries != tt.wantTries):
				t.Errorf("error %q: want *GiveUpError with %d tries", err, tt.wantTries)
			}
		})
	}
}

func TestDoCancelStopsWaiting(t *testing.T) {
	p := fast()
	p.WaitMin, p.WaitMax = time.Hour, time.Hour
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	calls := 0
	done := make(chan error, 1)
	go func() {
		done <- p.Do(ctx, func(ctx context.Context) error {
			calls++
			return io.ErrUnexpectedEOF
		})
	}()
	time.AfterFunc(10*time.Millisecond, cancel)
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Do succeeded")
		}
	case <-testCtx(t).Done():
		t.Fatal("Do still waiting after cancel")
	}
	if calls != 1 {
		t.Errorf("%d calls, want 1", calls)
	}
}

func TestBackoff(t *testing.T) {
	p := Policy{WaitMin: 100 * time.Millisecond, WaitMax: time.Second}
	for attempt, want := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		want *= time.Millisecond
		for range 20 {
			got := p.backoff(attempt)
			if got < want*3/4 || got > min(want*5/4, p.WaitMax) {
				t.Fatalf("backoff(%d) = %v, want %v ±25%% up to %v", attempt, got, want, p.WaitMax)
			}
		}
	}
	if got := (Policy{}).backoff(3); got != 0 {
		t.Errorf("zero policy backoff = %v, want 0", got)
	}
}

func TestWaitRetryAfter(t *testing.T) {
	p := Policy{WaitMin: time.Hour, WaitMax: 2 * time.Hour}
	now := time.Now()
	tests := []struct {
		name   string
		status int
		value  string
		want   time.Duration
	}{
		{"429 zero", 429, "0", 0},
		{"503 seconds", 503, "7", 7 * time.Second},
		{"capped at WaitMax", 429, "86400", 2 * time.Hour},
		{"date in the past", 429, now.Add(-time.Minute).UTC().Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.status, Header: http.Header{"Retry-After": {tt.value}}}
			if got := p.wait(0, resp); got != tt.want {
				t.Errorf("wait = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("future date", func(t *testing.T) {
		d, ok := retryAfter(now.Add(90*time.Second).UTC().Format(http.TimeFormat), now)
		if !ok || d < 88*time.Second || d > 90*time.Second {
			t.Errorf("retryAfter = %v, %v; want about 90s", d, ok)
		}
	})
	t.Run("garbage ignored", func(t *testing.T) {
		if d, ok := retryAfter("soon", now); ok {
			t.Errorf("retryAfter(soon) = %v, true", d)
		}
	})
	t.Run("ignored on 500", func(t *testing.T) {
		resp := &http.Response{StatusCode: 500, Header: http.Header{"Retry-After": {"0"}}}
		if got := p.wait(0, resp); got < 45*time.Minute {
			t.Errorf("wait = %v, want the backoff", got)
		}
	})
}
