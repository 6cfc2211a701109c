package main

import (
	"bytes"
	"errors"
	"io/fs"
	"syscall"
	"testing"

	"golang.org/x/mod/module"

	"github.com/gomodx/gomodx/mirrors"
)

// TestPrintErrorSameCause checks that failures with one cause (here an
// unreachable mirror, and a GOMODCACHE that is a file) are printed for the
// first three modules and counted for the rest, while a failure with
// another cause is printed too.
func TestPrintErrorSameCause(t *testing.T) {
	unreachable := errors.New("dial tcp: lookup goproxy.cn: no such host")
	var errs []error
	for _, p := range []string{"a", "b", "c", "d", "e"} {
		errs = append(errs, &mirrors.Error{
			Mod:      module.Version{Path: "example.com/" + p, Version: "v1.0.0"},
			File:     "mod",
			Attempts: []mirrors.Attempt{{Mirror: "https://goproxy.cn", Err: unreachable, Named: true}},
		})
	}
	errs = append(errs, &mirrors.Error{
		Mod:      module.Version{Path: "example.com/f", Version: "v1.0.0"},
		File:     "mod",
		Attempts: []mirrors.Attempt{{Mirror: "https://goproxy.cn", Err: errors.New("502 Bad Gateway"), Named: true}},
	})
	for _, p := range []string{"g", "h", "i", "j"} {
		errs = append(errs, &fs.PathError{Op: "mkdir", Path: "/m/cache/download/example.com/" + p, Err: syscall.ENOTDIR})
	}
	var out bytes.Buffer
	printAfterGo(&out, errors.Join(errs...))
	want := "" +
		"gomodx: example.com/a@v1.0.0: downloading mod from https://goproxy.cn: dial tcp: lookup goproxy.cn: no such host\n" +
		"gomodx: example.com/b@v1.0.0: downloading mod from https://goproxy.cn: dial tcp: lookup goproxy.cn: no such host\n" +
		"gomodx: example.com/c@v1.0.0: downloading mod from https://goproxy.cn: dial tcp: lookup goproxy.cn: no such host\n" +
		"gomodx: and 2 more that failed the same way\n" +
		"gomodx: example.com/f@v1.0.0: downloading mod from https://goproxy.cn: 502 Bad Gateway\n" +
		"gomodx: mkdir /m/cache/download/example.com/g: not a directory\n" +
		"gomodx: mkdir /m/cache/download/example.com/h: not a directory\n" +
		"gomodx: mkdir /m/cache/download/example.com/i: not a directory\n" +
		"gomodx: and 1 more that failed the same way\n"
	got := out.String()
	if i := bytes.Index(out.Bytes(), []byte("gomodx: hint:")); i >= 0 {
		got = got[:i]
	}
	if got != want {
		t.Errorf("printed:\n%s\nwant:\n%s", got, want)
	}
}
