package doctor

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"

	"github.com/gomodx/gomodx/goenv"
)

// credentials checks that each host that needs them has credentials: the
// hosts of private modules (go fetches them itself, with GOAUTH or git)
// and mirrors that answered 401 or 403. It never prints a secret.
func (d *run) credentials() {
	var hosts []string
	addHost := func(h string) {
		if h != "" && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	for _, c := range d.report.Checks {
		if c.Area == AreaPrivate && c.Status != OK && strings.Contains(c.Name, ".") && !strings.HasPrefix(c.Name, "GO") {
			addHost(strings.Split(c.Name, "/")[0])
		}
	}
	for _, path := range d.requirements() {
		if d.env.Private(path) {
			addHost(strings.Split(path, "/")[0])
		}
	}
	for _, r := range d.probes {
		if r.HTTPStatus == 401 || r.HTTPStatus == 403 {
			addHost(hostOf(r.Mirror))
		}
	}
	for _, p := range d.proxies {
		if u, err := url.Parse(p.URL); err == nil && u.User != nil {
			d.add(AreaCredentials, u.Host, OK, "credentials in the GOPROXY URL (not shown)", "")
		}
	}

	goauth := d.env.GOAUTH
	if goauth == "" {
		goauth = "netrc"
	}
	switch {
	case goauth == "off" && len(hosts) > 0:
		d.add(AreaCredentials, "GOAUTH", Warn, "off: go sends no credentials to "+words(hosts), d.unsetCmd("GOAUTH"))
	case d.env.GOAUTH != "":
		d.add(AreaCredentials, "GOAUTH", OK, goauth, "")
	}

	// The netrc file as the go command reads it: only complete machine
	// entries count, and a "default" entry gives no credentials.
	auth := d.env.Auth
	file, entries := auth.NetrcPath, auth.Netrc
	if fi, err := os.Stat(file); file != "" && err == nil && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		d.add(AreaCredentials, file, Warn, fmt.Sprintf("readable by other users (mode %v)", fi.Mode().Perm()), "chmod 600 "+file)
	}
	if auth.NetrcErr != nil {
		d.add(AreaCredentials, file, Warn, "cannot read: "+errText(auth.NetrcErr), "check its permissions")
	}
	if len(hosts) == 0 {
		detail := "no private host or mirror asks for credentials"
		if len(entries) > 0 {
			detail += fmt.Sprintf(" (%s has %d entries)", file, len(entries))
		}
		d.add(AreaCredentials, "credentials", OK, detail, "")
		return
	}
	for _, h := range hosts {
		e, ok := auth.NetrcFor(h)
		switch {
		case ok:
			d.add(AreaCredentials, h, OK, fmt.Sprintf("machine %s in %s: login %s, password set", e.Machine, file, e.Login), "")
		default:
			where := file
			if where == "" {
				where = "~/.netrc"
			}
			d.add(AreaCredentials, h, Warn,
				fmt.Sprintf("no credentials for it in %s: go (GOAUTH=%s) and git over https have none to send, which ends in 401/403/404 or 'terminal prompts disabled'", where, goauth),
				fmt.Sprintf("add 'machine %s login <user> password <token>' to %s (chmod 600), or set up a git credential helper or ssh for it", h, where))
		}
	}
}

// proxyVars are the environment variables net/http (and so the go
// command) reads for HTTP proxies.
var proxyVars = []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"}

// proxyEnv shows the HTTP proxy settings in effect, passwords redacted.
func (d *run) proxyEnv() {
	var set []string
	for _, k := range proxyVars {
		v := d.opts.Getenv(k)
		if v == "" {
			continue
		}
		if strings.HasSuffix(strings.ToUpper(k), "NO_PROXY") {
			set = append(set, k+"="+v)
			d.add(AreaNetwork, k, OK, v+" (hosts reached without the proxy)", "")
			continue
		}
		set = append(set, k)
		if _, err := parseProxy(v); err != nil {
			d.add(AreaNetwork, k, Fail, fmt.Sprintf("%s does not parse: %v", goenv.Redact(v), err), "fix it: http://[user:password@]host:port")
			continue
		}
		d.add(AreaNetwork, k, OK, goenv.Redact(v)+" (go and git use it for "+strings.ToLower(strings.TrimSuffix(strings.ToUpper(k), "_PROXY"))+" requests)", "")
	}
	if len(set) == 0 {
		d.add(AreaNetwork, "HTTP(S)_PROXY", OK, "none set: connections go straight to the mirrors", "")
	}
}

// parseProxy parses a proxy setting as net/http does: a bare host:port
// means http://host:port.
func parseProxy(v string) (*url.URL, error) {
	if !strings.Contains(v, "://") {
		v = "http://" + v
	}
	u, err := url.Parse(v)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, ue.Err
		}
		return nil, err
	}
	if u.Host == "" {
		return nil, errors.New("no host")
	}
	return u, nil
}
