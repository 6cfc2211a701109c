package doctor

import (
	"strings"

	"github.com/gomodx/gomodx/goenv"
)

// git checks the git the go command fetches modules with when they reach
// direct (GOPRIVATE, GOPROXY's direct, or after a 404 on every mirror):
// that there is one if the project needs it, and what stops it hanging on
// a stalled fetch, which git, unlike gomodx's own downloads, would do
// for ever.
func (d *run) git() {
	g := d.opts.Git
	if g == nil {
		return
	}
	var private []string
	for _, path := range d.requirements() {
		if d.env.Private(path) {
			private = append(private, path)
		}
	}
	direct := d.proxyErr == nil && len(d.proxies) > 0 && d.proxies[0].URL == goenv.Direct
	if g.Path == "" {
		switch {
		case len(private) > 0 || direct:
			why := "GOPROXY is direct"
			if len(private) > 0 {
				why = words(private) + " match GOPRIVATE/GONOPROXY"
				if len(private) == 1 {
					why = private[0] + " matches GOPRIVATE/GONOPROXY"
				}
			}
			d.add(AreaGit, "git", Fail, "not found on PATH, and go fetches modules itself with it: "+why, "install git (or reach these modules through a GOPROXY that serves them)")
		default:
			d.add(AreaGit, "git", OK, "not found on PATH: go needs it only for modules it fetches itself (GOPRIVATE, GOPROXY's direct), and none does here", "")
		}
		return
	}
	var limits []string
	for _, kv := range g.Added {
		k, v, _ := strings.Cut(kv, "=")
		if strings.Contains(v, " ") {
			v = "'" + v + "'"
		}
		limits = append(limits, k+"="+v)
	}
	detail := g.Path + ": go fetches modules that reach direct (GOPRIVATE, GOPROXY's direct) with it, and git has no timeout of its own"
	switch {
	case len(limits) > 0:
		detail += "; gomodx adds " + words(limits) + " (from --stall), so that a stalled fetch fails instead of hanging"
	case len(g.Kept) == 0:
		detail += "; with --stall 0, gomodx adds no limit: a stalled fetch hangs"
	}
	if len(g.Kept) > 0 {
		detail += "; yours, kept as they are: " + words(g.Kept)
	}
	d.add(AreaGit, "git", OK, detail, "")
}
