package mirrors

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gomodx/gomodx/retry"
)

// TestRescue checks who sees a module path with the default GOPROXY: when
// GOPROXY's own mirror works, or answers not-found, the built-in mirrors
// get nothing at all, not even a probe; only when it cannot serve (here,
// it does not resolve) are they asked, and the switch is announced once,
// before the first built-in mirror sees a path.
func TestRescue(t *testing.T) {
	builtin := serve(t, content("builtin"))
	var unreachable atomic.Int32
	opts := isolated(t)
	opts.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if strings.HasPrefix(addr, "gomodx-test.invalid:") {
			unreachable.Add(1)
		}
		return loopbackOnly(ctx, network, addr)
	}

	t.Run("GOPROXY's mirror works", func(t *testing.T) {
		named := serve(t, content("named"))
		o := opts
		o.Builtin = []string{named.URL, builtin.URL}
		var evs events
		o.OnEvent = evs.add
		l := newList(t, named.URL+",direct", o)
		for _, mod := range []string{"example.com/a", "example.com/b"} {
			var k keeper
			if err := l.Fetch(testCtx(t), modA, "zip", k.store); err != nil || k.got != "named" {
				t.Fatalf("%s: Fetch = %v, %q", mod, err, k.got)
			}
		}
		l.Close()
		if n := builtin.hits.Load() + builtin.probes.Load(); n != 0 {
			t.Errorf("the built-in mirror saw %d requests", n)
		}
		for _, ev := range evs.evs {
			if ev.Kind == Rescued {
				t.Errorf("rescue announced: %+v", ev)
			}
		}
	})

	t.Run("not found is an answer", func(t *testing.T) {
		named := serve(t, status(http.StatusNotFound))
		o := opts
		o.Builtin = []string{named.URL, builtin.URL}
		l := newList(t, named.URL+",direct", o)
		err := l.Fetch(testCtx(t), modA, "zip", func(io.Reader) error { return nil })
		if !errors.Is(err, ErrDirect) {
			t.Errorf("Fetch = %v, want direct", err)
		}
		l.Close()
		if n := builtin.hits.Load() + builtin.probes.Load(); n != 0 {
			t.Errorf("the built-in mirror saw %d requests", n)
		}
	})

	t.Run("a refusal is an answer", func(t *testing.T) {
		for _, code := range []int{http.StatusForbidden, http.StatusUnauthorized} {
			named := serve(t, status(code))
			o := opts
			o.Builtin = []string{named.URL, builtin.URL}
			var evs events
			o.OnEvent = evs.add
			l := newList(t, named.URL+",direct", o)
			err := l.Fetch(testCtx(t), modA, "zip", func(io.Reader) error { return nil })
			if err == nil || errors.Is(err, ErrDirect) {
				t.Errorf("%d: Fetch = %v, want GOPROXY's refusal", code, err)
			}
			l.Close()
			if n := builtin.hits.Load() + builtin.probes.Load(); n != 0 {
				t.Errorf("%d: the built-in mirror saw %d requests", code, n)
			}
			for _, ev := range evs.evs {
				if ev.Kind == Rescued {
					t.Errorf("%d: rescue announced: %+v", code, ev)
				}
			}
		}
	})

	t.Run("GOPROXY's mirror cannot be reached", func(t *testing.T) {
		const named = "http://gomodx-test.invalid"
		o := opts
		o.Builtin = []string{named, builtin.URL}
		var evs events
		o.OnEvent = evs.add
		l := newList(t, named+",direct", o)
		for range 3 {
			var k keeper
			if err := l.Fetch(testCtx(t), modA, "zip", k.store); err != nil || k.got != "builtin" {
				t.Fatalf("Fetch = %v, %q; want the built-in mirror's", err, k.got)
			}
		}
		var rescued []Event
		for _, ev := range evs.evs {
			if ev.Kind == Rescued {
				rescued = append(rescued, ev)
			}
		}
		if len(rescued) != 1 {
			t.Fatalf("%d Rescued events, want 1: %+v", len(rescued), rescued)
		}
		if ev := rescued[0]; ev.Mirror != named || ev.Next != builtin.URL || ev.GOPROXY != builtin.URL+",direct" || ev.Err == nil {
			t.Errorf("Rescued event %+v", ev)
		}
		if n := unreachable.Load(); n != 1 {
			t.Errorf("%d dials to GOPROXY's unreachable mirror, want 1 (its probe)", n)
		}
	})

	t.Run("the built-in mirrors fail too", func(t *testing.T) {
		named := serve(t, status(http.StatusBadGateway))
		other := serve(t, status(http.StatusNotFound))
		o := opts
		o.Builtin = []string{named.URL, other.URL}
		l := newList(t, named.URL+",direct", o)
		err := l.Fetch(testCtx(t), modA, "zip", func(io.Reader) error { return nil })
		if err == nil || errors.Is(err, ErrDirect) || errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "502 Bad Gateway") {
			t.Errorf("Fetch = %v, want GOPROXY's failure, which ends the walk", err)
		}
	})
}

// TestVerdictStandIn checks the answer the loopback proxy gives the go
// command when GOPROXY's own mirrors could not serve and mirrors gomodx
// added were asked in their place: their not-found is the verdict, so that
// go moves on (to "direct", to the next module path) as it would after its
// own mirror's 404; anything else leaves GOPROXY's failure as the verdict.
func TestVerdictStandIn(t *testing.T) {
	unreachable := &net.DNSError{Err: "no such host", Name: "goproxy.invalid", IsNotFound: true}
	notFound := &retry.StatusError{Code: http.StatusNotFound, Status: "404 Not Found"}
	badGateway := &retry.StatusError{Code: http.StatusBadGateway, Status: "502 Bad Gateway"}
	forbidden := &retry.StatusError{Code: http.StatusForbidden, Status: "403 Forbidden"}
	named := func(err error) Attempt { return Attempt{Mirror: "https://goproxy.invalid", Err: err, Named: true} }
	added := func(err error) Attempt { return Attempt{Mirror: "https://proxy.golang.org", Err: err} }
	for _, tt := range []struct {
		name     string
		attempts []Attempt
		notFound bool
		mirror   string
	}{
		{"unreachable, then the built-in mirror's 404", []Attempt{named(unreachable), added(notFound)}, true, ""},
		{"502, then the built-in mirror's 404", []Attempt{named(badGateway), added(notFound)}, true, ""},
		{"unreachable, and the built-in mirror fails too", []Attempt{named(unreachable), added(badGateway)}, false, "https://goproxy.invalid"},
		{"a refusal is GOPROXY's answer", []Attempt{named(forbidden), added(notFound)}, false, "https://goproxy.invalid"},
		{"unreachable, nothing asked in its place", []Attempt{named(unreachable)}, false, "https://goproxy.invalid"},
	} {
		v := (&Error{Mod: modA, File: "info", Attempts: tt.attempts}).Verdict()
		if v.NotFound != tt.notFound || v.Mirror != tt.mirror {
			t.Errorf("%s: Verdict() = not found %v, mirror %q; want %v, %q", tt.name, v.NotFound, v.Mirror, tt.notFound, tt.mirror)
		}
	}
}
