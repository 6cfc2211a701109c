package mirrors

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"reflect"
	"syscall"
	"testing"

	"github.com/gomodx/gomodx/retry"
)

func TestClassify(t *testing.T) {
	status := func(code int) error {
		return &retry.StatusError{Code: code, Status: fmt.Sprint(code)}
	}
	dial := func(err error) error { return &net.OpError{Op: "dial", Net: "tcp", Err: err} }
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, Other},
		{"404", status(404), NotFound},
		{"410", status(410), NotFound},
		{"file missing", &fs.PathError{Op: "open", Path: "x", Err: fs.ErrNotExist}, NotFound},
		{"401", status(401), Auth},
		{"403", status(403), Auth},
		{"407", status(407), Auth},
		{"429", status(429), Transient},
		{"503 given up", &retry.GiveUpError{Tries: 4, Err: status(503)}, Transient},
		{"408", status(408), Transient},
		{"501", status(501), Other},
		{"400", status(400), Other},
		{"unexpected EOF", io.ErrUnexpectedEOF, Transient},
		{"reset", dial(&os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}), Transient},
		{"stalled", fmt.Errorf("%w for 20s", retry.ErrStalled), Transient},
		{"stream error", errors.New("stream error: stream ID 3; INTERNAL_ERROR; received from peer"), Transient},
		{"GOAWAY", errors.New("http2: server sent GOAWAY and closed the connection"), Transient},
		{"time limit", &retry.LimitError{Limit: 1}, Transient},
		{"DNS timeout", dial(&net.DNSError{Err: "i/o timeout", Name: "x", IsTimeout: true}), Transient},
		{"no such host", dial(&net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}), Unreachable},
		{"refused", dial(&os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}), Unreachable},
		{"refused after retries", &retry.GiveUpError{Tries: 4, Err: dial(&os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED})}, Unreachable},
		{"TLS handshake timeout", errors.New("net/http: TLS handshake timeout"), Unreachable},
		{"unknown authority", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, Certificate},
		{"wrong host", x509.HostnameError{Host: "x", Certificate: &x509.Certificate{}}, Certificate},
		{"set aside", &setAsideError{reason: "r", err: dial(&os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED})}, Unreachable},
		{"direct", ErrDirect, Other},
		{"canceled", context.Canceled, Other},
		{"store", errors.New("checksum mismatch"), Other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestClasses(t *testing.T) {
	notFound := Attempt{Mirror: "a", Err: &retry.StatusError{Code: 404}}
	busy := Attempt{Mirror: "b", Err: &retry.StatusError{Code: 503}}
	cert := Attempt{Mirror: "c", Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}
	allMissing := &Error{Attempts: []Attempt{notFound, notFound}}
	mixed := &Error{Attempts: []Attempt{notFound, busy, cert}}
	tests := []struct {
		name     string
		err      error
		want     []Class
		classify Class
	}{
		{"every mirror says not found", allMissing, []Class{NotFound}, NotFound},
		{"not found hidden by other failures", mixed, []Class{Certificate, Transient}, Certificate},
		{"joined files", errors.Join(allMissing, fmt.Errorf("x: %w", &Error{Attempts: []Attempt{busy}})), []Class{Transient, NotFound}, Transient},
		{"nil", nil, nil, Other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classes(tt.err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Classes = %v, want %v", got, tt.want)
			}
			if got := Classify(tt.err); got != tt.classify {
				t.Errorf("Classify = %v, want %v", got, tt.classify)
			}
		})
	}
}

func TestHints(t *testing.T) {
	for _, c := range []Class{NotFound, Auth, Transient, Unreachable, Certificate} {
		if c.Hint() == "" || c.String() == "other" {
			t.Errorf("class %d: hint %q, name %q", c, c.Hint(), c)
		}
	}
	if Other.Hint() != "" {
		t.Errorf("Other has a hint: %q", Other.Hint())
	}
}
