package modcache

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/gomodx/gomodx/goenv"
)

// signedTree returns a tree note signed by a new key for database name,
// and the key's verifier key.
func signedTree(t *testing.T, name string, size int64) (msg []byte, vkey string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	msg, err = note.Sign(&note.Note{Text: string(tlog.FormatTree(tlog.Tree{N: size, Hash: tlog.Hash(sha256.Sum256([]byte("root")))}))}, signer)
	if err != nil {
		t.Fatal(err)
	}
	return msg, vkey
}

func TestVerifySumdb(t *testing.T) {
	const db = "sum.example.org"
	tree, vkey := signedTree(t, db, 300)
	a := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	b := module.Version{Path: "example.com/B", Version: "v1.2.0"}
	record := func(m module.Version) string {
		return fmt.Sprintf("42\n%s %s h1:AAAA\n%s %s/go.mod h1:BBBB\n\n", m.Path, m.Version, m.Path, m.Version) + string(tree)
	}
	// A flipped digit in the tree size breaks the signature, not the shape.
	tampered := strings.Replace(string(tree), "\n300\n", "\n301\n", 1)

	tests := []struct {
		name    string
		file    string // relative to cache/download/sumdb/<db>, or "latest"
		content string
		cause   string // "" for a healthy file
		mod     module.Version
	}{
		{name: "good lookup", file: "lookup/example.com/a@v1.0.0", content: record(a)},
		{name: "good escaped lookup", file: "lookup/example.com/!b@v1.2.0", content: record(b)},
		{name: "empty lookup", file: "lookup/example.com/a@v1.0.0", content: "", cause: "empty lookup record", mod: a},
		{name: "garbage lookup", file: "lookup/example.com/a@v1.0.0", content: "<html>rate limited</html>", cause: "malformed record data", mod: a},
		{name: "lookup for another module", file: "lookup/example.com/a@v1.0.0", content: record(b), cause: "malformed record data: record line", mod: a},
		{name: "lookup without a note", file: "lookup/example.com/a@v1.0.0", content: "42\nexample.com/a v1.0.0 h1:AAAA\n\ngo.sum database tree\n", cause: "malformed tree note", mod: a},
		{name: "lookup with a bad signature", file: "lookup/example.com/!b@v1.2.0", content: strings.Replace(record(b), string(tree), tampered, 1), cause: "tree note signature does not verify", mod: b},
		{name: "full hash tile", file: "tile/8/0/001", content: strings.Repeat("h", 256*32)},
		{name: "partial hash tile", file: "tile/8/1/000.p/4", content: strings.Repeat("h", 4*32)},
		{name: "data tile", file: "tile/8/data/000.p/3", content: "records"},
		{name: "truncated tile", file: "tile/8/0/000.p/4", content: strings.Repeat("h", 8), cause: "tile has 8 bytes, want 128 (4 hashes)"},
		{name: "empty tile", file: "tile/8/0/002", content: "", cause: "empty tile"},
		{name: "good latest", file: "latest", content: string(tree)},
		{name: "empty latest", file: "latest", content: ""},
		{name: "garbage latest", file: "latest", content: "go.sum database tree\nnonsense\n", cause: "malformed tree note"},
		{name: "tampered latest", file: "latest", content: tampered, cause: "tree note signature does not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := openCache(t)
			sumdbDir := filepath.Join(t.TempDir(), "pkg", "sumdb")
			var file string
			if tt.file == "latest" {
				file = filepath.Join(sumdbDir, db, "latest")
			} else {
				file = filepath.Join(c.sumdbRoot(), db, filepath.FromSlash(tt.file))
			}
			writeFiles(t, filepath.Dir(file), map[string]string{filepath.Base(file): tt.content})
			// A healthy neighbour, which Repair must leave alone.
			neighbour := filepath.Join(c.sumdbRoot(), db, "tile", "8", "0", "000")
			writeFiles(t, filepath.Dir(neighbour), map[string]string{"000": strings.Repeat("x", 8192)})

			opts := []VerifyOptions{
				{All: true, SumdbDir: sumdbDir, SumdbKeys: []string{vkey}},
				{SumdbDir: sumdbDir, SumdbKeys: []string{vkey}, Mods: []module.Version{a, b}, Shared: true},
			}
			for _, o := range opts {
				faults, err := c.Verify(t.Context(), o)
				if err != nil {
					t.Fatal(err)
				}
				if tt.cause == "" {
					if len(faults) != 0 {
						t.Fatalf("Verify = %v, want no faults", faults)
					}
					continue
				}
				if len(faults) != 1 {
					t.Fatalf("Verify = %v, want one fault", faults)
				}
				f := faults[0]
				if f.Kind != SumdbCorrupt || f.Path != file || f.Mod != tt.mod || !strings.HasPrefix(f.Cause, tt.cause) {
					t.Fatalf("fault = %+v\nwant sumdb-corrupt of %s for %v: %s", f, file, tt.mod, tt.cause)
				}
			}
			if tt.cause == "" {
				return
			}
			faults, _ := c.Verify(t.Context(), opts[0])
			err := repairOne(c, t.Context(), faults[0])
			if tt.file == "latest" {
				// $GOPATH/pkg/sumdb is outside GOMODCACHE: reported, kept.
				var kept *KeptError
				if !errors.As(err, &kept) || kept.Edits || faults[0].Keep == "" || !exists(file) {
					t.Fatalf("Repair of a latest note: %v (Keep %q), want it kept", err, faults[0].Keep)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if faults[0].Keep != "" {
				t.Errorf("Keep = %q, want none", faults[0].Keep)
			}
			if exists(file) {
				t.Error("Repair left the corrupt file")
			}
			if !exists(neighbour) {
				t.Error("Repair removed a healthy tile")
			}
		})
	}

	t.Run("healthy files survive a stale fault", func(t *testing.T) {
		c := openCache(t)
		file := filepath.Join(c.sumdbRoot(), db, "lookup", "example.com", "a@v1.0.0")
		writeFiles(t, filepath.Dir(file), map[string]string{filepath.Base(file): record(a)})
		if err := repairOne(c, t.Context(), Fault{Mod: a, Kind: SumdbCorrupt, Path: file}); err != nil {
			t.Fatal(err)
		}
		if !exists(file) {
			t.Error("Repair removed a healthy lookup record")
		}
	})

	t.Run("project mode checks only the project's lookups", func(t *testing.T) {
		c := openCache(t)
		other := filepath.Join(c.sumdbRoot(), db, "lookup", "example.com", "other@v1.0.0")
		writeFiles(t, filepath.Dir(other), map[string]string{filepath.Base(other): "garbage"})
		faults, err := c.Verify(t.Context(), VerifyOptions{Mods: []module.Version{a}})
		if err != nil || len(faults) != 0 {
			t.Errorf("project Verify = %v, %v; want no faults", faults, err)
		}
		faults, err = c.Verify(t.Context(), VerifyOptions{All: true})
		if err != nil || len(faults) != 1 || !slices.Equal(faultKinds(faults), []FaultKind{SumdbCorrupt}) {
			t.Errorf("whole-cache Verify = %v, %v; want the other module's lookup", faults, err)
		}
	})

	// The real key of sum.golang.org is built in: a record signed by
	// another key under that name does not verify.
	t.Run("sum.golang.org signature", func(t *testing.T) {
		c := openCache(t)
		fake, _ := signedTree(t, "sum.golang.org", 5)
		file := filepath.Join(c.sumdbRoot(), "sum.golang.org", "lookup", "example.com", "a@v1.0.0")
		content := fmt.Sprintf("42\n%s %s h1:AAAA\n\n", a.Path, a.Version) + string(fake)
		writeFiles(t, filepath.Dir(file), map[string]string{filepath.Base(file): content})
		faults, err := c.Verify(t.Context(), VerifyOptions{All: true})
		if err != nil {
			t.Fatal(err)
		}
		// A different key under the same name is "unknown", not invalid:
		// note.Open matches keys by name and hash. Only the shape counts.
		if len(faults) != 0 {
			t.Errorf("Verify = %v", faults)
		}
		if err := os.Remove(file); err != nil {
			t.Fatal(err)
		}
	})
}

// A database key given twice (GOSUMDB=sum.golang.org names the key gomodx
// always knows) counts once: a note signed with it verifies, rather than
// being "ambiguous".
func TestSumdbVerifiersOnceEach(t *testing.T) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "sum.example.test")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: "go.sum database tree\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"}, signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(msg, sumdbVerifiers([]string{vkey, vkey})); err != nil {
		t.Errorf("a note signed with a key given twice: %v", err)
	}
	if _, err := note.Open(msg, sumdbVerifiers([]string{goenv.SumGolangOrgKey, vkey})); err != nil {
		t.Errorf("with sum.golang.org's key given again: %v", err)
	}
}
