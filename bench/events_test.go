package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReadSummary checks that the summary's totals and the bench's own
// counts come out of an event stream as gomodx writes it.
func TestReadSummary(t *testing.T) {
	file := filepath.Join(t.TempDir(), "events.jsonl")
	stream := `{"Time":"2026-11-30T22:21:41.0Z","Action":"plan","Module":"a","Version":"v1.0.0","File":"zip"}
{"Time":"2026-11-30T22:21:41.1Z","Action":"start","Module":"a","Version":"v1.0.0","File":"zip","Mirror":"https://proxy.golang.org","Attempt":1}
{"Time":"2026-11-30T22:21:41.2Z","Action":"retry","Module":"a","Version":"v1.0.0","File":"zip","Mirror":"https://proxy.golang.org","Attempt":2,"Error":"502 Bad Gateway"}
{"Time":"2026-11-30T22:21:42.0Z","Action":"hedge","Module":"a","Version":"v1.0.0","File":"zip","Mirror":"https://proxy.golang.org","Next":"https://proxy.golang.org"}
{"Time":"2026-11-30T22:21:42.5Z","Action":"rescue","Module":"a","Version":"v1.0.0","File":"zip","Mirror":"https://goproxy.cn","Next":"https://proxy.golang.org"}
{"Time":"2026-11-30T22:21:42.6Z","Action":"start","Module":"b","Version":"v1.0.0","File":"mod","Mirror":"https://goproxy.cn","Attempt":1}
{"Time":"2026-11-30T22:21:43.5Z","Action":"done","Module":"a","Version":"v1.0.0","File":"zip","Mirror":"https://proxy.golang.org","Bytes":10,"Elapsed":2.4}
{"Time":"2026-11-30T22:21:44.0Z","Action":"summary","Bytes":10,"Elapsed":3.5,"Modules":1,"Files":1,"Retries":1,"Hedges":1,"Failovers":2,"Mismatches":3,"Mirrors":[{"Mirror":"https://proxy.golang.org","Files":1,"Bytes":10}]}
`
	if err := os.WriteFile(file, []byte(stream), 0o666); err != nil {
		t.Fatal(err)
	}
	s := readSummary(file)
	if s == nil || !s.hasSummary {
		t.Fatalf("readSummary = %+v, want a summary", s)
	}
	if s.Elapsed != 3.5 || s.Files != 1 || s.Retries != 1 || s.Hedges != 1 || s.Failovers != 2 || s.Mismatches != 3 {
		t.Errorf("totals %+v, want those of the summary event", s)
	}
	if s.hedged != 1 || s.retried != 1 || s.rescued != 1 {
		t.Errorf("counted %d hedges, %d retries, %d rescues, want 1 each", s.hedged, s.retried, s.rescued)
	}
	if n := s.startedAt([]string{"goproxy.cn", "goproxy.io"}); n != 1 {
		t.Errorf("startedAt the built-in mirrors = %d, want 1", n)
	}
	if s.slowest != "a@v1.0.0 .zip" || s.slowestElapsed != 2.4 || s.slowestFinished < 2.49 || s.slowestFinished > 2.51 {
		t.Errorf("slowest %q, %.2f s, at %.2f s; want a@v1.0.0 .zip, 2.4 s, at 2.5 s", s.slowest, s.slowestElapsed, s.slowestFinished)
	}
	if readSummary(filepath.Join(t.TempDir(), "none")) != nil {
		t.Errorf("readSummary of a missing file is not nil")
	}
}
