package retry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestClientTimeLimit checks that the time limit cuts a wait for headers
// that Timeout alone would let run.
func TestClientTimeLimit(t *testing.T) {
	srv, hits := server(t, func(n int, w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	p := fast()
	p.MaxTotal = 50 * time.Millisecond
	resp, err := get(p.Limit(testCtx(t)), p.Client(nil), srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatal("got a response")
	}
	if _, ok := errors.AsType[*LimitError](err); !ok {
		t.Errorf("error %v is not a *LimitError", err)
	}
	if !strings.Contains(err.Error(), "time limit of 50ms reached") {
		t.Errorf("error %q does not name the limit", err)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// TestClientTimeLimitStopsRetries checks that no retry starts after the
// time limit, and that the error still says why the requests failed.
func TestClientTimeLimitStopsRetries(t *testing.T) {
	srv, hits := server(t, func(n int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		w.WriteHeader(http.StatusBadGateway)
	})
	p := fast()
	p.Retries = 1000
	p.WaitMin, p.WaitMax = 10*time.Millisecond, 10*time.Millisecond
	p.MaxTotal = 100 * time.Millisecond
	resp, err := get(p.Limit(testCtx(t)), p.Client(nil), srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatal("got a response")
	}
	gu, ok := errors.AsType[*GiveUpError](err)
	if !ok || gu.Limit != p.MaxTotal {
		t.Fatalf("error %v: want a *GiveUpError with the limit", err)
	}
	if se, ok := errors.AsType[*StatusError](err); !ok || se.Code != 502 {
		t.Errorf("error %v does not wrap the 502", err)
	}
	if n := int(hits.Load()); n != gu.Tries || n > 20 {
		t.Errorf("%d requests, %d tries counted", n, gu.Tries)
	}
	if want := fmt.Sprintf(": 502 Bad Gateway (%d tries, time limit of 100ms reached)", gu.Tries); !strings.HasSuffix(err.Error(), want) {
		t.Errorf("error %q, want %q", err, want)
	}
}

// TestClientOnRetry checks that each retry is reported with the reason.
func TestClientOnRetry(t *testing.T) {
	srv, _ := server(t, func(n int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		if n <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	})
	var mu sync.Mutex
	var got []string
	ctx := OnRetry(testCtx(t), func(attempt int, err error) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, fmt.Sprint(attempt, " ", err))
	})
	resp, err := get(ctx, fast().Client(nil), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if want := "2 503 Service Unavailable|3 503 Service Unavailable"; strings.Join(got, "|") != want {
		t.Errorf("retries reported: %q, want %q", strings.Join(got, "|"), want)
	}
}

// TestClientOnFailure checks that a failed attempt is reported before the
// wait for the next one, and only when there is a next one: a caller can
// ask elsewhere instead of waiting.
func TestClientOnFailure(t *testing.T) {
	srv, hits := server(t, func(n int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		w.WriteHeader(http.StatusBadGateway)
	})
	p := fast()
	p.Retries = 2
	p.WaitMin, p.WaitMax = time.Hour, time.Hour // the wait would trip the test's deadline
	failed := make(chan error, 10)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	ctx = OnFailure(ctx, func(err error) bool { failed <- err; return false })
	done := make(chan error, 1)
	go func() {
		resp, err := get(ctx, p.Client(nil), srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case err := <-failed:
		if se, ok := errors.AsType[*StatusError](err); !ok || se.Code != 502 {
			t.Errorf("reported %v, want the 502", err)
		}
	case <-testCtx(t).Done():
		t.Fatal("the failure was not reported before the wait")
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("%d requests when the failure was reported, want 1", n)
	}
	cancel()
	<-done

	// The last attempt's failure has no retry after it: not reported.
	p.Retries = 0
	failed = make(chan error, 10)
	ctx = OnFailure(testCtx(t), func(err error) bool { failed <- err; return false })
	if resp, err := get(ctx, p.Client(nil), srv.URL); err == nil {
		resp.Body.Close()
		t.Fatal("got a response")
	}
	if len(failed) != 0 {
		t.Errorf("%d failures reported without a retry to follow, want none", len(failed))
	}
}

// TestClientOnFailureNow checks that a failure whose OnFailure function
// asks for the next attempt at once gets it without the wait (an hour
// here, which would trip the test's deadline), once, and that a 429 still
// gets its wait.
func TestClientOnFailureNow(t *testing.T) {
	srv, hits := server(t, func(n int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		switch {
		case r.URL.Path == "/429":
			w.WriteHeader(http.StatusTooManyRequests)
		case n == 1:
			w.WriteHeader(http.StatusBadGateway)
		default:
			io.WriteString(w, "ok")
		}
	})
	p := fast()
	p.WaitMin, p.WaitMax = time.Hour, time.Hour
	calls := 0
	ctx := OnFailure(testCtx(t), func(error) bool { calls++; return true })
	resp, err := get(ctx, p.Client(nil), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := hits.Load(); n != 2 || calls != 1 {
		t.Errorf("%d requests, OnFailure called %d times; want 2, 1", n, calls)
	}

	// A 429 asks for fewer requests: the wait stands.
	hits.Store(0)
	failed := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	ctx = OnFailure(ctx, func(error) bool { failed <- struct{}{}; return true })
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := get(ctx, p.Client(nil), srv.URL+"/429"); err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-failed:
	case <-testCtx(t).Done():
		t.Fatal("the 429 was not reported")
	}
	// Give a wrong retry time to happen. (A slow machine can only hide a
	// bug here, not fail the test.)
	time.Sleep(50 * time.Millisecond)
	if n := hits.Load(); n != 1 {
		t.Errorf("%d requests after a 429, want 1 before the wait", n)
	}
	cancel()
	<-done
}

// TestDoTimeLimit checks that Do starts no retry that would begin after
// the limit.
func TestDoTimeLimit(t *testing.T) {
	p := fast()
	p.WaitMin, p.WaitMax = time.Hour, time.Hour
	p.MaxTotal = time.Second
	calls := 0
	var reported []int
	ctx := OnRetry(testCtx(t), func(attempt int, _ error) { reported = append(reported, attempt) })
	err := p.Do(ctx, func(ctx context.Context) error {
		calls++
		return io.ErrUnexpectedEOF
	})
	gu, ok := errors.AsType[*GiveUpError](err)
	if !ok || gu.Limit != time.Second || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Do = %v, want a *GiveUpError for the limit", err)
	}
	if err.Error() != "unexpected EOF (time limit of 1s reached)" {
		t.Errorf("error %q", err)
	}
	if calls != 1 || len(reported) != 0 {
		t.Errorf("%d calls, retries reported %v; want 1, none", calls, reported)
	}
}

func TestDoOnRetry(t *testing.T) {
	var reported []string
	ctx := OnRetry(testCtx(t), func(attempt int, err error) { reported = append(reported, fmt.Sprint(attempt, " ", err)) })
	calls := 0
	err := fast().Do(ctx, func(ctx context.Context) error {
		calls++
		if calls < 3 {
			return io.ErrUnexpectedEOF
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "2 unexpected EOF|3 unexpected EOF"; strings.Join(reported, "|") != want {
		t.Errorf("reported %q, want %q", strings.Join(reported, "|"), want)
	}
}

func TestPause(t *testing.T) {
	p := Policy{WaitMin: time.Hour, WaitMax: time.Hour, MaxTotal: time.Minute}
	ctx := p.Limit(testCtx(t))
	if err := p.Pause(ctx, 0); !errors.As(err, new(*LimitError)) {
		t.Errorf("Pause past the limit = %v, want a *LimitError at once", err)
	}
	if err := CheckLimit(ctx); err != nil {
		t.Errorf("CheckLimit = %v before the limit", err)
	}
	past := Policy{MaxTotal: time.Nanosecond}.Limit(context.Background())
	time.Sleep(time.Millisecond)
	if err := CheckLimit(past); err == nil {
		t.Error("CheckLimit = nil after the limit")
	}
	if err := (Policy{WaitMin: time.Millisecond}).Pause(testCtx(t), 0); err != nil {
		t.Errorf("Pause without a limit = %v", err)
	}
	// A limit already in the context is kept.
	if got := (Policy{MaxTotal: time.Hour}).Limit(past); CheckLimit(got) == nil {
		t.Error("Limit replaced the outer limit")
	}
}

func TestUnreachableAndCertificate(t *testing.T) {
	dial := func(err error) error { return &net.OpError{Op: "dial", Net: "tcp", Err: err} }
	tests := []struct {
		name                     string
		err                      error
		unreachable, certificate bool
	}{
		{"no such host", dial(&net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}), true, false},
		{"DNS timeout", dial(&net.DNSError{Err: "i/o timeout", Name: "x", IsTimeout: true}), false, false},
		{"refused", dial(&os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}), true, false},
		{"no route", dial(&os.SyscallError{Syscall: "connect", Err: syscall.EHOSTUNREACH}), true, false},
		{"TLS handshake timeout", errors.New("net/http: TLS handshake timeout"), true, false},
		{"reset", dial(&os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}), false, false},
		{"unknown authority", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, false, true},
		{"503", &StatusError{Code: 503}, false, false},
		{"nil", nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Unreachable(tt.err); got != tt.unreachable {
				t.Errorf("Unreachable = %v", got)
			}
			if got := Certificate(tt.err); got != tt.certificate {
				t.Errorf("Certificate = %v", got)
			}
		})
	}
}
