package mirrors

import (
	"context"

	"github.com/gomodx/gomodx/retry"
)

// rescue asks the built-in mirrors for the file, once GOPROXY's own
// mirrors could not serve it: the walk stopped on a failure (unreachable,
// timing out, failing), where the go command would have failed too. A
// not-found is an answer, and never comes here. The first time in the
// List's life, it announces the switch (a Rescued event), before the first
// built-in mirror sees a module path. It returns nil when a built-in mirror
// delivered the file, and the walk's error otherwise: GOPROXY's failure,
// with the built-in mirrors' below it.
func (f *fetch) rescue(ctx context.Context) error {
	g := f.l.rescue
	if g == nil || ctx.Err() != nil || retry.CheckLimit(ctx) != nil || !cannotServe(f.fail) {
		return f.fail
	}
	f.l.ranked(ctx, g)
	first := f.l.order(g, f.fail.File, nil, nil, nil)
	if len(first) == 0 {
		return f.fail
	}
	if f.l.rescued.CompareAndSwap(false, true) {
		ev := Event{Kind: Rescued, Mod: f.fail.Mod, File: f.fail.File, Next: first[0].redacted, GOPROXY: f.l.permanent(first[0])}
		if n := len(f.fail.Attempts); n > 0 {
			a := f.fail.Attempts[0]
			ev.Mirror, ev.Err = a.Mirror, a.Err
		}
		f.l.emit(ev)
	}
	if ok, _ := f.group(ctx, g); ok {
		return nil
	}
	return f.fail
}

// permanent is a GOPROXY that asks m first: m, then the keyword GOPROXY
// ends with, if any.
func (l *List) permanent(m *mirror) string {
	s := m.URL
	for _, g := range l.groups {
		if g.keyword() {
			s += "," + g.mirrors[0].URL
		}
	}
	return s
}

// cannotServe reports whether GOPROXY's mirrors failed for want of an
// answer (unreachable, timing out, overloaded, cut off) rather than with
// one: a refusal (401, 403), an untrusted certificate or bytes that do not
// verify is the mirror's answer, and the built-in mirrors are no rescue
// from it.
func cannotServe(fail *Error) bool {
	any := false
	for _, a := range fail.Attempts {
		if !a.Named {
			continue
		}
		switch Classify(a.Err) {
		case Transient, Unreachable:
			any = true
		case NotFound:
		default:
			return false
		}
	}
	return any
}
