package mirrors

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/gomodx/gomodx/retry"
	"golang.org/x/mod/module"
)

// ErrDirect is matched by the error of a Fetch that reached "direct" in
// GOPROXY: the go command must fetch the file itself.
var ErrDirect error = handoffError("reached 'direct' in GOPROXY")

// ErrOff is matched by the error of a Fetch that reached "off" in GOPROXY
// (the go command's own words).
var ErrOff error = handoffError("module lookup disabled by GOPROXY=off")

// handoffError is an outcome the go command handles by itself. It matches
// errors.ErrUnsupported, the contract of prefetch.Source for "not mine to
// fetch", so callers need not import this package to recognise it.
type handoffError string

func (e handoffError) Error() string        { return string(e) }
func (e handoffError) Is(target error) bool { return target == errors.ErrUnsupported }

// Error is the failure of every mirror tried for one file.
type Error struct {
	Mod      module.Version // zero for a Get
	File     string         // "info", "mod" or "zip"; for a Get, the path
	Attempts []Attempt      // in the order tried
}

// Attempt is one mirror's failure.
type Attempt struct {
	Mirror string // the mirror's URL without its password, or "direct" or "off"
	Err    error
	// Named: the mirror is one of GOPROXY's, not an extra or built-in one
	// gomodx added.
	Named bool
}

// Verdict is the answer the user's own GOPROXY would have given the go
// command for the file, so that a proxy standing in for the mirrors (the
// loopback proxy) can give the go command the same answer:
//
//   - NotFound: the walk went past every mirror, as GOPROXY allows only
//     after a 404 or 410 (or after any failure, for '|'), to "direct",
//     "off" or the end of the list; the go command moves on to what comes
//     next, as it would have. Also when GOPROXY's mirrors could not serve
//     and the mirrors gomodx asked in their place said not found.
//   - Otherwise the failure the go command would have reported: as its
//     TryProxies ranks them, the last failure of a GOPROXY mirror other
//     than not-found, else the last not-found. Err is that failure, Mirror
//     the mirror that gave it, and Status and Body the mirror's HTTP
//     status and explanation when it answered with one (0 and "" for a
//     failure without an answer, such as an unreachable mirror).
type Verdict struct {
	NotFound bool
	Mirror   string
	Status   int
	Body     string
	Err      error
}

// Verdict returns the answer GOPROXY would have given (see [Verdict]).
// Attempts of mirrors gomodx added (extra, built-in) do not count: the go
// command would not have asked them.
func (e *Error) Verdict() Verdict {
	var best *Attempt
	bestFound := false
	for i := range e.Attempts {
		a := &e.Attempts[i]
		if a.Mirror == direct || a.Mirror == off {
			return Verdict{NotFound: true}
		}
		if !a.Named {
			continue
		}
		nf := errors.Is(a.Err, fs.ErrNotExist)
		if !nf || !bestFound {
			best, bestFound = a, !nf
		}
	}
	if best == nil || e.standInNotFound() {
		return Verdict{NotFound: true}
	}
	v := Verdict{Mirror: best.Mirror, Err: best.Err}
	var se *retry.StatusError
	if errors.As(best.Err, &se) {
		v.Status, v.Body = se.Code, se.Body
	}
	v.NotFound = !bestFound && errors.Is(best.Err, fs.ErrNotExist)
	return v
}

// standInNotFound reports whether mirrors gomodx added (extra or built-in)
// answered not found in place of GOPROXY's own, which could not serve (as
// cannotServe, which sends the walk to them, decides): they stand in for
// those, so their answer is the one GOPROXY's mirrors would have given had
// they answered, and the go command moves on past them as it would have.
// Otherwise the go command would get a failure for a file that a mirror
// said does not exist, and decide differently from what it decides with a
// working GOPROXY (a failed module lookup instead of the next path).
func (e *Error) standInNotFound() bool {
	if !cannotServe(e) {
		return false
	}
	added := false
	for _, a := range e.Attempts {
		if !a.Named {
			if !errors.Is(a.Err, fs.ErrNotExist) {
				return false
			}
			added = true
		}
	}
	return added
}

// Error names the module, the file and, for a single mirror, the cause and
// the mirror on one line:
//
//	example.com/a@v1.0.0: downloading zip from https://mirror.example: 503 Service Unavailable (4 tries)
//
// For several mirrors, one indented line each:
//
//	example.com/a@v1.0.0: downloading zip: all mirrors failed
//		https://mirror.example: 503 Service Unavailable (4 tries)
//		https://proxy.golang.org: 404 Not Found
func (e *Error) Error() string {
	head := e.Mod.String() + ": downloading " + e.File
	if e.Mod.Path == "" {
		head = "downloading " + e.File // a Get of a protocol path
	}
	switch len(e.Attempts) {
	case 0:
		return head + ": no mirror tried"
	case 1:
		a := e.Attempts[0]
		if a.Mirror != direct && a.Mirror != off {
			head += " from " + a.Mirror
		}
		return head + ": " + a.describe()
	}
	var b strings.Builder
	b.WriteString(head + ": all mirrors failed")
	for _, a := range e.Attempts {
		b.WriteString("\n\t" + a.Mirror + ": " + strings.ReplaceAll(a.describe(), "\n", "\n\t"))
	}
	return b.String()
}

// Unwrap returns the attempts' errors, ranked as the go command ranks them:
// when some mirror failed for a reason other than not-found, the not-found
// errors are left out. So errors.Is(err, fs.ErrNotExist) holds only when
// every mirror said not found, while errors.Is and errors.As still see every
// other cause (a *retry.StatusError, ErrDirect, context.Canceled).
func (e *Error) Unwrap() []error {
	var all, found []error
	for _, a := range e.Attempts {
		all = append(all, a.Err)
		if !errors.Is(a.Err, fs.ErrNotExist) {
			found = append(found, a.Err)
		}
	}
	if len(found) > 0 {
		return found
	}
	return all
}

// describe returns the attempt's error with the number of tries at the end
// of its first line.
func (a Attempt) describe() string {
	msg, tries := a.Err.Error(), 0
	if gu, ok := a.Err.(*retry.GiveUpError); ok && gu.Limit == 0 {
		msg, tries = gu.Err.Error(), gu.Tries
	}
	first, rest, multi := strings.Cut(msg, "\n")
	if tries > 1 {
		first += fmt.Sprintf(" (%d tries)", tries)
	}
	if multi {
		return first + "\n" + rest
	}
	return first
}

// Sent reports whether the attempt's request reached the mirror, so that
// the mirror saw the module path: not for "direct" or "off", nor for a
// mirror set aside without being asked.
func (a Attempt) Sent() bool {
	if a.Mirror == direct || a.Mirror == off {
		return false
	}
	var aside *setAsideError
	return !errors.As(a.Err, &aside)
}
