package mirrors

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/mod/module"
)

// TestRankCacheRemembersDown checks that a mirror the probe could not
// reach costs one failed probe per rank-cache lifetime: a later run that
// takes its ranking from the cache sets it aside too, and sends it no
// request, not even when the good mirror fails and the file would fail
// over to it.
func TestRankCacheRemembersDown(t *testing.T) {
	var dials atomic.Int32
	opts := isolated(t)
	opts.Policy.Retries = 0
	opts.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if strings.HasPrefix(addr, "gomodx-test.invalid:") {
			dials.Add(1)
		}
		return loopbackOnly(ctx, network, addr)
	}
	// The good mirror fails the first request for each file: a failover
	// would go to the other mirror of the group.
	seen := map[string]bool{}
	mu := make(chan struct{}, 1)
	good := serve(t, func(_ int, w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		mu <- struct{}{}
		first := !seen[r.URL.Path]
		seen[r.URL.Path] = true
		<-mu
		if first {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "good")
	})
	const invalid = "http://gomodx-test.invalid"

	for run := 1; run <= 2; run++ {
		dials.Store(0)
		l := newList(t, good.URL+"|"+invalid, opts)
		for i := range 5 {
			mod := module.Version{Path: "example.com/m", Version: "v1.0." + string(rune('0'+i))}
			l.Fetch(testCtx(t), mod, "zip", func(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err })
		}
		l.wg.Wait()
		l.Close()
		want := int32(0)
		if run == 1 {
			want = 1 // the probe
		}
		if n := dials.Load(); n != want {
			t.Errorf("run %d: %d dials to the unreachable mirror, want %d", run, n, want)
		}
		if run == 1 && good.probes.Load() != 1 {
			t.Fatalf("run 1 did not probe")
		}
	}
	if n := good.probes.Load(); n != 1 {
		t.Errorf("%d probes, want 1: the second run ranks from the cache", n)
	}
}
