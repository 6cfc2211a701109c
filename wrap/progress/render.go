package progress

// Rendering: the bar on a terminal, the timestamped lines elsewhere, and
// the words both are made of.

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/mod/module"
	"golang.org/x/term"

	"github.com/gomodx/gomodx/mirrors"
)

// status is the progress so far, for a progress line:
// "42/310 files, 12.3 MB, 2.1 MB/s".
func (r *Reporter) status(now time.Time) string {
	f := r.fields(now)
	return strings.Join(slices.DeleteFunc([]string{f.files, f.bytes, f.rate}, isEmpty), ", ")
}

// fields are the parts of the progress display.
type fields struct {
	files, bytes, rate, clock, eta string
}

func (r *Reporter) fields(now time.Time) fields {
	elapsed := now.Sub(r.start)
	f := fields{
		files: fmt.Sprintf("%d/%d files", r.settled, r.planned),
		bytes: formatBytes(r.bytes),
		clock: formatClock(elapsed),
	}
	if s := elapsed.Seconds(); s > 0 && r.bytes > 0 {
		f.rate = formatBytes(int64(float64(r.bytes)/s)) + "/s"
	}
	if r.settled > 0 && r.planned > r.settled && elapsed >= time.Second {
		eta := time.Duration(float64(elapsed) * float64(r.planned-r.settled) / float64(r.settled))
		if eta >= time.Second {
			f.eta = "ETA " + formatClock(eta)
		}
	}
	return f
}

func isEmpty(s string) bool { return s == "" }

// barText is the text beside the bar, in at most room columns: the files,
// bytes, rate, elapsed time, ETA, and the mirror in use or the request that
// waits longest. When room is short, the ETA goes first, then the rate, the
// time and the bytes; the mirror or the wait is cut last.
func (r *Reporter) barText(now time.Time, room int) string {
	f := r.fields(now)
	tail := r.slowest(now)
	if tail == "" {
		tail = mirrorName(r.busiest())
	}
	for _, drop := range []*string{nil, &f.eta, &f.rate, &f.clock, &f.bytes} {
		if drop != nil {
			*drop = ""
		}
		clock := strings.TrimSpace(f.clock + " " + f.eta)
		text := strings.Join(slices.DeleteFunc([]string{f.files, f.bytes, f.rate, clock, tail}, isEmpty), ", ")
		if utf8.RuneCountInString(text) <= room {
			return text
		}
	}
	return truncate(strings.Join(slices.DeleteFunc([]string{f.files, tail}, isEmpty), ", "), room)
}

// slowest describes the request that has waited longest, if it has waited
// more than slowAfter: "waiting 12s for k8s.io/api@v0.31.2 .zip from
// goproxy.cn, trying proxy.golang.org".
func (r *Reporter) slowest(now time.Time) string {
	var key reqKey
	var oldest *request
	for k, req := range r.inflight {
		if oldest == nil || req.start.Before(oldest.start) ||
			req.start.Equal(oldest.start) && k.mod.String()+k.file < key.mod.String()+key.file {
			key, oldest = k, req
		}
	}
	if oldest == nil || now.Sub(oldest.start) < slowAfter {
		return ""
	}
	s := fmt.Sprintf("waiting %s for %s .%s from %s", formatWait(now.Sub(oldest.start)), key.mod, key.file, mirrorName(key.mirror))
	if oldest.next != "" {
		s += ", trying " + mirrorName(oldest.next)
	}
	return s
}

// busiest is the mirror with the most requests in flight, else the last one
// used.
func (r *Reporter) busiest() string {
	count := map[string]int{}
	best := r.lastMirror
	for k := range r.inflight {
		count[k.mirror]++
	}
	for m, n := range count {
		if n > count[best] || n == count[best] && m < best {
			best = m
		}
	}
	return best
}

// showBar starts the bar. Called with r.mu held.
func (r *Reporter) showBar() {
	if r.bar != nil || !r.tty {
		return
	}
	r.bar = progressbar.NewOptions64(barMax,
		progressbar.OptionSetWriter(r.opts.Stderr),
		progressbar.OptionSetVisibility(r.tty),
		progressbar.OptionThrottle(r.throttle),
		progressbar.OptionUseANSICodes(true),
		progressbar.OptionSetWidth(barWidth),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetElapsedTime(false),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionSetTheme(progressbar.Theme{Saucer: "█", SaucerPadding: "░"}),
	)
	r.redraw(r.now())
}

// barMax is the bar's scale: it shows files settled per mille of planned,
// and never reaches the end while running, because progressbar stops
// drawing a bar that did and the plan may still grow.
const barMax = 1000

// redraw draws the bar with the current state. Called with r.mu held.
func (r *Reporter) redraw(now time.Time) {
	if r.bar == nil || !r.finishedAt.IsZero() {
		return
	}
	var permille int64
	if r.planned > 0 {
		permille = min(int64(r.settled)*barMax/int64(r.planned), barMax-1)
	}
	// The line must never wrap, or the bar could not erase itself: not even
	// when the terminal echoes "^C" after it. progressbar draws
	// "%4d%% " + bar + "  " + desc + " ".
	room := r.width() - len("^C") - 1 - (barWidth + 9)
	// Describe draws; Set64 draws too when the percentage changes, unless
	// throttled: the text is always fresh, the bar at most a tick behind.
	r.bar.Describe(r.barText(now, room))
	r.bar.Set64(permille)
}

// width is the terminal's width.
func (r *Reporter) width() int {
	if r.opts.Width != nil {
		return r.opts.Width()
	}
	if f, ok := r.opts.Stderr.(interface{ Fd() uintptr }); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	return defaultColumns
}

// printf prints one line for people, above the bar on a terminal, with a
// timestamp elsewhere. Called with r.mu held.
func (r *Reporter) printf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	if !r.tty {
		line = r.now().Format("15:04:05") + " " + line
	}
	r.println("gomodx: " + line)
}

// warn prints a line about a retry, failover, mismatch, hedge or repair,
// unless quiet. Called with r.mu held.
func (r *Reporter) warn(format string, args ...any) {
	if r.opts.Quiet {
		return
	}
	r.printf(format, args...)
}

// trace prints a -x line. Called with r.mu held.
func (r *Reporter) trace(format string, args ...any) {
	if r.opts.Trace {
		r.println(fmt.Sprintf(format, args...))
	}
}

// println writes a whole line, erasing the bar first; the next redraw
// brings the bar back below it. Called with r.mu held.
func (r *Reporter) println(line string) {
	if r.bar != nil && r.finishedAt.IsZero() {
		r.bar.Clear()
	}
	io.WriteString(r.opts.Stderr, line+"\n")
	if r.bar != nil && r.finishedAt.IsZero() {
		r.redraw(r.now())
	}
}

func (r *Reporter) yellow(s string) string { return r.paint("33", s) }
func (r *Reporter) red(s string) string    { return r.paint("31", s) }

func (r *Reporter) paint(code, s string) string {
	if !r.color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// subject names what ev is about: "example.com/a@v1.0.0: .zip", or for the
// go command's own lookups the protocol path, "golang.org/x/text/@v/list".
func subject(ev mirrors.Event) string {
	if ev.Mod.Path == "" {
		return ev.File
	}
	return ev.Mod.String() + ": ." + ev.File
}

// requestURL is the URL mirrors requested for ev, as 'go -x' shows it.
func requestURL(ev mirrors.Event) string {
	if ev.Mod.Path == "" {
		return ev.Mirror + "/" + ev.File
	}
	path, err1 := module.EscapePath(ev.Mod.Path)
	version, err2 := module.EscapeVersion(ev.Mod.Version)
	if err1 != nil || err2 != nil {
		path, version = ev.Mod.Path, ev.Mod.Version
	}
	return ev.Mirror + "/" + path + "/@v/" + version + "." + ev.File
}
