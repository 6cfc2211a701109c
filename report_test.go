package main

import (
	"bytes"
	"errors"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/mod/module"

	"github.com/gomodx/gomodx/mirrors"
	"github.com/gomodx/gomodx/modcache"
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

// TestPrintErrorMismatchHint checks the hint after a zip that does not
// match go.sum: about go.sum and other mirrors, not about GOPROXY.
func TestPrintErrorMismatchHint(t *testing.T) {
	mod := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	err := &mirrors.Error{Mod: mod, File: "zip", Attempts: []mirrors.Attempt{{
		Mirror: "https://proxy.example", Named: true,
		Err: &modcache.HashMismatchError{Mod: mod, Kind: modcache.Zip, Want: "h1:want=", Got: "h1:got="},
	}}}
	var out bytes.Buffer
	printAfterGo(&out, err)
	want := "gomodx: hint: the bytes served do not match go.sum: if go.sum was edited, restore it; if a mirror may alter files, try another (GOPROXY=A|B); if every mirror serves these bytes, the version was changed after go.sum recorded it: see 'go help module-auth'\n"
	if !strings.HasSuffix(out.String(), want) {
		t.Errorf("printed:\n%s\nwant it to end with:\n%s", out.String(), want)
	}
}
