package doctor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomodx/gomodx/goenv"
	"github.com/gomodx/gomodx/mirrors"
	"github.com/gomodx/gomodx/retry"
)

// sampleFile is the file each mirror is asked for to measure throughput:
// a zip of some 25 KB that every public mirror has.
const sampleFile = "golang.org/x/sync/@v/v0.10.0.zip"

// newMirrors returns the mirrors of GOPROXY, as gomodx reaches them for a
// download (Options.Mirrors), but within doctor's timeout, without
// retries, hedges or the rank cache: doctor asks each mirror once. With
// builtin, the built-in mirrors come too, when a download would use them;
// without, only the mirrors GOPROXY names, for what the go command would
// ask them.
func (d *run) newMirrors(builtin bool) (*mirrors.List, error) {
	opts := d.opts.Mirrors
	opts.Policy = retry.Policy{Timeout: d.opts.Timeout, MaxTotal: 4 * d.opts.Timeout}
	if !builtin {
		opts.Extra, opts.NoBuiltin = nil, true
	}
	opts.ProbeTimeout = d.opts.Timeout
	opts.ProbeSample = sampleFile
	opts.SumDB = d.sumdbName()
	opts.RankTTL, opts.HedgeAfter = -1, -1
	opts.OnEvent = nil
	entries := d.proxies
	if d.proxyErr != nil {
		entries = []goenv.Entry{{URL: goenv.Off}}
	}
	return mirrors.New(entries, opts)
}

// mirrorAnswer is what asking the mirrors for a module's version list
// gave, walking GOPROXY as the go command does.
type mirrorAnswer struct {
	found  bool     // some mirror has it (200)
	status int      // else: 404 or 410 if every mirror asked said so
	asked  []string // the mirrors asked, in order: those that saw the path
	err    error    // else: why the walk stopped
}

// lookupPrivate asks the mirrors for the version list of every
// requirement that GONOPROXY does not cover, through the same walk a
// download takes: after a 404 or 410 the next mirror is asked, after
// another error only if '|' follows. So it sends no path to a mirror the
// go command would not send it to itself.
func (d *run) lookupPrivate(ctx context.Context, l *mirrors.List) {
	if d.firstMirror() == "" || d.proj == nil {
		return
	}
	var paths []string
	for _, p := range d.requirements() {
		if !d.env.Private(p) {
			paths = append(paths, p)
		}
	}
	answers := make([]mirrorAnswer, len(paths))
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i, path := range paths {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			answers[i] = d.lookup(ctx, l, path)
		})
	}
	wg.Wait()
	d.onMirror = map[string]mirrorAnswer{}
	for i, p := range paths {
		d.onMirror[p] = answers[i]
	}
}

// lookup asks the mirrors for path's version list.
func (d *run) lookup(ctx context.Context, l *mirrors.List, path string) mirrorAnswer {
	var ans mirrorAnswer
	enc, err := module.EscapePath(path)
	if err != nil {
		ans.err = err
		return ans
	}
	err = l.Get(ctx, enc+"/@v/list", func(body io.Reader) error {
		_, err := io.Copy(io.Discard, body)
		return err
	})
	if err == nil {
		ans.found = true
		return ans
	}
	var merr *mirrors.Error
	if !errors.As(err, &merr) {
		ans.err = err
		return ans
	}
	for _, a := range merr.Attempts {
		if !a.Sent() {
			if ans.err == nil && !errors.Is(a.Err, errors.ErrUnsupported) {
				ans.err = fmt.Errorf("%s: %v", a.Mirror, a.Err)
			}
			continue
		}
		ans.asked = append(ans.asked, a.Mirror)
		se, isStatus := errors.AsType[*retry.StatusError](a.Err)
		switch {
		case errors.Is(a.Err, fs.ErrNotExist) && isStatus:
			if ans.status == 0 {
				ans.status = se.Code
			}
		case ans.err != nil:
		case isStatus:
			ans.err = fmt.Errorf("%s answered %d %s", a.Mirror, se.Code, http.StatusText(se.Code))
		default:
			what, _ := mirrors.Explain(a.Err, "", hostOf(a.Mirror), d.opts.Timeout)
			ans.err = fmt.Errorf("%s: %s", a.Mirror, what)
		}
	}
	if ans.err != nil {
		ans.status = 0
	}
	return ans
}

func (d *run) sumdbName() string { return d.env.SumDB.Name }

// directSumdb asks the checksum database itself for its latest tree.
func (d *run) directSumdb(ctx context.Context, l *mirrors.List) {
	base := d.env.SumDB.DirectURL()
	if base == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	d.sumdbDirect = l.GetURL(ctx, base+"/latest", func(body io.Reader) error {
		_, err := io.Copy(io.Discard, body)
		return err
	})
	d.sumdbDirectDone = true
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
			return k + "=" + goenv.Redact(v)
		}
	}
	return ""
}

// probeByURL indexes the probes by mirror (its redacted URL).
func (d *run) probeByURL() map[string]mirrors.ProbeResult {
	byURL := map[string]mirrors.ProbeResult{}
	for _, r := range d.probes {
		byURL[r.Mirror] = r
	}
	return byURL
}

// mirrorChecks gives each mirror in GOPROXY a verdict from its probe, and
// says which built-in mirrors gomodx would turn to, and when.
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
	byURL := d.probeByURL()
	healthy := map[string]bool{}
	for _, r := range d.probes {
		healthy[r.Mirror] = probeOK(r)
	}
	rec := d.recommend()
	for i, p := range d.proxies {
		switch {
		case p.URL == goenv.Direct:
			d.add(AreaMirrors, "direct", OK, "not checked: modules no mirror has are fetched from their own repositories, which needs git and each host reachable", "")
			continue
		case p.URL == goenv.Off:
			continue
		case strings.HasPrefix(p.URL, "file://"):
			d.add(AreaMirrors, p.Redacted(), OK, "a local directory: nothing to probe", "")
			continue
		}
		name := p.Redacted()
		r, ok := byURL[name]
		if !ok {
			continue
		}
		host := hostOf(p.URL)
		// What go does when this mirror fails: move on after '|', stop
		// after ','.
		next := ""
		for _, q := range d.proxies[i+1:] {
			if q.URL != goenv.Off {
				next = q.Redacted()
				break
			}
		}
		status := Fail
		after := ""
		switch {
		case next != "" && p.FallBackOnError && d.rescued(i, healthy):
			status = Warn
			after = fmt.Sprintf("; go moves on to %s after it ('|'), but waits for this one first", next)
		case next != "" && p.FallBackOnError:
			after = fmt.Sprintf("; go moves on to %s after it ('|'), but reaches no working mirror from there", next)
		case next != "" && !p.FallBackOnError:
			after = fmt.Sprintf("; with ',' after it go stops here instead of trying %s (only 404 and 410 move on)", next)
		}
		// How to make go move on from here: to a mirror measured to work
		// (direct is not measured, so it is never the way out).
		pipe := ""
		if !p.FallBackOnError && next != "" && next != goenv.Direct {
			pipe = "; and put '|' after it in GOPROXY, so that go falls through to " + next + " on errors"
		}
		switch code := r.HTTPStatus; {
		case r.Err != nil:
			what, fix := mirrors.Explain(r.Err, r.Stage, host, d.opts.Timeout)
			if px := d.proxyFor(p.URL); px != "" && (r.Stage == mirrors.StageDNS || r.Stage == mirrors.StageConnect) {
				what += " (reaching the proxy " + px + ")"
				fix = "check the HTTP proxy settings"
			}
			fix += pipe
			if rec != "" {
				fix = rec
			}
			d.add(AreaMirrors, name, status, what+after, fix)
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			d.add(AreaMirrors, name, status, fmt.Sprintf("answers %d %s%s", code, http.StatusText(code), after),
				fmt.Sprintf("give credentials for %s in .netrc (machine %s login ... password ...), or check the mirror's IP allowlist", host, host))
		case code == http.StatusProxyAuthRequired:
			d.add(AreaMirrors, name, status, "the HTTP proxy answers 407 Proxy Authentication Required"+after,
				"put the proxy's credentials in HTTPS_PROXY (http://user:password@proxy:port)")
		case code >= 500:
			fix := "the mirror is failing: put a healthy mirror first in GOPROXY" + pipe
			if rec != "" {
				fix = rec
			}
			d.add(AreaMirrors, name, status, fmt.Sprintf("answers %d %s%s", code, http.StatusText(code), after), fix)
		default:
			d.add(AreaMirrors, name, OK, timings(r, d.sumdbName()), "")
		}
	}
	d.builtinChecks()
}

// builtinChecks says which mirrors gomodx adds to GOPROXY's: those of
// --mirror, and the built-in ones it would turn to, when, and how each
// answers here.
func (d *run) builtinChecks() {
	named := map[string]bool{}
	for _, p := range d.proxies {
		named[p.Redacted()] = true
	}
	var names []string
	var builtin []mirrors.ProbeResult
	for _, r := range d.probes {
		switch {
		case r.Rescue:
			names = append(names, r.Mirror)
			builtin = append(builtin, r)
		case !named[r.Mirror]:
			detail := "--mirror, asked with GOPROXY's first mirrors: " + timings(r, d.sumdbName())
			if !probeOK(r) {
				detail = "--mirror, asked with GOPROXY's first mirrors: not usable here"
			}
			d.add(AreaMirrors, r.Mirror, OK, detail, "")
		}
	}
	switch {
	case len(d.mirrors()) == 0:
		return
	case d.opts.Mirrors.NoBuiltin:
		d.add(AreaMirrors, "built-in mirrors", OK, "not used (--no-builtin-mirrors): gomodx asks only GOPROXY's mirrors", "")
		return
	case len(builtin) == 0:
		d.add(AreaMirrors, "built-in mirrors", OK, "not used with this GOPROXY: gomodx asks only its mirrors", "")
		return
	}
	d.add(AreaMirrors, "built-in mirrors", OK, words(names)+": gomodx asks them only when GOPROXY's mirrors cannot serve a file (unreachable, timing out, failing; never after a 404 or 410), and says so when it does; --no-builtin-mirrors (GOMODX_NO_BUILTIN_MIRRORS=1) forbids them", "")
	for _, r := range builtin {
		detail := "built-in: " + timings(r, d.sumdbName())
		if !probeOK(r) {
			detail = "built-in: not usable here"
			if r.Err != nil {
				what, _ := mirrors.Explain(r.Err, r.Stage, hostOf(r.Mirror), d.opts.Timeout)
				detail += " (" + what + ")"
			} else {
				detail += fmt.Sprintf(" (answers %d %s)", r.HTTPStatus, http.StatusText(r.HTTPStatus))
			}
		}
		d.add(AreaMirrors, r.Mirror, OK, detail, "")
	}
}

// recommend returns the fix that sets GOPROXY to the mirrors doctor
// measured working here, the fastest first, when a mirror of GOPROXY fails
// and GOPROXY names only public mirrors (so that the built-in ones are
// candidates too); else "". The private-module settings (GOPRIVATE,
// GONOPROXY, GONOSUMDB) stay as they are, and so does GOPROXY's end
// (direct or off). The 'go env -w' line goes to GoEnvFixes, for --fix.
func (d *run) recommend() string {
	public, failing := false, false
	var working []mirrors.ProbeResult
	named := map[string]bool{}
	for _, p := range d.proxies {
		named[p.Redacted()] = true
	}
	for _, r := range d.probes {
		public = public || r.Rescue
		switch {
		case !probeOK(r):
			failing = failing || named[r.Mirror]
		case strings.HasPrefix(r.Mirror, "https://") || strings.HasPrefix(r.Mirror, "http://"):
			working = append(working, r)
		}
	}
	if !public || !failing || len(working) == 0 {
		return ""
	}
	slices.SortStableFunc(working, func(a, b mirrors.ProbeResult) int { return cmp.Compare(a.FirstByte, b.FirstByte) })
	var list []string
	for _, r := range working {
		list = append(list, r.Mirror)
	}
	value := strings.Join(list, "|")
	if last := d.proxies[len(d.proxies)-1]; last.Keyword() {
		value += "," + last.URL
	}
	if value == d.env.GOPROXY {
		return ""
	}
	if !d.fromOSEnv("GOPROXY") && !slices.ContainsFunc(d.report.GoEnvFixes, func(a []string) bool { return strings.HasPrefix(a[len(a)-1], "GOPROXY=") }) {
		d.report.GoEnvFixes = append(d.report.GoEnvFixes, []string{"env", "-w", "GOPROXY=" + value})
	}
	return "use the mirrors that answer here, fastest first (GOPRIVATE and GONOSUMDB stay as they are): " + d.setCmd("GOPROXY", value)
}

// probeOK reports whether a mirror answered as a working one does: any
// answer but a refusal or a server error (a 404 for its root is normal).
func probeOK(r mirrors.ProbeResult) bool {
	switch code := r.HTTPStatus; {
	case r.Err != nil, code == http.StatusUnauthorized, code == http.StatusForbidden,
		code == http.StatusProxyAuthRequired, code >= 500:
		return false
	}
	return true
}

// rescued reports whether go, after mirror i fails with an error, reaches
// a healthy mirror (or direct) by falling through '|' separators.
func (d *run) rescued(i int, healthy map[string]bool) bool {
	for j := i; j+1 < len(d.proxies) && d.proxies[j].FallBackOnError; j++ {
		switch next := d.proxies[j+1]; {
		case next.URL == goenv.Direct || healthy[next.Redacted()]:
			return true
		case next.URL == goenv.Off:
			return false
		}
	}
	return false
}

// timings describes a healthy probe.
func timings(r mirrors.ProbeResult, sumdb string) string {
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
	if r.Bytes > 0 && r.Transfer > 0 {
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
	sdb := d.env.SumDB
	name, base := sdb.Name, sdb.DirectURL()
	switch {
	case sdb.Off:
		d.add(AreaSumdb, "GOSUMDB", OK, "off: not used", "")
		return
	case sdb.Err != nil:
		d.add(AreaSumdb, "GOSUMDB", Fail, d.env.GOSUMDB+" does not parse: "+sdb.Err.Error()+" (go fails with it whenever it checks a module)", d.unsetCmd("GOSUMDB"))
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
	probes := d.probeByURL()
walk:
	for _, p := range d.proxies {
		r, ok := probes[p.Redacted()]
		switch {
		case !ok || strings.HasPrefix(p.URL, "file://"):
			break walk // direct, off, or a file:// mirror
		case r.SumDB:
			d.add(AreaSumdb, name, OK, fmt.Sprintf("reached through %s (%s/sumdb/%s/supported)", p.Redacted(), p.Redacted(), name), "")
			return
		case r.Err == nil && (r.HTTPStatus == http.StatusNotFound || r.HTTPStatus == http.StatusGone):
		case p.FallBackOnError:
		default:
			what := fmt.Sprintf("answers %d %s", r.HTTPStatus, http.StatusText(r.HTTPStatus))
			if r.Err != nil {
				what, _ = mirrors.Explain(r.Err, r.Stage, hostOf(p.URL), d.opts.Timeout)
			}
			d.add(AreaSumdb, name, Fail,
				fmt.Sprintf("go asks %s first whether it serves the database, and it fails (%s); with ',' after it, go gives up instead of trying the next mirror or the database itself", p.Redacted(), what),
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
	what, _ := mirrors.Explain(d.sumdbDirect, "", hostOf(base), d.opts.Timeout)
	fix := "put a mirror that serves the checksum database first in GOPROXY (most do, e.g. https://goproxy.cn or https://proxy.golang.org)"
	if name == "sum.golang.org" {
		fix += ", or set GOSUMDB=sum.golang.google.cn (the same database, served from China); do not turn it off"
	}
	d.add(AreaSumdb, name, Fail, fmt.Sprintf("no mirror in GOPROXY serves it, and %s cannot be reached: %s", base, what), fix)
}
