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

// Client returns an *http.Client that retries a request with the policy's
// backoff after a [Transient] failure: 408, 429 and 5xx responses, resets,
// refused connections, timeouts and HTTP/2 stream errors. It honours
// Retry-After (up to WaitMax) and applies Timeout to each attempt until its
// response headers arrive. Certificate errors and cancellation of the
// request's context are never retried.
//
// Any status it does not retry (2xx, 3xx it cannot follow, 404, 410 and the
// other 4xx) comes back as a response, as from any *http.Client. When
// retries run out on a retryable status, the error wraps a [*StatusError]
// instead; when more than one request was made, it also wraps a
// [*GiveUpError] with their count.
//
// Redirects from https to http are refused, as the go command refuses them.
// Requests go through one transport per Client (keep-alive, HTTP/2,
// HTTPS_PROXY from the environment), so share the Client. logger, if not
// nil, gets a debug line per attempt and retry.
func (p Policy) Client(logger *slog.Logger) *http.Client {
	transport := &http.Transport{
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
	}
	rc := &retryablehttp.Client{
		HTTPClient: &http.Client{
			Transport:     &attemptTransport{base: transport, timeout: p.Timeout},
			CheckRedirect: checkRedirect,
		},
		RetryWaitMin: p.WaitMin,
		RetryWaitMax: p.WaitMax,
		RetryMax:     p.retries(),
		CheckRetry:   checkRetry,
		Backoff: func(_, _ time.Duration, attempt int, resp *http.Response) time.Duration {
			return p.wait(attempt, resp)
		},
		ErrorHandler: giveUp,
	}
	if logger != nil {
		rc.Logger = logger // a nil *slog.Logger in the interface would be called
	}
	return rc.StandardClient()
}

// checkRetry is the retryablehttp.CheckRetry of [Policy.Client].
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err != nil {
		return Transient(err), nil
	}
	return retryableStatus(resp.StatusCode), nil
}

// giveUp is the retryablehttp.ErrorHandler of [Policy.Client]: the request
// failed for good after tries attempts. A retryable status becomes a
// *StatusError, and the count is kept in a *GiveUpError.
func giveUp(resp *http.Response, err error, tries int) (*http.Response, error) {
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
	if tries > 1 && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		err = &GiveUpError{Tries: tries, Err: err}
	}
	return nil, err
}

// checkRedirect allows 10 redirects, none from https to http.
func checkRedirect(req *http.Request, via []*http.Request) error {
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
// headers (dial, TLS and the server's think time included). The body is not
// limited: [Policy.Body] watches it.
type attemptTransport struct {
	base    http.RoundTripper
	timeout time.Duration
}

func (t *attemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.timeout <= 0 {
		return t.base.RoundTrip(req)
	}
	ctx, cancel := context.WithCancel(req.Context())
	timer := time.AfterFunc(t.timeout, cancel)
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
