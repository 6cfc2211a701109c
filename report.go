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

// exitError ends a command with an exit status and nothing more to say:
// what went wrong has been printed already (the go command's own status,
// the faults verify found, a refusal to go on).
type exitError struct {
	code int
}

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// exit returns the error that ends a command with status code, or nil for
// status 0.
func exit(code int) error {
	if code == 0 {
		return nil
	}
	return exitError{code}
}

// ran is the result of running the go command (wrap.Go.Run): the error
// that it could not run at all, else its exit status.
func ran(code int, err error) error {
	if err != nil {
		return err
	}
	return exit(code)
}

// usageError is bad usage of gomodx itself: exit status 2, as for go.
type usageError struct {
	error
	command string // whose help to point at, if any
}

func (e usageError) Unwrap() error { return e.error }

// report prints err, if it has anything to say, and returns the exit
// status for it: the one place that decides both.
//
//	nil            0
//	exitError      its code, silently
//	interrupted    130, with a line saying the cache is valid
//	usageError     2, with a pointer to the command's help
//	anything else  1, printed by printError
func report(w io.Writer, err error) int {
	var exit exitError
	var usage usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.code
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(w, "gomodx: interrupted; the module cache is left valid")
		return 130
	case errors.As(err, &usage):
		fmt.Fprintf(w, "gomodx: %s\ngomodx: hint: run '%s' for usage\n", usage.error, strings.TrimSpace("gomodx help "+usage.command))
		return 2
	}
	printError(w, err)
	return 1
}

// printError prints err the way the go command prints its errors, one
// "gomodx: " line per failure, followed by hints on what to do. A failure
// said in the same words as one before it is said once: the .mod and the
// .zip of a module fail alike when the checksum database cannot be read.
func printError(w io.Writer, err error) { printErrorBlock(w, err, true) }

// printAfterGo prints gomodx's account of what its prefetch could not do,
// after a go command that failed: the same lines and hints as printError,
// without the SECURITY ERROR block, which go has printed in its own words
// if it applies.
func printAfterGo(w io.Writer, err error) { printErrorBlock(w, err, false) }

func printErrorBlock(w io.Writer, err error, withSecurity bool) {
	hints := map[string]bool{}
	said := map[string]bool{}
	var order []string
	var security *modcache.HashMismatchError
	var errs []error
	for _, e := range leaves(err) {
		if msg := e.Error(); !said[msg] {
			said[msg] = true
			errs = append(errs, e)
		}
	}
	// One cause (a mirror that is down, a GOMODCACHE that cannot be
	// written) fails every file alike: its first few lines say it, a last
	// one counts the rest.
	causes := make([]string, len(errs))
	same := map[string]int{}
	for i, e := range errs {
		causes[i] = causeOf(e)
		same[causes[i]]++
	}
	shown := map[string]int{}
	for i, e := range errs {
		cause := causes[i]
		shown[cause]++
		if n := shown[cause]; n <= maxSameCause {
			fmt.Fprintf(w, "gomodx: %s\n", e)
			if all := same[cause]; n == maxSameCause && all > n {
				fmt.Fprintf(w, "gomodx: and %d more that failed the same way\n", all-n)
			}
		}
		var mismatch *modcache.HashMismatchError
		if security == nil && errors.As(e, &mismatch) {
			security = mismatch
		}
		for _, h := range hintsFor(e) {
			if !hints[h] {
				hints[h] = true
				order = append(order, h)
			}
		}
	}
	if security != nil && withSecurity {
		fmt.Fprint(w, securityError(security.Source))
	}
	for _, h := range order {
		fmt.Fprintf(w, "gomodx: hint: %s\n", h)
	}
}

// maxSameCause is how many failures with one cause printErrorBlock prints
// before it counts the rest.
const maxSameCause = 3

// causeOf is what failures that differ only in their module have in
// common: the mirrors' answers, or the file system's operation and error.
func causeOf(err error) string {
	var merr *mirrors.Error
	if errors.As(err, &merr) && merr.Mod.Path != "" {
		var b strings.Builder
		for _, a := range merr.Attempts {
			fmt.Fprintf(&b, "%s: %v\n", a.Mirror, a.Err)
		}
		return b.String()
	}
	var perr *fs.PathError
	if errors.As(err, &perr) {
		return perr.Op + ": " + perr.Err.Error()
	}
	return err.Error()
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
	var kept *modcache.KeptError
	var mismatch *modcache.HashMismatchError
	switch {
	case errors.As(err, &kept) && kept.Edits:
		mod := kept.Fault.Mod.String()
		return []string{fmt.Sprintf("to keep the edits to %s, copy %s out of the module cache and point a replace directive at the copy (go mod edit -replace=%s=<dir of the copy>); to discard them, run 'gomodx clean --edited %s'", mod, kept.Fault.Path, mod, mod)}
	case errors.As(err, &kept):
		return []string{"gomodx never removes anything outside GOMODCACHE, nor follows a symbolic link out of it: remove it yourself if it is yours to remove"}
	case errors.Is(err, syscall.ENOSPC):
		return []string{"the disk holding GOMODCACHE is full: free some space and rerun; nothing partial was left in the cache"}
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EROFS):
		return []string{"GOMODCACHE is not a writable directory, so nothing can be cached: check its owner and permissions (go env GOMODCACHE), or point GOMODCACHE elsewhere"}
	case errors.As(err, &mismatch) && mismatch.Source == "":
		return []string{"the bytes served do not match go.sum: if go.sum was edited, restore it; if a mirror may alter files, try another (GOPROXY=A|B); if every mirror serves these bytes, the version was changed after go.sum recorded it: see 'go help module-auth'"}
	case errors.As(err, &mismatch):
		return []string{"the bytes served do not match the checksum database: try another mirror (GOPROXY=A|B); if every mirror serves these bytes, see 'go help module-auth'"}
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
// for bytes that do not match go.sum (source "") or the checksum database
// named source.
func securityError(source string) string {
	what := "an earlier download recorded in go.sum"
	if source != "" {
		what = "the one reported by the checksum server (" + source + ")"
	}
	return `gomodx: SECURITY ERROR
This download does NOT match ` + what + `,
so gomodx did not put it in the module cache. The mirror named above may be
serving altered code, or an attacker may have intercepted the download.
With GOPROXY=A|B gomodx moves on to the next mirror by itself; if every
mirror serves these bytes, the version was probably re-tagged upstream.

For more information, see 'go help module-auth'.
`
}
