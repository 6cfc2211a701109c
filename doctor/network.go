package doctor

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
)

// sampleFile is the file each mirror is asked for to measure throughput:
// a zip of some 25 KB that every public mirror has.
const sampleFile = "golang.org/x/sync/@v/v0.10.0.zip"

// mirrorAnswer is what asking the mirrors for a module's version list
// gave, walking GOPROXY as the go command does.
type mirrorAnswer struct {
	found  bool     // some mirror has it (200)
	status int      // else: 404 or 410 if every mirror asked said so
	asked  []string // the mirrors asked, in order: those that see the path
	err    error    // else: why the walk stopped
}

// lookupPrivate asks the mirrors for the version list of every
// requirement that GONOPROXY does not cover, walking GOPROXY as go does:
// after a 404 or 410 the next mirror is asked, after another error only
// if '|' follows. So it sends no path to a mirror the go command would not
// send it to itself.
func (d *run) lookupPrivate(ctx context.Context) {
	if d.firstMirror() == "" || d.proj == nil {
		return
	}
	var paths []string
	for _, p := range d.requirements() {
		if !d.noProxy(p) {
			paths = append(paths, p)
		}
	}
	answers := make([]mirrorAnswer, len(paths))
	client := d.client()
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i, path := range paths {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			answers[i] = d.walk(ctx, client, path)
		})
	}
	wg.Wait()
	d.onMirror = map[string]mirrorAnswer{}
	for i, p := range paths {
		d.onMirror[p] = answers[i]
	}
}

func (d *run) walk(ctx context.Context, client *http.Client, path string) mirrorAnswer {
	var ans mirrorAnswer
	enc, err := module.EscapePath(path)
	if err != nil {
		ans.err = err
		return ans
	}
	for _, p := range d.proxies {
		if !strings.HasPrefix(p.url, "http://") && !strings.HasPrefix(p.url, "https://") {
			break // direct, off, or a file:// mirror: nothing to ask
		}
		ans.asked = append(ans.asked, p.url)
		status, _, err := get(ctx, client, p.url+"/"+enc+"/@v/list", d.opts.Timeout, nil, 1<<20)
		switch {
		case err == nil && status == http.StatusOK:
			ans.found, ans.err = true, nil
			return ans
		case err == nil && (status == http.StatusNotFound || status == http.StatusGone):
			if ans.status == 0 {
				ans.status = status
			}
			continue
		case err == nil:
			err = fmt.Errorf("%s answered %d %s", redact(p.url), status, http.StatusText(status))
		default:
			what, _ := explain(err, "", hostOf(p.url), d.opts.Timeout)
			err = fmt.Errorf("%s: %s", redact(p.url), what)
		}
		ans.err, ans.status = err, 0
		if !p.fallBackOnError {
			break
		}
	}
	return ans
}

// sumdbEndpoint returns the checksum database's name and URL, as
// cmd/go/internal/modfetch/sumdb.go derives them from GOSUMDB.
func (d *run) sumdbEndpoint() (name, base string) {
	gosumdb := d.env.GOSUMDB
	if gosumdb == "" {
		gosumdb = "sum.golang.org"
	}
	if gosumdb == "off" {
		return "", ""
	}
	key, u, _ := strings.Cut(gosumdb, " ")
	name, _, _ = strings.Cut(key, "+")
	switch {
	case name == "sum.golang.google.cn":
		return "sum.golang.org", "https://sum.golang.google.cn"
	case u != "":
		if !strings.Contains(u, "://") {
			u = "https://" + u
		}
		return name, strings.TrimRight(strings.TrimSpace(u), "/")
	}
	return name, "https://" + name
}

func (d *run) sumdbName() string { n, _ := d.sumdbEndpoint(); return n }

// directSumdb asks the checksum database itself for its latest tree.
func (d *run) directSumdb(ctx context.Context) {
	_, base := d.sumdbEndpoint()
	if base == "" {
		return
	}
	status, _, err := get(ctx, d.client(), base+"/latest", d.opts.Timeout, nil, 64<<10)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("%d %s", status, http.StatusText(status))
	}
	d.sumdbDirect, d.sumdbDirectDone = err, true
}

// proxyFor returns the HTTP proxy the process environment names for url,
// redacted, or "".
func (d *run) proxyFor(raw string) string {
	keys := []string{"HTTP_PROXY", "http_proxy"}
	if strings.HasPrefix(raw, "https://") {
		keys = []string{"HTTPS_PROXY", "https_proxy"}
	}
	for _, k := range keys {
		if v := d.opts.Getenv(k); v != "" {
			return k + "=" + redactProxy(v)
		}
	}
	return ""
}

// mirrorChecks gives each mirror in GOPROXY a verdict from its probe.
func (d *run) mirrorChecks() {
	if d.proxyErr != nil {
		return
	}
	if d.opts.Offline {
		if len(d.mirrors()) > 0 {
			d.add(AreaMirrors, "mirrors", OK, "not checked (offline)", "")
		}
		return
	}
	byURL := map[string]ProbeResult{}
	for _, r := range d.probes {
		byURL[r.Mirror] = r
	}
	healthy := map[string]bool{}
	for _, r := range d.probes {
		healthy[r.Mirror] = probeOK(r)
	}
	for i, p := range d.proxies {
		switch {
		case p.url == "direct":
			d.add(AreaMirrors, "direct", OK, "modules no mirror has are fetched from their own repositories (git must be installed and each host reachable)", "")
			continue
		case p.url == "off":
			continue
		case strings.HasPrefix(p.url, "file://"):
			d.add(AreaMirrors, redact(p.url), OK, "a local directory: nothing to probe", "")
			continue
		}
		r, ok := byURL[p.url]
		if !ok {
			continue
		}
		name := redact(p.url)
		host := hostOf(p.url)
		// What go does when this mirror fails: move on after '|', stop
		// after ','.
		next := ""
		for _, q := range d.proxies[i+1:] {
			if q.url != "off" {
				next = redact(q.url)
				break
			}
		}
		status := Fail
		after := ""
		switch {
		case next != "" && p.fallBackOnError && d.rescued(i, healthy):
			status = Warn
			after = fmt.Sprintf("; go moves on to %s after it ('|'), but waits for this one first", next)
		case next != "" && p.fallBackOnError:
			after = fmt.Sprintf("; go moves on to %s after it ('|'), but reaches no working mirror from there", next)
		case next != "" && !p.fallBackOnError:
			after = fmt.Sprintf("; with ',' after it go stops here instead of trying %s (only 404 and 410 move on)", next)
		}
		switch {
		case r.Err != nil:
			what, fix := explain(r.Err, r.Stage, host, d.opts.Timeout)
			if px := d.proxyFor(p.url); px != "" && (r.Stage == "dns" || r.Stage == "connect") {
				what += " (reaching the proxy " + px + ")"
				fix = "check the HTTP proxy settings"
			}
			if !p.fallBackOnError && next != "" {
				fix += "; and put '|' after it in GOPROXY, so that go falls through to " + next + " on errors"
			}
			d.add(AreaMirrors, name, status, what+after, fix)
		case r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden:
			d.add(AreaMirrors, name, status, fmt.Sprintf("answers %d %s%s", r.Status, http.StatusText(r.Status), after),
				fmt.Sprintf("give credentials for %s in .netrc (machine %s login ... password ...), or check the mirror's IP allowlist", host, host))
		case r.Status == http.StatusProxyAuthRequired:
			d.add(AreaMirrors, name, status, "the HTTP proxy answers 407 Proxy Authentication Required"+after,
				"put the proxy's credentials in HTTPS_PROXY (http://user:password@proxy:port)")
		case r.Status >= 500:
			fix := "the mirror is failing: put a healthy mirror first in GOPROXY"
			if !p.fallBackOnError && next != "" {
				fix += "; and put '|' after it in GOPROXY, so that go falls through to " + next + " on errors"
			}
			d.add(AreaMirrors, name, status, fmt.Sprintf("answers %d %s%s", r.Status, http.StatusText(r.Status), after), fix)
		default:
			d.add(AreaMirrors, name, OK, timings(r, d.sumdbName()), "")
		}
	}
}

// probeOK reports whether a mirror answered as a working one does: any
// answer but a refusal or a server error (a 404 for its root is normal).
func probeOK(r ProbeResult) bool {
	switch {
	case r.Err != nil, r.Status == http.StatusUnauthorized, r.Status == http.StatusForbidden,
		r.Status == http.StatusProxyAuthRequired, r.Status >= 500:
		return false
	}
	return true
}

// rescued reports whether go, after mirror i fails with an error, reaches
// a healthy mirror (or direct) by falling through '|' separators.
func (d *run) rescued(i int, healthy map[string]bool) bool {
	for j := i; j+1 < len(d.proxies) && d.proxies[j].fallBackOnError; j++ {
		switch next := d.proxies[j+1].url; {
		case next == "direct" || healthy[next]:
			return true
		case next == "off":
			return false
		}
	}
	return false
}

// timings describes a healthy probe.
func timings(r ProbeResult, sumdb string) string {
	var parts []string
	if r.DNS > 0 {
		parts = append(parts, "dns "+ms(r.DNS))
	}
	if r.Connect > 0 {
		parts = append(parts, "connect "+ms(r.Connect))
	}
	if r.TLS > 0 {
		parts = append(parts, "tls "+ms(r.TLS))
	}
	parts = append(parts, "first byte "+ms(r.FirstByte))
	switch {
	case r.Err != nil && r.Stage == "download":
		parts = append(parts, "sample download failed: "+rootCause(r.Err))
	case r.Bytes > 0 && r.Transfer > 0:
		parts = append(parts, fmt.Sprintf("%s/s", size(uint64(float64(r.Bytes)/r.Transfer.Seconds()))))
	}
	s := strings.Join(parts, ", ")
	if sumdb != "" {
		if r.SumDB {
			s += "; serves " + sumdb
		} else {
			s += "; does not serve " + sumdb
		}
	}
	return s
}

func ms(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Microsecond).String()
}

// size formats a byte count: "25 KB", "1.2 MB".
func size(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Host
}

// sumdb checks that the checksum database is reachable, through a
// mirror (the first one answering 200 on /sumdb/<name>/supported, as the
// go command picks it) or directly.
func (d *run) sumdb() {
	name, base := d.sumdbEndpoint()
	switch {
	case name == "":
		d.add(AreaSumdb, "GOSUMDB", OK, "off: not used", "")
		return
	case d.opts.Offline:
		d.add(AreaSumdb, name, OK, "not checked (offline)", "")
		return
	}
	// Walk GOPROXY as modfetch's dbClient.initBase does: a mirror that
	// answers 200 on /supported serves the database; 404 and 410 move on,
	// as does any error before '|'; another error ends the walk and the
	// database is unavailable; at the end, or at direct or off, go
	// connects to the database itself.
	probes := map[string]ProbeResult{}
	for _, r := range d.probes {
		probes[r.Mirror] = r
	}
walk:
	for _, p := range d.proxies {
		r, ok := probes[p.url]
		switch {
		case !ok:
			break walk // direct, off, or a file:// mirror
		case r.SumDB:
			d.add(AreaSumdb, name, OK, fmt.Sprintf("reached through %s (%s/sumdb/%s/supported)", redact(p.url), redact(p.url), name), "")
			return
		case r.Err == nil && (r.Status == http.StatusNotFound || r.Status == http.StatusGone):
		case p.fallBackOnError:
		default:
			what := fmt.Sprintf("answers %d %s", r.Status, http.StatusText(r.Status))
			if r.Err != nil {
				what, _ = explain(r.Err, r.Stage, hostOf(p.url), d.opts.Timeout)
			}
			d.add(AreaSumdb, name, Fail,
				fmt.Sprintf("go asks %s first whether it serves the database, and it fails (%s); with ',' after it, go gives up instead of trying the next mirror or the database itself", redact(p.url), what),
				"fix that mirror (see above), or put '|' after it in GOPROXY")
			return
		}
	}
	if !d.sumdbDirectDone {
		return
	}
	if d.sumdbDirect == nil {
		d.add(AreaSumdb, name, OK, "reached directly at "+base+" (no mirror in GOPROXY serves it)", "")
		return
	}
	what, _ := explain(d.sumdbDirect, "", hostOf(base), d.opts.Timeout)
	fix := "put a mirror that serves the checksum database first in GOPROXY (most do, e.g. https://goproxy.cn or https://proxy.golang.org)"
	if name == "sum.golang.org" {
		fix += ", or set GOSUMDB=sum.golang.google.cn (the same database, served from China); do not turn it off"
	}
	d.add(AreaSumdb, name, Fail, fmt.Sprintf("no mirror in GOPROXY serves it, and %s cannot be reached: %s", base, what), fix)
}
