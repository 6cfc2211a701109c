package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// NewTransport returns the transport gomodx uses for every mirror:
// HTTPS_PROXY and friends from the environment, keep-alive and HTTP/2 with
// a health check, so that a connection that died silently (a NAT timeout,
// a filtering middlebox) is noticed within seconds instead of hanging every
// request multiplexed on it. Limits suit a 300 ms, lossy link: 30 s to
// connect and 10 s for the TLS handshake.
//
// Share one transport between a [Policy.ClientFor] client and any plain
// client (such as a probe), so that their connections are reused.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		HTTP2: &http.HTTP2Config{
			SendPingTimeout: 15 * time.Second, // ping a connection silent this long
			PingTimeout:     10 * time.Second, // and close it if the ping goes unanswered
		},
	}
}

// Client returns an *http.Client on a new [NewTransport]; see
// [Policy.ClientFor].
func (p Policy) Client(logger *slog.Logger) *http.Client {
	return p.ClientFor(NewTransport(), logger)
}

// ClientFor returns an *http.Client over rt that retries a request with the
// policy's backoff after a [Transient] failure: 408, 429 and 5xx responses,
// resets, refused connections, timeouts and HTTP/2 stream errors. It honours
// Retry-After (up to WaitMax) and applies Timeout to each attempt until its
// response headers arrive. Certificate errors and cancellation of the
// request's context are never retried. Under a context from [Policy.Limit]
// it also keeps to the time limit, and under one from [OnRetry] it reports
// each retry.
//
// Any status it does not retry (2xx, 3xx it cannot follow, 404, 410 and the
// other 4xx) comes back as a response, as from any *http.Client. When
// retries run out on a retryable status, the error wraps a [*StatusError]
// instead; when more than one request was made, it also wraps a
// [*GiveUpError] with their count.
//
// Redirects from https to http are refused, as the go command refuses them.
// logger, if not nil, gets a debug line per retry, in gomodx's own words;
// go-retryablehttp itself is given no logger, so that nothing it would
// print (its "request failed" lines, with their own format and levels)
// reaches the user.
func (p Policy) ClientFor(rt http.RoundTripper, logger *slog.Logger) *http.Client {
	rc := &retryablehttp.Client{
		HTTPClient: &http.Client{
			Transport:     &attemptTransport{base: rt, timeout: p.Timeout},
			CheckRedirect: CheckRedirect,
		},
		RetryWaitMin: p.WaitMin,
		RetryWaitMax: p.WaitMax,
		RetryMax:     p.retries(),
		CheckRetry:   p.checkRetry,
		Backoff: func(_, _ time.Duration, attempt int, resp *http.Response) time.Duration {
			return p.backoffFor(attempt, resp)
		},
		ErrorHandler: giveUp,
		RequestLogHook: func(_ retryablehttp.Logger, req *http.Request, n int) {
			reportRetry(logger, req, n)
		},
		// Logger stays nil: retryablehttp then logs nothing.
	}
	return &http.Client{Transport: &stateTransport{next: &retryablehttp.RoundTripper{Client: rc}}}
}

// checkRetry is the retryablehttp.CheckRetry of [Policy.ClientFor].
func (p Policy) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	var retryable bool
	if err != nil {
		if le, ok := errors.AsType[*LimitError](err); ok {
			// The limit cut this attempt short: the one before says
			// what was wrong.
			if st := stateFrom(ctx); st != nil && st.prev != nil {
				return false, &limitStop{cause: st.prev, d: le.Limit, unsent: st.unsent}
			}
			return false, nil
		}
		retryable = Transient(err)
	} else {
		retryable = retryableStatus(resp.StatusCode)
	}
	if !retryable {
		return false, nil
	}
	st := stateFrom(ctx)
	if st != nil && st.limit != nil && st.attempts <= p.retries() {
		// Would the next attempt start after the limit?
		if time.Now().Add(p.waitBound(st.attempts-1, resp)).After(st.limit.deadline) {
			return false, &limitStop{cause: err, d: st.limit.d}
		}
	}
	if st != nil && st.failed != nil && st.attempts <= p.retries() {
		st.now = st.failed(st.last)
	}
	if f := backoffHookFrom(ctx); f != nil {
		f()
	}
	return true, nil
}

// backoffFor is the retryablehttp.Backoff of [Policy.ClientFor]: the policy's
// wait, or none when the request's [OnFailure] function asked for the
// next attempt at once after an answer that asks for no wait.
func (p Policy) backoffFor(attempt int, resp *http.Response) time.Duration {
	if resp != nil && resp.Request != nil && !asksToWait(resp) {
		if st := stateFrom(resp.Request.Context()); st != nil && st.now {
			st.now = false
			return 0
		}
	}
	return p.wait(attempt, resp)
}

// asksToWait reports whether resp asks the client to wait before trying
// again: a 429, or a Retry-After header.
func asksToWait(resp *http.Response) bool {
	return resp.StatusCode == http.StatusTooManyRequests || resp.Header.Get("Retry-After") != ""
}

// reportRetry is the retryablehttp.RequestLogHook of [Policy.ClientFor]: it
// calls the request's [OnRetry] function before each retry, and logs the
// retry to logger, if not nil.
func reportRetry(logger *slog.Logger, req *http.Request, n int) {
	if n == 0 {
		return
	}
	st := stateFrom(req.Context())
	if logger != nil {
		var cause error
		if st != nil {
			cause = st.last
		}
		logger.Debug("retrying", "url", req.URL.Redacted(), "attempt", n+1, "error", cause)
	}
	if st != nil && st.hook != nil {
		st.hook(n+1, st.last)
	}
}

// giveUp is the retryablehttp.ErrorHandler of [Policy.ClientFor]: the
// request failed for good after tries attempts. A retryable status becomes a
// *StatusError, and the count is kept in a *GiveUpError.
func giveUp(resp *http.Response, err error, tries int) (*http.Response, error) {
	var d time.Duration
	if ls, ok := err.(*limitStop); ok {
		err, d = ls.cause, ls.d
		if ls.unsent {
			tries--
		}
	}
	if resp != nil {
		if err == nil {
			err = NewStatusError(resp)
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxDetailRead))
		resp.Body.Close()
	}
	// The *http.Client around us adds `Get "URL": `; keep it only once.
	if ue, ok := err.(*url.Error); ok {
		err = ue.Err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	if tries > 1 || d > 0 {
		err = &GiveUpError{Tries: tries, Err: err, Limit: d}
	}
	return nil, err
}

// CheckRedirect allows 10 redirects, none from https to http, as the go
// command does. It is the CheckRedirect of [Policy.ClientFor]'s clients.
func CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > 0 && via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("redirected from secure URL %s to insecure URL %s",
			via[len(via)-1].URL.Redacted(), req.URL.Redacted())
	}
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}

// attemptTransport gives each attempt timeout to receive its response
// headers (dial, TLS and the server's think time included), or less when
// the request's time limit comes first. The body is not limited:
// [Policy.Body] watches it. It records each attempt's failure for
// reportRetry.
type attemptTransport struct {
	base    http.RoundTripper
	timeout time.Duration
}

func (t *attemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	st := stateFrom(req.Context())
	if st != nil {
		st.attempts++
	}
	resp, err := t.roundTrip(req, st)
	if st != nil {
		st.prev = st.last
		switch {
		case err != nil:
			st.last = err
		case resp.StatusCode >= 400:
			st.last = &StatusError{Code: resp.StatusCode, Status: resp.Status}
		default:
			st.last = nil
		}
	}
	return resp, err
}

func (t *attemptTransport) roundTrip(req *http.Request, st *reqState) (*http.Response, error) {
	timeout, limited := t.timeout, false
	if st != nil && st.limit != nil {
		left := time.Until(st.limit.deadline)
		if left <= 0 {
			st.unsent = true
			return nil, &LimitError{Limit: st.limit.d}
		}
		if timeout <= 0 || left < timeout {
			timeout, limited = left, true
		}
	}
	if timeout <= 0 {
		return t.base.RoundTrip(req)
	}
	ctx, cancel := context.WithCancel(req.Context())
	timer := time.AfterFunc(timeout, cancel)
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if !timer.Stop() {
		// The time was up before the headers arrived, or just as they did.
		if err == nil {
			resp.Body.Close()
		}
		cancel()
		if err := req.Context().Err(); err != nil {
			return nil, err
		}
		if limited {
			return nil, &LimitError{Limit: st.limit.d}
		}
		return nil, &timeoutError{t.timeout}
	}
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose releases the attempt's context with its body.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
