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
