package modcache

import (
	stdzip "archive/zip"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

// memFile is a module file held in memory, for modzip.Create.
type memFile struct {
	name string
	data []byte
}

func (f memFile) Path() string                 { return f.name }
func (f memFile) Lstat() (fs.FileInfo, error)  { return memInfo(f), nil }
func (f memFile) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }

type memInfo memFile

func (fi memInfo) Name() string       { return filepath.Base(fi.name) }
func (fi memInfo) Size() int64        { return int64(len(fi.data)) }
func (fi memInfo) Mode() fs.FileMode  { return 0o644 }
func (fi memInfo) ModTime() time.Time { return time.Time{} }
func (fi memInfo) IsDir() bool        { return false }
func (fi memInfo) Sys() any           { return nil }

// makeZip builds a real module zip for mod, the way a proxy would serve it.
func makeZip(t *testing.T, mod module.Version, files map[string]string) []byte {
	t.Helper()
	var list []modzip.File
	for _, name := range sortedKeys(files) {
		list = append(list, memFile{name, []byte(files[name])})
	}
	var buf bytes.Buffer
	if err := modzip.Create(&buf, mod, list); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rawZip builds a zip with exactly the given entry names, bypassing the
// module zip rules, to play a broken mirror.
func rawZip(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := stdzip.NewWriter(&buf)
	for _, name := range sortedKeys(files) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, files[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zipSum returns the go.sum hash of a module zip.
func zipSum(t *testing.T, data []byte) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "m.zip")
	if err := os.WriteFile(file, data, 0o666); err != nil {
		t.Fatal(err)
	}
	h, err := dirhash.HashZip(file, dirhash.DefaultHash)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// modSum returns the go.sum "/go.mod" hash of a go.mod file.
func modSum(t *testing.T, data string) string {
	t.Helper()
	h, err := goModSum([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// mirrors returns a Download that offers bodies in turn, like a mirror list
// falling through on every rejection, and counts the attempts.
func mirrors(attempts *int, bodies ...[]byte) Download {
	return func(store func(io.Reader) error) error {
		var errs []error
		for _, b := range bodies {
			*attempts++
			err := store(bytes.NewReader(b))
			if err == nil {
				return nil
			}
			errs = append(errs, err)
		}
		if len(errs) == 1 {
			return errs[0]
		}
		return errors.Join(append(errs, errors.New("all mirrors failed"))...)
	}
}

// dirNames lists the names in dir, or nil if it does not exist.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func openCache(t *testing.T) *Cache {
	t.Helper()
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustPath(t *testing.T, c *Cache, mod module.Version, ext string) string {
	t.Helper()
	p, err := c.Path(mod, ext)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// putModule writes mod's .info, .mod and .zip into c through the Put
// methods, checked against the given hashes, as a download would.
func putModule(t *testing.T, c *Cache, mod module.Version, gomod string, zipData []byte, zipHash, modHash string) {
	t.Helper()
	ctx := t.Context()
	attempts := 0
	if err := c.PutInfo(ctx, mod, mirrors(&attempts, []byte(`{"Version":"`+mod.Version+`","Time":"2024-01-23T18:54:04Z"}`))); err != nil {
		t.Fatal(err)
	}
	if err := c.PutMod(ctx, mod, modHash, mirrors(&attempts, []byte(gomod))); err != nil {
		t.Fatal(err)
	}
	if err := c.PutZip(ctx, mod, zipHash, mirrors(&attempts, zipData)); err != nil {
		t.Fatal(err)
	}
}
