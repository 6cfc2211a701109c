package main

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// faultProxy is a module mirror for tests: it forwards to a goproxytest server
// and injects the faults named by the path elements before "mod", e.g.
// $PROXY/status-500/mod or $PROXY/flaky-2/tamper/mod. It logs every request
// with the client that made it, so scripts can assert who asked for what.
//
// Faults:
//
//	status-N    answer every request with status N
//	files-N     answer requests for .info, .mod and .zip files with status N;
//	            lists, queries and the checksum database are served
//	flaky-N     answer the first N requests for each file with 503
//	tamper      serve .zip files with an extra file (a valid zip, wrong hash)
//	truncate-N  cut the first N .zip bodies for each file in half, then close
//	hang        never answer (until the client gives up, at most a minute)
//	seq-F.F...  meet the requests for each file with these faults in turn,
//	            then serve it: 502 or 503, hang (until the client cancels
//	            it), reset (half the body, then the connection is cut),
//	            short (a well-formed 200 whose Content-Length matches a body
//	            cut in half), ok; see seqFault
//
// Under <mirror>/sumdb/sum.gomodx.test/ it serves a checksum database that
// knows every module in testdata/mod.
type faultProxy struct {
	*httptest.Server
	upstream string       // goproxytest's URL, ending in /mod
	sumdb    http.Handler // the checksum database, served under <mirror>/sumdb/<sumdbName>/

	mu   sync.Mutex
	hits map[string]int // fault path → requests seen
	log  []string
}

func newFaultProxy(upstream string, sumdb http.Handler) *faultProxy {
	p := &faultProxy{upstream: upstream, sumdb: sumdb, hits: map[string]int{}}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	return p
}

func (p *faultProxy) serve(w http.ResponseWriter, r *http.Request) {
	mirror, file, ok := strings.Cut(r.URL.Path, "/mod/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	client := "go"
	if strings.HasPrefix(r.UserAgent(), "gomodx/") {
		client = "gomodx"
	}
	p.mu.Lock()
	p.log = append(p.log, fmt.Sprintf("%s %s/mod %s", client, mirror, file))
	p.hits[r.URL.Path]++
	hit := p.hits[r.URL.Path]
	p.mu.Unlock()

	var tamper bool
	truncate := 0
	for _, fault := range strings.Split(strings.Trim(mirror, "/"), "/") {
		name, arg, _ := strings.Cut(fault, "-")
		n, _ := strconv.Atoi(arg)
		switch name {
		case "":
		case "status":
			http.Error(w, http.StatusText(n), n)
			return
		case "files":
			if strings.Contains(file, "/@v/") && (strings.HasSuffix(file, ".info") || strings.HasSuffix(file, ".mod") || strings.HasSuffix(file, ".zip")) {
				http.Error(w, http.StatusText(n), n)
				return
			}
		case "flaky":
			if hit <= n {
				http.Error(w, "flaky mirror", http.StatusServiceUnavailable)
				return
			}
		case "hang":
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
			return
		case "tamper":
			tamper = strings.HasSuffix(file, ".zip")
		case "truncate":
			if strings.HasSuffix(file, ".zip") && hit <= n {
				truncate = 1
			}
		case "seq":
			if !p.seqFault(w, r, arg, hit, file) {
				return
			}
		default:
			http.Error(w, "unknown fault "+fault, http.StatusBadRequest)
			return
		}
	}

	if rest, ok := strings.CutPrefix(file, "sumdb/"+sumdbName); ok {
		r2 := r.Clone(r.Context())
		r2.URL.Path = rest
		p.sumdb.ServeHTTP(w, r2)
		return
	}
	resp, err := http.Get(p.upstream + "/" + file)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if resp.StatusCode == http.StatusOK && tamper {
		body = addFile(body)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.StatusCode)
	if truncate > 0 {
		w.Write(body[:len(body)/2])
		// Abort the connection so the client sees a body cut short.
		panic(http.ErrAbortHandler)
	}
	w.Write(body)
}

// seqFault meets request number hit for file with the hit-th fault of seq
// ("502.hang.reset.short"). It reports whether the request is to be served
// as usual; otherwise it has answered it. A hang lasts until the client
// cancels the request; one still hanging after a minute is logged as
// "uncancelled hang" (and answered 500), so that a script sees it.
func (p *faultProxy) seqFault(w http.ResponseWriter, r *http.Request, seq string, hit int, file string) bool {
	faults := strings.Split(seq, ".")
	if hit > len(faults) {
		return true
	}
	switch f := faults[hit-1]; f {
	case "ok":
		return true
	case "502", "503":
		code, _ := strconv.Atoi(f)
		http.Error(w, http.StatusText(code), code)
	case "hang":
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
			p.mu.Lock()
			p.log = append(p.log, "uncancelled hang "+file)
			p.mu.Unlock()
			http.Error(w, "uncancelled hang", http.StatusInternalServerError)
		}
	case "reset", "short":
		resp, err := http.Get(p.upstream + "/" + file)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return false
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			http.Error(w, "upstream failed", http.StatusBadGateway)
			return false
		}
		half := body[:len(body)/2]
		if f == "short" {
			w.Header().Set("Content-Length", strconv.Itoa(len(half)))
			w.Write(half)
			return false
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(half)
		panic(http.ErrAbortHandler) // cut the connection mid-body
	default:
		http.Error(w, "unknown fault in seq: "+f, http.StatusBadRequest)
	}
	return false
}

// addFile returns the zip with one more file in the module's directory: still
// a valid module zip, but not the one go.sum describes.
func addFile(data []byte) []byte {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil || len(zr.File) == 0 {
		return append(data, 0)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		zw.Copy(f)
	}
	// Entries are named path@version/file; the version holds no slash.
	name := zr.File[0].Name
	at := strings.Index(name, "@")
	prefix := name[:at+strings.Index(name[at:], "/")]
	w, _ := zw.Create(prefix + "/evil.go")
	io.WriteString(w, "package evil\n")
	zw.Close()
	return buf.Bytes()
}

// waitFor reports whether a request whose log line contains substr arrives
// within limit. It polls: the log is tiny and the wait is bounded.
func (p *faultProxy) waitFor(substr string, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		seen := slices.ContainsFunc(p.log, func(l string) bool { return strings.Contains(l, substr) })
		p.mu.Unlock()
		if seen {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// takeLog returns the requests seen since the last call, sorted.
func (p *faultProxy) takeLog() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	log := p.log
	p.log = nil
	slices.Sort(log)
	return log
}

// sumdbName is the fake checksum database's name; scripts that want the
// checksum database set GOSUMDB=$TESTSUMDB.
const sumdbName = "sum.gomodx.test"
