package mirrors

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"time"

	"github.com/gomodx/gomodx/retry"
)

// Class sorts a failure by what the user can do about it.
type Class int

const (
	Other       Class = iota // none of the below: no advice
	NotFound                 // 404 or 410: the next mirror is asked; not retried
	Auth                     // 401, 403, 407: access refused
	Transient                // 408, 429, 5xx, resets, cut bodies, HTTP/2 stream errors, GOAWAY, timeouts, stalls: retried, then the next interchangeable mirror
	Unreachable              // no such host, connection refused, no route, TLS handshake timeout: the mirror is set aside for the run
	Certificate              // the server's certificate is not trusted: never retried
)

// importance orders the classes for Classify: the most specific advice
// first.
var importance = [...]Class{Certificate, Auth, Unreachable, Transient, NotFound, Other}

func (c Class) String() string {
	switch c {
	case NotFound:
		return "not found"
	case Auth:
		return "auth"
	case Transient:
		return "transient"
	case Unreachable:
		return "unreachable"
	case Certificate:
		return "certificate"
	}
	return "other"
}

// Hint is one line of advice for failures of class c, or "" for Other. It
// names environment variables, not gomodx's flags.
func (c Class) Hint() string {
	switch c {
	case NotFound:
		return "no mirror has this version: check the version; for a private module, set GOPRIVATE (or GONOPROXY) so that the go command fetches it directly"
	case Auth:
		return "a mirror refused access (401/403); some mirrors answer 403 for a path or version they do not have, so check those first: for a private module, set GOPRIVATE or GONOPROXY so that no proxy is asked; for a proxy that needs a login, put its credentials in ~/.netrc (or the file $NETRC names), or configure GOAUTH"
	case Transient:
		return "mirrors kept failing or timing out (5xx, 429, resets, stalls): rerun later, or add another mirror (GOMODX_MIRRORS, or GOPROXY=A|B)"
	case Unreachable:
		return "a mirror could not be reached (no such host, connection refused, TLS handshake timeout): check the network, HTTPS_PROXY and GOPROXY (go env GOPROXY)"
	case Certificate:
		return "a mirror's TLS certificate is not trusted: behind a TLS-intercepting proxy, add its CA certificate with SSL_CERT_FILE or SSL_CERT_DIR; do not turn verification off"
	}
	return ""
}

// Classify returns the class of err. For an error that gathers several
// failures (an [*Error] over several mirrors, errors joined with
// errors.Join), it is the most actionable of their classes: certificate,
// auth, unreachable, transient, then not found. An [*Error] is not found
// only when every mirror said so.
func Classify(err error) Class {
	cs := Classes(err)
	for _, c := range importance {
		for _, have := range cs {
			if have == c {
				return c
			}
		}
	}
	return Other
}

// Classes returns the distinct classes of the failures err gathers, in
// order of importance, so that a report can print one hint per class. It
// is empty for nil.
func Classes(err error) []Class {
	seen := map[Class]bool{}
	collect(err, seen)
	var out []Class
	for _, c := range importance {
		if seen[c] {
			out = append(out, c)
		}
	}
	return out
}

// collect classifies each failure in err's tree: it follows err's chain
// down to a node that gathers several errors (an *Error, errors.Join) and
// collects each of those; a chain without such a node is one failure.
func collect(err error, seen map[Class]bool) {
	if err == nil {
		return
	}
	for e := err; e != nil; {
		if multi, ok := e.(interface{ Unwrap() []error }); ok {
			for _, e := range multi.Unwrap() {
				collect(e, seen)
			}
			return
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			break
		}
		e = u.Unwrap()
	}
	seen[classify(err)] = true
}

// classify is the class of one failure, a chain without branches.
func classify(err error) Class {
	switch {
	case errors.Is(err, errors.ErrUnsupported), // direct, off
		errors.Is(err, context.Canceled):
		return Other
	case retry.Certificate(err):
		return Certificate
	}
	if cd, ok := errors.AsType[*cachedDown](err); ok {
		return cd.class
	}
	if se, ok := errors.AsType[*retry.StatusError](err); ok {
		switch se.Code {
		case http.StatusNotFound, http.StatusGone:
			return NotFound
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusProxyAuthRequired:
			return Auth
		}
		if retry.Transient(se) {
			return Transient
		}
		return Other
	}
	if _, ok := errors.AsType[*retry.LimitError](err); ok {
		return Transient
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return NotFound
	case retry.Unreachable(err):
		return Unreachable
	case retry.Transient(err):
		return Transient
	}
	return Other
}

// Explain says what went wrong in one failed request to host (a mirror, a
// checksum database, an HTTP proxy), in words a person can act on, and
// what to do about it: the detailed form of [Classify] and [Class.Hint],
// for a report about one mirror ('gomodx doctor'). stage is where it
// failed, if known; timeout is the limit that ran out, for the words of a
// timeout.
func Explain(err error, stage Stage, host string, timeout time.Duration) (what, fix string) {
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return fmt.Sprintf("DNS: no such host %s", dnsErr.Name),
			"check the host name in GOPROXY; if it is an internal mirror, check the VPN or /etc/resolv.conf"
	case errors.As(err, &dnsErr) && dnsErr.IsTimeout:
		return "DNS: lookup timed out", "the DNS server does not answer: check the network or /etc/resolv.conf"
	case errors.As(err, &dnsErr):
		return "DNS: " + dnsErr.Err, "check the network's DNS settings"
	case errors.As(err, &unknownCA):
		return "TLS: certificate signed by unknown authority" + issuer(unknownCA.Cert) + ": a proxy or antivirus is intercepting TLS (or the mirror's certificate is self-signed)",
			"install the intercepting proxy's root certificate in the system store, or point SSL_CERT_FILE at it; do not turn verification off"
	case errors.As(err, &hostErr):
		return "TLS: " + hostErr.Error() + ": wrong host in GOPROXY, or a proxy answering in its place",
			"check the host name in GOPROXY"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fmt.Sprintf("TLS: certificate has expired or is not yet valid (the clock here says %s)", time.Now().UTC().Format(time.RFC3339)),
			"check the system clock; if it is right, the mirror's certificate has expired: use another mirror"
	case errors.As(err, &invalid):
		return "TLS: " + invalid.Error(), "use another mirror, or ask its operator"
	case stage == StageTLS:
		return "TLS: " + rootCause(err), "check for a proxy or firewall interfering with TLS"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connect: connection refused", "nothing listens at " + host + ": check the port in GOPROXY, or whether the mirror is down"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "connect: network unreachable", "check the network connection or the route to " + host
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), isTimeout(err):
		switch stage {
		case StageConnect:
			return fmt.Sprintf("connect: no answer within %s", timeout), "a firewall may be dropping the connection: check the network, or use another mirror"
		case StageDNS:
			return fmt.Sprintf("DNS: no answer within %s", timeout), "check the network's DNS settings"
		case StageTLS:
			return fmt.Sprintf("TLS: handshake not done within %s", timeout), "check for a proxy or firewall interfering with TLS"
		}
		return fmt.Sprintf("no response within %s", timeout), "the mirror is overloaded or a filter is stalling it: put a faster mirror first in GOPROXY"
	}
	return rootCause(err), "check the network and the mirror's URL"
}

func issuer(c *x509.Certificate) string {
	if c == nil || c.Issuer.CommonName == "" {
		return ""
	}
	return fmt.Sprintf(" (issuer %q)", c.Issuer.CommonName)
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// rootCause drops the 'Get "url": ' wrapping of net/http errors, since
// the caller names the mirror already.
func rootCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
