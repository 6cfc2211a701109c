package mirrors

import (
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// sumdbMirror records what it was asked for and answers /supported with
// supported, lookups with 200 for known and 404 otherwise.
type sumdbMirror struct {
	*httptest.Server
	mu    sync.Mutex
	asked []string
}

func newSumdbMirror(t *testing.T, supported int, known string) *sumdbMirror {
	m := &sumdbMirror{}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.asked = append(m.asked, r.URL.Path)
		m.mu.Unlock()
		switch {
		case strings.HasSuffix(r.URL.Path, "/supported"):
			w.WriteHeader(supported)
		case known != "" && strings.HasSuffix(r.URL.Path, known):
			w.Write([]byte("record"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(m.Close)
	return m
}

func (m *sumdbMirror) requests() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.asked)
}

// The checksum database is reached as the go command reaches it: through
// the first mirror that answers /supported, decided once; a not-found from
// it is final (never a direct connection to the database); a mirror that
// fails on /supported after ',' makes the database unavailable.
func TestSumDBRoute(t *testing.T) {
	t.Run("the first mirror that supports it, and only it", func(t *testing.T) {
		a := newSumdbMirror(t, 404, "")
		b := newSumdbMirror(t, 200, "/lookup/example.com/a@v1.0.0")
		l := newList(t, a.URL+","+b.URL+",direct", Options{})
		for range 2 {
			if data, err := l.SumDB(testCtx(t), "sum.example", "", "/lookup/example.com/a@v1.0.0"); err != nil || string(data) != "record" {
				t.Fatalf("lookup: %q, %v", data, err)
			}
		}
		if got := a.requests(); !slices.Equal(got, []string{"/sumdb/sum.example/supported"}) {
			t.Errorf("the mirror without the database was asked %q", got)
		}
		want := []string{"/sumdb/sum.example/supported", "/sumdb/sum.example/lookup/example.com/a@v1.0.0", "/sumdb/sum.example/lookup/example.com/a@v1.0.0"}
		if got := b.requests(); !slices.Equal(got, want) {
			t.Errorf("the mirror with the database was asked %q, want %q", got, want)
		}
		// A not-found from the mirror that proxies the database is final:
		// nothing dials the database itself (Dial allows only loopback,
		// and would fail the lookup with another error).
		_, err := l.SumDB(testCtx(t), "sum.example", "", "/lookup/example.com/b@v1.0.0")
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("unknown module: %v, want not found", err)
		}
	})
	t.Run("a failure after ',' makes it unavailable", func(t *testing.T) {
		a := newSumdbMirror(t, 403, "")
		b := newSumdbMirror(t, 200, "/lookup/example.com/a@v1.0.0")
		l := newList(t, a.URL+","+b.URL, Options{})
		if _, err := l.SumDB(testCtx(t), "sum.example", "", "/lookup/example.com/a@v1.0.0"); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("lookup after a 403 on /supported: %v, want the database unavailable", err)
		}
		if got := b.requests(); len(got) != 0 {
			t.Errorf("the mirror after ',' was asked %q", got)
		}
	})
	t.Run("GOSUMDB's own URL: the database itself, never the mirrors", func(t *testing.T) {
		a := newSumdbMirror(t, 200, "/lookup/example.com/a@v1.0.0")
		db := newSumdbMirror(t, 200, "/lookup/example.com/a@v1.0.0")
		l := newList(t, a.URL+",direct", Options{})
		if data, err := l.SumDB(testCtx(t), "sum.example", db.URL, "/lookup/example.com/a@v1.0.0"); err != nil || string(data) != "record" {
			t.Fatalf("direct lookup: %q, %v", data, err)
		}
		if got := db.requests(); !slices.Equal(got, []string{"/lookup/example.com/a@v1.0.0"}) {
			t.Errorf("the database was asked %q", got)
		}
		if got := a.requests(); len(got) != 0 {
			t.Errorf("the mirror was asked %q", got)
		}
	})
}
