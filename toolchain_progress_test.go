//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/gomodx/gomodx/checksum/checksumtest"
	"github.com/gomodx/gomodx/toolchain"
	"github.com/gomodx/gomodx/wrap/progress"
)

// TestToolchainProgress: on a terminal, the toolchain's zip shows its
// bytes on the bar as they arrive, and the line never says "finding more"
// of a plan that is the one zip; --json-file has its progress events. The
// mirror holds the zip's last bytes back until the bar has shown the
// first ones.
func TestToolchainProgress(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("the fake toolchain is a shell script")
	}
	work := t.TempDir()
	mod := toolchain.Module("go1.999.0", runtime.GOOS, runtime.GOARCH)
	zipFile := filepath.Join(work, "toolchain.zip")
	hash := writeBigToolchain(t, mod, zipFile, 6<<20)
	zipData, err := os.ReadFile(zipFile)
	if err != nil {
		t.Fatal(err)
	}
	const held = 5 << 20 // sent before the mirror waits for release
	sumdb, gosumdb := checksumtest.NewServer(t, "sum.progress.test", func(path, version string) ([]byte, error) {
		if path != mod.Path || version != mod.Version {
			return nil, fs.ErrNotExist
		}
		return fmt.Appendf(nil, "%s %s %s\n%s %s/go.mod h1:unused\n", path, version, hash, path, version), nil
	})
	release := make(chan struct{})
	zipPath := "/mod/" + mod.Path + "/@v/" + mod.Version + ".zip"
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/mod/sumdb/sum.progress.test"); ok {
			r2 := r.Clone(r.Context())
			r2.URL.Path = rest
			sumdb.ServeHTTP(w, r2)
			return
		}
		if r.URL.Path != zipPath {
			http.NotFound(w, r)
			return
		}
		// One stream, no ranges: the first part, then the rest once the
		// test has seen it on the bar.
		w.Header().Set("Content-Length", strconv.Itoa(len(zipData)))
		w.Write(zipData[:held])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Write(zipData[held:])
	}))
	t.Cleanup(mirror.Close)
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()

	dir := writeProject(t, map[string]string{"go.mod": "module example.com/m\n\ngo 1.999\n"})
	t.Cleanup(func() { makeTreeWritable(dir) }) // go's toolchain tree is read-only
	events := filepath.Join(dir, "events.json")
	env := ttyEnv(t, dir, mirror.URL+"/mod", "GOTOOLCHAIN=auto", "GOSUMDB="+gosumdb, "GOFLAGS=", "GOMODX_JSON_FILE="+events)
	run := startTTY(t, gomodxCmd(t, dir, env, "go", "version"))
	// Wide enough that the line never has to leave the bytes out.
	if err := pty.Setsize(run.pty, &pty.Winsize{Rows: 30, Cols: 250}); err != nil {
		t.Fatal(err)
	}

	// The bar shows bytes of the zip while it is not done. (The bound is
	// only there so that a broken gomodx cannot hang the test.)
	bytesShown := regexp.MustCompile(`[█░]{20} 0/1 files, [0-9.]+ MB, [0-9.]+ [kM]?B/s, `)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		run.mu.Lock()
		shown := bytesShown.MatchString(run.out.String())
		run.mu.Unlock()
		if shown {
			break
		}
		if time.Now().After(deadline) {
			run.mu.Lock()
			shown := run.out.String()
			t.Fatalf("the bar never showed the zip's bytes; the terminal ends with:\n%q", shown[max(0, len(shown)-1000):])
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(release)
	code, out := run.wait(t)
	if code != 0 {
		t.Fatalf("exit status %d:\n%q", code, out)
	}
	if strings.Contains(out, "finding more") {
		t.Errorf("the bar said finding more of the one zip:\n%q", out)
	}
	text := play(t, out).text()
	if !regexp.MustCompile(`(?m)^go: downloading go1\.999\.0 \(\w+/\w+\)\ngomodx: fetched 1 module \(1 file, [0-9.]+ MB\) in .*\ngo1\.999\.0 fake toolchain: version$`).MatchString(text) {
		t.Errorf("screen at the end:\n%s", text)
	}

	// The events: plan, start, progress up to the size, done.
	f, err := os.Open(events)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var actions []string
	var last int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev progress.JSONEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("%v: %s", err, sc.Bytes())
		}
		if ev.Module != mod.Path {
			continue
		}
		if ev.Action == "progress" {
			if ev.Size != int64(len(zipData)) || ev.Bytes <= last || ev.Bytes > ev.Size || ev.Mirror != mirror.URL+"/mod" {
				t.Errorf("progress event %s after %d bytes", sc.Bytes(), last)
			}
			last = ev.Bytes
		}
		if len(actions) == 0 || actions[len(actions)-1] != ev.Action {
			actions = append(actions, ev.Action)
		}
	}
	if got := strings.Join(actions, " "); got != "plan start progress done" {
		t.Errorf("the zip's events: %s; want plan start progress done", got)
	}
	if last < held {
		t.Errorf("the last progress event is at %d bytes; %d came before the mirror held back", last, held)
	}
}
