package goenv

import (
	"errors"
	"fmt"
	"net/url"
	pathpkg "path"
	"path/filepath"
	"strings"
)

// Proxy is GOPROXY, decoded.
type Proxy struct {
	Entries []Entry // in order, up to and including the first "direct" or "off"
	Err     error   // why GOPROXY does not parse; Entries is then nil
}

// Entry is one element of GOPROXY.
type Entry struct {
	// URL is the mirror's base URL, with any credentials and without a
	// trailing slash; or "direct" or "off".
	URL string
	// FallBackOnError says the separator after the entry was '|': the go
	// command moves on after any error, not only after 404 or 410.
	FallBackOnError bool
}

// The keywords of GOPROXY that are not mirrors.
const (
	Direct = "direct"
	Off    = "off"
)

// DefaultGOPROXY is the go command's default, used for an empty GOPROXY.
const DefaultGOPROXY = "https://proxy.golang.org,direct"

// Keyword reports whether e is "direct" or "off" rather than a mirror.
func (e Entry) Keyword() bool { return e.URL == Direct || e.URL == Off }

// Redacted is e's URL with its password hidden, for messages.
func (e Entry) Redacted() string { return Redact(e.URL) }

// ParseProxy splits GOPROXY into entries with the rules of the go command
// (cmd/go/internal/modfetch.proxyList): entries are separated by ',' or
// '|', blank entries are skipped, "direct" and "off" end the list (anything
// after them is ignored), and an entry with a dot, colon or slash but no
// ":/" that is not an absolute path gets "https://" in front. Mirrors must
// be http, https or file URLs, with the go command's messages when they are
// not. Trailing slashes are removed.
//
// An empty goproxy stands for the go command's default,
// "https://proxy.golang.org,direct". Errors never show a password.
func ParseProxy(goproxy string) ([]Entry, error) {
	if goproxy == "" {
		goproxy = DefaultGOPROXY
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
		case Off, Direct:
			// Both end the walk; the go command ignores what follows them.
			return append(list, Entry{URL: raw}), nil
		}
		// Single words are reserved for keywords; anything with ":/" or an
		// absolute path must be a complete URL; the rest are https.
		if strings.ContainsAny(raw, ".:/") && !strings.Contains(raw, ":/") && !filepath.IsAbs(raw) && !pathpkg.IsAbs(raw) {
			raw = "https://" + raw
		}
		if _, err := ParseMirrorURL(raw); err != nil {
			return nil, err
		}
		list = append(list, Entry{URL: trimSlash(raw), FallBackOnError: fallBackOnError})
	}
	if len(list) == 0 {
		return nil, errors.New("GOPROXY list is not the empty string, but contains no entries")
	}
	return list, nil
}

// ParseMirrorURL parses a mirror's base URL and checks it the way the go
// command's newProxyRepo does, with the same messages, none of which shows
// a password.
func ParseMirrorURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		if ue, ok := err.(*url.Error); ok {
			ue.URL = Redact(ue.URL)
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

// Proxied reports whether GOPROXY lets gomodx fetch anything: it does not
// when GOPROXY is off or starts with direct. A GOPROXY that does not parse
// counts as proxied, so that the error reaches whoever builds the mirrors.
func (p Proxy) Proxied() bool {
	if p.Err != nil {
		return true
	}
	return len(p.Entries) > 0 && !p.Entries[0].Keyword()
}

// For is the GOPROXY for a go command that gomodx hands over to: endpoint
// (its loopback proxy), followed by "direct" or "off" when the user's
// GOPROXY ends so, so that go falls through to it after a not-found
// exactly as it would have (and says "module lookup disabled by
// GOPROXY=off" in its own words).
func (p Proxy) For(endpoint string) string {
	for _, e := range p.Entries {
		if e.Keyword() {
			return endpoint + "," + e.URL
		}
	}
	return endpoint
}

// First is GOPROXY's first mirror, without its password, or "" when
// GOPROXY names none.
func (p Proxy) First() string {
	for _, e := range p.Entries {
		if !e.Keyword() {
			return Redact(e.URL)
		}
	}
	return ""
}

// Redact hides the password in s, a URL or a host with credentials
// ("user:password@host:port"), whether or not it parses: the one place
// where gomodx decides what a printed URL shows.
func Redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
		return s
	}
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + 3
	}
	rest := s[start:]
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
	return s[:start] + user + ":xxxxx" + s[start+at:]
}
