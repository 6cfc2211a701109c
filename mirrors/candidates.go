package mirrors

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/gomodx/gomodx/goenv"
)

// builtinMirrors are the public mirrors gomodx turns to when GOPROXY is
// the go command's default or names only well-known public mirrors, and
// those cannot serve a file (unreachable, timing out, failing; never after
// a not-found, which is an answer). They serve the same public modules
// (all are fed from the module ecosystem's origin servers and are checked
// against the same checksum database), and between them at least one is
// usually reachable from any network, mainland China included.
var builtinMirrors = []string{
	"https://proxy.golang.org",
	"https://goproxy.cn",
	"https://goproxy.io",
	"https://mirrors.aliyun.com/goproxy",
}

// otherPublic are more well-known public mirrors: a GOPROXY naming only
// these (and built-in ones) is public too, so the built-in list joins it.
var otherPublic = []string{
	"https://mirrors.tencent.com/go",
	"https://mirrors.cloud.tencent.com/go",
	"https://repo.huaweicloud.com/repository/goproxy",
	"https://goproxy.baidu.com",
}

// A group is a stretch of the walk whose mirrors are interchangeable: the
// order they are tried in is gomodx's to choose (ranking, scoreboard,
// hedging), because trying them in another order does not change who may
// see a module path. After the group, fallBackOnError (the separator after
// its last GOPROXY entry) decides whether the walk goes on: '|' after any
// failure, ',' only when the file was not found (see [List.Fetch] for the
// exact rule). "direct" and "off" are groups of their own. The built-in
// mirrors are a group apart, the rescue group, outside the walk.
type group struct {
	mirrors         []*mirror // in configured order
	fallBackOnError bool

	ready     chan struct{} // closed once the group is ranked
	ranking   bool          // a ranking was started (under List.mu)
	rank      map[*mirror]int
	fromCache bool // the ranking came from the rank cache
	reprobed  bool // a re-probe was started in this run
}

// keyword reports whether g is "direct" or "off".
func (g *group) keyword() bool { return len(g.mirrors) == 1 && g.mirrors[0].keyword() }

// hasNamed reports whether some mirror of g comes from GOPROXY itself.
func (g *group) hasNamed() bool {
	for _, m := range g.mirrors {
		if m.named {
			return true
		}
	}
	return false
}

// candidates turns GOPROXY's entries and the extra mirrors into the
// groups of the walk, and the built-in list into the rescue group:
//
//   - GOPROXY as written: each run of mirrors joined by '|' is a group, and
//     the extra mirrors join the first group with a mirror. With no mirror
//     before "direct", they form a group of their own ending in '|', so
//     that "direct" is still reached. With GOPROXY=off they are ignored:
//     off means no network.
//   - When GOPROXY names one or more mirrors, all well-known public ones
//     (the default "https://proxy.golang.org,direct" among them), and
//     noBuiltin is not set, the built-in mirrors it does not name form the
//     rescue group, asked only when GOPROXY's mirrors cannot serve a file
//     (see [List.Fetch]). Otherwise rescue is nil.
//
// Duplicates within a group are dropped; the first place wins.
func candidates(entries []goenv.Entry, extra []string, noBuiltin bool, builtin []string) (groups []*group, rescue *group, err error) {
	extras := make([]*mirror, 0, len(extra))
	for _, raw := range extra {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		e, err := goenv.ParseProxy(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("extra mirror: %w", err)
		}
		if len(e) != 1 || e[0].Keyword() {
			return nil, nil, fmt.Errorf("extra mirror %s: not a mirror URL", goenv.Redact(raw))
		}
		m, err := newMirror(goenv.Entry{URL: e[0].URL})
		if err != nil {
			return nil, nil, err
		}
		extras = append(extras, m)
	}

	var named []*mirror
	cur := &group{}
	for _, e := range entries {
		m, err := newMirror(e)
		if err != nil {
			return nil, nil, err
		}
		if m.keyword() {
			if len(cur.mirrors) > 0 {
				cur.fallBackOnError = true
				groups = append(groups, cur)
				cur = &group{}
			}
			groups = append(groups, &group{mirrors: []*mirror{m}})
			continue
		}
		m.named = true
		named = append(named, m)
		cur.add(m)
		if !m.FallBackOnError {
			cur.fallBackOnError = false
			groups = append(groups, cur)
			cur = &group{}
		}
	}
	if len(cur.mirrors) > 0 {
		cur.fallBackOnError = true
		groups = append(groups, cur)
	}
	if len(extras) > 0 {
		switch {
		case len(groups) == 1 && groups[0].keyword() && groups[0].mirrors[0].URL == off:
			// GOPROXY=off: nothing is fetched.
		case groups[0].keyword():
			g := &group{fallBackOnError: true}
			g.add(extras...)
			groups = append([]*group{g}, groups...)
		default:
			groups[0].add(extras...)
		}
	}

	if noBuiltin || len(named) == 0 || !allPublic(named, builtin) {
		return groups, nil, nil
	}
	rescue = &group{}
	for _, raw := range builtin {
		m, err := newMirror(goenv.Entry{URL: raw})
		if err != nil {
			return nil, nil, err
		}
		if !inGroups(groups, m) {
			rescue.add(m)
		}
	}
	if len(rescue.mirrors) == 0 {
		return groups, nil, nil
	}
	return groups, rescue, nil
}

// inGroups reports whether m is a mirror of one of groups.
func inGroups(groups []*group, m *mirror) bool {
	for _, g := range groups {
		for _, have := range g.mirrors {
			if publicKey(have.URL) == publicKey(m.URL) {
				return true
			}
		}
	}
	return false
}

// add appends the mirrors not already in g.
func (g *group) add(ms ...*mirror) {
	for _, m := range ms {
		dup := false
		for _, have := range g.mirrors {
			if publicKey(have.URL) == publicKey(m.URL) {
				dup = true
				break
			}
		}
		if !dup {
			g.mirrors = append(g.mirrors, m)
		}
	}
}

// allPublic reports whether every mirror is a well-known public one: one of
// builtin or otherPublic, over https, without credentials.
func allPublic(ms []*mirror, builtin []string) bool {
	known := map[string]bool{}
	for _, raw := range append(append([]string(nil), builtin...), otherPublic...) {
		known[publicKey(raw)] = true
	}
	for _, m := range ms {
		if m.user != nil || !known[publicKey(m.URL)] {
			return false
		}
	}
	return true
}

// publicKey normalises a mirror URL for comparison with the well-known
// ones: lower-case scheme and host, no trailing slash. URLs with
// credentials, a query or a fragment match nothing.
func publicKey(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "\x00" + raw
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + strings.TrimRight(u.Path, "/")
}
