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
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestTransient(t *testing.T) {
	urlErr := func(op string, err error) error { return &url.Error{Op: op, URL: "https://proxy.example/x", Err: err} }
	opErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "read", Net: "tcp", Err: &os.SyscallError{Syscall: "read", Err: errno}}
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"503", &StatusError{Code: 503}, true},
		{"500", &StatusError{Code: 500}, true},
		{"502 wrapped", fmt.Errorf("x: %w", &StatusError{Code: 502}), true},
		{"429", &StatusError{Code: 429}, true},
		{"408", &StatusError{Code: 408}, true},
		{"501", &StatusError{Code: 501}, false},
		{"404", &StatusError{Code: 404}, false},
		{"410", &StatusError{Code: 410}, false},
		{"401", &StatusError{Code: 401}, false},
		{"403", &StatusError{Code: 403}, false},
		{"unexpected EOF reading body", urlErr("read", io.ErrUnexpectedEOF), true},
		{"EOF before response", urlErr("Get", io.EOF), true},
		{"connection reset", urlErr("Get", opErr(syscall.ECONNRESET)), true},
		{"connection refused", urlErr("Get", &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}), true},
		{"header timeout", &timeoutError{time.Second}, true},
		{"DNS timeout", &net.DNSError{Err: "i/o timeout", Name: "proxy.example", IsTimeout: true}, true},
		{"no such host", &net.DNSError{Err: "no such host", Name: "proxy.example", IsNotFound: true}, false},
		{"stalled", fmt.Errorf("%w for 20s", ErrStalled), true},
		{"http2 stream error", urlErr("read", errors.New("stream error: stream ID 5; INTERNAL_ERROR; received from peer")), true},
		{"http2 GOAWAY", urlErr("Get", errors.New("http2: server sent GOAWAY and closed the connection; LastStreamID=1, ErrCode=NO_ERROR")), true},
		{"given up on 503", &GiveUpError{Tries: 4, Err: &StatusError{Code: 503}}, true},
		{"canceled", urlErr("Get", context.Canceled), false},
		{"deadline", context.DeadlineExceeded, false},
		{"unknown authority", urlErr("Get", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), false},
		{"hostname mismatch", x509.HostnameError{Host: "proxy.example", Certificate: &x509.Certificate{}}, false},
		{"not found", fs.ErrNotExist, false},
		{"unknown", errors.New("something else"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Transient(tt.err); got != tt.want {
				t.Errorf("Transient(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestStatusError(t *testing.T) {
	tests := []struct {
		name        string
		code        int
		body        string
		wantErr     string
		wantMissing bool // errors.Is(err, fs.ErrNotExist)
	}{
		{"no body", 503, "", "503 Service Unavailable", false},
		{"one line", 404, "not found: unknown revision v1.2.3\n", "404 Not Found\n\tserver response: not found: unknown revision v1.2.3", true},
		{"two lines", 410, "gone\nfor good\n", "410 Gone\n\tserver response:\n\tgone\n\tfor good", true},
		{"stops at blank line", 500, "oops\n\n<html>", "500 Internal Server Error\n\tserver response: oops", false},
		{"control characters removed", 502, "\x1b[2Jbad\rgateway\x07", "502 Bad Gateway\n\tserver response: [2Jbadgateway", false},
		{"not UTF-8 dropped", 500, "\xff\xfe", "500 Internal Server Error", false},
		{"too many lines", 500, strings.Repeat("line\n", 12), "500 Internal Server Error\n\tserver response:\n\t" + strings.Repeat("line\n\t", 8) + "[Truncated: too many lines.]", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{
				StatusCode: tt.code,
				Status:     fmt.Sprintf("%d %s", tt.code, http.StatusText(tt.code)),
				Body:       io.NopCloser(strings.NewReader(tt.body)),
			}
			err := error(NewStatusError(resp))
			if got := err.Error(); got != tt.wantErr {
				t.Errorf("Error() =\n%q\nwant\n%q", got, tt.wantErr)
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tt.wantMissing {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v, want %v", got, tt.wantMissing)
			}
		})
	}
}

func TestGiveUpErrorMessage(t *testing.T) {
	err := &GiveUpError{Tries: 4, Err: &StatusError{Code: 503, Status: "503 Service Unavailable", Body: "try later"}}
	want := "503 Service Unavailable (4 tries)\n\tserver response: try later"
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
