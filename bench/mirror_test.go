package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFaultsDraw checks that the faults hit the same requests every time,
// about as many as asked, and that a retry is drawn anew.
func TestFaultsDraw(t *testing.T) {
	f := &faults{seed: 1, status: 502, statusRate: 0.05}
	g := &faults{seed: 1, status: 502, statusRate: 0.05}
	hits, again := 0, 0
	const n = 4000
	for i := range n {
		p := fmt.Sprintf("/example.com/m%03d/@v/v1.0.0.mod", i)
		got := f.pick(p, 0, false)
		if got != g.pick(p, 0, false) {
			t.Fatalf("%s: two draws differ", p)
		}
		if got == faultStatus {
			hits++
			if f.pick(p, 1, false) == faultStatus {
				again++
			}
		}
	}
	if hits < n*3/100 || hits > n*7/100 {
		t.Errorf("%d of %d requests hit, want about 5%%", hits, n)
	}
	if again > hits/4 {
		t.Errorf("%d of %d retries hit again, want about 5%%", again, hits)
	}
}

// TestFaultsMix checks that the mix's faults come in the shares asked
// for, each request meeting at most one, truncation only on whole zips,
// and that two mirrors with the same seed but different salts fail on
// different requests.
func TestFaultsMix(t *testing.T) {
	a, b := mixFaults(1, 0), mixFaults(1, 1)
	counts := map[faultKind]int{}
	statuses := map[int]int{}
	same := 0
	const n = 20000
	for i := range n {
		p := fmt.Sprintf("/example.com/m%05d/@v/v1.0.0.zip", i)
		k := a.pick(p, 0, false)
		counts[k]++
		if k == faultStatus {
			statuses[a.statusFor(p, 0)]++
		}
		if k != faultNone && k == b.pick(p, 0, false) {
			same++
		}
		if r := a.pick(p, 0, true); r == faultTruncate {
			t.Fatalf("%s: a Range request truncated", p)
		}
		if m := a.pick(strings.TrimSuffix(p, ".zip")+".mod", 0, false); m == faultTruncate || m == faultStall {
			t.Fatalf("%s: a .mod got %v, a zip-only fault", p, m)
		}
	}
	want := map[faultKind]float64{faultStatus: 0.10, faultReset: 0.02, faultHang: 0.01, faultTruncate: 0.01, faultStall: 0}
	for k, share := range want {
		got := float64(counts[k]) / n
		if got < share*0.8 || got > share*1.2 {
			t.Errorf("fault %d: %.2f%% of requests, want %.0f%%", k, got*100, share*100)
		}
	}
	if len(statuses) != 2 || statuses[502] < counts[faultStatus]*4/10 || statuses[503] < counts[faultStatus]*4/10 {
		t.Errorf("statuses %v, want 502 and 503 about evenly", statuses)
	}
	// Independent draws: both fault the same request in about 14% of 14%.
	if same > n*14/100/4 {
		t.Errorf("two salts faulted the same %d requests the same way", same)
	}
}

// TestMirrorFaults checks each kind of fault as a client sees it.
func TestMirrorFaults(t *testing.T) {
	root := t.TempDir()
	zipData := []byte(strings.Repeat("z", 64<<10))
	if err := os.MkdirAll(filepath.Join(root, "m", "@v"), 0o777); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"v1.0.0.zip": zipData, "v1.0.0.mod": []byte("module m\n")} {
		if err := os.WriteFile(filepath.Join(root, "m", "@v", name), data, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	const zipPath, modPath = "/m/@v/v1.0.0.zip", "/m/@v/v1.0.0.mod"

	tests := []struct {
		name   string
		faults *faults
		path   string
		// check looks at the first and the second request for path.
		check func(t *testing.T, first, second outcome)
	}{
		{
			name:   "502 on each zip's first request",
			faults: &faults{status: 502, statusZip1: true},
			path:   zipPath,
			check: func(t *testing.T, first, second outcome) {
				if first.status != 502 || second.status != 200 || len(second.body) != len(zipData) {
					t.Errorf("got %v then %v, want 502 then the zip", first, second)
				}
			},
		},
		{
			name:   "not on a .mod",
			faults: &faults{status: 502, statusZip1: true},
			path:   modPath,
			check: func(t *testing.T, first, _ outcome) {
				if first.status != 200 {
					t.Errorf("got %v, want 200", first)
				}
			},
		},
		{
			name:   "429 with Retry-After",
			faults: &faults{status: 429, statusRate: 1, retryAfter: "1"},
			path:   modPath,
			check: func(t *testing.T, first, _ outcome) {
				if first.status != 429 || first.retryAfter != "1" {
					t.Errorf("got %v, want 429 with Retry-After: 1", first)
				}
			},
		},
		{
			name:   "reset",
			faults: &faults{reset: 1},
			path:   zipPath,
			check: func(t *testing.T, first, _ outcome) {
				if first.status != 200 || len(first.body) != len(zipData)/2 || !errors.Is(first.err, io.ErrUnexpectedEOF) {
					t.Errorf("got %v, want half the zip, then unexpected EOF", first)
				}
			},
		},
		{
			name:   "stall",
			faults: &faults{stall: 1},
			path:   zipPath,
			check: func(t *testing.T, first, _ outcome) {
				if first.status != 200 || len(first.body) != len(zipData)/2 || !errors.Is(first.err, context.DeadlineExceeded) {
					t.Errorf("got %v, want half the zip, then a timeout", first)
				}
			},
		},
		{
			name:   "truncated zip",
			faults: &faults{truncate: 1},
			path:   zipPath,
			check: func(t *testing.T, first, _ outcome) {
				if first.status != 200 || first.err != nil || len(first.body) == 0 || len(first.body) >= len(zipData) || first.length != int64(len(first.body)) {
					t.Errorf("got %v, want a well-formed 200 with part of the zip", first)
				}
			},
		},
		{
			name:   "503 or 502",
			faults: &faults{statuses: []int{502, 503}, statusRate: 1},
			path:   modPath,
			check: func(t *testing.T, first, second outcome) {
				for _, o := range []outcome{first, second} {
					if o.status != 502 && o.status != 503 {
						t.Errorf("got %v, want 502 or 503", o)
					}
				}
			},
		},
		{
			name:   "reset of a .mod",
			faults: &faults{resetAny: 1},
			path:   modPath,
			check: func(t *testing.T, first, _ outcome) {
				if first.status != 200 || len(first.body) != len("module m\n")/2 || !errors.Is(first.err, io.ErrUnexpectedEOF) {
					t.Errorf("got %v, want half the .mod, then unexpected EOF", first)
				}
			},
		},
		{
			name:   "hang",
			faults: &faults{hang: 1},
			path:   modPath,
			check: func(t *testing.T, first, _ outcome) {
				if first.status != 0 || !errors.Is(first.err, context.DeadlineExceeded) {
					t.Errorf("got %v, want no response before the timeout", first)
				}
			},
		},
		{
			name:   "tampered",
			faults: &faults{tamper: map[string][]byte{zipPath: []byte("other bytes")}},
			path:   zipPath,
			check: func(t *testing.T, first, _ outcome) {
				if first.status != 200 || string(first.body) != "other bytes" {
					t.Errorf("got %v, want the altered bytes", first)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := startMirror(root, link{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.close(t.Context())
			m.faults = tt.faults
			first := get(t, m.url+tt.path)
			second := get(t, m.url+tt.path)
			tt.check(t, first, second)
			if s := m.reset(); s.requests != 2 {
				t.Errorf("mirror counted %d requests, want 2", s.requests)
			}
			// After a reset, the same faults again.
			if again := get(t, m.url+tt.path); again.String() != first.String() {
				t.Errorf("after reset: got %v, want %v as the first time", again, first)
			}
		})
	}
}

// outcome is what a client got for one request.
type outcome struct {
	status     int // 0: no response
	retryAfter string
	length     int64 // Content-Length
	body       []byte
	err        error
}

func (o outcome) String() string {
	return fmt.Sprintf("status %d, Retry-After %q, Content-Length %d, %d bytes, error %v", o.status, o.retryAfter, o.length, len(o.body), o.err)
}

// get fetches url, waiting at most 300ms for all of it.
func get(t *testing.T, url string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return outcome{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return outcome{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), length: resp.ContentLength, body: body, err: err}
}

// TestMirrorRange checks that a Range request gets its bytes with 206, a
// bad one 416, and one this mirror ignores (several ranges) the whole file.
func TestMirrorRange(t *testing.T) {
	root := t.TempDir()
	data := []byte("0123456789abcdefghij")
	if err := os.MkdirAll(filepath.Join(root, "m", "@v"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "m", "@v", "v1.0.0.zip"), data, 0o666); err != nil {
		t.Fatal(err)
	}
	m, err := startMirror(root, link{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.close(context.Background()) })

	tests := []struct {
		rng          string
		status       int
		body, crange string
	}{
		{"", http.StatusOK, string(data), ""},
		{"bytes=0-4", http.StatusPartialContent, "01234", "bytes 0-4/20"},
		{"bytes=15-", http.StatusPartialContent, "fghij", "bytes 15-19/20"},
		{"bytes=-3", http.StatusPartialContent, "hij", "bytes 17-19/20"},
		{"bytes=18-99", http.StatusPartialContent, "ij", "bytes 18-19/20"},
		{"bytes=0-1,5-6", http.StatusOK, string(data), ""},
		{"bytes=20-", http.StatusRequestedRangeNotSatisfiable, "", "bytes */20"},
		{"bytes=5-2", http.StatusRequestedRangeNotSatisfiable, "", "bytes */20"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodGet, m.url+"/m/@v/v1.0.0.zip", nil)
		if tt.rng != "" {
			req.Header.Set("Range", tt.rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || resp.Header.Get("Content-Range") != tt.crange {
			t.Errorf("Range %q: %d, Content-Range %q; want %d, %q", tt.rng, resp.StatusCode, resp.Header.Get("Content-Range"), tt.status, tt.crange)
		}
		if tt.status != http.StatusRequestedRangeNotSatisfiable && string(body) != tt.body {
			t.Errorf("Range %q: body %q, want %q", tt.rng, body, tt.body)
		}
	}
}

// TestMirrorConnBandwidth checks that one connection is held to its
// bandwidth, and that two connections each get theirs.
func TestMirrorConnBandwidth(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "m", "@v"), 0o777); err != nil {
		t.Fatal(err)
	}
	const size = 200 << 10
	if err := os.WriteFile(filepath.Join(root, "m", "@v", "v1.0.0.zip"), make([]byte, size), 0o666); err != nil {
		t.Fatal(err)
	}
	const rate = 1e6 // bytes per second: the file takes at least 0.2 s
	m, err := startMirror(root, link{perConn: rate})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.close(context.Background()) })
	get := func(c *http.Client) {
		resp, err := c.Get(m.url + "/m/@v/v1.0.0.zip")
		if err != nil {
			t.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	start := time.Now()
	done := make(chan bool)
	for range 2 {
		// A transport each: two connections.
		go func() { get(&http.Client{Transport: &http.Transport{}}); done <- true }()
	}
	<-done
	<-done
	// Each connection's bytes take size/rate; shared, they would take twice.
	if d, min := time.Since(start), time.Duration(float64(size)/rate*float64(time.Second)); d < min {
		t.Errorf("two connections took %v, less than one connection's %v at the limit", d, min)
	}
}
