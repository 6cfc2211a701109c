package mirrors

import (
	"errors"
	"fmt"
	"net/url"
	pathpkg "path"
	"path/filepath"
	"strings"
)

// Entry is one element of GOPROXY.
type Entry struct {
	URL             string // base URL without trailing slash; "direct" or "off" for those keywords
	FallBackOnError bool   // the separator after this entry was '|': move on after any error, not only 404/410
}

// The keywords of GOPROXY that are not mirrors.
const (
	direct = "direct"
	off    = "off"
)

// defaultGOPROXY is the go command's default, used for an empty GOPROXY.
const defaultGOPROXY = "https://proxy.golang.org,direct"

// Parse splits GOPROXY into entries with the rules of the go command
// (cmd/go/internal/modfetch.proxyList): entries are separated by ',' or '|',
// blank entries are skipped, "direct" and "off" end the list (anything after
// them is ignored), and an entry with a dot, colon or slash but no ":/" that
// is not an absolute path gets "https://" in front. Mirrors must be http,
// https or file URLs. Trailing slashes are removed.
//
// An empty goproxy stands for the go command's default,
// "https://proxy.golang.org,direct". Errors never show a password.
func Parse(goproxy string) ([]Entry, error) {
	if goproxy == "" {
		goproxy = defaultGOPROXY
	}
	var list []Entry
	for goproxy != "" {
		var raw string
		fallBackOnError := false
		if i := strings.IndexAny(goproxy, ",|"); i >= 0 {
			raw = goproxy[:i]
			fallBackOnError = goproxy[i] == '|'
			goproxy = goproxy[i+1:]
		} else {
			raw = goproxy
			goproxy = ""
		}

		raw = strings.TrimSpace(raw)
		switch raw {
		case "":
			continue
		case off, direct:
			// Both end the walk; the go command ignores what follows them.
			return append(list, Entry{URL: raw}), nil
		}
		// Single words are reserved for keywords; anything with ":/" or an
		// absolute path must be a complete URL; the rest are https.
		if strings.ContainsAny(raw, ".:/") && !strings.Contains(raw, ":/") && !filepath.IsAbs(raw) && !pathpkg.IsAbs(raw) {
			raw = "https://" + raw
		}
		if _, err := parseBase(raw); err != nil {
			return nil, err
		}
		list = append(list, Entry{URL: trimSlash(raw), FallBackOnError: fallBackOnError})
	}
	if len(list) == 0 {
		return nil, errors.New("GOPROXY list is not the empty string, but contains no entries")
	}
	return list, nil
}

// parseBase parses a mirror's base URL and checks it the way the go command's
// newProxyRepo does, with the same messages.
func parseBase(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		if ue, ok := err.(*url.Error); ok {
			ue.URL = redactRaw(ue.URL)
		}
		return nil, err
	}
	switch u.Scheme {
	case "http", "https":
	case "file":
		if *u != (url.URL{Scheme: u.Scheme, Path: u.Path, RawPath: u.RawPath}) {
			return nil, fmt.Errorf("invalid file:// proxy URL with non-path elements: %s", u.Redacted())
		}
	case "":
		return nil, fmt.Errorf("invalid proxy URL missing scheme: %s", u.Redacted())
	default:
		return nil, fmt.Errorf("invalid proxy URL scheme (must be https, http, file): %s", u.Redacted())
	}
	return u, nil
}

// trimSlash removes trailing slashes from a URL, but not those of "scheme://".
func trimSlash(s string) string {
	for strings.HasSuffix(s, "/") && !strings.HasSuffix(s, "://") {
		s = s[:len(s)-1]
	}
	return s
}

// redactRaw hides the password in a URL that does not parse, as
// url.URL.Redacted would.
func redactRaw(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		rest = rest[:j]
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return s
	}
	user, _, hasPassword := strings.Cut(rest[:at], ":")
	if !hasPassword {
		return s
	}
	return s[:i+3] + user + ":xxxxx" + s[i+3+at:]
}

// mirror is an Entry ready for requests: its URL without credentials, which
// go into the Authorization header instead.
type mirror struct {
	Entry
	base     *url.URL      // nil for direct and off
	user     *url.Userinfo // basic auth, if the URL had any
	redacted string        // for errors, logs and events
	named    bool          // named by GOPROXY, rather than added (extra or built-in)
	score    *score        // shared by every group that has this URL
}

func newMirror(e Entry) (*mirror, error) {
	m := &mirror{Entry: e, redacted: e.URL}
	if e.URL == direct || e.URL == off {
		return m, nil
	}
	u, err := parseBase(e.URL)
	if err != nil {
		return nil, err
	}
	m.redacted = u.Redacted()
	m.user, u.User = u.User, nil
	m.base = u
	return m, nil
}

// keyword reports whether m is "direct" or "off" rather than a mirror.
func (m *mirror) keyword() bool { return m.base == nil }
