package mirrors

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gomodx/gomodx/goenv"
)

// Credentials for mirrors come from the mirror's URL (https://user:pass@host)
// and from the netrc file, as the go command reads it (goenv.Auth). Like the
// go command (cmd/go/internal/web, cmd/go/internal/auth), gomodx
//
//   - sends netrc credentials only over https, matching a "machine"
//     against the request URL and its parent paths (host, host/path, ...),
//     the first entry for a machine winning;
//   - prefers netrc credentials to those in the URL;
//   - refuses a request that would carry credentials over plain http
//     ("refusing to pass credentials to insecure URL"): nothing is sent.
//
// Credentials are added by the transport to each request as it goes out,
// by the request's own URL, and never to the request as made: so a
// redirect to another host, port or scheme carries none, whatever
// net/http would copy. They never appear in errors, logs or events.
// Other GOAUTH methods (git, commands) are left to the go command.

// credentials is the http.RoundTripper that adds them.
type credentials struct {
	next  http.RoundTripper
	auth  goenv.Auth
	users []userOf // mirrors with credentials in their URL
}

// userOf is a mirror's URL credentials, and the URLs they are for: those
// under its base URL.
type userOf struct {
	base *url.URL
	user *url.Userinfo
}

func newCredentials(next http.RoundTripper, auth goenv.Auth, groups []*group) *credentials {
	c := &credentials{next: next, auth: auth}
	for _, g := range groups {
		for _, m := range g.mirrors {
			if m.user != nil {
				c.users = append(c.users, userOf{base: m.base, user: m.user})
			}
		}
	}
	return c
}

// over returns credentials like c's, added to the requests of next.
func (c *credentials) over(next http.RoundTripper) *credentials {
	return &credentials{next: next, auth: c.auth, users: c.users}
}

// RoundTrip sends req with the credentials that belong to its URL.
func (c *credentials) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "https" {
		if l, ok := c.auth.NetrcFor(strings.TrimPrefix(req.URL.String(), "https://")); ok {
			return c.send(req, l.Login, l.Password)
		}
	}
	for _, u := range c.users {
		if !under(req.URL, u.base) {
			continue
		}
		if req.URL.Scheme != "https" {
			with := *req.URL
			with.User = u.user
			return nil, fmt.Errorf("refusing to pass credentials to insecure URL: %s", with.Redacted())
		}
		password, _ := u.user.Password()
		return c.send(req, u.user.Username(), password)
	}
	return c.next.RoundTrip(req)
}

// send sends a copy of req with basic authentication: a RoundTripper must
// not change the request it is given.
func (c *credentials) send(req *http.Request, user, password string) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.SetBasicAuth(user, password)
	return c.next.RoundTrip(req)
}

// CloseIdleConnections closes the idle connections of the transport below.
func (c *credentials) CloseIdleConnections() {
	if ci, ok := c.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// under reports whether u is base or below it: the same scheme and host
// (port included), and base's path as a prefix of whole path elements.
func under(u, base *url.URL) bool {
	if !strings.EqualFold(u.Scheme, base.Scheme) || !strings.EqualFold(u.Host, base.Host) {
		return false
	}
	prefix := strings.TrimSuffix(base.EscapedPath(), "/")
	p := u.EscapedPath()
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}
