package retry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrStalled is returned by a body from [Policy.Body] that delivered no bytes
// for [Policy.Stall].
var ErrStalled = errors.New("stalled: no data received")

// StatusError is a non-2xx HTTP response.
type StatusError struct {
	Code   int    // 503
	Status string // "503 Service Unavailable"
	Body   string // the start of the body: at most 8 lines, control characters removed
}

// The limits cmd/go/internal/web puts on the server response it quotes.
const (
	maxDetailLines = 8
	maxDetailBytes = maxDetailLines * 81
	maxDetailRead  = 4 << 10
)

// NewStatusError describes resp, reading at most a few kilobytes of its body
// for the server's explanation. The caller still closes resp.Body.
func NewStatusError(resp *http.Response) *StatusError {
	status := resp.Status
	if status == "" {
		status = fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	var body []byte
	if resp.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, maxDetailRead))
	}
	return &StatusError{Code: resp.StatusCode, Status: status, Body: detail(body)}
}

// detail turns the start of an error response body into at most
// maxDetailLines lines of text, the way cmd/go/internal/web does: it stops at
// the first blank line, gives up on text that is not UTF-8, and removes
// control characters so that a server cannot play games with the terminal.
func detail(b []byte) string {
	if len(b) == maxDetailRead {
		// Cut a rune split by the read limit.
		for i := 0; i < utf8.UTFMax && len(b) > 0 && !utf8.Valid(b); i++ {
			b = b[:len(b)-1]
		}
	}
	if !utf8.Valid(b) {
		return ""
	}
	s := strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r == '\t':
			return ' '
		case unicode.IsGraphic(r):
			return r
		}
		return -1
	}, string(b))

	var out strings.Builder
	for i, line := range strings.Split(s, "\n") {
		if strings.TrimSpace(line) == "" {
			break
		}
		if i > 0 {
			out.WriteString("\n")
		}
		if i >= maxDetailLines {
			out.WriteString("[Truncated: too many lines.]")
			break
		}
		if out.Len()+len(line) > maxDetailBytes {
			out.WriteString("[Truncated: too long.]")
			break
		}
		out.WriteString(line)
	}
	return out.String()
}

// Error returns the status, then the server's explanation indented on the
// following lines, as the go command prints it.
func (e *StatusError) Error() string {
	if e.Body == "" {
		return e.Status
	}
	sep := " "
	if strings.Contains(e.Body, "\n") {
		sep = "\n\t"
	}
	return e.Status + "\n\tserver response:" + sep + strings.ReplaceAll(e.Body, "\n", "\n\t")
}

// Is reports whether a 404 or 410 matches fs.ErrNotExist, as in cmd/go.
func (e *StatusError) Is(target error) bool {
	return target == fs.ErrNotExist && (e.Code == http.StatusNotFound || e.Code == http.StatusGone)
}

// GiveUpError is the last error of a request that failed more than once,
// or that ran out of time.
type GiveUpError struct {
	Tries int           // requests made, all failed
	Err   error         // the last one's error
	Limit time.Duration // the time limit that stopped the retries, if it was that
}

// Error is the last error with the count of tries appended to its first line:
// "503 Service Unavailable (4 tries)", or when the time limit ended the
// retries, "503 Service Unavailable (2 tries, time limit of 5m0s reached)".
func (e *GiveUpError) Error() string {
	msg := e.Err.Error()
	suffix := fmt.Sprintf(" (%d tries)", e.Tries)
	if e.Limit > 0 {
		suffix = fmt.Sprintf(" (%d tries, time limit of %v reached)", e.Tries, e.Limit)
		if e.Tries == 1 {
			suffix = fmt.Sprintf(" (time limit of %v reached)", e.Limit)
		}
	}
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		return msg[:i] + suffix + msg[i:]
	}
	return msg + suffix
}

func (e *GiveUpError) Unwrap() error { return e.Err }

// timeoutError is a request that got no response headers within
// [Policy.Timeout].
type timeoutError struct{ d time.Duration }

func (e *timeoutError) Error() string {
	return "timeout awaiting response headers after " + e.d.String()
}

func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }

// retryableStatus reports whether a response with this status is worth
// another attempt: 408, 429 and 5xx except 501 Not Implemented, which says
// the server will never do this.
func retryableStatus(code int) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		return true
	case code == http.StatusNotImplemented:
		return false
	}
	return code >= 500 && code <= 599
}

// Transient reports whether err is worth retrying: a [*StatusError] with
// 408, 429 or 5xx; a body cut short (io.ErrUnexpectedEOF, or io.EOF before
// the response); a connection reset, refused or aborted; a timeout (a
// net.Error whose Timeout is true); an HTTP/2 stream error or GOAWAY; and
// [ErrStalled].
//
// It is false for context cancellation and deadlines (the caller's limits),
// certificate errors (retrying does not fix a MITM proxy), 404/410/401/403 and
// every error it does not know.
func Transient(err error) bool {
	switch {
	case err == nil,
		errors.Is(err, context.Canceled),
		errors.Is(err, context.DeadlineExceeded),
		isCertError(err):
		return false
	}
	if se, ok := errors.AsType[*StatusError](err); ok {
		return retryableStatus(se.Code)
	}
	switch {
	case errors.Is(err, ErrStalled),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE):
		return true
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return true
	}
	// net/http's HTTP/2 errors have no exported types, so these are matched
	// by their text.
	msg := err.Error()
	for _, s := range [...]string{
		"stream error: ",                // RST_STREAM: "stream error: stream ID 3; INTERNAL_ERROR; received from peer"
		"GOAWAY",                        // "http2: server sent GOAWAY and closed the connection"
		"http2: client connection lost", // the connection died under the stream
		"connection reset by peer",      // wrapped without its errno on some systems
		"server closed idle connection", // a race between reuse and the server's idle timeout
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// Unreachable reports whether err says the server cannot be reached at all,
// so that trying it again soon is pointless: its name does not resolve (not
// a DNS timeout, which is transient), the connection is refused, no route
// leads to it, or the TLS handshake timed out (typical of a filtered link).
// An error can be both Unreachable and [Transient]; callers that care ask
// Unreachable first.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	if de, ok := errors.AsType[*net.DNSError](err); ok {
		return de.IsNotFound || (!de.IsTimeout && !de.IsTemporary && de.Err == "no such host")
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, syscall.EHOSTUNREACH):
		return true
	}
	// net/http's tlsHandshakeTimeoutError is unexported.
	return strings.Contains(err.Error(), "TLS handshake timeout")
}

// Certificate reports whether err is a failure to verify the server's
// certificate: an unknown authority (often a TLS-intercepting proxy), a
// name mismatch, an expired certificate or missing system roots. Retrying
// never helps.
func Certificate(err error) bool {
	return err != nil && isCertError(err)
}

// isCertError reports whether err is a failure to verify the server's
// certificate.
func isCertError(err error) bool {
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.HostnameError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.CertificateInvalidError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.SystemRootsError](err); ok {
		return true
	}
	return false
}
