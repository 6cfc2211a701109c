package modcache

import (
	stdzip "archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

// rawEntry is one entry of a hand-made zip: any name, stored or
// deflated, and optionally a lying header.
type rawEntry struct {
	name   string
	data   []byte
	stored bool
	// declared, if set, is the uncompressed size the headers claim.
	declared int64
	// badCRC makes the headers claim another CRC-32.
	badCRC bool
}

// buildZip writes entries, in order, as a zip file in a temp directory.
func buildZip(t *testing.T, entries []rawEntry) string {
	t.Helper()
	var buf bytes.Buffer
	zw := stdzip.NewWriter(&buf)
	for _, e := range entries {
		method := stdzip.Deflate
		if e.stored {
			method = stdzip.Store
		}
		if e.declared == 0 && !e.badCRC {
			w, err := zw.CreateHeader(&stdzip.FileHeader{Name: e.name, Method: method})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(e.data)
			continue
		}
		// A lying header: write the body raw, stored, with our numbers.
		crc := crc32.ChecksumIEEE(e.data)
		if e.badCRC {
			crc++
		}
		size := uint64(len(e.data))
		if e.declared != 0 {
			size = uint64(e.declared)
		}
		w, err := zw.CreateRaw(&stdzip.FileHeader{Name: e.name, Method: stdzip.Store,
			CRC32: crc, CompressedSize64: uint64(len(e.data)), UncompressedSize64: size})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "m.zip")
	if err := os.WriteFile(file, buf.Bytes(), 0o666); err != nil {
		t.Fatal(err)
	}
	return file
}

// noise returns n bytes that do not compress.
func noise(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestUnpackLikeUnzipAndHashZip unpacks zips of every shape a mirror can
// serve, valid or not, with unpack and with what the go command uses
// (modzip.Unzip and dirhash.HashZip), and requires the same outcome: the
// same hash and the same tree, file by file and mode by mode, or an error
// when either of the two fails.
func TestUnpackLikeUnzipAndHashZip(t *testing.T) {
	mod := module.Version{Path: "example.com/Mod", Version: "v1.2.3"}
	p := mod.Path + "@" + mod.Version + "/"
	gomod := rawEntry{name: p + "go.mod", data: []byte("module example.com/Mod\n")}
	file := func(name, data string) rawEntry { return rawEntry{name: p + name, data: []byte(data)} }
	big := func(name string, n int, seed uint64) rawEntry { return rawEntry{name: p + name, data: noise(n, seed)} }

	tests := []struct {
		name    string
		entries []rawEntry
		wantErr bool
	}{
		{"simple", []rawEntry{gomod, file("a.go", "package a\n"), file("cmd/x/main.go", "package main\n")}, false},
		{"no entries", nil, false},
		{"only the root entry", []rawEntry{{name: p}}, false},
		{"empty files", []rawEntry{gomod, file("empty", ""), file("sub/empty.go", "")}, false},
		{"directory entries", []rawEntry{{name: p}, gomod, {name: p + "sub/"}, file("sub/a.go", "package sub\n"), {name: p + "emptydir/"}}, false},
		{"directory entry twice", []rawEntry{{name: p + "sub/"}, file("sub/a.go", "package sub\n"), {name: p + "sub/"}}, false},
		{"root entry twice", []rawEntry{{name: p}, gomod, {name: p}}, false},
		{"directory entry with content", []rawEntry{gomod, {name: p + "sub/", data: []byte("x"), declared: 1}}, true},
		{"stored files", []rawEntry{gomod, {name: p + "a.txt", data: []byte("stored\n"), stored: true}, {name: p + "b.bin", data: noise(1<<20, 9), stored: true}}, false},
		{"files around the buffer size", []rawEntry{
			gomod,
			big("a", unpackBufSize-1, 1), big("b", unpackBufSize, 2), big("c", unpackBufSize+1, 3),
			big("d", 2*unpackBufSize, 4), big("e", 3*unpackBufSize+17, 5),
		}, false},
		{"large files", []rawEntry{gomod, big("testdata/noise.bin", 5<<20, 6), file("testdata/zeros.bin", strings.Repeat("\x00", 9<<20))}, false},
		{"unusual names", []rawEntry{
			gomod,
			file("ünïcödé/файл.go", "package x\n"), file("with space.txt", "s\n"), file("a+b=c~d,e.txt", "p\n"),
			file("!bang/x.go", "package bang\n"), file("UPPER/Case.go", "package upper\n"), file("sub/.hidden", "h\n"),
			file("日本/語.txt", "j\n"), file("a-b_c.d/e@f.txt", "at\n"), file("deep/1/2/3/4/5/6/7/8/9/f.txt", "deep\n"),
		}, false},
		{"vendor and testdata kept as in the zip", []rawEntry{gomod, file("vendor/modules.txt", "# x\n"), file("testdata/go.mod", "module nested\n")}, true},
		{"duplicate file", []rawEntry{gomod, file("a.go", "package a\n"), file("a.go", "package b\n")}, true},
		{"case collision", []rawEntry{gomod, file("a.go", "package a\n"), file("A.go", "package a\n")}, true},
		{"file and directory of one name", []rawEntry{gomod, file("x", "file\n"), file("x/y.go", "package x\n")}, true},
		{"outside the prefix", []rawEntry{gomod, {name: "example.com/other@v1.2.3/a.go", data: []byte("package a\n")}}, true},
		{"go.mod below the root", []rawEntry{gomod, file("sub/go.mod", "module sub\n")}, true},
		{"go.mod in other case", []rawEntry{file("GO.MOD", "module example.com/Mod\n")}, true},
		{"unclean path", []rawEntry{gomod, file("a/../b.go", "package b\n")}, true},
		{"newline in a name", []rawEntry{gomod, file("a\nb.go", "package a\n")}, true},
		{"declared size too small", []rawEntry{gomod, {name: p + "a.txt", data: []byte("twelve bytes"), declared: 5}}, true},
		{"declared size too large", []rawEntry{gomod, {name: p + "a.txt", data: []byte("twelve bytes"), declared: 50}}, true},
		{"bad CRC", []rawEntry{gomod, {name: p + "a.txt", data: []byte("some content\n"), badCRC: true}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			zipfile := buildZip(t, tt.entries)
			checkLikeGo(t, mod, zipfile, tt.wantErr)
		})
	}

	t.Run("not a zip", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "m.zip")
		os.WriteFile(file, []byte("<html>502 Bad Gateway</html>"), 0o666)
		checkLikeGo(t, mod, file, true)
	})
	t.Run("truncated zip", func(t *testing.T) {
		whole := buildZip(t, []rawEntry{gomod, big("a.bin", 100<<10, 7)})
		data, _ := os.ReadFile(whole)
		file := filepath.Join(t.TempDir(), "cut.zip")
		os.WriteFile(file, data[:len(data)/2], 0o666)
		checkLikeGo(t, mod, file, true)
	})
	t.Run("zip made by modzip.Create", func(t *testing.T) {
		zipData := makeZip(t, mod, map[string]string{"go.mod": "module example.com/Mod\n", "a.go": "package a\n", "b/b.go": "package b\n"})
		file := filepath.Join(t.TempDir(), "m.zip")
		os.WriteFile(file, zipData, 0o666)
		checkLikeGo(t, mod, file, false)
	})
}

// checkLikeGo unpacks zipfile both ways and compares the outcomes.
func checkLikeGo(t *testing.T, mod module.Version, zipfile string, wantErr bool) {
	t.Helper()
	tmp := t.TempDir()
	theirs, ours := filepath.Join(tmp, "theirs"), filepath.Join(tmp, "ours")
	refHash, hashErr := dirhash.HashZip(zipfile, dirhash.DefaultHash)
	unzipErr := modzip.Unzip(theirs, mod, zipfile)
	refErr := errors.Join(hashErr, unzipErr)

	got, _, err := newUnpacker().unpack(t.Context(), ours, mod, zipfile)
	switch {
	case (refErr != nil) != wantErr:
		t.Fatalf("the go command's way: err = %v, want error: %v (a broken test case)", refErr, wantErr)
	case refErr != nil && err == nil:
		t.Fatalf("unpack succeeded (hash %s); Unzip/HashZip fail: %v", got, refErr)
	case refErr != nil:
		return
	case err != nil:
		t.Fatalf("unpack: %v; Unzip and HashZip succeed", err)
	case got != refHash:
		t.Fatalf("unpack hash = %s, HashZip = %s", got, refHash)
	}
	if g, w := treeContent(t, ours), treeContent(t, theirs); g != w {
		t.Errorf("unpack made\n%s\nUnzip makes\n%s", g, w)
	}
}

// treeContent lists a tree's entries with their modes and the SHA-256 of
// each file's content.
func treeContent(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		fmt.Fprintf(&b, "%s %v", rel, info.Mode())
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %x", sha256.Sum256(data))
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestUnpackRealZips checks unpack against Unzip and HashZip on real module
// zips: every <version>.zip under $GOMODX_TEST_ZIPS, a cache/download
// directory such as the one make bench fills. It is skipped without it.
func TestUnpackRealZips(t *testing.T) {
	root := os.Getenv("GOMODX_TEST_ZIPS")
	if root == "" {
		t.Skip("GOMODX_TEST_ZIPS not set")
	}
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".zip") {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		escPath, file, ok := strings.Cut(filepath.ToSlash(rel), "/@v/")
		if !ok {
			return nil
		}
		modPath, err1 := module.UnescapePath(escPath)
		version, err2 := module.UnescapeVersion(strings.TrimSuffix(file, ".zip"))
		if err1 != nil || err2 != nil {
			return nil
		}
		n++
		t.Run(modPath+"@"+version, func(t *testing.T) {
			checkLikeGo(t, module.Version{Path: modPath, Version: version}, path, false)
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d zips", n)
}

// TestPutZipAndUnpack drives the one-pass download: what is in the cache
// after success and after failure, and what it holds while a body is being
// unpacked, before its hash is known to match.
func TestPutZipAndUnpack(t *testing.T) {
	mod := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	good := makeZip(t, mod, map[string]string{
		"go.mod":   "module example.com/a\n",
		"a.go":     "package a\n",
		"sub/b.go": "package sub\n",
	})
	goodSum := zipSum(t, good)
	other := makeZip(t, mod, map[string]string{
		"go.mod": "module example.com/a\n",
		"a.go":   "package a // not what go.sum says\n",
		"c.go":   "package a\n",
	})

	tests := []struct {
		name     string
		want     string
		bodies   [][]byte
		wantErr  error
		attempts int
	}{
		{name: "good zip", want: goodSum, bodies: [][]byte{good}, attempts: 1},
		{name: "no go.sum hash", want: "", bodies: [][]byte{good}, attempts: 1},
		{name: "hash mismatch", want: goodSum, bodies: [][]byte{other}, wantErr: &HashMismatchError{}, attempts: 1},
		{name: "not a zip", want: goodSum, bodies: [][]byte{[]byte("<html>")}, wantErr: &InvalidError{}, attempts: 1},
		{name: "mismatch, then the good zip", want: goodSum, bodies: [][]byte{other, good}, attempts: 2},
		{name: "broken, then the good zip", want: goodSum, bodies: [][]byte{[]byte("garbage"), good}, attempts: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := openCache(t)
			e, err := c.entry(mod)
			if err != nil {
				t.Fatal(err)
			}
			// While a body is unpacked and hashed, the tree is behind
			// .partial and neither .zip nor .ziphash exists: nothing the go
			// command or Has would take.
			var during []string
			gate := func(context.Context) (func(), error) {
				return func() {
					if c.Has(mod, Zip, "") || e.extracted() || !exists(e.partial) {
						during = append(during, fmt.Sprintf("visible before its hash was checked: has zip %v, extracted %v, .partial %v",
							c.Has(mod, Zip, ""), e.extracted(), exists(e.partial)))
					}
				}, nil
			}
			attempts := 0
			err = c.PutZipAndUnpack(t.Context(), mod, tt.want, mirrors(&attempts, tt.bodies...), UnpackOptions{Gate: gate})
			for _, d := range during {
				t.Error(d)
			}
			if attempts != tt.attempts {
				t.Errorf("attempts = %d, want %d", attempts, tt.attempts)
			}
			if tt.wantErr != nil {
				checkErrType(t, err, tt.wantErr)
				if got, want := dirNames(t, e.vdir), []string{"v1.0.0.lock"}; !slices.Equal(got, want) {
					t.Errorf("cache dir holds %q after failure, want only %q", got, want)
				}
				if exists(e.dir) {
					t.Errorf("tree %s left after failure", e.dir)
				}
				return
			}
			if err != nil {
				t.Fatalf("PutZipAndUnpack: %v", err)
			}
			if got, want := dirNames(t, e.vdir), []string{"v1.0.0.lock", "v1.0.0.zip", "v1.0.0.ziphash"}; !slices.Equal(got, want) {
				t.Errorf("cache dir holds %q, want %q", got, want)
			}
			if !c.Has(mod, Zip, goodSum) || !e.extracted() {
				t.Errorf("after PutZipAndUnpack: Has(Zip) = %v, extracted = %v", c.Has(mod, Zip, goodSum), e.extracted())
			}
			data, _ := os.ReadFile(e.zip)
			if !bytes.Equal(data, good) {
				t.Error("cached zip differs from the accepted body")
			}
			// The tree is Unzip's, with read-only directories.
			ref := filepath.Join(t.TempDir(), "ref")
			if err := modzip.Unzip(ref, mod, e.zip); err != nil {
				t.Fatal(err)
			}
			makeTreeReadOnly(t, ref)
			if g, w := treeContent(t, e.dir), treeContent(t, ref); g != w {
				t.Errorf("tree\n%s\nwant\n%s", g, w)
			}
		})
	}
}

// makeTreeReadOnly does what the go command does to a tree it extracted.
func makeTreeReadOnly(t *testing.T, root string) {
	t.Helper()
	var dirs []string
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Chmod(dirs[i], 0o555)
	}
	t.Cleanup(func() { removeDir(root) })
}

// TestPutZipAndUnpackCacheStates starts from each state a module's entry
// can be in and checks what PutZipAndUnpack leaves and fetches.
func TestPutZipAndUnpackCacheStates(t *testing.T) {
	mod := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	good := makeZip(t, mod, map[string]string{"go.mod": "module example.com/a\n", "a.go": "package a\n"})
	goodSum := zipSum(t, good)
	put := func(t *testing.T, c *Cache) {
		attempts := 0
		if err := c.PutZipAndUnpack(t.Context(), mod, goodSum, mirrors(&attempts, good), UnpackOptions{Writable: true}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("zip cached, no tree: unpacked without a download", func(t *testing.T) {
		c := openCache(t)
		attempts := 0
		if err := c.PutZip(t.Context(), mod, goodSum, mirrors(&attempts, good)); err != nil {
			t.Fatal(err)
		}
		e, _ := c.entry(mod)
		attempts = 0
		if err := c.PutZipAndUnpack(t.Context(), mod, goodSum, mirrors(&attempts, good), UnpackOptions{}); err != nil {
			t.Fatal(err)
		}
		if attempts != 0 || !e.extracted() {
			t.Errorf("attempts = %d, extracted = %v; want 0, true", attempts, e.extracted())
		}
	})
	t.Run("partial tree from a writer that died: replaced", func(t *testing.T) {
		c := openCache(t)
		e, _ := c.entry(mod)
		writeFiles(t, e.dir, map[string]string{"a.go": "package a // half\n", "junk.go": "package a\n"})
		writeFiles(t, e.vdir, map[string]string{"v1.0.0.partial": ""})
		writeFiles(t, filepath.Dir(e.dir), map[string]string{filepath.Base(e.dir) + ".tmp-123/x.go": "package x\n"})
		put(t, c)
		if !e.extracted() || exists(filepath.Join(e.dir, "junk.go")) || exists(e.dir+".tmp-123") {
			t.Errorf("extracted = %v, junk.go left %v, old temp tree left %v", e.extracted(), exists(filepath.Join(e.dir, "junk.go")), exists(e.dir+".tmp-123"))
		}
	})
	t.Run("complete tree, zip lost: the tree is left alone", func(t *testing.T) {
		c := openCache(t)
		put(t, c)
		e, _ := c.entry(mod)
		os.Remove(e.zip)
		marker := filepath.Join(e.dir, "user-edit.go")
		writeFiles(t, e.dir, map[string]string{"user-edit.go": "package a\n"})
		put(t, c)
		if !c.Has(mod, Zip, goodSum) || !exists(marker) {
			t.Errorf("Has(Zip) = %v, tree kept = %v; want both", c.Has(mod, Zip, goodSum), exists(marker))
		}
	})
	t.Run("cancelled while waiting for the gate: nothing left", func(t *testing.T) {
		c := openCache(t)
		e, _ := c.entry(mod)
		ctx, cancel := context.WithCancel(t.Context())
		gate := func(ctx context.Context) (func(), error) {
			cancel()
			return nil, ctx.Err()
		}
		attempts := 0
		err := c.PutZipAndUnpack(ctx, mod, goodSum, mirrors(&attempts, good), UnpackOptions{Gate: gate})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if got := dirNames(t, e.vdir); !slices.Equal(got, []string{"v1.0.0.lock"}) || exists(e.dir) {
			t.Errorf("left %q and tree %v", got, exists(e.dir))
		}
	})
}

// TestExtractRefusesChangedZip: a cached zip that no longer matches its
// .ziphash is not unpacked.
func TestExtractRefusesChangedZip(t *testing.T) {
	mod := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	good := makeZip(t, mod, map[string]string{"go.mod": "module example.com/a\n", "a.go": "package a\n"})
	evil := makeZip(t, mod, map[string]string{"go.mod": "module example.com/a\n", "a.go": "package a // evil\n"})
	c := openCache(t)
	attempts := 0
	if err := c.PutZip(t.Context(), mod, zipSum(t, good), mirrors(&attempts, good)); err != nil {
		t.Fatal(err)
	}
	e, _ := c.entry(mod)
	if err := os.WriteFile(e.zip, evil, 0o666); err != nil {
		t.Fatal(err)
	}
	err := c.Extract(t.Context(), mod, UnpackOptions{})
	if err == nil || !strings.Contains(err.Error(), "its .ziphash says") {
		t.Errorf("Extract of a changed zip: err = %v", err)
	}
	if exists(e.dir) || exists(e.partial) {
		t.Errorf("tree %v, .partial %v left", exists(e.dir), exists(e.partial))
	}
}
