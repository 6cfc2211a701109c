package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"syscall"

	"github.com/gomodx/gomodx/mirrors"
	"github.com/gomodx/gomodx/modcache"
)

// report prints err the way the go command prints its errors, one
// "gomodx: " line per failure, followed by hints on what to do, and returns
// the exit status.
func report(w io.Writer, err error) int {
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(w, "gomodx: interrupted; the module cache is left valid")
		return 130
	}
	if u := (usageError{}); errors.As(err, &u) {
		fmt.Fprintf(w, "gomodx: %s\ngomodx: hint: run '%s' for usage\n", u.error, strings.TrimSpace("gomodx help "+u.command))
		return 2
	}
	hints := map[string]bool{}
	var order []string
	security := false
	for _, e := range leaves(err) {
		fmt.Fprintf(w, "gomodx: %s\n", e)
		var mismatch *modcache.HashMismatchError
		security = security || errors.As(e, &mismatch)
		for _, h := range hintsFor(e) {
			if !hints[h] {
				hints[h] = true
				order = append(order, h)
			}
		}
	}
	if security {
		fmt.Fprint(w, securityError)
	}
	for _, h := range order {
		fmt.Fprintf(w, "gomodx: hint: %s\n", h)
	}
	return 1
}

// leaves splits errors joined by errors.Join, so each failure gets its line.
func leaves(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if _, isMirror := err.(*mirrors.Error); !isMirror {
			var out []error
			for _, e := range j.Unwrap() {
				out = append(out, leaves(e)...)
			}
			return out
		}
	}
	return []error{err}
}

// hintsFor chooses what to tell the user to do about err.
func hintsFor(err error) []string {
	var merr *mirrors.Error
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return []string{"the disk holding GOMODCACHE is full: free some space and rerun; nothing partial was left in the cache"}
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EROFS):
		return []string{"GOMODCACHE is not a writable directory, so nothing can be cached: check its owner and permissions (go env GOMODCACHE), or point GOMODCACHE elsewhere"}
	case errors.As(err, &merr):
		var hints []string
		for _, c := range mirrors.Classes(err) {
			if h := c.Hint(); h != "" {
				hints = append(hints, h)
			}
		}
		if len(hints) == 0 {
			hints = append(hints, "check GOPROXY (go env GOPROXY), or rerun with -v to see every attempt")
		}
		return hints
	}
	return nil
}

// securityError follows the go command's own (cmd/go/internal/modfetch),
// for bytes that do not match go.sum.
const securityError = `gomodx: SECURITY ERROR
This download does NOT match the checksum recorded in go.sum, so gomodx did
not put it in the module cache. The mirror named above may be serving altered
code, or an attacker may have intercepted the download. With GOPROXY=A|B
gomodx moves on to the next mirror by itself; if every mirror serves these
bytes, the version was probably re-tagged upstream.

For more information, see 'go help module-auth'.
`
