package progress

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/mod/module"

	"github.com/gomodx/gomodx/mirrors"
	"github.com/gomodx/gomodx/modcache"
	"github.com/gomodx/gomodx/prefetch"
	"github.com/gomodx/gomodx/retry"
)

// clock is a fake time source that moves only when told.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// newTest returns a Reporter on a fake clock that starts at 14:03:00 UTC,
// without its ticker (the test calls tick).
func newTest(opts Options) (*Reporter, *clock) {
	c := &clock{t: time.Date(2025, 11, 21, 14, 3, 0, 0, time.UTC)}
	opts.Now = c.now
	r := newReporter(opts)
	return r, c
}

var (
	modA = module.Version{Path: "example.com/a", Version: "v1.0.0"}
	modB = module.Version{Path: "example.com/b", Version: "v1.2.0"}
)

const (
	mirror1 = "https://goproxy.cn"
	mirror2 = "https://proxy.golang.org"
)

func plan(r *Reporter, mods ...module.Version) {
	for _, m := range mods {
		for _, k := range []modcache.Kind{modcache.Info, modcache.Mod, modcache.Zip} {
			r.File(prefetch.Event{Mod: m, Kind: k, State: prefetch.Planned})
		}
	}
}

// fetch reports one file fetched from mirror in d, with its request events.
func fetch(r *Reporter, c *clock, m module.Version, kind modcache.Kind, mirror string, size int64, d time.Duration) {
	r.Mirror(mirrors.Event{Kind: mirrors.Started, Mod: m, File: string(kind), Mirror: mirror, Attempt: 1})
	c.advance(d)
	r.Mirror(mirrors.Event{Kind: mirrors.Done, Mod: m, File: string(kind), Mirror: mirror, Attempt: 1, Bytes: size, Elapsed: d})
	r.File(prefetch.Event{Mod: m, Kind: kind, State: prefetch.Fetched, Bytes: size})
}

var status503 = &retry.StatusError{Code: 503, Status: "503 Service Unavailable", Body: "try later"}

// scenario is a download of two modules: a retry and a failover on the
// first mirror, one slow request, and one file already cached.
func scenario(r *Reporter, c *clock) {
	plan(r, modA, modB)
	fetch(r, c, modA, modcache.Info, mirror1, 100, 100*time.Millisecond)
	fetch(r, c, modA, modcache.Mod, mirror1, 200, 100*time.Millisecond)
	r.Mirror(mirrors.Event{Kind: mirrors.Started, Mod: modA, File: "zip", Mirror: mirror1, Attempt: 1})
	c.advance(200 * time.Millisecond)
	r.Mirror(mirrors.Event{Kind: mirrors.Retrying, Mod: modA, File: "zip", Mirror: mirror1, Attempt: 2, Err: status503})
	c.advance(4600 * time.Millisecond) // 5s in all: time for a progress line
	r.tick()
	r.Mirror(mirrors.Event{Kind: mirrors.FailedOver, Mod: modA, File: "zip", Mirror: mirror1, Next: mirror2, Attempt: 2, Err: &retry.GiveUpError{Tries: 2, Err: status503}})
	fetch(r, c, modA, modcache.Zip, mirror2, 1_500_000, time.Second)
	r.File(prefetch.Event{Mod: modB, Kind: modcache.Info, State: prefetch.Cached})
	fetch(r, c, modB, modcache.Mod, mirror2, 300, 100*time.Millisecond)
	fetch(r, c, modB, modcache.Zip, mirror2, 2_000_000, 900*time.Millisecond)
}

func TestPlainLines(t *testing.T) {
	var stderr bytes.Buffer
	r, c := newTest(Options{Stderr: &stderr})
	scenario(r, c)
	r.Finish()
	r.Summary()
	want := `gomodx: 14:03:00 example.com/a@v1.0.0: .zip from goproxy.cn: 503 Service Unavailable; retrying
gomodx: 14:03:05 2/6 files (finding more), 300 B, 60 B/s; waiting 4s for example.com/a@v1.0.0 .zip from goproxy.cn
gomodx: 14:03:05 example.com/a@v1.0.0: .zip from goproxy.cn: 503 Service Unavailable (2 tries); trying proxy.golang.org
gomodx: fetched 2 modules (5 files, 3.5 MB) in 7.0s, 500.1 kB/s; 1 retry, 1 failover; proxy.golang.org 100%, goproxy.cn <1%
`
	if got := stderr.String(); got != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
	}
}

func TestPlainProgressLineRate(t *testing.T) {
	var stderr bytes.Buffer
	r, c := newTest(Options{Stderr: &stderr})
	plan(r, modA)
	r.Mirror(mirrors.Event{Kind: mirrors.Started, Mod: modA, File: "zip", Mirror: mirror1, Attempt: 1})
	for range 12 {
		c.advance(time.Second)
		r.tick()
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	want := []string{
		"gomodx: 14:03:05 0/3 files (finding more), 0 B; waiting 5s for example.com/a@v1.0.0 .zip from goproxy.cn",
		"gomodx: 14:03:10 0/3 files (finding more), 0 B; waiting 10s for example.com/a@v1.0.0 .zip from goproxy.cn",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	// Nothing is printed once every planned file is settled.
	stderr.Reset()
	for _, k := range []modcache.Kind{modcache.Info, modcache.Mod, modcache.Zip} {
		r.File(prefetch.Event{Mod: modA, Kind: k, State: prefetch.Cached})
	}
	c.advance(time.Minute)
	r.tick()
	if stderr.Len() != 0 {
		t.Errorf("progress line with nothing left to do: %q", stderr.String())
	}
}

func TestNoEscapeCodesOffTerminal(t *testing.T) {
	var stderr bytes.Buffer
	r, c := newTest(Options{Stderr: &stderr, Verbose: true, Trace: true})
	scenario(r, c)
	r.Repair(modB, "removed .zip: hash h1:x does not match .ziphash")
	r.Summary()
	if strings.ContainsAny(stderr.String(), "\x1b\r") {
		t.Errorf("escape codes off a terminal:\n%q", stderr.String())
	}
}

func TestVerboseAndTrace(t *testing.T) {
	var stderr bytes.Buffer
	r, c := newTest(Options{Stderr: &stderr, Verbose: true, Trace: true})
	plan(r, modA)
	r.Mirror(mirrors.Event{Kind: mirrors.Started, Mod: modA, File: "zip", Mirror: mirror1, Attempt: 1})
	c.advance(250 * time.Millisecond)
	r.Mirror(mirrors.Event{Kind: mirrors.Retrying, Mod: modA, File: "zip", Mirror: mirror1, Attempt: 2, Err: status503})
	c.advance(2 * time.Second)
	r.Mirror(mirrors.Event{Kind: mirrors.Hedged, Mod: modA, File: "zip", Mirror: mirror1, Next: mirror2, Attempt: 2})
	r.Mirror(mirrors.Event{Kind: mirrors.Started, Mod: modA, File: "zip", Mirror: mirror2, Attempt: 1})
	c.advance(123 * time.Millisecond)
	r.Mirror(mirrors.Event{Kind: mirrors.Done, Mod: modA, File: "zip", Mirror: mirror2, Attempt: 1, Bytes: 4096, Elapsed: 123 * time.Millisecond})
	r.File(prefetch.Event{Mod: modA, Kind: modcache.Zip, State: prefetch.Fetched, Bytes: 4096})
	want := `# get https://goproxy.cn/example.com/a/@v/v1.0.0.zip
# get https://goproxy.cn/example.com/a/@v/v1.0.0.zip: 503 Service Unavailable (0.250s)
# get https://goproxy.cn/example.com/a/@v/v1.0.0.zip
gomodx: 14:03:00 example.com/a@v1.0.0: .zip from goproxy.cn: 503 Service Unavailable; retrying
gomodx: 14:03:02 example.com/a@v1.0.0: .zip from goproxy.cn: no answer after 2s; also asking proxy.golang.org
# get https://proxy.golang.org/example.com/a/@v/v1.0.0.zip
# get https://proxy.golang.org/example.com/a/@v/v1.0.0.zip: 200 OK (0.123s)
gomodx: 14:03:02 example.com/a@v1.0.0: .zip from proxy.golang.org: 4.1 kB in 0.123s
`
	if got := stderr.String(); got != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
	}
	r.Summary()
	if !strings.Contains(stderr.String(), "; 1 retry, 1 hedge won; ") {
		t.Errorf("summary does not count the hedge won:\n%s", stderr.String())
	}
}

func TestTraceEscapesPaths(t *testing.T) {
	var stderr bytes.Buffer
	r, _ := newTest(Options{Stderr: &stderr, Trace: true, Quiet: true})
	up := module.Version{Path: "example.com/Upper", Version: "v1.0.0-RC"}
	r.Mirror(mirrors.Event{Kind: mirrors.Started, Mod: up, File: "mod", Mirror: "file:///srv/mirror", Attempt: 1})
	want := "# get file:///srv/mirror/example.com/!upper/@v/v1.0.0-!r!c.mod\n"
	if got := stderr.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestQuiet(t *testing.T) {
	var stderr, events bytes.Buffer
	r, c := newTest(Options{Stderr: &stderr, JSON: &events, Quiet: true, Verbose: true, IsTerminal: true})
	scenario(r, c)
	r.Repair(modB, "removed .zip")
	r.Summary()
	if stderr.Len() != 0 {
		t.Errorf("quiet printed:\n%q", stderr.String())
	}
	if !strings.Contains(events.String(), `"Action":"summary"`) {
		t.Errorf("quiet silenced the JSON stream:\n%s", events.String())
	}
}

func TestNothingFetched(t *testing.T) {
	var stderr, events bytes.Buffer
	r, c := newTest(Options{Stderr: &stderr, JSON: &events, IsTerminal: true})
	plan(r, modA)
	for _, k := range []modcache.Kind{modcache.Info, modcache.Mod, modcache.Zip} {
		r.File(prefetch.Event{Mod: modA, Kind: k, State: prefetch.Cached})
	}
	c.advance(5 * time.Second)
	r.tick()
	r.Finish()
	r.Summary()
	if stderr.Len() != 0 {
		t.Errorf("warm cache printed:\n%q", stderr.String())
	}
	if strings.Contains(events.String(), "summary") {
		t.Errorf("summary event with nothing fetched:\n%s", events.String())
	}
}

func TestJSONStream(t *testing.T) {
	var events bytes.Buffer
	r, c := newTest(Options{JSON: &events})
	scenario(r, c)
	r.File(prefetch.Event{Mod: module.Version{Path: "example.com/private", Version: "v1.0.0"}, Kind: modcache.Zip, State: prefetch.Planned})
	r.File(prefetch.Event{Mod: module.Version{Path: "example.com/private", Version: "v1.0.0"}, Kind: modcache.Zip, State: prefetch.Left})
	r.Repair(modB, "removed .zip")
	r.Summary()

	count := map[string]int{}
	var last JSONEvent
	for i, line := range strings.Split(strings.TrimSuffix(events.String(), "\n"), "\n") {
		var ev JSONEvent
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, line)
		}
		if ev.Time.IsZero() || ev.Action == "" {
			t.Errorf("line %d lacks Time or Action: %s", i+1, line)
		}
		if ev.Action != "summary" && ev.Action != "repair" && (ev.Module == "" || ev.File == "") {
			t.Errorf("line %d lacks Module or File: %s", i+1, line)
		}
		count[ev.Action]++
		last = ev
	}
	want := map[string]int{"plan": 7, "start": 6, "retry": 1, "failover": 1, "done": 5, "cached": 1, "left": 1, "repair": 1, "summary": 1}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("actions: %v, want %v", count, want)
	}
	if count["plan"] != count["done"]+count["cached"]+count["left"]+count["fail"] {
		t.Errorf("plan = %d is not done + cached + left + fail", count["plan"])
	}
	wantSummary := JSONEvent{
		Time: last.Time, Action: "summary", Bytes: 3_500_600, Elapsed: 7,
		Modules: 2, Files: 5, Retries: 1, Failovers: 1, Repairs: 1,
		Mirrors: []MirrorShare{{mirror1, 2, 300}, {mirror2, 3, 3_500_300}},
	}
	if fmt.Sprint(last) != fmt.Sprint(wantSummary) {
		t.Errorf("summary:\n%+v\nwant:\n%+v", last, wantSummary)
	}

	// A done event carries the mirror and the time of the request that won.
	if !strings.Contains(events.String(), `"Action":"done","Module":"example.com/a","Version":"v1.0.0","File":"zip","Mirror":"https://proxy.golang.org","Bytes":1500000,"Elapsed":1}`) {
		t.Errorf("no done event for a's zip with its mirror and time:\n%s", events.String())
	}
}

// errWriter fails every write.
type errWriter struct{ n int }

func (w *errWriter) Write(p []byte) (int, error) { w.n++; return 0, errors.New("broken pipe") }

func TestJSONWriteErrorStopsStream(t *testing.T) {
	w := &errWriter{}
	r, c := newTest(Options{JSON: w})
	scenario(r, c)
	r.Summary()
	if w.n != 1 {
		t.Errorf("%d writes after the first failed, want none", w.n-1)
	}
	if err := r.Err(); err == nil || err.Error() != "broken pipe" {
		t.Errorf("Err() = %v, want the write's error", err)
	}
}

func TestInterruptIsNotAFailure(t *testing.T) {
	var stderr bytes.Buffer
	r, c := newTest(Options{Stderr: &stderr})
	plan(r, modA)
	fetch(r, c, modA, modcache.Mod, mirror1, 200, time.Second)
	r.File(prefetch.Event{Mod: modA, Kind: modcache.Zip, State: prefetch.Failed, Err: fmt.Errorf("downloading: %w", context.Canceled)})
	r.File(prefetch.Event{Mod: modA, Kind: modcache.Info, State: prefetch.Failed, Err: context.Canceled})
	r.Summary()
	want := "gomodx: fetched 1 module (1 file, 200 B) in 1.0s, 200 B/s; goproxy.cn 100%\n"
	if got := stderr.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSummaryOnce(t *testing.T) {
	var stderr bytes.Buffer
	r, c := newTest(Options{Stderr: &stderr})
	plan(r, modA)
	fetch(r, c, modA, modcache.Zip, mirror1, 2000, 2*time.Second)
	r.Finish()
	c.advance(time.Minute) // the go command runs: not counted
	r.Summary()
	r.Summary()
	want := "gomodx: fetched 1 module (1 file, 2.0 kB) in 2.0s, 1.0 kB/s; goproxy.cn 100%\n"
	if got := stderr.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// screen plays terminal output the way a terminal shows it, for the few
// controls the bar uses: \r, \n, erase line (ESC[2K, ESC[K, ESC[0K). It
// also records the widest line ever drawn.
type screen struct {
	lines []string
	col   int
	max   int
}

var csi = regexp.MustCompile(`^\x1b\[([0-9;]*)([A-Za-z])`)

func (s *screen) write(t *testing.T, out string) {
	if len(s.lines) == 0 {
		s.lines = []string{""}
	}
	for len(out) > 0 {
		cur := &s.lines[len(s.lines)-1]
		switch {
		case out[0] == '\r':
			s.col = 0
			out = out[1:]
		case out[0] == '\n':
			s.lines = append(s.lines, "")
			s.col = 0
			out = out[1:]
		case out[0] == '\x1b':
			m := csi.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("unknown escape at %q", out)
			}
			switch {
			case m[2] == "K" && (m[1] == "" || m[1] == "0"):
				*cur = string([]rune(*cur)[:s.col])
			case m[2] == "K" && m[1] == "2":
				*cur = strings.Repeat(" ", s.col)
			case m[2] == "m": // colour
			default:
				t.Fatalf("unexpected escape %q", m[0])
			}
			out = out[len(m[0]):]
		default:
			r := []rune(*cur)
			ch, size := utf8.DecodeRuneInString(out)
			for len(r) <= s.col {
				r = append(r, ' ')
			}
			r[s.col] = ch
			s.col++
			s.max = max(s.max, s.col)
			*cur = string(r)
			out = out[size:]
		}
	}
}

func (s *screen) text() string {
	var out []string
	for _, l := range s.lines {
		out = append(out, strings.TrimRight(l, " "))
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n")
}

// termWriter is a terminal: it keeps the raw output and the screen.
type termWriter struct {
	t   *testing.T
	raw bytes.Buffer
	scr screen
}

func (w *termWriter) Write(p []byte) (int, error) {
	w.raw.Write(p)
	w.scr.write(w.t, string(p))
	return len(p), nil
}

func TestTerminalBar(t *testing.T) {
	w := &termWriter{t: t}
	r, c := newTest(Options{Stderr: w, IsTerminal: true, NoColor: true, Width: func() int { return 160 }})
	plan(r, modA, modB)
	r.tick()
	if w.raw.Len() != 0 {
		t.Fatalf("a bar before anything happened: %q", w.raw.String())
	}
	// While a go.mod is still to be read, the plan may grow: the bar shows
	// activity, not a share, and there is no ETA.
	fetch(r, c, modA, modcache.Info, mirror1, 100, 500*time.Millisecond)
	fetch(r, c, modA, modcache.Mod, mirror1, 2_000_000, 500*time.Millisecond)
	r.tick()
	if got, want := w.scr.text(), "░░███░░░░░░░░░░░░░░░ 2/6 files (finding more), 2.0 MB, 2.0 MB/s, 0:01, goproxy.cn"; got != want {
		t.Errorf("bar:\n%q\nwant:\n%q", got, want)
	}
	r.tick()
	if got, want := w.scr.text(), "░░░███░░░░░░░░░░░░░░ 2/6 files (finding more), 2.0 MB, 2.0 MB/s, 0:01, goproxy.cn"; got != want {
		t.Errorf("bar:\n%q\nwant:\n%q", got, want)
	}

	// Every go.mod read, and nothing planned for a while: the bar fills,
	// with an ETA.
	fetch(r, c, modB, modcache.Mod, mirror1, 1000, time.Second)
	r.tick()
	if got, want := w.scr.text(), "██████████░░░░░░░░░░ 3/6 files, 2.0 MB, 1.0 MB/s, 0:02, ETA 0:02, goproxy.cn"; got != want {
		t.Errorf("bar:\n%q\nwant:\n%q", got, want)
	}

	// A slow request shows who waits for whom, and the hedge.
	r.Mirror(mirrors.Event{Kind: mirrors.Started, Mod: modB, File: "zip", Mirror: mirror1, Attempt: 1})
	c.advance(12 * time.Second)
	r.Mirror(mirrors.Event{Kind: mirrors.Hedged, Mod: modB, File: "zip", Mirror: mirror1, Next: mirror2, Attempt: 1})
	r.tick()
	if got, want := w.scr.text(), "██████████░░░░░░░░░░ 3/6 files, 2.0 MB, 142.9 kB/s, 0:14, ETA 0:14, waiting 12s for example.com/b@v1.2.0 .zip from goproxy.cn, trying proxy.golang.org"; got != want {
		t.Errorf("slow bar:\n%q\nwant:\n%q", got, want)
	}

	// A failover prints a line above the bar, which stays at the bottom.
	r.Mirror(mirrors.Event{Kind: mirrors.FailedOver, Mod: modB, File: "zip", Mirror: mirror1, Next: mirror2, Attempt: 1, Err: errors.New("stalled: no data received")})
	r.tick()
	lines := strings.Split(w.scr.text(), "\n")
	if len(lines) != 2 || lines[0] != "gomodx: example.com/b@v1.2.0: .zip from goproxy.cn: stalled: no data received; trying proxy.golang.org" || !strings.HasPrefix(lines[1], "██████████░") {
		t.Errorf("screen after a failover:\n%s", w.scr.text())
	}

	// Finish erases the bar and leaves the cursor at the start of an
	// empty line, for the go command.
	r.Finish()
	if got, want := w.scr.text(), lines[0]; got != want {
		t.Errorf("screen after Finish:\n%q\nwant:\n%q", got, want)
	}
	if w.scr.col != 0 {
		t.Errorf("cursor at column %d after Finish", w.scr.col)
	}
	n := w.raw.Len()
	fetch(r, c, modB, modcache.Zip, mirror2, 100, time.Second)
	r.tick()
	if w.raw.Len() != n {
		t.Errorf("drawn after Finish: %q", w.raw.String()[n:])
	}
	if strings.Contains(w.raw.String(), "\x1b[3") {
		t.Errorf("colour with NoColor: %q", w.raw.String())
	}
}

// TestTerminalBarNeverGoesBackwards: when the plan grows, the files known
// grow with it, but the bar keeps what it showed; files interrupted by
// Ctrl-C are not done.
func TestTerminalBarNeverGoesBackwards(t *testing.T) {
	w := &termWriter{t: t}
	r, c := newTest(Options{Stderr: w, IsTerminal: true, NoColor: true, Width: func() int { return 160 }})
	bar := func() (filled int, text string) {
		line := w.scr.lines[len(w.scr.lines)-1]
		cells, text, _ := strings.Cut(line, " ")
		return strings.Count(cells, "█"), text
	}
	plan(r, modA)
	for _, k := range []modcache.Kind{modcache.Info, modcache.Mod, modcache.Zip} {
		fetch(r, c, modA, k, mirror1, 100, time.Second)
	}
	r.tick()
	full, _ := bar()
	if full != barWidth-1 {
		t.Fatalf("%d cells filled with every file known done, want %d", full, barWidth-1)
	}
	// Four more modules: 3 of 15 files done.
	m := make([]module.Version, 4)
	for i := range m {
		m[i] = module.Version{Path: fmt.Sprintf("example.com/m%d", i), Version: "v1.0.0"}
	}
	plan(r, m...)
	r.tick()
	if got, text := bar(); got != full || text != "3/15 files (finding more), 300 B, 100 B/s, 0:03, goproxy.cn" {
		t.Errorf("after the plan grew: %d cells, %q; want %d cells, 3/15 files (finding more)", got, text, full)
	}
	// Ctrl-C: the files in flight fail with the interrupt; none is done.
	for _, mod := range m {
		r.File(prefetch.Event{Mod: mod, Kind: modcache.Mod, State: prefetch.Failed, Err: context.Canceled})
	}
	c.advance(time.Second)
	r.tick()
	if got, text := bar(); got != full || !strings.HasPrefix(text, "3/15 files,") {
		t.Errorf("after an interrupt: %d cells, %q; want %d cells, 3/15 files", got, text, full)
	}
	r.Finish()
}

func TestTerminalBarNeverWraps(t *testing.T) {
	for _, width := range []int{40, 60, 80} {
		w := &termWriter{t: t}
		r, c := newTest(Options{Stderr: w, IsTerminal: true, Width: func() int { return width }})
		plan(r, modA, modB)
		long := module.Version{Path: "k8s.io/some/very/long/module/path/that/goes/on/and/on", Version: "v0.31.2-0.20250101000000-abcdefabcdef"}
		r.Mirror(mirrors.Event{Kind: mirrors.Started, Mod: long, File: "zip", Mirror: "https://a.very.long.mirror.example.com/go/proxy", Attempt: 1})
		c.advance(time.Minute)
		r.tick()
		if w.scr.max >= width-len("^C") {
			t.Errorf("width %d: drew %d columns:\n%s", width, w.scr.max, w.scr.text())
		}
		r.Finish()
	}
}

// TestETAFits: on an 80-column terminal, with a real project's numbers,
// the ETA is shown (the elapsed time and the bytes make room for it), and
// the plain lines of a log carry it too.
func TestETAFits(t *testing.T) {
	run := func(out io.Writer, tty bool) *Reporter {
		r, c := newTest(Options{Stderr: out, IsTerminal: tty, Width: func() int { return 80 }})
		var mods []module.Version
		for i := range 104 {
			mods = append(mods, module.Version{Path: fmt.Sprintf("golang.org/x/m%d", i), Version: "v0.31.2"})
		}
		plan(r, mods...)
		for _, m := range mods[:66] {
			fetch(r, c, m, modcache.Mod, mirror2, 1000, 10*time.Millisecond)
			fetch(r, c, m, modcache.Info, mirror2, 100, 10*time.Millisecond)
			fetch(r, c, m, modcache.Zip, mirror2, 400_000, 60*time.Millisecond)
		}
		for _, m := range mods[66:] {
			fetch(r, c, m, modcache.Mod, mirror2, 1000, 10*time.Millisecond)
		}
		c.advance(time.Second)
		r.tick()
		return r
	}
	w := &termWriter{t: t}
	run(w, true)
	if got, want := w.scr.text(), "███████████████░░░░░ 236/312 files, 4.0 MB/s, ETA 0:02, proxy.golang.org"; got != want {
		t.Errorf("bar on an 80-column terminal:\n%q\nwant:\n%q", got, want)
	}
	var log bytes.Buffer
	run(&log, false).tick()
	if got, want := log.String(), "gomodx: 14:03:06 236/312 files, 26.5 MB, 4.0 MB/s, ETA 0:02\n"; got != want {
		t.Errorf("log:\n%q\nwant:\n%q", got, want)
	}
}

func TestTerminalBarAppearsWhenSlowToStart(t *testing.T) {
	w := &termWriter{t: t}
	r, c := newTest(Options{Stderr: w, IsTerminal: true, Width: func() int { return 100 }})
	plan(r, modA)
	c.advance(500 * time.Millisecond)
	r.tick()
	if w.raw.Len() != 0 {
		t.Fatalf("bar after 0.5s: %q", w.raw.String())
	}
	c.advance(time.Second)
	r.tick()
	if !strings.Contains(w.scr.text(), "0/3 files") {
		t.Errorf("no bar after 1.5s with work planned: %q", w.scr.text())
	}
	r.Finish()
}

func TestColor(t *testing.T) {
	w := &termWriter{t: t}
	r, c := newTest(Options{Stderr: w, IsTerminal: true, Width: func() int { return 100 }})
	plan(r, modA)
	r.Mirror(mirrors.Event{Kind: mirrors.Started, Mod: modA, File: "zip", Mirror: mirror1, Attempt: 1})
	c.advance(time.Second)
	r.Mirror(mirrors.Event{Kind: mirrors.Retrying, Mod: modA, File: "zip", Mirror: mirror1, Attempt: 1, Err: status503})
	if !strings.Contains(w.raw.String(), "\x1b[33m503 Service Unavailable\x1b[0m") {
		t.Errorf("no colour on a terminal: %q", w.raw.String())
	}
	r.Finish()
}

// TestConcurrent runs the real ticker against events from many goroutines,
// for the race detector.
func TestConcurrent(t *testing.T) {
	var mu sync.Mutex
	var out bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	for _, tty := range []bool{false, true} {
		var events bytes.Buffer
		r := NewReporter(Options{Stderr: w, JSON: &events, IsTerminal: tty, Verbose: true, Trace: true, Width: func() int { return 80 }})
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				m := module.Version{Path: fmt.Sprintf("example.com/m%d", i), Version: "v1.0.0"}
				plan(r, m)
				for _, k := range []modcache.Kind{modcache.Info, modcache.Mod, modcache.Zip} {
					r.Mirror(mirrors.Event{Kind: mirrors.Started, Mod: m, File: string(k), Mirror: mirror1, Attempt: 1})
					time.Sleep(time.Millisecond)
					r.Mirror(mirrors.Event{Kind: mirrors.Done, Mod: m, File: string(k), Mirror: mirror1, Attempt: 1, Bytes: 10})
					r.File(prefetch.Event{Mod: m, Kind: k, State: prefetch.Fetched, Bytes: 10})
				}
			})
		}
		wg.Wait()
		r.Summary()
		if got := strings.Count(events.String(), `"Action":"done"`); got != 60 {
			t.Errorf("tty=%v: %d done events, want 60", tty, got)
		}
	}
	if !strings.Contains(out.String(), "gomodx: fetched 20 modules (60 files, 600 B)") {
		t.Errorf("no summary in:\n%s", out.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestIsTerminal(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	// A pipe is never a terminal, whatever the environment says.
	if IsTerminal(nil, env("CI", "true")) {
		t.Error("CI=true is a terminal")
	}
	if IsTerminal(nil, env("TERM", "dumb")) {
		t.Error("TERM=dumb is a terminal")
	}
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{formatBytes(0), "0 B"},
		{formatBytes(999), "999 B"},
		{formatBytes(1000), "1.0 kB"},
		{formatBytes(95_200_000), "95.2 MB"},
		{formatBytes(3_000_000_000), "3.0 GB"},
		{formatElapsed(4100 * time.Millisecond), "4.1s"},
		{formatElapsed(34 * time.Millisecond), "0.03s"},
		{formatElapsed(125 * time.Second), "2m05s"},
		{formatClock(3 * time.Second), "0:03"},
		{formatClock(3723 * time.Second), "1:02:03"},
		{formatWait(12900 * time.Millisecond), "12s"},
		{formatWait(125 * time.Second), "2m05s"},
		{plural(1, "module"), "1 module"},
		{plural(3, "file"), "3 files"},
		{plural(0, "module"), "0 modules"},
		{mirrorName("https://proxy.golang.org"), "proxy.golang.org"},
		{mirrorName("http://127.0.0.1:8080/mod"), "127.0.0.1:8080/mod"},
		{mirrorName("file:///srv/mirror"), "file:///srv/mirror"},
		{shortError(status503), "503 Service Unavailable"},
		{shortError(&retry.GiveUpError{Tries: 4, Err: status503}), "503 Service Unavailable (4 tries)"},
		{truncate("abcdef", 4), "abc…"},
		{truncate("abc", 4), "abc"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestCancelledRequestsAreSilent(t *testing.T) {
	var stderr, events bytes.Buffer
	r, c := newTest(Options{Stderr: &stderr, JSON: &events, Trace: true})
	plan(r, modA)
	r.Mirror(mirrors.Event{Kind: mirrors.Started, Mod: modA, File: "zip", Mirror: mirror1, Attempt: 1})
	c.advance(time.Second)
	r.Mirror(mirrors.Event{Kind: mirrors.FailedOver, Mod: modA, File: "zip", Mirror: mirror1, Next: mirror2, Attempt: 1, Err: fmt.Errorf("reading body: %w", context.Canceled)})
	want := "# get https://goproxy.cn/example.com/a/@v/v1.0.0.zip\n" +
		"# get https://goproxy.cn/example.com/a/@v/v1.0.0.zip: reading body: context canceled (1.000s)\n"
	if got := stderr.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(events.String(), "failover") {
		t.Errorf("an interrupt counted as a failover:\n%s", events.String())
	}
	if r.failovers != 0 || len(r.inflight) != 0 {
		t.Errorf("failovers %d, in flight %d after an interrupt", r.failovers, len(r.inflight))
	}
}

func TestFailoverWithoutNext(t *testing.T) {
	var stderr bytes.Buffer
	r, _ := newTest(Options{Stderr: &stderr})
	r.Mirror(mirrors.Event{Kind: mirrors.FailedOver, Mod: modA, File: "mod", Mirror: mirror1, Attempt: 1, Err: status503})
	want := "gomodx: 14:03:00 example.com/a@v1.0.0: .mod from goproxy.cn: 503 Service Unavailable; no mirror left\n"
	if got := stderr.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestNothingMoreAfterNotShown: once a mirror's failures are said not to
// be shown, no more are, whether retries or failovers, whatever the error.
func TestNothingMoreAfterNotShown(t *testing.T) {
	var stderr bytes.Buffer
	r, _ := newTest(Options{Stderr: &stderr})
	for i := range 6 {
		m := module.Version{Path: fmt.Sprintf("example.com/m%d", i), Version: "v1.0.0"}
		r.Mirror(mirrors.Event{Kind: mirrors.Retrying, Mod: m, File: "zip", Mirror: mirror1, Attempt: 2, Err: status503})
		r.Mirror(mirrors.Event{Kind: mirrors.Retrying, Mod: m, File: "zip", Mirror: mirror1, Attempt: 3, Err: fmt.Errorf("unexpected EOF after %d bytes", 1000+i)})
		r.Mirror(mirrors.Event{Kind: mirrors.FailedOver, Mod: m, File: "zip", Mirror: mirror1, Next: mirror2, Attempt: 3, Err: &retry.GiveUpError{Tries: 3, Err: status503}})
	}
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	if len(lines) != maxRepeats || !strings.HasSuffix(lines[maxRepeats-1], " (further failures of goproxy.cn not shown; -v shows all)") {
		t.Errorf("lines:\n%s\nwant %d, the last saying more are not shown", stderr.String(), maxRepeats)
	}
	if r.retries != 12 || r.failovers != 6 {
		t.Errorf("%d retries, %d failovers counted; want 12, 6", r.retries, r.failovers)
	}
}

func TestRepeatedFailuresAreCounted(t *testing.T) {
	var stderr bytes.Buffer
	r, _ := newTest(Options{Stderr: &stderr})
	for i := range 10 {
		m := module.Version{Path: fmt.Sprintf("example.com/m%d", i), Version: "v1.0.0"}
		r.Mirror(mirrors.Event{Kind: mirrors.FailedOver, Mod: m, File: "zip", Mirror: mirror1, Next: mirror2, Attempt: 1, Err: status503})
	}
	r.Mirror(mirrors.Event{Kind: mirrors.FailedOver, Mod: modA, File: "zip", Mirror: mirror2, Attempt: 1, Err: status503})
	want := `gomodx: 14:03:00 example.com/m0@v1.0.0: .zip from goproxy.cn: 503 Service Unavailable; trying proxy.golang.org
gomodx: 14:03:00 example.com/m1@v1.0.0: .zip from goproxy.cn: 503 Service Unavailable; trying proxy.golang.org
gomodx: 14:03:00 example.com/m2@v1.0.0: .zip from goproxy.cn: 503 Service Unavailable; trying proxy.golang.org (further failures of goproxy.cn not shown; -v shows all)
gomodx: 14:03:00 example.com/a@v1.0.0: .zip from proxy.golang.org: 503 Service Unavailable; no mirror left
`
	if got := stderr.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if r.failovers != 11 {
		t.Errorf("%d failovers counted, want 11", r.failovers)
	}
}

func TestSummaryText(t *testing.T) {
	r, _ := newTest(Options{})
	r.modules = map[module.Version]bool{modA: true, modB: true}
	r.fetched, r.bytes = 6, 95_200_000
	r.retries, r.failovers, r.hedgesWon, r.mismatches, r.repairs, r.failed = 3, 1, 2, 2, 1, 4
	r.failedMods = map[module.Version]bool{{Path: "example.com/c", Version: "v1.0.0"}: true}
	r.mirrorSeen = []string{mirror1, mirror2}
	r.mirrorUse = map[string]*MirrorShare{mirror1: {mirror1, 1, 19_040_000}, mirror2: {mirror2, 5, 76_160_000}}
	want := "fetched 2 modules (6 files, 95.2 MB) in 4.1s, 23.2 MB/s; 3 retries, 1 failover, 2 hedges won, 2 mismatches, 1 repair; proxy.golang.org 80%, goproxy.cn 20%"
	if got := r.summaryText(4100 * time.Millisecond); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestFailedModuleIsNotFetched: a module with a file that failed is not
// counted among those fetched (the summary line, printed only when go
// succeeded, does not count it as failed either: go did without it, or
// fetched it another way); the event stream counts its failed files.
func TestFailedModuleIsNotFetched(t *testing.T) {
	var stderr, events bytes.Buffer
	r, c := newTest(Options{Stderr: &stderr, JSON: &events})
	plan(r, modA, modB)
	fetch(r, c, modA, modcache.Info, mirror1, 100, time.Second)
	fetch(r, c, modA, modcache.Mod, mirror1, 100, time.Second)
	fetch(r, c, modA, modcache.Zip, mirror1, 800, time.Second)
	fetch(r, c, modB, modcache.Info, mirror1, 100, time.Second)
	r.File(prefetch.Event{Mod: modB, Kind: modcache.Zip, State: prefetch.Failed, Err: status503})
	r.File(prefetch.Event{Mod: modB, Kind: modcache.Mod, State: prefetch.Failed, Err: status503})
	r.Summary()
	want := "gomodx: fetched 1 module (4 files, 1.1 kB) in 4.0s, 275 B/s; goproxy.cn 100%\n"
	if got := stderr.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(events.String(), `"Modules":1,"Files":4,`) || !strings.Contains(events.String(), `"Failed":2,`) {
		t.Errorf("summary event:\n%s", events.String())
	}

	// Only files of a module that failed: no module is said to be fetched.
	stderr.Reset()
	r, c = newTest(Options{Stderr: &stderr})
	plan(r, modB)
	fetch(r, c, modB, modcache.Info, mirror1, 100, time.Second)
	r.File(prefetch.Event{Mod: modB, Kind: modcache.Zip, State: prefetch.Failed, Err: status503})
	r.Summary()
	want = "gomodx: fetched 1 file (100 B) in 1.0s, 100 B/s; goproxy.cn 100%\n"
	if got := stderr.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestSummaryAfterGoFailed: when the go command failed, nothing is printed
// after its error, but the event stream still ends with the summary.
func TestSummaryAfterGoFailed(t *testing.T) {
	var stderr, events bytes.Buffer
	r, c := newTest(Options{Stderr: &stderr, JSON: &events})
	plan(r, modA)
	fetch(r, c, modA, modcache.Zip, mirror1, 2000, 2*time.Second)
	r.Finish()
	r.GoFailed()
	r.Summary()
	if stderr.Len() != 0 {
		t.Errorf("printed after go failed:\n%s", stderr.String())
	}
	if !strings.Contains(events.String(), `"Action":"summary"`) {
		t.Errorf("no summary event:\n%s", events.String())
	}
}

// TestSummaryTimeIsFetchTime: what the loopback proxy fetches while the go
// command runs counts, but not the time go spends on its own work.
func TestSummaryTimeIsFetchTime(t *testing.T) {
	var stderr bytes.Buffer
	r, c := newTest(Options{Stderr: &stderr})
	plan(r, modA)
	fetch(r, c, modA, modcache.Zip, mirror1, 2000, 2*time.Second)
	r.Finish()
	c.advance(30 * time.Second) // go builds
	// Two requests of go's, overlapping: 1s and 1.5s, 2s in all.
	r.Mirror(mirrors.Event{Kind: mirrors.Started, Mod: modB, File: "info", Mirror: mirror1, Attempt: 1})
	c.advance(500 * time.Millisecond)
	r.Mirror(mirrors.Event{Kind: mirrors.Started, Mod: modB, File: "mod", Mirror: mirror1, Attempt: 1})
	c.advance(500 * time.Millisecond)
	r.Mirror(mirrors.Event{Kind: mirrors.Done, Mod: modB, File: "info", Mirror: mirror1, Attempt: 1, Bytes: 1000, Elapsed: time.Second})
	r.File(prefetch.Event{Mod: modB, Kind: modcache.Info, State: prefetch.Planned})
	r.File(prefetch.Event{Mod: modB, Kind: modcache.Info, State: prefetch.Fetched, Bytes: 1000})
	c.advance(time.Second)
	r.Mirror(mirrors.Event{Kind: mirrors.Done, Mod: modB, File: "mod", Mirror: mirror1, Attempt: 1, Bytes: 1000, Elapsed: 1500 * time.Millisecond})
	r.File(prefetch.Event{Mod: modB, Kind: modcache.Mod, State: prefetch.Planned})
	r.File(prefetch.Event{Mod: modB, Kind: modcache.Mod, State: prefetch.Fetched, Bytes: 1000})
	c.advance(time.Minute) // go goes on building
	r.Summary()
	want := "gomodx: fetched 2 modules (3 files, 4.0 kB) in 4.0s, 1.0 kB/s; goproxy.cn 100%\n"
	if got := stderr.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRepair(t *testing.T) {
	var stderr, events bytes.Buffer
	r, c := newTest(Options{Stderr: &stderr, JSON: &events})
	plan(r, modA)
	fetch(r, c, modA, modcache.Zip, mirror1, 1000, time.Second)
	r.Finish()
	what := "example.com/a@v1.0.0: zip-corrupt: zip: not a valid zip file (/c/a.zip); fetched again from the mirrors and verified"
	r.Repair(modA, what)
	r.Summary()
	want := "gomodx: repaired the module cache: " + what + "\n" +
		"gomodx: fetched 1 module (1 file, 1.0 kB) in 1.0s, 1.0 kB/s; 1 repair; goproxy.cn 100%\n"
	if got := stderr.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(events.String(), `"Action":"repair","Module":"example.com/a","Version":"v1.0.0","Output":"example.com/a@v1.0.0: zip-corrupt:`) {
		t.Errorf("no repair event:\n%s", events.String())
	}
}

func TestOtherRequests(t *testing.T) {
	var stderr bytes.Buffer
	r, c := newTest(Options{Stderr: &stderr, Trace: true})
	r.Mirror(mirrors.Event{Kind: mirrors.Started, File: "golang.org/x/text/@v/list", Mirror: mirror2, Attempt: 1})
	c.advance(50 * time.Millisecond)
	r.Mirror(mirrors.Event{Kind: mirrors.Done, File: "golang.org/x/text/@v/list", Mirror: mirror2, Attempt: 1, Bytes: 10})
	want := "# get https://proxy.golang.org/golang.org/x/text/@v/list\n" +
		"# get https://proxy.golang.org/golang.org/x/text/@v/list: 200 OK (0.050s)\n"
	if got := stderr.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if len(r.files) != 0 || len(r.inflight) != 0 {
		t.Errorf("state left behind: %d files, %d requests", len(r.files), len(r.inflight))
	}
}

// TestRescued checks the notice of a switch to the built-in mirrors: said
// even with --quiet, with how to forbid it and how to make it permanent,
// and in the JSON stream.
func TestRescued(t *testing.T) {
	var stderr, events bytes.Buffer
	r, _ := newTest(Options{Stderr: &stderr, JSON: &events, Quiet: true})
	r.Mirror(mirrors.Event{Kind: mirrors.Rescued, Mod: modA, File: "zip", Mirror: "https://proxy.golang.org", Next: mirror1,
		Err: errors.New("dial tcp: lookup proxy.golang.org: no such host"), GOPROXY: mirror1 + ",direct"})
	want := "gomodx: 14:03:00 example.com/a@v1.0.0: .zip from proxy.golang.org: dial tcp: lookup proxy.golang.org: no such host; asking the built-in mirror goproxy.cn instead\n" +
		"gomodx: hint: --no-builtin-mirrors (or GOMODX_NO_BUILTIN_MIRRORS=1) forbids the built-in mirrors; 'go env -w GOPROXY=https://goproxy.cn,direct' makes the switch permanent\n"
	if got := stderr.String(); got != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(events.String(), `"Action":"rescue","Module":"example.com/a","Version":"v1.0.0","File":"zip","Mirror":"https://proxy.golang.org","Next":"https://goproxy.cn"`) {
		t.Errorf("JSON: %s", events.String())
	}
}

// TestRescuedGOPROXYInEnv checks that the rescue's hint says to export
// GOPROXY when the environment sets it: 'go env -w' would not override it.
func TestRescuedGOPROXYInEnv(t *testing.T) {
	var stderr bytes.Buffer
	r, _ := newTest(Options{Stderr: &stderr, Quiet: true, GOPROXYInEnv: true})
	r.Mirror(mirrors.Event{Kind: mirrors.Rescued, Mod: modA, File: "zip", Mirror: "https://proxy.golang.org", Next: mirror1,
		Err: errors.New("dial tcp: lookup proxy.golang.org: no such host"), GOPROXY: mirror1 + ",direct"})
	want := "gomodx: hint: --no-builtin-mirrors (or GOMODX_NO_BUILTIN_MIRRORS=1) forbids the built-in mirrors; 'export GOPROXY=https://goproxy.cn,direct' makes the switch permanent (GOPROXY is set in the environment, which 'go env -w' does not override)\n"
	if _, hint, _ := strings.Cut(stderr.String(), "instead\n"); hint != want {
		t.Errorf("hint:\n%s\nwant:\n%s", hint, want)
	}
}

// TestRescuedProtocolPath checks that a warning about a request that is
// not a module's file (a version list, a query, the checksum database)
// names what it asks for, not the protocol path.
func TestRescuedProtocolPath(t *testing.T) {
	for _, tt := range []struct{ file, want string }{
		{"github.com/!burnt!sushi/@v/list", "github.com/BurntSushi: version list"},
		{"github.com/spf13/cobra/@latest", "github.com/spf13/cobra: latest version"},
		{"github.com/spf13/cobra/@v/master.info", "github.com/spf13/cobra@master: .info"},
		{"sumdb/sum.golang.org/lookup/github.com/spf13/cobra@v1.8.1", "checksum database sum.golang.org: lookup/github.com/spf13/cobra@v1.8.1"},
		{"sumdb/sum.golang.org/supported", "checksum database sum.golang.org: supported"},
		{"odd/path", "odd/path"},
	} {
		var stderr bytes.Buffer
		r, _ := newTest(Options{Stderr: &stderr, Quiet: true})
		r.Mirror(mirrors.Event{Kind: mirrors.Rescued, File: tt.file, Mirror: "https://proxy.golang.org", Next: mirror1,
			Err: errors.New("dial tcp: lookup proxy.golang.org: no such host"), GOPROXY: mirror1 + ",direct"})
		want := "gomodx: 14:03:00 " + tt.want + " from proxy.golang.org: dial tcp: lookup proxy.golang.org: no such host; asking the built-in mirror goproxy.cn instead\n"
		if got, _, _ := strings.Cut(stderr.String(), "gomodx: hint"); got != want {
			t.Errorf("%s:\n%s\nwant:\n%s", tt.file, got, want)
		}
	}
}

// The toolchain's one zip, as toolchain.Install reports it.
var toolchainZip = module.Version{Path: "golang.org/toolchain", Version: "v0.0.1-go1.27.4.linux-amd64"}

const toolchainSize = 76_000_000

// startToolchain plans the toolchain's zip, the plan known whole, and
// starts its request.
func startToolchain(r *Reporter) {
	r.PlanKnown()
	r.File(prefetch.Event{Mod: toolchainZip, Kind: modcache.Zip, State: prefetch.Planned})
	r.Mirror(mirrors.Event{Kind: mirrors.Started, Mod: toolchainZip, File: "zip", Mirror: mirror2, Attempt: 1})
}

// received reports n bytes of the toolchain's zip received.
func received(r *Reporter, n int64) {
	r.Mirror(mirrors.Event{Kind: mirrors.Progress, Mod: toolchainZip, File: "zip", Mirror: mirror2, Bytes: n, Size: toolchainSize})
}

// TestToolchainBar: on a terminal, the toolchain's zip shows its bytes as
// they arrive, and the bar fills with them; one file known from the start
// is never "finding more", and a download whose bytes keep coming is not
// "waiting". Once they stop, the wait counts from the last of them.
func TestToolchainBar(t *testing.T) {
	w := &termWriter{t: t}
	r, c := newTest(Options{Stderr: w, IsTerminal: true, NoColor: true, Width: func() int { return 140 }})
	startToolchain(r)
	if got, want := w.scr.text(), "░░░░░░░░░░░░░░░░░░░░ 0/1 files, 0 B, 0:00, proxy.golang.org"; got != want {
		t.Errorf("bar at the start:\n%q\nwant:\n%q", got, want)
	}
	for i := range int64(10) {
		c.advance(500 * time.Millisecond)
		received(r, (i+1)*4_750_000)
		r.tick()
	}
	if got, want := w.scr.text(), "████████████░░░░░░░░ 0/1 files, 47.5 MB, 9.5 MB/s, 0:05, ETA 0:03, proxy.golang.org"; got != want {
		t.Errorf("bar after 5s at 9.5 MB/s:\n%q\nwant:\n%q", got, want)
	}
	if strings.Contains(w.raw.String(), "finding more") || strings.Contains(w.raw.String(), "waiting") {
		t.Errorf("the bar said finding more or waiting:\n%q", w.raw.String())
	}
	c.advance(4 * time.Second)
	r.tick()
	if got, want := w.scr.text(), "████████████░░░░░░░░ 0/1 files, ETA 0:05, waiting 4s for golang.org/toolchain@v0.0.1-go1.27.4.linux-amd64 .zip from proxy.golang.org"; got != want {
		t.Errorf("bar 4s after the last bytes:\n%q\nwant:\n%q", got, want)
	}
	received(r, toolchainSize)
	r.Mirror(mirrors.Event{Kind: mirrors.Done, Mod: toolchainZip, File: "zip", Mirror: mirror2, Attempt: 1, Bytes: toolchainSize, Elapsed: 9 * time.Second})
	r.File(prefetch.Event{Mod: toolchainZip, Kind: modcache.Zip, State: prefetch.Fetched, Bytes: toolchainSize})
	r.tick()
	// Its bytes are counted once.
	if got, want := w.scr.text(), "███████████████████░ 1/1 files, 76.0 MB, 8.4 MB/s, 0:09, proxy.golang.org"; got != want {
		t.Errorf("bar once fetched:\n%q\nwant:\n%q", got, want)
	}
	r.Summary()
	if got, want := w.scr.text(), "gomodx: fetched 1 module (1 file, 76.0 MB) in 9.0s, 8.4 MB/s; proxy.golang.org 100%"; got != want {
		t.Errorf("summary:\n%q\nwant:\n%q", got, want)
	}
}

// TestToolchainLines: off a terminal, the timestamped lines carry the
// toolchain's bytes so far, and the events carry each Progress.
func TestToolchainLines(t *testing.T) {
	var stderr, events bytes.Buffer
	r, c := newTest(Options{Stderr: &stderr, JSON: &events})
	startToolchain(r)
	for i := range int64(10) {
		c.advance(time.Second)
		received(r, (i+1)*3_000_000)
		r.tick()
	}
	want := "gomodx: 14:03:05 0/1 files, 15.0 MB, 3.0 MB/s, ETA 0:20\n" +
		"gomodx: 14:03:10 0/1 files, 30.0 MB, 3.0 MB/s, ETA 0:15\n"
	if got := stderr.String(); got != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
	}
	lines := strings.Split(events.String(), "\n")
	if want := `{"Time":"2025-11-21T14:03:01Z","Action":"progress","Module":"golang.org/toolchain","Version":"v0.0.1-go1.27.4.linux-amd64","File":"zip","Mirror":"https://proxy.golang.org","Bytes":3000000,"Size":76000000}`; len(lines) < 3 || lines[2] != want {
		t.Errorf("events:\n%s\nwant the third:\n%s", events.String(), want)
	}
	if got := strings.Count(events.String(), `"Action":"progress"`); got != 10 {
		t.Errorf("%d progress events, want 10", got)
	}
}

// TestLargeZipProgress: a large module zip of a download whose plan still
// grows shows its bytes too, the plan still "finding more"; figures that
// come out of order from parts fetched at once do not take bytes back,
// while a retry starts the count afresh; a Progress that comes after the
// file is settled counts nothing more.
func TestLargeZipProgress(t *testing.T) {
	var stderr, events bytes.Buffer
	r, c := newTest(Options{Stderr: &stderr, JSON: &events})
	plan(r, modA)
	zipProgress := func(n int64) {
		r.Mirror(mirrors.Event{Kind: mirrors.Progress, Mod: modA, File: "zip", Mirror: mirror1, Bytes: n, Size: 20_000_000})
	}
	r.Mirror(mirrors.Event{Kind: mirrors.Started, Mod: modA, File: "zip", Mirror: mirror1, Attempt: 1})
	zipProgress(6_000_000)
	zipProgress(5_000_000) // out of order
	c.advance(5 * time.Second)
	r.tick()
	r.Mirror(mirrors.Event{Kind: mirrors.Retrying, Mod: modA, File: "zip", Mirror: mirror1, Attempt: 2, Err: errors.New("unexpected EOF")})
	zipProgress(1_000_000)
	c.advance(5 * time.Second)
	r.tick()
	r.Mirror(mirrors.Event{Kind: mirrors.Done, Mod: modA, File: "zip", Mirror: mirror1, Attempt: 2, Bytes: 20_000_000})
	r.File(prefetch.Event{Mod: modA, Kind: modcache.Zip, State: prefetch.Fetched, Bytes: 20_000_000})
	zipProgress(20_000_000) // late
	c.advance(5 * time.Second)
	r.tick()
	want := "gomodx: 14:03:05 0/3 files (finding more), 6.0 MB, 1.2 MB/s; waiting 5s for example.com/a@v1.0.0 .zip from goproxy.cn\n" +
		"gomodx: 14:03:05 example.com/a@v1.0.0: .zip from goproxy.cn: unexpected EOF; retrying\n" +
		"gomodx: 14:03:10 0/3 files (finding more), 1.0 MB, 100.0 kB/s; waiting 5s for example.com/a@v1.0.0 .zip from goproxy.cn\n" +
		"gomodx: 14:03:15 1/3 files (finding more), 20.0 MB, 1.3 MB/s\n"
	if got := stderr.String(); got != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
	}
	if got := strings.Count(events.String(), `"Action":"progress"`); got != 2 {
		t.Errorf("%d progress events, want the 2 that counted:\n%s", got, events.String())
	}
}

// TestToolchainUnpacking: once every byte of the zip is in, it is checked
// and unpacked, which takes seconds for a toolchain: the line says so
// rather than "waiting" for the mirror.
func TestToolchainUnpacking(t *testing.T) {
	var stderr bytes.Buffer
	r, c := newTest(Options{Stderr: &stderr})
	startToolchain(r)
	c.advance(time.Second)
	received(r, toolchainSize)
	c.advance(4 * time.Second)
	r.tick()
	want := "gomodx: 14:03:05 0/1 files, 76.0 MB, 15.2 MB/s; checking and unpacking golang.org/toolchain@v0.0.1-go1.27.4.linux-amd64 .zip\n"
	if got := stderr.String(); got != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
	}
}

// TestTraceFailure: with -x, a request whose file then fails gets its
// outcome line, the mirror's own answer, as go -x shows every request's.
func TestTraceFailure(t *testing.T) {
	var stderr bytes.Buffer
	r, c := newTest(Options{Stderr: &stderr, Trace: true, Quiet: true})
	plan(r, modA)
	r.Mirror(mirrors.Event{Kind: mirrors.Started, Mod: modA, File: "mod", Mirror: mirror2, Attempt: 1})
	c.advance(140 * time.Millisecond)
	err := &mirrors.Error{Mod: modA, File: "mod", Attempts: []mirrors.Attempt{{Mirror: mirror2, Err: errors.New("403 Forbidden"), Named: true}}}
	r.File(prefetch.Event{Mod: modA, Kind: modcache.Mod, State: prefetch.Failed, Err: err})
	want := "# get https://proxy.golang.org/example.com/a/@v/v1.0.0.mod\n" +
		"# get https://proxy.golang.org/example.com/a/@v/v1.0.0.mod: 403 Forbidden (0.140s)\n"
	if got := stderr.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
