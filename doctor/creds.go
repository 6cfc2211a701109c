package doctor

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// netrcEntry is one machine (or the default) of a .netrc file. Only
// whether a password is there is kept, never the password.
type netrcEntry struct {
	machine     string // "" for default
	login       string
	hasPassword bool
}

// parseNetrc reads .netrc as the go command does (cmd/go/internal/auth):
// whitespace-separated tokens, machine/default/login/password, and macdef
// bodies skipped up to a blank line.
func parseNetrc(data string) []netrcEntry {
	var list []netrcEntry
	var cur *netrcEntry
	lines := strings.Split(data, "\n")
	for i := 0; i < len(lines); i++ {
		f := strings.Fields(lines[i])
		for j := 0; j < len(f); j++ {
			next := func() string {
				if j+1 < len(f) {
					j++
					return f[j]
				}
				return ""
			}
			switch f[j] {
			case "machine":
				list = append(list, netrcEntry{machine: next()})
				cur = &list[len(list)-1]
			case "default":
				list = append(list, netrcEntry{})
				cur = &list[len(list)-1]
			case "login":
				if v := next(); cur != nil {
					cur.login = v
				}
			case "password":
				if v := next(); cur != nil && v != "" {
					cur.hasPassword = true
				}
			case "macdef":
				for i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
					i++
				}
				j = len(f)
			}
		}
	}
	return list
}

// netrcPath is where go reads .netrc: $NETRC, else ~/.netrc (_netrc on
// Windows).
func (d *run) netrcPath() string {
	if p := d.opts.Getenv("NETRC"); p != "" {
		return p
	}
	home := d.opts.Getenv("HOME")
	if runtime.GOOS == "windows" {
		home = d.opts.Getenv("USERPROFILE")
	}
	if home == "" {
		return ""
	}
	name := ".netrc"
	if runtime.GOOS == "windows" {
		name = "_netrc"
	}
	return filepath.Join(home, name)
}

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
		if d.noProxy(path) {
			addHost(strings.Split(path, "/")[0])
		}
	}
	for _, r := range d.probes {
		if r.Status == 401 || r.Status == 403 {
			addHost(hostOf(r.Mirror))
		}
	}
	for _, p := range d.proxies {
		if u, err := url.Parse(p.url); err == nil && u.User != nil {
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

	file := d.netrcPath()
	var entries []netrcEntry
	readErr := error(nil)
	if file != "" {
		data, err := d.opts.ReadFile(file)
		switch {
		case err == nil:
			entries = parseNetrc(string(data))
			if fi, err := os.Stat(file); err == nil && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
				d.add(AreaCredentials, file, Warn, fmt.Sprintf("readable by other users (mode %v)", fi.Mode().Perm()), "chmod 600 "+file)
			}
		case os.IsNotExist(err):
		default:
			readErr = err
		}
	}
	if readErr != nil {
		d.add(AreaCredentials, file, Warn, "cannot read: "+errText(readErr), "check its permissions")
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
		e, ok := findNetrc(entries, h)
		switch {
		case ok && e.hasPassword:
			who := "default entry"
			if e.machine != "" {
				who = "machine " + e.machine
			}
			d.add(AreaCredentials, h, OK, fmt.Sprintf("%s in %s: login %s, password set", who, file, e.login), "")
		case ok:
			d.add(AreaCredentials, h, Warn, fmt.Sprintf("the %s entry has no password", file), "add 'password <token>' to it")
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

func findNetrc(entries []netrcEntry, host string) (netrcEntry, bool) {
	for _, e := range entries {
		if e.machine == host {
			return e, true
		}
	}
	for _, e := range entries {
		if e.machine == "" {
			return e, true
		}
	}
	return netrcEntry{}, false
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
			d.add(AreaNetwork, k, Fail, fmt.Sprintf("%s does not parse: %v", redactProxy(v), err), "fix it: http://[user:password@]host:port")
			continue
		}
		d.add(AreaNetwork, k, OK, redactProxy(v)+" (go and git use it for "+strings.ToLower(strings.TrimSuffix(strings.ToUpper(k), "_PROXY"))+" requests)", "")
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

// redactProxy hides the password of a proxy setting.
func redactProxy(v string) string {
	u, err := parseProxy(v)
	if err != nil {
		if at := strings.LastIndex(v, "@"); at >= 0 {
			return "xxxxx" + v[at:]
		}
		return v
	}
	if u.User == nil {
		return v
	}
	r := u.Redacted()
	if !strings.Contains(v, "://") {
		r = strings.TrimPrefix(r, "http://")
	}
	return r
}
