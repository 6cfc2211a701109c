package main

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"

	"github.com/gomodx/gomodx/checksum/checksumtest"
	"github.com/gomodx/gomodx/toolchain"
)

// BenchmarkToolchainSwitch times the plain go command and gomodx, one
// after the other in each round, switching to a fake go1.999.0 whose zip
// is as large as a real toolchain's (76 MB, generated here), served from a
// loopback mirror with a checksum database, into an empty module cache:
//
//	go test -run '^$' -bench ToolchainSwitch -benchtime 3x .
//
// Each round reports go-s/op and gomodx-s/op; a tool that fails (go after
// a reset mid-file) is counted in go-fail/op or gomodx-fail/op. The rate
// limit is per connection, as on a long, lossy link where one connection
// carries far less than the link; a mirror that serves byte ranges lets
// gomodx use several (see package mirrors).
func BenchmarkToolchainSwitch(b *testing.B) {
	if runtime.GOOS == "windows" {
		b.Skip("the fake toolchain is a shell script")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		b.Skip("no go command")
	}
	work := b.TempDir()
	gomodx := filepath.Join(work, "gomodx")
	if out, err := exec.Command(gobin, "build", "-o", gomodx, ".").CombinedOutput(); err != nil {
		b.Fatalf("building gomodx: %v\n%s", err, out)
	}
	mod := toolchain.Module("go1.999.0", runtime.GOOS, runtime.GOARCH)
	zipFile := filepath.Join(work, "toolchain.zip")
	hash := writeBigToolchain(b, mod, zipFile, 75<<20)
	sumdb, gosumdb := checksumtest.NewServer(b, "sum.bench.test", func(path, version string) ([]byte, error) {
		if path != mod.Path || version != mod.Version {
			return nil, fs.ErrNotExist
		}
		return fmt.Appendf(nil, "%s %s %s\n%s %s/go.mod h1:unused\n", path, version, hash, path, version), nil
	})
	proj := filepath.Join(work, "proj")
	os.MkdirAll(proj, 0o777)
	os.WriteFile(filepath.Join(proj, "go.mod"), []byte("module example.com/m\n\ngo 1.999\n"), 0o666)

	for _, sc := range []struct {
		name     string
		rtt      time.Duration
		rate     int64 // bytes a second on each connection; 0 for no limit
		resets   int   // responses cut after 4 MB, per round
		noRanges bool  // the mirror serves no byte ranges
	}{
		{name: "loopback"},
		{name: "rtt=150ms,20MB/s,no-ranges", rtt: 150 * time.Millisecond, rate: 20 << 20, noRanges: true},
		{name: "rtt=150ms,20MB/s", rtt: 150 * time.Millisecond, rate: 20 << 20},
		{name: "rtt=150ms,20MB/s,reset", rtt: 150 * time.Millisecond, rate: 20 << 20, resets: 1},
	} {
		b.Run(sc.name, func(b *testing.B) {
			m := &benchMirror{zip: zipFile, sumdb: sumdb, rtt: sc.rtt, rate: sc.rate, noRanges: sc.noRanges}
			srv := httptest.NewServer(m)
			defer srv.Close()
			var elapsed [2]time.Duration
			var fails [2]int
			tools := [2]string{gobin, gomodx}
			round := 0
			for b.Loop() {
				// Alternate which tool goes first, so neither always
				// meets a warmer machine.
				order := []int{0, 1}
				if round%2 == 1 {
					order = []int{1, 0}
				}
				round++
				for _, i := range order {
					m.resets.Store(int64(sc.resets))
					dir := b.TempDir()
					args := []string{"version"}
					if i == 1 {
						args = []string{"go", "version"}
					}
					cmd := exec.Command(tools[i], args...)
					cmd.Dir = proj
					cmd.Env = append(os.Environ(),
						"HOME=/no-home", "XDG_CACHE_HOME=/no-home", "XDG_CONFIG_HOME=/no-home",
						"GOMODCACHE="+filepath.Join(dir, "modcache"), "GOPATH="+filepath.Join(dir, "gopath"),
						"GOPROXY="+srv.URL+"/mod", "GOSUMDB="+gosumdb, "GOTOOLCHAIN=auto",
						"GONOSUMDB=", "GONOPROXY=", "GOPRIVATE=", "GOFLAGS=", "GOENV=off", "GOMODX_GO="+gobin)
					start := time.Now()
					out, err := cmd.CombinedOutput()
					elapsed[i] += time.Since(start)
					if err != nil || !bytes.Contains(out, []byte("go1.999.0 fake toolchain: version")) {
						fails[i]++
						if sc.resets == 0 {
							b.Fatalf("%s: %v\n%s", tools[i], err, out)
						}
					}
					makeTreeWritable(dir)
				}
			}
			n := float64(round)
			b.ReportMetric(elapsed[0].Seconds()/n, "go-s/op")
			b.ReportMetric(elapsed[1].Seconds()/n, "gomodx-s/op")
			b.ReportMetric(float64(fails[0])/n, "go-fail/op")
			b.ReportMetric(float64(fails[1])/n, "gomodx-fail/op")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// writeBigToolchain writes a toolchain zip for mod to file, as the fake
// in testdata/mod plus one incompressible file of size bytes (a real zip
// is deflated: its bytes do not shrink further), and returns its h1 hash.
func writeBigToolchain(b testing.TB, mod module.Version, file string, size int) string {
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	zw := zip.NewWriter(f)
	prefix := mod.Path + "@" + mod.Version + "/"
	tool := "pkg/tool/" + runtime.GOOS + "_" + runtime.GOARCH + "/"
	for _, e := range []struct{ name, data string }{
		{"go.mod", "module golang.org/toolchain\n"},
		{"bin/go", "#!/bin/sh\ncase \"$1\" in\nenv)\n\tunset GOROOT GOTOOLCHAIN_INTERNAL_SWITCH_VERSION\n\tGOTOOLCHAIN=local exec go \"$@\"\n\t;;\nesac\necho \"go1.999.0 fake toolchain: $*\"\n"},
		{"bin/gofmt", "#!/bin/sh\n"},
		{"lib/wasm/go_js_wasm_exec", "#!/bin/sh\n"},
		{"src/_go.mod", "module std\n"},
	} {
		w, err := zw.Create(prefix + e.name)
		if err != nil {
			b.Fatal(err)
		}
		io.WriteString(w, e.data)
	}
	w, err := zw.CreateHeader(&zip.FileHeader{Name: prefix + tool + "compile", Method: zip.Store})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewChaCha8([32]byte{'g', 'o', 'm', 'o', 'd', 'x'}))
	buf := make([]byte, 1<<20)
	for left := size; left > 0; left -= len(buf) {
		for i := 0; i < len(buf); i += 8 {
			v := rng.Uint64()
			for j := 0; j < 8; j++ {
				buf[i+j] = byte(v >> (8 * j))
			}
		}
		if _, err := w.Write(buf[:min(left, len(buf))]); err != nil {
			b.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	h, err := dirhash.HashZip(file, dirhash.DefaultHash)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// benchMirror serves one zip under /mod/, in byte ranges unless noRanges,
// and a checksum database under /mod/sumdb/sum.bench.test/: each response
// after rtt, zip bytes at rate on each connection, the next resets zip
// responses cut after 4 MB.
type benchMirror struct {
	zip      string
	sumdb    http.Handler
	rtt      time.Duration
	rate     int64
	noRanges bool
	resets   atomic.Int64
}

func (m *benchMirror) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	time.Sleep(m.rtt)
	file, ok := strings.CutPrefix(r.URL.Path, "/mod/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	if rest, ok := strings.CutPrefix(file, "sumdb/sum.bench.test"); ok {
		r2 := r.Clone(r.Context())
		r2.URL.Path = rest
		m.sumdb.ServeHTTP(w, r2)
		return
	}
	if !strings.HasPrefix(file, "golang.org/toolchain/@v/") || !strings.HasSuffix(file, ".zip") {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(m.zip)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	fi, _ := f.Stat()
	lw := &slowWriter{ResponseWriter: w, rate: m.rate, cutAfter: -1, next: time.Now()}
	if m.resets.Add(-1) >= 0 {
		// Early, so that it falls inside the first of several ranges too.
		lw.cutAfter = 4 << 20
	}
	if m.noRanges {
		w.Header().Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
		io.Copy(lw, f)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	http.ServeContent(lw, r, "", fi.ModTime(), f)
}

// slowWriter writes a response at rate bytes a second, in chunks, and
// aborts the connection after cutAfter bytes (unless negative). Each chunk
// takes its time counted from when the last one was due, or at most 20ms
// before now: a client that stops reading gets no burst to catch up with
// afterwards, as on a real link, while the sleeps' own overshoot is made up.
type slowWriter struct {
	http.ResponseWriter
	rate     int64
	cutAfter int64
	written  int64
	next     time.Time
}

func (w *slowWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), 64<<10)]
		if w.cutAfter >= 0 && w.written+int64(len(chunk)) > w.cutAfter {
			w.ResponseWriter.Write(chunk[:w.cutAfter-w.written])
			w.ResponseWriter.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		k, err := w.ResponseWriter.Write(chunk)
		n += k
		w.written += int64(k)
		if err != nil {
			return n, err
		}
		p = p[k:]
		if w.rate > 0 {
			w.next = later(w.next, time.Now().Add(-20*time.Millisecond)).Add(time.Duration(float64(k) / float64(w.rate) * float64(time.Second)))
			time.Sleep(time.Until(w.next))
		}
	}
	return n, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// makeTreeWritable lets the benchmark's temporary directories be removed
// after go made the toolchain read-only.
func makeTreeWritable(dir string) {
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(path, 0o777)
		}
		return nil
	})
}
