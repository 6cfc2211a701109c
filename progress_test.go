//go:build unix

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/creack/pty"
	"github.com/rogpeppe/go-internal/goproxytest"

	"github.com/gomodx/gomodx/wrap/progress"
)

// These tests run the gomodx binary (testscript.Main put it on PATH) with
// its stderr on a pseudo-terminal, as a person at a terminal runs it, and
// read the screen back.

// ttyProject is a module that needs two modules (six files) from a mirror.
var ttyProject = map[string]string{
	"go.mod": `module example.com/m

go 1.22

require (
	example.com/a v1.0.0
	example.com/b v1.0.0
)
`,
	"go.sum": `example.com/a v1.0.0 h1:QUOLiTYaT3sns40kU17eKMQv5jKau946ieUPxIy6Ek8=
example.com/a v1.0.0/go.mod h1:Iz4LqFwWPTXGh7fB4pLUjv0WBm2F5Au27mBiQgYnuU8=
example.com/b v1.0.0 h1:39Z2nMyp254fr37e0mt49i4PiK3oogxePn04pu8d4ik=
example.com/b v1.0.0/go.mod h1:rjc9Jkp/xiv8OktC5V16OuYntMeTjs1dkvTkFbgnZKw=
`,
}

// slowMirror serves testdata/mod after a delay, and never answers requests
// whose path contains hang (until the client gives up).
type slowMirror struct {
	*httptest.Server
	delay time.Duration
	hang  string

	mu   sync.Mutex
	seen []string
}

func newSlowMirror(t *testing.T, delay time.Duration, hang string) *slowMirror {
	mods := goproxytest.NewTestServer(t, "testdata/mod", "")
	m := &slowMirror{delay: delay, hang: hang}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.seen = append(m.seen, r.URL.Path)
		m.mu.Unlock()
		if hang != "" && strings.Contains(r.URL.Path, hang) {
			<-r.Context().Done()
			return
		}
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		resp, err := http.Get(mods.URL + strings.TrimPrefix(r.URL.Path, "/mod"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(m.Close)
	return m
}

func (m *slowMirror) requests() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.seen)
}

// ttyEnv is the environment of a run: the user's PATH (with gomodx on it)
// and Go build cache, everything else in dir.
func ttyEnv(t *testing.T, dir, goproxy string, extra ...string) []string {
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOCACHE: %v", err)
	}
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + filepath.Join(dir, "home"),
		"GOPATH=" + filepath.Join(dir, "gopath"),
		"GOMODCACHE=" + filepath.Join(dir, "modcache"),
		"GOCACHE=" + strings.TrimSpace(string(gocache)),
		"GOPROXY=" + goproxy,
		"GOSUMDB=off",
		"GOFLAGS=-modcacherw",
		"GOTOOLCHAIN=local",
		"GOWORK=off",
		"GOMODX_RETRY_WAIT=1ms",
		"GORACE=" + os.Getenv("GORACE"), // see TestMain
		"TERM=xterm-256color",
	}, extra...)
}

func writeProject(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// ttyRun is a command running with a pseudo-terminal for stdin and stderr
// (and stdout, unless the caller set it).
type ttyRun struct {
	cmd  *exec.Cmd
	pty  *os.File
	out  bytes.Buffer // everything written to the terminal
	mu   sync.Mutex
	read chan struct{}
}

func startTTY(t *testing.T, cmd *exec.Cmd) *ttyRun {
	t.Helper()
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	r := &ttyRun{cmd: cmd, pty: f, read: make(chan struct{})}
	go func() {
		defer close(r.read)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			r.mu.Lock()
			r.out.Write(buf[:n])
			r.mu.Unlock()
			if err != nil {
				return // EIO once the command and its children are gone
			}
		}
	}()
	t.Cleanup(func() { f.Close() })
	return r
}

// shown reports whether the command has written s to the terminal so far.
func (r *ttyRun) shown(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Contains(r.out.String(), s)
}

// wait waits for the command and returns its exit status and everything
// it wrote to the terminal.
func (r *ttyRun) wait(t *testing.T) (int, string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		r.cmd.Process.Kill()
		t.Fatalf("%v did not finish", r.cmd.Args)
	}
	<-r.read
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return code, r.out.String()
}

func gomodxCmd(t *testing.T, dir string, env []string, args ...string) *exec.Cmd {
	bin, err := exec.LookPath("gomodx")
	if err != nil {
		t.Fatalf("gomodx not on PATH (testscript.Main puts it there): %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
	return cmd
}

// cacheSize is the size of the protocol files of mods in the cache.
func cacheSize(t *testing.T, cache string, mods ...string) int64 {
	var n int64
	for _, m := range mods {
		path, version, _ := strings.Cut(m, "@")
		for _, ext := range []string{".info", ".mod", ".zip"} {
			fi, err := os.Stat(filepath.Join(cache, "cache/download", path, "@v", version+ext))
			if err != nil {
				t.Fatal(err)
			}
			n += fi.Size()
		}
	}
	return n
}

// TestTerminalBar: on a terminal, a bar shows while files download and is
// gone before the go command runs; the summary follows, with the real
// numbers; stdout is the go command's alone, byte for byte.
func TestTerminalBar(t *testing.T) {
	t.Parallel()
	mirror := newSlowMirror(t, 200*time.Millisecond, "")
	dir := writeProject(t, ttyProject)
	env := ttyEnv(t, dir, mirror.URL+"/mod")
	events := filepath.Join(dir, "events.json")

	cmd := gomodxCmd(t, dir, env, "download", "-json", "-jobs=1", "--json-file="+events)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	code, out := startTTY(t, cmd).wait(t)
	if code != 0 {
		t.Fatalf("exit status %d:\n%q", code, out)
	}
	scr := play(t, out)

	// The bar was drawn (on one line, with the files and bytes), then erased.
	if !strings.Contains(out, "files, ") || !strings.ContainsAny(out, "█░") {
		t.Errorf("no bar on the terminal:\n%q", out)
	}
	if !strings.Contains(out, "\x1b[2K") {
		t.Errorf("the bar was not erased:\n%q", out)
	}
	if scr.max >= 100-len("^C") {
		t.Errorf("a line of %d columns on a 100-column terminal", scr.max)
	}

	// What stays on the screen is the summary, with the real numbers.
	size := cacheSize(t, filepath.Join(dir, "modcache"), "example.com/a@v1.0.0", "example.com/b@v1.0.0")
	summary := regexp.MustCompile(`^gomodx: fetched 2 modules \(6 files, ` + regexp.QuoteMeta(fmt.Sprintf("%.1f kB", float64(size)/1000)) + `\) in [0-9.]+s, [0-9.]+ [kM]?B/s(; .*)?$`)
	if got := scr.text(); !summary.MatchString(got) {
		t.Errorf("screen at the end:\n%s\nwant one line matching %s", got, summary)
	}

	// The event stream counts what the mirror served.
	sum := readSummary(t, events)
	if sum.Files != mirror.requests() || sum.Files != 6 || sum.Modules != 2 || sum.Bytes != size {
		t.Errorf("summary event %+v; the mirror served %d files, %d bytes", sum, mirror.requests(), size)
	}

	// stdout is what the go command alone prints for the same cache.
	if bytes.ContainsAny(stdout.Bytes(), "\x1b\r") {
		t.Errorf("escape codes on stdout:\n%q", stdout.String())
	}
	plain := exec.Command("go", "mod", "download", "-json")
	plain.Dir, plain.Env = dir, append(env, "GOPROXY=off")
	want, err := plain.Output()
	if err != nil {
		t.Fatalf("go mod download -json: %v", err)
	}
	if !bytes.Equal(stdout.Bytes(), want) {
		t.Errorf("gomodx download -json stdout:\n%s\ngo mod download -json stdout:\n%s", stdout.Bytes(), want)
	}
}

func readSummary(t *testing.T, file string) progress.JSONEvent {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sum progress.JSONEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev progress.JSONEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("%s: %v: %s", file, err, sc.Bytes())
		}
		if ev.Action == "summary" {
			sum = ev
		}
	}
	if sum.Action == "" {
		t.Fatalf("%s has no summary event", file)
	}
	return sum
}

// TestTerminalGoOutput: the go command's own messages start on a clean line
// of their own, after the bar is gone.
func TestTerminalGoOutput(t *testing.T) {
	t.Parallel()
	mirror := newSlowMirror(t, 200*time.Millisecond, "")
	files := map[string]string{
		"go.mod": strings.Replace(ttyProject["go.mod"], ")", "\texample.com/private/p v1.0.0\n)", 1),
		"go.sum": ttyProject["go.sum"],
	}
	dir := writeProject(t, files)
	// The private module goes direct, to a closed port: go fails on it.
	env := ttyEnv(t, dir, mirror.URL+"/mod", "GOPRIVATE=example.com/private", "HTTPS_PROXY=http://127.0.0.1:1", "HTTP_PROXY=http://127.0.0.1:1")
	code, out := startTTY(t, gomodxCmd(t, dir, env, "download", "-jobs=1")).wait(t)
	if code != 1 {
		t.Errorf("exit status %d, want go's 1", code)
	}
	scr := play(t, out)
	text := scr.text()
	if !regexp.MustCompile(`(?m)^go: example\.com/private/p@v1\.0\.0: .*connection refused$`).MatchString(text) {
		t.Errorf("go's error is not on a line of its own:\n%s", text)
	}
	if strings.ContainsAny(text, "█░") {
		t.Errorf("the bar is left on the screen:\n%s", text)
	}
	if !strings.ContainsAny(out, "█░") {
		t.Errorf("no bar was drawn:\n%q", out)
	}
}

// TestTerminalCI: CI=true or TERM=dumb means lines for a log, not a bar,
// even on a terminal: no escape code at all.
func TestTerminalCI(t *testing.T) {
	t.Parallel()
	for _, setting := range []string{"CI=true", "TERM=dumb"} {
		t.Run(setting, func(t *testing.T) {
			mirror := newSlowMirror(t, 100*time.Millisecond, "")
			dir := writeProject(t, ttyProject)
			env := ttyEnv(t, dir, mirror.URL+"/mod", setting)
			code, out := startTTY(t, gomodxCmd(t, dir, env, "download", "-jobs=1")).wait(t)
			if code != 0 {
				t.Fatalf("exit status %d:\n%q", code, out)
			}
			if strings.Contains(out, "\x1b") || strings.ContainsAny(out, "█░") {
				t.Errorf("a bar or escape codes with %s:\n%q", setting, out)
			}
			// The terminal turns \n into \r\n; there is no other \r.
			if got := strings.ReplaceAll(out, "\r\n", "\n"); !regexp.MustCompile(`^gomodx: fetched 2 modules \(6 files, .*\n$`).MatchString(got) {
				t.Errorf("output:\n%q\nwant the summary line alone", got)
			}
		})
	}
}

// TestTerminalInterrupt: Ctrl-C while a file hangs stops at once with
// status 130, prints the summary of what was fetched, and leaves a cache
// that the go command accepts and that the next run completes.
func TestTerminalInterrupt(t *testing.T) {
	t.Parallel()
	mirror := newSlowMirror(t, 0, "example.com/b/@v/v1.0.0.zip")
	dir := writeProject(t, ttyProject)
	cache := filepath.Join(dir, "modcache")
	env := ttyEnv(t, dir, mirror.URL+"/mod")
	run := startTTY(t, gomodxCmd(t, dir, env, "download"))

	// Wait until the bar says that everything but b's zip is in the cache,
	// and b's zip has been asked for. (The bound is only there so that a
	// broken gomodx cannot hang the test: far more than a loaded machine
	// needs.)
	deadline := time.Now().Add(2 * time.Minute)
	for !(mirror.requests() == 6 && run.shown(" 5/6 files")) {
		if time.Now().After(deadline) {
			t.Fatalf("the bar never said 5/6 files; the mirror saw %d requests", mirror.requests())
		}
		time.Sleep(20 * time.Millisecond)
	}
	run.pty.Write([]byte{3}) // Ctrl-C: the terminal sends SIGINT
	code, out := run.wait(t)
	if code != 130 {
		t.Errorf("exit status %d, want 130", code)
	}
	text := play(t, out).text()
	if !regexp.MustCompile(`(?m)^gomodx: fetched 2 modules \(5 files, .*\)`).MatchString(text) {
		t.Errorf("no summary of what was fetched before the interrupt:\n%s", text)
	}
	if !strings.Contains(text, "gomodx: interrupted") {
		t.Errorf("no word of the interrupt:\n%s", text)
	}
	if strings.ContainsAny(text, "█░") {
		t.Errorf("the bar is left on the screen:\n%s", text)
	}

	// No partial file, no temp file; the go command accepts the cache.
	if exists(filepath.Join(cache, "cache/download/example.com/b/@v/v1.0.0.zip")) {
		t.Error("b's zip is in the cache")
	}
	filepath.WalkDir(cache, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".tmp") {
			t.Errorf("temp file left: %s", path)
		}
		return nil
	})
	verify := func() {
		cmd := exec.Command("go", "mod", "verify")
		cmd.Dir, cmd.Env = dir, append(env, "GOPROXY=off")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "all modules verified") {
			t.Errorf("go mod verify: %v\n%s", err, out)
		}
	}
	verify()

	// The next run fetches only what is missing.
	mirror2 := newSlowMirror(t, 0, "")
	cmd := gomodxCmd(t, dir, ttyEnv(t, dir, mirror2.URL+"/mod", "CI=true"), "download")
	out2, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("gomodx download: %v\n%s", err, out2)
	}
	if mirror2.requests() != 1 || !strings.HasPrefix(string(out2), "gomodx: fetched 1 module (1 file, ") {
		t.Errorf("second run: %d requests, output:\n%s", mirror2.requests(), out2)
	}
	verify()
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// screen plays terminal output as a terminal shows it, for the controls
// gomodx and the terminal driver use: \r, \n, erase in line (ESC[K, ESC[0K,
// ESC[2K) and colours. It records the widest line drawn.
type screen struct {
	lines []string
	col   int
	max   int
}

var csiRE = regexp.MustCompile(`^\x1b\[([0-9;]*)([A-Za-z])`)

func play(t *testing.T, out string) *screen {
	t.Helper()
	s := &screen{lines: []string{""}}
	for len(out) > 0 {
		cur := &s.lines[len(s.lines)-1]
		switch out[0] {
		case '\r':
			s.col = 0
			out = out[1:]
		case '\n':
			s.lines = append(s.lines, "")
			s.col = 0
			out = out[1:]
		case '\x1b':
			m := csiRE.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("unknown escape sequence at %q", out)
			}
			switch {
			case m[2] == "K" && (m[1] == "" || m[1] == "0"):
				*cur = string([]rune(*cur)[:min(s.col, utf8.RuneCountInString(*cur))])
			case m[2] == "K" && m[1] == "2":
				*cur = strings.Repeat(" ", s.col)
			case m[2] == "m":
			default:
				t.Fatalf("unexpected escape sequence %q", m[0])
			}
			out = out[len(m[0]):]
		default:
			ch, size := utf8.DecodeRuneInString(out)
			r := []rune(*cur)
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
	return s
}

// text is the screen's lines without trailing blanks.
func (s *screen) text() string {
	var lines []string
	for _, l := range s.lines {
		lines = append(lines, strings.TrimRight(l, " "))
	}
	return strings.Trim(strings.Join(lines, "\n"), "\n")
}

// TestTerminalGoRun: a program that gomodx go run starts keeps the
// terminal, as it would without gomodx: its stdout and stderr are the
// terminal itself, not pipes.
func TestTerminalGoRun(t *testing.T) {
	t.Parallel()
	mirror := newSlowMirror(t, 0, "")
	files := map[string]string{
		"go.mod": ttyProject["go.mod"],
		"go.sum": ttyProject["go.sum"],
		"m.go": `package main

import (
	"fmt"
	"os"

	"example.com/a"
	"golang.org/x/term"
)

func main() {
	fmt.Println("stdout tty:", term.IsTerminal(int(os.Stdout.Fd())), "stderr tty:", term.IsTerminal(int(os.Stderr.Fd())), a.A())
}
`,
	}
	// The program needs x/term from gomodx's own module cache: a replace
	// to the directory go already has, so no mirror is asked for it.
	termDir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/term").Output()
	if err != nil {
		t.Skipf("golang.org/x/term not in the module cache: %v", err)
	}
	sysDir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/sys").Output()
	if err != nil {
		t.Skipf("golang.org/x/sys not in the module cache: %v", err)
	}
	files["go.mod"] += "\nrequire (\n\tgolang.org/x/term v0.0.0\n\tgolang.org/x/sys v0.0.0\n)\n\nreplace golang.org/x/term => " + strings.TrimSpace(string(termDir)) + "\n\nreplace golang.org/x/sys => " + strings.TrimSpace(string(sysDir)) + "\n"
	dir := writeProject(t, files)
	env := ttyEnv(t, dir, mirror.URL+"/mod", "GOFLAGS=-modcacherw -mod=mod")
	code, out := startTTY(t, gomodxCmd(t, dir, env, "go", "run", ".")).wait(t)
	if code != 0 {
		t.Fatalf("exit status %d:\n%s", code, out)
	}
	if !strings.Contains(out, "stdout tty: true stderr tty: true ab") {
		t.Errorf("the program did not get the terminal:\n%s", out)
	}
}
