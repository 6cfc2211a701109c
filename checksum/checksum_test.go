package checksum

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"
)

func TestLookup(t *testing.T) {
	a, upper := testModules(t)
	r, gosumdb := newServer(t, a, upper)
	e := newEnv(t)
	db := e.open(t, gosumdb, r.read)
	if db.Name() != dbName {
		t.Errorf("Name() = %q, want %q", db.Name(), dbName)
	}

	for _, m := range []testModule{a, upper} {
		zip, gomod, err := db.Lookup(t.Context(), m.mod)
		if err != nil {
			t.Fatal(err)
		}
		if zip != m.zipHash || gomod != m.modHash {
			t.Errorf("Lookup(%v) = %s, %s; want %s, %s", m.mod, zip, gomod, m.zipHash, m.modHash)
		}
		if n := r.asked("/lookup/"); n > 2 {
			t.Errorf("after Lookup(%v): %d lookup reads, want one per module", m.mod, n)
		}
	}

	// The go command's files: the tree head in GOPATH, the signed records and
	// the tiles in GOMODCACHE, at its paths (with the path escaped).
	latest, err := os.ReadFile(e.latest(dbName))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(latest, []byte("go.sum database tree\n2\n")) {
		t.Errorf("latest = %q, want the signed head of a tree of 2 records", latest)
	}
	for _, m := range []testModule{a, upper} {
		data, err := os.ReadFile(e.lookupFile(t, dbName, m.mod))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(data, []byte(m.mod.Path+" "+m.mod.Version+" "+m.zipHash+"\n")) {
			t.Errorf("lookup record of %v lacks its zip hash:\n%s", m.mod, data)
		}
	}
	if !exists(filepath.Join(e.gomodcache, "cache/download/sumdb", dbName, "lookup/example.com/!upper@v1.2.3")) {
		t.Errorf("no lookup record at the escaped path")
	}
	if tiles := e.tiles(t, dbName); len(tiles) == 0 || !strings.HasPrefix(tiles[0], "8/0/") {
		t.Errorf("tiles = %q, want some under 8/0/", tiles)
	}

	// A new process answers from the cache without a single read.
	fresh := &remote{h: r.h}
	db2 := e.open(t, gosumdb, fresh.read)
	for _, m := range []testModule{upper, a} {
		zip, gomod, err := db2.Lookup(t.Context(), m.mod)
		if err != nil {
			t.Fatal(err)
		}
		if zip != m.zipHash || gomod != m.modHash {
			t.Errorf("from the cache: Lookup(%v) = %s, %s; want %s, %s", m.mod, zip, gomod, m.zipHash, m.modHash)
		}
	}
	if len(fresh.paths) != 0 {
		t.Errorf("answering from the cache read %q", fresh.paths)
	}
}

func TestLookupNotFound(t *testing.T) {
	a, _ := testModules(t)
	r, gosumdb := newServer(t, a)
	e := newEnv(t)
	db := e.open(t, gosumdb, r.read)

	nope := module.Version{Path: "example.com/nope", Version: "v1.0.0"}
	_, _, err := db.Lookup(t.Context(), nope)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Lookup(%v) = %v, want an error matching fs.ErrNotExist", nope, err)
	}
	if want := "verifying example.com/nope@v1.0.0: checksum database " + dbName + ": "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q does not start with %q", err, want)
	}
	if exists(e.lookupFile(t, dbName, nope)) {
		t.Errorf("a record was cached for a module the database does not know")
	}
	// The failure does not stick to the module it was not about.
	if _, _, err := db.Lookup(t.Context(), a.mod); err != nil {
		t.Errorf("Lookup(%v) after a not found: %v", a.mod, err)
	}
}

func TestLookupBadInput(t *testing.T) {
	r, gosumdb := newServer(t)
	db := newEnv(t).open(t, gosumdb, r.read)
	for _, mod := range []module.Version{
		{Path: "example.com/a", Version: "v1.0.0/go.mod"},
		{Path: "example.com/a\x00", Version: "v1.0.0"},
		{Path: "example.com/a", Version: "v1.0.0\x00"},
	} {
		if _, _, err := db.Lookup(t.Context(), mod); err == nil || !strings.HasPrefix(err.Error(), "verifying ") {
			t.Errorf("Lookup(%q) = %v, want an error", mod, err)
		}
	}
	if len(r.paths) != 0 {
		t.Errorf("bad input was sent to the database: %q", r.paths)
	}
}

// TestLookupTampered checks that a record altered on the way is refused and
// not cached, and that the refusal does not outlive the tampering.
func TestLookupTampered(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, data []byte) []byte
		// writes is whether the tree head and tiles may be cached: they are
		// authentic when only the record was altered.
		writes bool
	}{
		{"bad signature", flipSignature, false},
		{"forged record", func(t *testing.T, data []byte) []byte {
			i := bytes.Index(data, []byte(" h1:"))
			if i < 0 {
				t.Fatalf("no hash in %q", data)
			}
			data = bytes.Clone(data)
			data[i+len(" h1:")] ^= 'A' ^ 'B' // stays base64 either way
			return data
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := testModules(t)
			r, gosumdb := newServer(t, a)
			e := newEnv(t)
			var tampering atomic.Bool
			tampering.Store(true)
			db := e.open(t, gosumdb, func(ctx context.Context, name, path string) ([]byte, error) {
				data, err := r.read(ctx, name, path)
				if err == nil && strings.HasPrefix(path, "/lookup/") && tampering.Load() {
					data = tc.tamper(t, data)
				}
				return data, err
			})

			_, _, err := db.Lookup(t.Context(), a.mod)
			if err == nil {
				t.Fatal("Lookup accepted a tampered record")
			}
			if want := "verifying example.com/a@v1.0.0: checksum database " + dbName + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
			t.Logf("error: %v", err)
			if exists(e.lookupFile(t, dbName, a.mod)) {
				t.Errorf("the tampered record was cached")
			}
			if !tc.writes {
				if exists(e.latest(dbName)) {
					t.Errorf("a tree head was saved from a tampered response")
				}
				if tiles := e.tiles(t, dbName); len(tiles) > 0 {
					t.Errorf("tiles were saved from a tampered response: %q", tiles)
				}
			}

			tampering.Store(false)
			zip, _, err := db.Lookup(t.Context(), a.mod)
			if err != nil || zip != a.zipHash {
				t.Errorf("Lookup after the tampering stopped = %s, %v; want %s", zip, err, a.zipHash)
			}
		})
	}
}

// flipSignature changes one bit of the signature of the tree head that ends
// a lookup response.
func flipSignature(t *testing.T, data []byte) []byte {
	t.Helper()
	i := bytes.LastIndex(data, []byte("\n— "))
	if i < 0 {
		t.Fatalf("no signature in %q", data)
	}
	fields := strings.Fields(string(data[i+1:]))
	sig, err := base64.StdEncoding.DecodeString(fields[2])
	if err != nil {
		t.Fatal(err)
	}
	sig[len(sig)-1] ^= 1
	return []byte(string(data[:i+1]) + fields[0] + " " + fields[1] + " " + base64.StdEncoding.EncodeToString(sig) + "\n")
}

// TestSecurityError shows a database that signs two different trees of the
// same size: Lookup reports it and from then on refuses everything, in this
// process and the next.
func TestSecurityError(t *testing.T) {
	a, upper := testModules(t)
	skey, vkey, err := note.GenerateKey(rand.Reader, dbName)
	if err != nil {
		t.Fatal(err)
	}
	honest := &remote{h: sumdb.NewServer(sumdb.NewTestServer(skey, sums(a, upper)))}
	forked := &remote{h: sumdb.NewServer(sumdb.NewTestServer(skey, sums(a, upper)))}
	var cur atomic.Pointer[remote]
	cur.Store(honest)
	read := func(ctx context.Context, name, path string) ([]byte, error) {
		return cur.Load().read(ctx, name, path)
	}
	e := newEnv(t)
	db := e.open(t, vkey, read)
	if _, _, err := db.Lookup(t.Context(), a.mod); err != nil {
		t.Fatal(err)
	}

	// forked's first record is upper, where honest's is a.
	cur.Store(forked)
	check := func(err error) {
		t.Helper()
		var secErr *SecurityError
		if !errors.As(err, &secErr) || !errors.Is(err, sumdb.ErrSecurity) {
			t.Fatalf("Lookup = %v, want a *SecurityError", err)
		}
		if !strings.HasPrefix(err.Error(), "SECURITY ERROR\n") {
			t.Errorf("error does not start with SECURITY ERROR:\n%v", err)
		}
	}
	_, _, err = db.Lookup(t.Context(), upper.mod)
	check(err)
	t.Logf("error:\n%v", err)
	if exists(e.lookupFile(t, dbName, upper.mod)) {
		t.Errorf("a record from the fork was cached")
	}
	// Even what was verified before is refused now.
	_, _, err = db.Lookup(t.Context(), a.mod)
	check(err)

	// A new process is not fooled either: the cache remembers the honest tree.
	_, _, err = e.open(t, vkey, read).Lookup(t.Context(), upper.mod)
	check(err)
}

func TestLookupOff(t *testing.T) {
	db, err := Open(Options{Env: testEnv("off", "", "")})
	if db != nil || err != nil {
		t.Fatalf("Open(off) = %v, %v; want nil, nil", db, err)
	}
	if db.Name() != "" || db.URL() != "" {
		t.Errorf("nil DB has a name or URL")
	}
	_, _, err = db.Lookup(t.Context(), module.Version{Path: "example.com/a", Version: "v1.0.0"})
	if err == nil || !strings.Contains(err.Error(), "GOSUMDB=off") {
		t.Errorf("Lookup on GOSUMDB=off = %v", err)
	}
}

func TestGOPATH(t *testing.T) {
	a, _ := testModules(t)
	r, gosumdb := newServer(t, a)
	first, second := t.TempDir(), t.TempDir()
	db, err := Open(Options{Env: testEnv(gosumdb, first+string(filepath.ListSeparator)+second, t.TempDir()), Remote: r.read})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Lookup(t.Context(), a.mod); err != nil {
		t.Fatal(err)
	}
	if !exists(filepath.Join(first, "pkg/sumdb", dbName, "latest")) {
		t.Errorf("latest is not in the first GOPATH element")
	}
	if entries, _ := os.ReadDir(second); len(entries) != 0 {
		t.Errorf("the second GOPATH element was written to")
	}

	// Like the go command, fail when the file is needed, not before.
	for _, gopath := range []string{"", "relative/dir"} {
		db, err := Open(Options{Env: testEnv(gosumdb, gopath, t.TempDir()), Remote: r.read})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.Lookup(t.Context(), a.mod); err == nil || !strings.Contains(err.Error(), "missing $GOPATH") {
			t.Errorf("GOPATH=%q: Lookup = %v, want missing $GOPATH", gopath, err)
		}
	}
}

// TestConcurrent runs many lookups at once: each record is read once, and
// every lookup gets its module's hashes.
func TestConcurrent(t *testing.T) {
	a, upper := testModules(t)
	mods := []testModule{a, upper}
	for i := range 6 {
		mods = append(mods, newModule(t, "example.com/m"+string(rune('a'+i)), "v0.1.0", map[string]string{
			"go.mod": "module example.com/m" + string(rune('a'+i)) + "\n",
		}))
	}
	r, gosumdb := newServer(t, mods...)
	e := newEnv(t)
	db := e.open(t, gosumdb, r.read)
	var wg sync.WaitGroup
	for range 4 {
		for _, m := range mods {
			wg.Go(func() {
				zip, gomod, err := db.Lookup(t.Context(), m.mod)
				if err != nil {
					t.Error(err)
				} else if zip != m.zipHash || gomod != m.modHash {
					t.Errorf("Lookup(%v) = %s, %s; want %s, %s", m.mod, zip, gomod, m.zipHash, m.modHash)
				}
			})
		}
	}
	wg.Wait()
	if n := r.asked("/lookup/"); n != len(mods) {
		t.Errorf("%d lookup reads for %d modules", n, len(mods))
	}

	// What they left on disk is consistent: a new process verifies it all offline.
	fresh := &remote{h: r.h}
	db2 := e.open(t, gosumdb, fresh.read)
	for _, m := range mods {
		if _, _, err := db2.Lookup(t.Context(), m.mod); err != nil {
			t.Error(err)
		}
	}
	if len(fresh.paths) != 0 {
		t.Errorf("answering from the cache read %q", fresh.paths)
	}
}

// gate is a Remote whose reads wait until they are let through or their
// context is done.
type gate struct {
	r       *remote
	entered chan context.Context // the context of each read, as it starts
	open    chan struct{}        // closed to let reads through
}

func newGate(r *remote) *gate {
	return &gate{r: r, entered: make(chan context.Context, 100), open: make(chan struct{})}
}

func (g *gate) read(ctx context.Context, name, path string) ([]byte, error) {
	g.entered <- ctx
	select {
	case <-g.open:
		return g.r.read(ctx, name, path)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func waiters(db *DB) int {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.cur == nil {
		return 0
	}
	return db.cur.waiters
}

func TestCancel(t *testing.T) {
	t.Run("alone", func(t *testing.T) {
		// A lookup given up by its only caller cancels its reads, and the
		// next lookup starts afresh.
		a, _ := testModules(t)
		r, gosumdb := newServer(t, a)
		g := newGate(r)
		db := newEnv(t).open(t, gosumdb, g.read)

		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() {
			_, _, err := db.Lookup(ctx, a.mod)
			errc <- err
		}()
		readCtx := <-g.entered
		cancel()
		err := <-errc
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Lookup after cancel = %v, want context.Canceled", err)
		}
		if readCtx.Err() == nil {
			t.Errorf("the read is still running after its only caller gave up")
		}

		close(g.open)
		zip, _, err := db.Lookup(t.Context(), a.mod)
		if err != nil || zip != a.zipHash {
			t.Errorf("Lookup after a cancelled one = %s, %v; want %s", zip, err, a.zipHash)
		}
	})

	t.Run("shared", func(t *testing.T) {
		// A read that another caller still waits for goes on when one gives up.
		a, _ := testModules(t)
		r, gosumdb := newServer(t, a)
		g := newGate(r)
		db := newEnv(t).open(t, gosumdb, g.read)

		ctx1, cancel1 := context.WithCancel(t.Context())
		errc1, errc2 := make(chan error, 1), make(chan error, 1)
		go func() {
			_, _, err := db.Lookup(ctx1, a.mod)
			errc1 <- err
		}()
		readCtx := <-g.entered
		go func() {
			_, _, err := db.Lookup(t.Context(), a.mod)
			errc2 <- err
		}()
		for waiters(db) != 2 {
			time.Sleep(time.Millisecond)
		}
		cancel1()
		if err := <-errc1; !errors.Is(err, context.Canceled) {
			t.Errorf("first Lookup = %v, want context.Canceled", err)
		}
		if readCtx.Err() != nil {
			t.Fatalf("the read was cancelled while a caller still waits for it")
		}
		close(g.open)
		if err := <-errc2; err != nil {
			t.Errorf("second Lookup = %v", err)
		}
	})

	t.Run("before", func(t *testing.T) {
		a, _ := testModules(t)
		r, gosumdb := newServer(t, a)
		db := newEnv(t).open(t, gosumdb, r.read)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, _, err := db.Lookup(ctx, a.mod); !errors.Is(err, context.Canceled) {
			t.Errorf("Lookup with a done context = %v", err)
		}
		if len(r.paths) != 0 {
			t.Errorf("a done context still read %q", r.paths)
		}
	})
}
