package mirrors

import (
	"net/url"

	"github.com/gomodx/gomodx/goenv"
)

// The keywords of GOPROXY that are not mirrors.
const (
	direct = goenv.Direct
	off    = goenv.Off
)

// mirror is a GOPROXY entry ready for requests: its URL without
// credentials, which go into the Authorization header instead.
type mirror struct {
	goenv.Entry
	base     *url.URL      // nil for direct and off
	user     *url.Userinfo // basic auth, if the URL had any
	redacted string        // for errors, logs and events
	named    bool          // named by GOPROXY, rather than added (extra or built-in)
	score    *score        // shared by every group that has this URL
}

func newMirror(e goenv.Entry) (*mirror, error) {
	m := &mirror{Entry: e, redacted: e.URL}
	if e.Keyword() {
		return m, nil
	}
	u, err := goenv.ParseMirrorURL(e.URL)
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
