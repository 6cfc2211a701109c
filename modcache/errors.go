package modcache

import (
	"errors"
	"fmt"
	"io"

	"golang.org/x/mod/module"
)

// HashMismatchError reports a body whose hash differs from the one it
// must have: go.sum's line, or the checksum database's.
// Its message leaves out the module, which the caller's context names.
// It is what a Download's store returns on a mismatch, so that the Download
// can tell a mirror serving wrong bytes from one that failed to answer.
type HashMismatchError struct {
	Mod       module.Version
	Kind      Kind
	Want, Got string
	// Source is where Want comes from: "" for go.sum, else the name of the
	// checksum database ("sum.golang.org"); see [SumSource].
	Source string
}

// Error words the mismatch as the go command does, so that whoever looks
// for go's "checksum mismatch" finds it, with the hash downloaded and the
// one expected, named after its source:
//
//	checksum mismatch
//		downloaded: h1:…
//		go.sum:     h1:…
func (e *HashMismatchError) Error() string {
	from := "go.sum:     " // go's alignment, under "downloaded: "
	if e.Source != "" {
		from = e.Source + ": "
	}
	return fmt.Sprintf("checksum mismatch\n\tdownloaded: %s\n\t%s%s", e.Got, from, e.Want)
}

// SumSource wraps a Download's store for a file whose expected hash comes
// from the checksum database named db rather than from go.sum, so that a
// mismatch it reports says so. store must return its *HashMismatchError
// as it is, not wrapped (a wrapping message is made at once, and would keep
// the old words). With db "" it returns store as it is.
func SumSource(db string, store func(io.Reader) error) func(io.Reader) error {
	if db == "" {
		return store
	}
	return func(body io.Reader) error {
		err := store(body)
		var mm *HashMismatchError
		if errors.As(err, &mm) && mm.Source == "" {
			mm.Source = db
		}
		return err
	}
}

// InvalidError reports a body that is structurally bad: an .info that is not
// JSON or names another version, a .mod that is empty or does not parse, a
// zip that does not open, breaks the module zip rules or is too large.
type InvalidError struct {
	Mod  module.Version
	Kind Kind
	Err  error
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("invalid %s: %v", e.Kind, e.Err)
}

func (e *InvalidError) Unwrap() error { return e.Err }

// Rejected says that the error blames the bytes served, not the cache that
// could not keep them (mirrors.Rejection): the mirror that served them is
// not to be trusted, and another may have the right ones.
func (e *InvalidError) Rejected() bool { return true }

// Rejected: see InvalidError.Rejected.
func (e *HashMismatchError) Rejected() bool { return true }

// wrapErr adds "mod: op: " to err. The body errors above leave the module
// out because the Download that returns them names it already.
func wrapErr(mod module.Version, op string, err error) error {
	return fmt.Errorf("%s: %s: %w", mod, op, err)
}
