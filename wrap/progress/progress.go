// Package progress tells the user what gomodx is doing while it fetches:
// a progress bar on a terminal, timestamped lines elsewhere, one line per
// retry, failover, mismatch and repair, a summary at the end, and, for
// tools, the same as a stream of JSON events ([JSONEvent]). It listens to
// the events of prefetch and mirrors and never gets in the way of the go
// command's own output.
package progress

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/term"

	"github.com/gomodx/gomodx/mirrors"
	"github.com/gomodx/gomodx/modcache"
	"github.com/gomodx/gomodx/prefetch"
)

// Options configures a [Reporter].
type Options struct {
	// Stderr receives everything meant for people: the progress bar or the
	// progress lines, retries and failovers, -v and -x lines, the summary.
	Stderr io.Writer
	// JSON, if set, receives the event stream of -json, one [JSONEvent] a
	// line. It is independent of the other options: Quiet does not silence it.
	JSON io.Writer
	// Quiet prints nothing but the -x lines; errors are the caller's to print.
	Quiet bool
	// Verbose prints a line for every file fetched (mirror, size, time) and
	// for every hedged request.
	Verbose bool
	// Trace prints every HTTP request the way 'go -x' prints them:
	//
	//	# get https://proxy.golang.org/golang.org/x/text/@v/v0.21.0.zip
	//	# get https://proxy.golang.org/golang.org/x/text/@v/v0.21.0.zip: 200 OK (0.123s)
	Trace bool
	// IsTerminal says Stderr is a terminal a person watches (see
	// [IsTerminal]): a live progress bar instead of timestamped lines.
	IsTerminal bool
	// NoColor turns colour off (NO_COLOR). Colour is only ever used on a
	// terminal, for the few words a person should notice.
	NoColor bool
	// GOPROXYInEnv says GOPROXY is set in the process environment, where
	// 'go env -w' does not override it: the rescue's hint says to export
	// it instead.
	GOPROXYInEnv bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Width returns the terminal's width in columns; nil asks Stderr's file
	// descriptor, or assumes 80.
	Width func() int
}

// A Reporter tells the user what gomodx is doing, from the events of
// prefetch (one per file planned and settled) and of mirrors (one per
// request, retry, failover, hedge), without getting in the way of the go
// command's own output:
//
//   - On a terminal, a progress bar on one line of stderr: files done of
//     files known so far, bytes (those of a large file as they arrive),
//     rate, elapsed time, and the mirror in use, or which module has been
//     waiting on which mirror for how long when a request is slow (for a
//     large file, since its last bytes). While the plan is still growing
//     (go.mod files being read add modules to it) the line says "finding
//     more" and the bar only moves to show activity; once the plan stops
//     growing the bar fills with the share of files done, and an ETA
//     appears. The bar never goes backwards: if the plan grows again, it
//     holds its place until the files done catch up. Retries, failovers
//     and mismatches print one line each above the bar. [Reporter.Finish]
//     erases the bar; call it before the go command starts.
//   - Elsewhere (a pipe, a file, CI=true, TERM=dumb), no escape codes at
//     all: a timestamped line every five seconds while files are in flight,
//     and one at each retry, failover and mismatch.
//
// For example, in a CI log:
//
//	gomodx: 14:03:05 42/310 files (finding more), 12.3 MB, 2.1 MB/s; waiting 4s for k8s.io/api@v0.31.2 .zip from goproxy.cn
//	gomodx: 14:03:06 k8s.io/api@v0.31.2: .zip from goproxy.cn: 502 Bad Gateway (4 tries); trying proxy.golang.org
//	gomodx: 14:03:10 198/310 files, 41.0 MB, 4.1 MB/s, ETA 0:05
//
// The failures of one mirror get three lines at most (all with Verbose);
// the third says that more are not shown, and the summary counts them all.
// Quiet silences everything but Trace.
//
// Then one summary line ([Reporter.Summary]) when anything was fetched
// and the go command did not fail:
//
//	gomodx: fetched 92 modules (276 files, 95.2 MB) in 4.1s, 23.2 MB/s; 3 retries, 1 failover; proxy.golang.org 80%, goproxy.cn 20%
//
// and, if Options.JSON is set, a [JSONEvent] for each of these.
//
// Its methods are safe for concurrent use.
type Reporter struct {
	opts  Options
	now   func() time.Time
	tty   bool // a live bar rather than lines
	color bool

	ticker  *time.Ticker // nil when the caller ticks (tests)
	stop    chan struct{}
	stopped chan struct{}

	mu         sync.Mutex
	start      time.Time
	finishedAt time.Time // when Finish was called; zero before
	summarized bool
	goFailed   bool  // the go command exited with an error (GoFailed)
	jsonErr    error // the first failed write to JSON; later events are dropped
	planKnown  bool  // every file of the plan is planned from the start (PlanKnown)

	// The plan: files planned, and those settled, done (fetched, cached or
	// left to go) or failed; an interrupted file is settled but neither.
	planned, settled, done int
	pendingMods            int       // planned .mod files not settled: each may add to the plan
	lastPlanned            time.Time // of the last file planned

	fetched, failed int
	bytes           int64
	modules         map[module.Version]bool // those with a file fetched
	failedMods      map[module.Version]bool // those with a file that failed
	retries         int
	failovers       int
	hedgesWon       int
	mismatches      int
	repairs         int

	// Time spent fetching after Finish, while the go command runs (the
	// loopback proxy fetches what it asks for): the union of the fetches'
	// spans, so that the go command's own work is not counted.
	lateBusy time.Duration
	lateEnd  time.Time

	inflight   map[reqKey]*request
	files      map[fileKey]*fileState
	mirrorUse  map[string]*MirrorShare // files fetched from each mirror
	repeats    map[string]int          // failure lines printed per mirror
	mirrorSeen []string                // mirrors in the order first used, for stable output
	lastMirror string                  // the mirror of the latest request started

	bar      bool      // on a terminal: the bar is shown (and on the screen)
	fill     int       // cells of the bar filled, which never decrease
	frame    int       // ticks drawn, for the bar's activity while the plan grows
	lastLine time.Time // off a terminal: the last progress line
}

// reqKey names one request: a file of a module, on one mirror.
type reqKey struct {
	mod    module.Version
	file   string
	mirror string
}

// request is a request in flight, for the slow-request display and for -x.
type request struct {
	start   time.Time // of the first request: how long the file has waited
	attempt time.Time // of the latest retry, for -x
	next    string    // the mirror a hedge is trying besides
}

type fileKey struct {
	mod  module.Version
	file string
}

// fileState is what the mirrors' events said about one file, for the line
// and the JSON event of its outcome.
type fileState struct {
	firstStart time.Time
	mirror     string        // the mirror it came from (Done)
	elapsed    time.Duration // Done's
	hedges     []string      // mirrors asked by a hedge

	// What the Progress events of a large file said: its bytes received
	// so far (counted in the display until the file is settled, when its
	// size is), its size (-1 or 0 when unknown) and when bytes last came.
	received  int64
	size      int64
	lastBytes time.Time
	// restarted says a retry, failover or mismatch came since the last
	// Progress: the next figure starts afresh, even if it is lower.
	restarted bool
}

// How the display behaves.
const (
	slowAfter      = 3 * time.Second        // a request this old is shown as waiting
	unpackAfter    = time.Second            // a large file this long with all its bytes in is shown being unpacked
	lineEvery      = 5 * time.Second        // progress lines off a terminal
	barAfter       = time.Second            // show the bar this soon even with nothing fetched yet
	barTick        = 100 * time.Millisecond // bar redraws
	lineTick       = time.Second            // checks for a progress line off a terminal
	barWidth       = 20                     // columns of the bar itself
	growQuiet      = time.Second            // the plan still grows if a file was planned this recently
	defaultColumns = 80
)

// NewReporter returns a Reporter that starts counting time now. It runs a
// ticker (to redraw the bar and notice slow requests) until Finish.
func NewReporter(opts Options) *Reporter {
	r := newReporter(opts)
	tick := lineTick
	if r.tty {
		tick = barTick
	}
	r.ticker = time.NewTicker(tick)
	go r.run()
	return r
}

// newReporter returns a Reporter without its ticker: tests call tick.
func newReporter(opts Options) *Reporter {
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	r := &Reporter{
		opts:       opts,
		now:        now,
		tty:        opts.IsTerminal && !opts.Quiet,
		color:      opts.IsTerminal && !opts.NoColor,
		stop:       make(chan struct{}),
		stopped:    make(chan struct{}),
		modules:    map[module.Version]bool{},
		failedMods: map[module.Version]bool{},
		inflight:   map[reqKey]*request{},
		files:      map[fileKey]*fileState{},
		mirrorUse:  map[string]*MirrorShare{},
		repeats:    map[string]int{},
	}
	r.start = now()
	r.lastLine = r.start
	return r
}

// IsTerminal reports whether f is a terminal a person is watching, so that a
// live display is wanted: not when CI is set (to anything but false or 0),
// nor with TERM=dumb.
func IsTerminal(f *os.File, getenv func(string) string) bool {
	if ci := getenv("CI"); ci != "" && ci != "false" && ci != "0" {
		return false
	}
	if getenv("TERM") == "dumb" {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}

func (r *Reporter) run() {
	defer close(r.stopped)
	for {
		select {
		case <-r.stop:
			return
		case <-r.ticker.C:
			r.tick()
		}
	}
}

// tick redraws the bar, or prints the periodic progress line.
func (r *Reporter) tick() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.finishedAt.IsZero() || r.opts.Quiet {
		return
	}
	now := r.now()
	if r.tty {
		if !r.bar && r.planned > r.settled && now.Sub(r.start) >= barAfter {
			r.showBar()
		}
		r.frame++
		r.redraw(now)
		return
	}
	if r.planned > r.settled && now.Sub(r.lastLine) >= lineEvery {
		// Keep to the cadence of the start, not of the tick.
		for !r.lastLine.Add(lineEvery).After(now) {
			r.lastLine = r.lastLine.Add(lineEvery)
		}
		line := r.status(now)
		if w := r.slowest(now); w != "" {
			line += "; " + w
		}
		r.printf("%s", line)
	}
}

// File is the prefetch.Options.Progress callback.
func (r *Reporter) File(ev prefetch.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	key := fileKey{ev.Mod, string(ev.Kind)}
	je := JSONEvent{Module: ev.Mod.Path, Version: ev.Mod.Version, File: string(ev.Kind)}
	switch ev.State {
	case prefetch.Planned:
		r.planned++
		r.lastPlanned = now
		if ev.Kind == modcache.Mod {
			r.pendingMods++
		}
		je.Action = "plan"
		r.emit(je)
		return
	case prefetch.Fetched:
		r.fetched++
		r.done++
		r.bytes += ev.Bytes
		r.modules[ev.Mod] = true
		je.Action = "done"
		je.Bytes = ev.Bytes
		if fs := r.files[key]; fs != nil && fs.mirror != "" {
			je.Mirror = fs.mirror
			use := r.mirrorUse[fs.mirror]
			if use == nil {
				use = &MirrorShare{Mirror: fs.mirror}
				r.mirrorUse[fs.mirror] = use
				r.mirrorSeen = append(r.mirrorSeen, fs.mirror)
			}
			use.Files++
			use.Bytes += ev.Bytes
			el := fs.elapsed
			if el == 0 && !fs.firstStart.IsZero() {
				el = now.Sub(fs.firstStart)
			}
			je.Elapsed = el.Seconds()
		}
		r.fetchedLate(now, time.Duration(je.Elapsed*float64(time.Second)))
		if r.opts.Verbose && !r.opts.Quiet {
			line := fmt.Sprintf("%s: .%s", ev.Mod, ev.Kind)
			if je.Mirror != "" {
				line += " from " + mirrorName(je.Mirror)
			}
			line += ": " + formatBytes(ev.Bytes)
			if je.Elapsed > 0 {
				line += fmt.Sprintf(" in %.3fs", je.Elapsed)
			}
			r.printf("%s", line)
		}
		if !r.bar && r.tty && r.finishedAt.IsZero() {
			r.showBar()
		}
	case prefetch.Cached:
		je.Action = "cached"
		r.done++
	case prefetch.Left:
		je.Action = "left"
		r.done++
	case prefetch.Failed:
		je.Action = "fail"
		if ev.Err != nil {
			je.Error = ev.Err.Error()
		}
		if !errors.Is(ev.Err, context.Canceled) {
			// An interrupt is not the file's failure, nor is the file done.
			r.failed++
			r.failedMods[ev.Mod] = true
		}
	default:
		return
	}
	r.settled++
	if ev.Kind == modcache.Mod && r.pendingMods > 0 {
		r.pendingMods--
	}
	r.emit(je)
	// The file is settled: whatever its requests did, none is waiting now.
	delete(r.files, key)
	for k, req := range r.inflight {
		if k.mod == ev.Mod && k.file == string(ev.Kind) {
			if ev.State == prefetch.Failed {
				// The request's last answer, which no retry or failover
				// event said: -x shows every request's outcome.
				r.trace("# get %s: %s (%.3fs)", requestURL(mirrors.Event{Mod: k.mod, File: k.file, Mirror: k.mirror}), shortError(answerOf(ev.Err, k.mirror)), now.Sub(req.attempt).Seconds())
			}
			delete(r.inflight, k)
		}
	}
}

// answerOf is mirror's last answer among the attempts behind a file's
// failure, or the failure itself.
func answerOf(err error, mirror string) error {
	var merr *mirrors.Error
	if errors.As(err, &merr) {
		for i := len(merr.Attempts) - 1; i >= 0; i-- {
			if merr.Attempts[i].Mirror == mirror {
				return merr.Attempts[i].Err
			}
		}
	}
	return err
}

// Mirror is the mirrors.Options.OnEvent callback.
func (r *Reporter) Mirror(ev mirrors.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	rk := reqKey{ev.Mod, ev.File, ev.Mirror}
	fk := fileKey{ev.Mod, ev.File}
	fs := r.files[fk]
	if fs == nil && ev.Kind == mirrors.Progress {
		return // the file is settled already: its bytes are counted
	}
	if fs == nil {
		fs = &fileState{}
		r.files[fk] = fs
	}
	je := JSONEvent{Module: ev.Mod.Path, Version: ev.Mod.Version, File: ev.File, Mirror: ev.Mirror, Next: ev.Next, Attempt: ev.Attempt}
	if ev.Err != nil {
		je.Error = ev.Err.Error()
	}
	req := r.inflight[rk]
	var elapsed time.Duration // of this attempt
	if req != nil {
		elapsed = now.Sub(req.attempt)
	}
	url := requestURL(ev)
	if ev.Err != nil && errors.Is(ev.Err, context.Canceled) && ev.Kind != mirrors.Started && ev.Kind != mirrors.Done {
		// Interrupted, not a mirror's fault: nothing to count or warn about.
		r.trace("# get %s: %s (%.3fs)", url, shortError(ev.Err), elapsed.Seconds())
		delete(r.inflight, rk)
		return
	}

	switch ev.Kind {
	case mirrors.Started:
		if fs.firstStart.IsZero() {
			fs.firstStart = now
		}
		if req == nil {
			req = &request{}
			r.inflight[rk] = req
		}
		req.start, req.attempt = now, now
		r.lastMirror = ev.Mirror
		je.Action = "start"
		r.trace("# get %s", url)
		if !r.bar && r.tty && r.finishedAt.IsZero() {
			r.showBar()
		}

	case mirrors.Retrying:
		if ev.Mod.Path != "" {
			r.retries++ // the go command's lookups fail as a matter of course
		}
		je.Action = "retry"
		r.trace("# get %s: %s (%.3fs)", url, shortError(ev.Err), elapsed.Seconds())
		// mirrors announces one Started per mirror: the retry is a new
		// request all the same, and -x shows it as one.
		r.trace("# get %s", url)
		if more, ok := r.repeat(ev); ok && r.shows(ev) {
			r.warn("%s from %s: %s; retrying%s", subject(ev), mirrorName(ev.Mirror), r.yellow(shortError(ev.Err)), more)
		}
		if req != nil {
			req.attempt = now
		}
		fs.restarted = true

	case mirrors.FailedOver:
		if ev.Mod.Path != "" {
			r.failovers++
		}
		je.Action = "failover"
		r.trace("# get %s: %s (%.3fs)", url, shortError(ev.Err), elapsed.Seconds())
		then := "no mirror left"
		if ev.Next != "" {
			then = "trying " + mirrorName(ev.Next)
		}
		if more, ok := r.repeat(ev); ok && r.shows(ev) {
			r.warn("%s from %s: %s; %s%s", subject(ev), mirrorName(ev.Mirror), r.yellow(shortError(ev.Err)), then, more)
		}
		delete(r.inflight, rk)
		fs.restarted = true

	case mirrors.Hedged:
		je.Action = "hedge"
		fs.hedges = append(fs.hedges, ev.Next)
		if req != nil {
			req.next = ev.Next
		}
		if r.opts.Verbose {
			r.warn("%s from %s: no answer after %s; also asking %s", subject(ev), mirrorName(ev.Mirror), formatWait(elapsed), mirrorName(ev.Next))
		}

	case mirrors.Lied:
		r.mismatches++
		je.Action = "mismatch"
		r.trace("# get %s: 200 OK (%.3fs)", url, elapsed.Seconds())
		then := "not cached"
		if ev.Next != "" {
			then = "trying " + mirrorName(ev.Next)
		}
		r.warn("%s from %s does not verify: %s; %s", subject(ev), mirrorName(ev.Mirror), r.red(shortError(ev.Err)), then)
		delete(r.inflight, rk)
		fs.restarted = true

	case mirrors.Progress:
		// Bytes of a large file as they arrive: counted in the display
		// until the file is settled, and a request that receives them is
		// not waiting. Parts fetched over several connections may report
		// out of order: a lower figure counts only after a restart.
		if ev.Bytes < fs.received && !fs.restarted {
			return
		}
		fs.received, fs.size, fs.lastBytes, fs.restarted = ev.Bytes, ev.Size, now, false
		je.Action = "progress"
		je.Bytes = ev.Bytes
		je.Size = max(ev.Size, 0)

	case mirrors.Rescued:
		// Said even with Quiet: it is about who sees the module paths.
		je.Action = "rescue"
		r.printf("%s from %s: %s; asking the built-in mirror %s instead", subject(ev), mirrorName(ev.Mirror), shortError(ev.Err), mirrorName(ev.Next))
		set := "'go env -w GOPROXY=" + ev.GOPROXY + "' makes the switch permanent"
		if r.opts.GOPROXYInEnv {
			set = "'export GOPROXY=" + ev.GOPROXY + "' makes the switch permanent (GOPROXY is set in the environment, which 'go env -w' does not override)"
		}
		r.println("gomodx: hint: --no-builtin-mirrors (or GOMODX_NO_BUILTIN_MIRRORS=1) forbids the built-in mirrors; " + set)

	case mirrors.Done:
		// The file's "done" event, when prefetch reports it in the cache,
		// carries the mirror and the time.
		r.trace("# get %s: 200 OK (%.3fs)", url, elapsed.Seconds())
		el := ev.Elapsed // since the first request for the file, on any mirror
		if el == 0 && !fs.firstStart.IsZero() {
			el = now.Sub(fs.firstStart)
		}
		fs.mirror, fs.elapsed = ev.Mirror, el
		if slices.Contains(fs.hedges, ev.Mirror) {
			r.hedgesWon++
		}
		// The other mirrors asked for this file (hedges) are cancelled.
		for k := range r.inflight {
			if k.mod == ev.Mod && k.file == ev.File {
				delete(r.inflight, k)
			}
		}
		if ev.Mod.Path == "" {
			// A version list, a query or a checksum database request for
			// the go command: prefetch reports no outcome to wait for.
			delete(r.files, fk)
		}
		return

	default:
		return
	}
	r.emit(je)
}

// shows reports whether a retry or failover of ev is worth a line without
// -v. The go command's own lookups through the loopback proxy (version
// lists, @latest, the prefixes of an import path) fail as a matter of
// course, with 404, 410 or 403: their failures show only with -v.
func (r *Reporter) shows(ev mirrors.Event) bool {
	return ev.Mod.Path != "" || r.opts.Verbose
}

// maxRepeats is how many lines the failures of one mirror get: a mirror
// that is down must not bury the screen or the log in hundreds of lines
// that say the same. Retries and failovers count alike, whatever the
// error (a reset connection reads differently for every file), so that
// after the line that says more are not shown, none is. The summary
// counts them all.
const maxRepeats = 3

// repeat reports whether to print the line for a failure of ev's mirror,
// and what to add to it. Called with r.mu held.
func (r *Reporter) repeat(ev mirrors.Event) (more string, ok bool) {
	if r.opts.Verbose {
		return "", true
	}
	r.repeats[ev.Mirror]++
	switch n := r.repeats[ev.Mirror]; {
	case n < maxRepeats:
		return "", true
	case n == maxRepeats:
		return " (further failures of " + mirrorName(ev.Mirror) + " not shown; -v shows all)", true
	}
	return "", false
}

// Repair records that the self-healing wrapper repaired a cache entry of
// mod; what says what was wrong and what was done, as a person reads it
// after "repaired the module cache: ", e.g. "example.com/a@v1.0.0:
// zip-corrupt: …; fetched again from the mirrors and verified".
func (r *Reporter) Repair(mod module.Version, what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.repairs++
	if !r.opts.Quiet {
		r.println("gomodx: repaired the module cache: " + what)
	}
	r.emit(JSONEvent{Action: "repair", Module: mod.Path, Version: mod.Version, Output: what})
}

// PlanKnown says that the plan is whole from the start: every file it
// will have is planned before any is fetched, as the one zip of a
// toolchain is. The display then never says "finding more", and the bar
// fills with the share done from the first byte.
func (r *Reporter) PlanKnown() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.planKnown = true
}

// GoLine prints a line the go command itself would have printed, had it
// done the work gomodx did for it (its "go: downloading" lines), above the
// bar and even when quiet: it is the go command's output, not gomodx's.
func (r *Reporter) GoLine(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.println(line)
}

// Finish erases the bar and stops the ticker. Call it before the go
// command starts; events that arrive later still count in the summary but
// draw nothing, so the go command's output is never mixed with a bar.
// Finish may be called more than once.
func (r *Reporter) Finish() {
	r.mu.Lock()
	if !r.finishedAt.IsZero() {
		r.mu.Unlock()
		return
	}
	r.finishedAt = r.now()
	r.clearBar()
	r.bar = false
	r.mu.Unlock()
	if r.ticker != nil {
		r.ticker.Stop()
		close(r.stop)
		<-r.stopped
	}
}

// GoFailed records that the go command exited with an error, so that
// Summary adds nothing after go's own message.
func (r *Reporter) GoFailed() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.goFailed = true
}

// Err returns the first error writing to Options.JSON, if any: the event
// stream is incomplete from there on.
func (r *Reporter) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.jsonErr
}

// fetchedLate adds the span of a file fetched after Finish, which ended
// now and took elapsed, to the time spent fetching. Called with r.mu held.
func (r *Reporter) fetchedLate(now time.Time, elapsed time.Duration) {
	if r.finishedAt.IsZero() {
		return
	}
	from := now.Add(-elapsed)
	if from.Before(r.finishedAt) {
		from = r.finishedAt
	}
	if from.Before(r.lateEnd) {
		from = r.lateEnd
	}
	if now.After(from) {
		r.lateBusy += now.Sub(from)
		r.lateEnd = now
	}
}

// Summary finishes (see Finish) and, if anything was fetched, prints the
// summary line; if anything was fetched or failed, it writes the summary
// event. It does so once.
//
// When the go command failed (GoFailed), the line is left out: go's error
// is the last thing on the screen, as it is without gomodx, and a script
// that reads go's stderr sees nothing of gomodx's after it. The event is
// still written.
func (r *Reporter) Summary() {
	r.Finish()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.summarized || (r.fetched == 0 && r.failed == 0) {
		return
	}
	r.summarized = true
	// The time spent fetching: until Finish, and while the go command
	// ran, the fetches the loopback proxy made for it, but not go's work.
	wall := r.finishedAt.Sub(r.start) + r.lateBusy
	if !r.opts.Quiet && !r.goFailed && r.fetched > 0 {
		fmt.Fprintf(r.opts.Stderr, "gomodx: %s\n", r.summaryText(wall))
	}
	je := JSONEvent{
		Action:     "summary",
		Modules:    r.completeModules(),
		Files:      r.fetched,
		Bytes:      r.bytes,
		Elapsed:    wall.Seconds(),
		Retries:    r.retries,
		Failovers:  r.failovers,
		Hedges:     r.hedgesWon,
		Mismatches: r.mismatches,
		Repairs:    r.repairs,
		Failed:     r.failed,
	}
	for _, m := range r.mirrorSeen {
		je.Mirrors = append(je.Mirrors, *r.mirrorUse[m])
	}
	r.emit(je)
}

// completeModules counts the modules fetched: those with a file fetched
// and none that failed.
func (r *Reporter) completeModules() int {
	n := 0
	for m := range r.modules {
		if !r.failedMods[m] {
			n++
		}
	}
	return n
}

// summaryText is the summary line without its prefix.
func (r *Reporter) summaryText(wall time.Duration) string {
	var b strings.Builder
	if n := r.completeModules(); n > 0 {
		fmt.Fprintf(&b, "fetched %s (%s, %s) in %s",
			plural(n, "module"), plural(r.fetched, "file"), formatBytes(r.bytes), formatElapsed(wall))
	} else {
		// Only files of modules that failed: no module is complete.
		fmt.Fprintf(&b, "fetched %s (%s) in %s", plural(r.fetched, "file"), formatBytes(r.bytes), formatElapsed(wall))
	}
	if s := wall.Seconds(); s > 0 {
		fmt.Fprintf(&b, ", %s/s", formatBytes(int64(float64(r.bytes)/s)))
	}
	var counts []string
	for _, c := range []struct {
		n            int
		one, several string
	}{
		{r.retries, "retry", "retries"},
		{r.failovers, "failover", "failovers"},
		{r.hedgesWon, "hedge won", "hedges won"},
		{r.mismatches, "mismatch", "mismatches"},
		{r.repairs, "repair", "repairs"},
	} {
		switch {
		case c.n == 1:
			counts = append(counts, "1 "+c.one)
		case c.n > 1:
			counts = append(counts, fmt.Sprintf("%d %s", c.n, c.several))
		}
	}
	if len(counts) > 0 {
		b.WriteString("; " + strings.Join(counts, ", "))
	}
	if len(r.mirrorSeen) > 0 {
		// Each mirror's share of the bytes (of the files, if all were
		// empty), largest first; the order of first use breaks ties.
		share := func(m string) int64 { return r.mirrorUse[m].Bytes }
		var total int64
		for _, m := range r.mirrorSeen {
			total += share(m)
		}
		if total == 0 {
			share = func(m string) int64 { return int64(r.mirrorUse[m].Files) }
			for _, m := range r.mirrorSeen {
				total += share(m)
			}
		}
		ms := slices.Clone(r.mirrorSeen)
		slices.SortStableFunc(ms, func(a, b string) int { return cmp.Compare(share(b), share(a)) })
		var shares []string
		for _, m := range ms {
			pct := fmt.Sprintf("%d%%", (share(m)*100+total/2)/total)
			if pct == "0%" {
				pct = "<1%"
			}
			shares = append(shares, mirrorName(m)+" "+pct)
		}
		b.WriteString("; " + strings.Join(shares, ", "))
	}
	return b.String()
}
