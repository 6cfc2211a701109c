package modcache

import (
	"fmt"

	"golang.org/x/mod/module"
)

// HashMismatchError reports a body whose hash differs from the one in go.sum.
// Its message leaves out the module, which the caller's context names.
// It is what a Download's store returns on a mismatch, so that the Download
// can tell a mirror serving wrong bytes from one that failed to answer.
type HashMismatchError struct {
	Mod       module.Version
	Kind      Kind
	Want, Got string
}

func (e *HashMismatchError) Error() string {
	return fmt.Sprintf("%s has hash %s, go.sum has %s", e.Kind, e.Got, e.Want)
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
