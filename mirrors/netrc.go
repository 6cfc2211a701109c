package mirrors

import (
	"net/http"
	"strings"
)

// Credentials for mirrors come from the mirror's URL (https://user:pass@host)
// and from the netrc file, as the go command reads it (goenv.Auth). Like the
// go command, gomodx sends netrc credentials only over https, matches a
// "machine" against the request URL and its parent paths (host,
// host/path, ...), lets the first entry for a machine win, and prefers
// netrc credentials to those in the URL. They never appear in errors, logs
// or events. Other GOAUTH methods (git, commands) are left to the go
// command.

// authorize adds m's credentials to req.
func (l *List) authorize(req *http.Request, m *mirror) {
	if req.URL.Scheme == "https" {
		if c, ok := l.auth.NetrcFor(strings.TrimPrefix(req.URL.String(), "https://")); ok {
			req.SetBasicAuth(c.Login, c.Password)
			return
		}
	}
	if m.user != nil {
		password, _ := m.user.Password()
		req.SetBasicAuth(m.user.Username(), password)
	}
}
