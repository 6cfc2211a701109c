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

	"golang.org/x/mod/module"
	"golang.org/x/term"

	"github.com/gomodx/gomodx/mirrors"
)

// status is the progress so far, for a progress line:
// "42/310 files (finding more), 12.3 MB, 2.1 MB/s" or
// "198/310 files, 41.0 MB, 4.1 MB/s, ETA 0:05".
func (r *Reporter) status(now time.Time) string {
	f := r.fields(now)
	return strings.Join(slices.DeleteFunc([]string{f.files, f.bytes, f.rate, f.eta}, isEmpty), ", ")
}

// fields are the parts of the progress display.
type fields struct {
	files, bytes, rate, clock, eta string
}

// growing reports whether the plan may still grow: a go.mod file planned
// is not read yet (each adds the modules it requires), or a file was
// planned a moment ago. Called with r.mu held.
func (r *Reporter) growing(now time.Time) bool {
	return !r.planKnown && (r.pendingMods > 0 || now.Sub(r.lastPlanned) < growQuiet)
}

// received is the bytes of the files in flight received so far, and the
// share of them done, in files: what the display adds to the files
// settled. Called with r.mu held.
func (r *Reporter) received() (bytes int64, files float64) {
	for _, fs := range r.files {
		bytes += fs.received
		if fs.size > 0 {
			files += float64(min(fs.received, fs.size)) / float64(fs.size)
		}
	}
	return bytes, files
}

func (r *Reporter) fields(now time.Time) fields {
	elapsed := now.Sub(r.start)
	inFlight, _ := r.received()
	bytes := r.bytes + inFlight
	f := fields{
		files: fmt.Sprintf("%d/%d files", r.done, r.planned),
		bytes: formatBytes(bytes),
		clock: formatClock(elapsed),
	}
	if s := elapsed.Seconds(); s > 0 && bytes > 0 {
		f.rate = formatBytes(int64(float64(bytes)/s)) + "/s"
	}
	var eta time.Duration
	left := r.bytesLeft()
	switch {
	case r.growing(now):
		// A total that grows makes any estimate a guess: say so instead.
		f.files += " (finding more)"
	case r.planned <= r.settled || elapsed < time.Second:
	case left >= 0 && bytes > 0:
		// What is left is the rest of large files of known size (the
		// toolchain's zip, the last zips of a download): by bytes.
		eta = time.Duration(float64(left) / float64(bytes) * float64(elapsed))
	case r.done > 0:
		eta = time.Duration(float64(elapsed) * float64(r.planned-r.settled) / float64(r.done))
	}
	if eta >= time.Second {
		f.eta = "ETA " + formatClock(eta)
	}
	return f
}

// bytesLeft is the bytes still to come when every file not settled yet is
// in flight with a known size, else -1. Called with r.mu held.
func (r *Reporter) bytesLeft() int64 {
	var left int64
	known := 0
	for _, fs := range r.files {
		if fs.size > 0 {
			known++
			left += max(fs.size-fs.received, 0)
		}
	}
	if known == 0 || known != r.planned-r.settled {
		return -1
	}
	return left
}

func isEmpty(s string) bool { return s == "" }

// barText is the text beside the bar, in at most room columns: the files,
// bytes, rate, elapsed time, ETA, and the mirror in use or the request that
// waits longest. When room is short, the elapsed time goes first, then the
// bytes, the rate and the ETA; the mirror or the wait is cut last.
func (r *Reporter) barText(now time.Time, room int) string {
	f := r.fields(now)
	tail := r.slowest(now)
	if tail == "" {
		tail = mirrorName(r.busiest())
	}
	for _, drop := range []*string{nil, &f.clock, &f.bytes, &f.rate, &f.eta} {
		if drop != nil {
			*drop = ""
		}
		text := strings.Join(slices.DeleteFunc([]string{f.files, f.bytes, f.rate, f.clock, f.eta, tail}, isEmpty), ", ")
		if utf8.RuneCountInString(text) <= room {
			return text
		}
	}
	return truncate(strings.Join(slices.DeleteFunc([]string{f.files, tail}, isEmpty), ", "), room)
}

// slowest describes the request that has waited longest, if it has waited
// more than slowAfter: "waiting 12s for k8s.io/api@v0.31.2 .zip from
// goproxy.cn, trying proxy.golang.org". A large file waits from its last
// bytes, not from its request: one whose bytes keep coming is not waiting,
// nor is one whose bytes are all in, which is being checked and unpacked
// (said when nothing waits: "checking and unpacking golang.org/toolchain@…").
func (r *Reporter) slowest(now time.Time) string {
	var key reqKey
	var oldest *request
	var oldestSince time.Time
	var unpacking fileKey
	var unpackingSince time.Time
	for k, req := range r.inflight {
		since := req.start
		fs := r.files[fileKey{k.mod, k.file}]
		if fs != nil && fs.lastBytes.After(since) {
			since = fs.lastBytes
		}
		if fs != nil && fs.size > 0 && fs.received >= fs.size {
			if unpacking.mod.Path == "" || since.Before(unpackingSince) {
				unpacking, unpackingSince = fileKey{k.mod, k.file}, since
			}
			continue
		}
		if oldest == nil || since.Before(oldestSince) ||
			since.Equal(oldestSince) && k.mod.String()+k.file < key.mod.String()+key.file {
			key, oldest, oldestSince = k, req, since
		}
	}
	if oldest == nil || now.Sub(oldestSince) < slowAfter {
		if unpacking.mod.Path != "" && now.Sub(unpackingSince) >= unpackAfter {
			return fmt.Sprintf("checking and unpacking %s .%s", unpacking.mod, unpacking.file)
		}
		return ""
	}
	s := fmt.Sprintf("waiting %s for %s .%s from %s", formatWait(now.Sub(oldestSince)), key.mod, key.file, mirrorName(key.mirror))
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
	if r.bar || !r.tty {
		return
	}
	r.bar = true
	r.redraw(r.now())
}

// The bar's controls: back to the start of the line, then erase to its
// end (after drawing) or all of it (to clear).
const (
	eraseToEnd = "\x1b[K"
	clearLine  = "\r\x1b[2K"
)

// redraw draws the bar with the current state: a bar of barWidth cells,
// then the text. Called with r.mu held.
func (r *Reporter) redraw(now time.Time) {
	if !r.bar || !r.finishedAt.IsZero() {
		return
	}
	// The line must never wrap, or the bar could not erase itself: not even
	// when the terminal echoes "^C" after it.
	room := r.width() - len("^C") - 1 - (barWidth + 1)
	line := r.barCells(now) + " " + r.barText(now, room)
	io.WriteString(r.opts.Stderr, "\r"+line+eraseToEnd)
}

// barCells draws the bar itself. While the plan grows, a block moves
// along it to show that work goes on, without a share that the next go.mod
// read would take back; after, it fills with the files done (a large file
// in flight counting for the share of its bytes received), and never
// empties again, even if the plan grows once more.
func (r *Reporter) barCells(now time.Time) string {
	const block = 3
	if r.growing(now) && r.fill == 0 {
		pos := r.frame % (barWidth - block + 1)
		return strings.Repeat("░", pos) + strings.Repeat("█", block) + strings.Repeat("░", barWidth-block-pos)
	}
	if r.planned > 0 {
		_, part := r.received()
		// Never full while running: the go command still has to run.
		r.fill = max(r.fill, min(int((float64(r.done)+part)*barWidth/float64(r.planned)), barWidth-1))
	}
	return strings.Repeat("█", r.fill) + strings.Repeat("░", barWidth-r.fill)
}

// clearBar erases the bar, leaving the cursor at the start of an empty
// line. Called with r.mu held.
func (r *Reporter) clearBar() {
	if r.bar {
		io.WriteString(r.opts.Stderr, clearLine)
	}
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

// println writes a whole line, erasing the bar first; the bar is drawn
// again below it. Called with r.mu held.
func (r *Reporter) println(line string) {
	shown := r.bar && r.finishedAt.IsZero()
	if shown {
		r.clearBar()
	}
	io.WriteString(r.opts.Stderr, line+"\n")
	if shown {
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
		return protocolSubject(ev.File)
	}
	return ev.Mod.String() + ": ." + ev.File
}

// protocolSubject names what a protocol path that the go command asked the
// loopback proxy for is about, in the words of a module's file:
// "github.com/spf13: version list" rather than "github.com/spf13/@v/list".
// A path it does not know is returned as it is.
func protocolSubject(rel string) string {
	if rest, ok := strings.CutPrefix(rel, "sumdb/"); ok {
		name, what, _ := strings.Cut(rest, "/")
		return "checksum database " + name + ": " + what
	}
	unescape := func(esc string) (string, bool) {
		path, err := module.UnescapePath(esc)
		return path, err == nil
	}
	if esc, ok := strings.CutSuffix(rel, "/@v/list"); ok {
		if path, ok := unescape(esc); ok {
			return path + ": version list"
		}
	}
	if esc, ok := strings.CutSuffix(rel, "/@latest"); ok {
		if path, ok := unescape(esc); ok {
			return path + ": latest version"
		}
	}
	if esc, query, ok := strings.Cut(rel, "/@v/"); ok {
		if q, ok := strings.CutSuffix(query, ".info"); ok {
			path, ok1 := unescape(esc)
			version, err := module.UnescapeVersion(q)
			if ok1 && err == nil {
				return path + "@" + version + ": .info"
			}
		}
	}
	return rel
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
