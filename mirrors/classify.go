package mirrors

import (
	"context"
	"errors"
	"io/fs"
	"net/http"

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
		return "a mirror refused access (401/403): for a private module, set GOPRIVATE or GONOPROXY so that no proxy is asked; for a proxy that needs a login, put its credentials in ~/.netrc (or the file $NETRC names), or configure GOAUTH"
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
