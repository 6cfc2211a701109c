package main

import (
	"strings"
	"testing"
	"time"
)

// TestLinkLimit checks the link's limit: the bytes at the link's rate,
// plus three round trips.
func TestLinkLimit(t *testing.T) {
	if got, want := linkLimit(48e6, 10e6, 150*time.Millisecond), 5250*time.Millisecond; got != want {
		t.Errorf("linkLimit(48 MB, 10 MB/s, 150 ms) = %v, want %v", got, want)
	}
}

// TestScanOutput checks what -real counts in a run's output: the DNS
// lookups of the built-in mirrors' hosts, and gomodx's lines other than
// its summary and progress.
func TestScanOutput(t *testing.T) {
	out := `go package net: confVal.netCgo = false  netGo = true
go package net: hostLookupOrder(proxy.golang.org) = files,dns
go package net: hostLookupOrder(goproxy.cn) = files,dns
go package net: hostLookupOrder(mirrors.aliyun.com) = files,dns
go: downloading github.com/spf13/cobra v1.8.1
gomodx: 14:03:05 42/310 files (finding more), 12.3 MB, 2.1 MB/s
gomodx: golang.org/x/text@v0.21.0: .zip from goproxy.cn: dial tcp: lookup goproxy.cn: no such host; asking the built-in mirror proxy.golang.org instead
gomodx: fetched 93 modules (280 files, 40.1 MB) in 4.0s, 10.0 MB/s
`
	lookups, warnings := scanOutput(out, builtinHosts)
	if lookups != 2 {
		t.Errorf("%d lookups of the built-in mirrors, want 2", lookups)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "asking the built-in mirror") {
		t.Errorf("warnings %q, want the rescue's line alone", warnings)
	}
	if got := compareModSum([]byte("a\x00b\x00"), []byte("a\x00c\x00")); got != "differs: go.sum" {
		t.Errorf("compareModSum = %q, want differs: go.sum", got)
	}
	if got := compareModSum([]byte("a\x00b\x00"), []byte("a\x00b\x00")); got != "same" {
		t.Errorf("compareModSum = %q, want same", got)
	}
}

// TestReportBaseColumn checks that a gomodx-base run beside gomodx gets its
// own column and a ratio against gomodx, round by round.
func TestReportBaseColumn(t *testing.T) {
	tools, err := newTools([]string{"gomodx", "gomodx-base"}, "go", "/bin/new", "/bin/gomodx-old")
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{cfg: config{rtts: []time.Duration{150 * time.Millisecond}}, tools: tools, cells: map[cellKey]*cell{}}
	for tool, walls := range map[string][]time.Duration{"gomodx": {8 * time.Second, 10 * time.Second}, "gomodx-base": {9 * time.Second, 9 * time.Second}} {
		c := &cell{}
		for _, w := range walls {
			c.runs = append(c.runs, result{wall: w})
		}
		b.cells[cellKey{150 * time.Millisecond, opDownload, tool}] = c
	}
	var out strings.Builder
	b.report(&out, source{title: "t"})
	for _, want := range []string{
		"| op | RTT | go | gomodx | `GOMAXPROCS=16` go | gomodx (gomodx-old) | go / gomodx | go16 / gomodx | base / gomodx |",
		"| download | 150 ms | – | 9.00 s (8.00–10.00) | – | 9.00 s (9.00–9.00) | – | – | 1.01× (0.90–1.12) |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
