package modcache

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

// realZips lists the module zips under $GOMODX_TEST_ZIPS (a cache/download
// directory), or skips b.
func realZips(b *testing.B) (mods []module.Version, files []string, size int64) {
	root := os.Getenv("GOMODX_TEST_ZIPS")
	if root == "" {
		b.Skip("GOMODX_TEST_ZIPS not set")
	}
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".zip") {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		escPath, file, ok := strings.Cut(filepath.ToSlash(rel), "/@v/")
		modPath, err1 := module.UnescapePath(escPath)
		version, err2 := module.UnescapeVersion(strings.TrimSuffix(file, ".zip"))
		if ok && err1 == nil && err2 == nil {
			mods = append(mods, module.Version{Path: modPath, Version: version})
			files = append(files, path)
			if fi, err := d.Info(); err == nil {
				size += fi.Size()
			}
		}
		return nil
	})
	return mods, files, size
}

// BenchmarkUnpackRealZips compares, on the zips of $GOMODX_TEST_ZIPS, the
// go command's two passes (CheckZip and HashZip when it downloads, Unzip
// when it extracts) with unpack's one. Each iteration unpacks every zip
// into a fresh directory. Nothing is removed until the end: on ext4
// without a journal, creating files right after many were deleted costs
// far more (the inode allocator skips recently freed inodes one by one),
// which would measure the last iteration's removal rather than this one.
func BenchmarkUnpackRealZips(b *testing.B) {
	mods, files, size := realZips(b)
	run := func(b *testing.B, one func(dir string, mod module.Version, file string) error) {
		b.SetBytes(size)
		for b.Loop() {
			b.StopTimer()
			root := b.TempDir()
			b.Cleanup(func() { removeDir(root) })
			b.StartTimer()
			for i, mod := range mods {
				if err := one(filepath.Join(root, strings.ReplaceAll(mod.String(), "/", "_")), mod, files[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("two passes", func(b *testing.B) {
		run(b, func(dir string, mod module.Version, file string) error {
			if _, err := modzip.CheckZip(mod, file); err != nil {
				return err
			}
			if _, err := dirhash.HashZip(file, dirhash.DefaultHash); err != nil {
				return err
			}
			if err := modzip.Unzip(dir, mod, file); err != nil {
				return err
			}
			return nil
		})
	})
	b.Run("one pass", func(b *testing.B) {
		run(b, func(dir string, mod module.Version, file string) error {
			_, tree, err := newUnpacker().unpack(b.Context(), dir, mod, file)
			tree.makeReadOnly()
			return err
		})
	})
}
