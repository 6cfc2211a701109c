package prefetch

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"

	"github.com/gomodx/gomodx/modcache"
)

// mapSource serves files from memory, keyed "path@version.file". started,
// if set, is told of every request before its body is handed over.
type mapSource struct {
	files   map[string][]byte
	started chan<- string
}

func (s mapSource) Fetch(ctx context.Context, mod module.Version, file string, store func(io.Reader) error) error {
	data, ok := s.files[mod.String()+"."+file]
	if !ok {
		return fs.ErrNotExist
	}
	if s.started != nil {
		s.started <- mod.String() + "." + file
	}
	return store(bytes.NewReader(data))
}

// memFile is a file of a module zip, in memory.
type memFile struct {
	name string
	data string
}

func (f memFile) Path() string { return f.name }
func (f memFile) Lstat() (fs.FileInfo, error) {
	return fileInfo{name: filepath.Base(f.name), size: int64(len(f.data))}, nil
}
func (f memFile) Open() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader([]byte(f.data))), nil
}

type fileInfo struct {
	fs.FileInfo
	name string
	size int64
}

func (fi fileInfo) Name() string      { return fi.name }
func (fi fileInfo) Size() int64       { return fi.size }
func (fi fileInfo) Mode() fs.FileMode { return 0o644 }
func (fi fileInfo) IsDir() bool       { return false }

// zipOf returns a module zip of mod with one package, and its go.sum hash.
func zipOf(t *testing.T, mod module.Version) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	files := []modzip.File{
		memFile{"go.mod", "module " + mod.Path + "\n"},
		memFile{"p.go", "package p\n"},
	}
	if err := modzip.Create(&buf, mod, files); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "m.zip")
	if err := os.WriteFile(file, buf.Bytes(), 0o666); err != nil {
		t.Fatal(err)
	}
	sum, err := dirhash.HashZip(file, dirhash.DefaultHash)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), sum
}

// TestFetcherUnpackKeepsDownloading checks that a zip waiting to be
// unpacked gives its download slot back: with one download slot and every
// unpack slot taken, another file still downloads, and the zip is unpacked
// once an unpack slot frees.
func TestFetcherUnpackKeepsDownloading(t *testing.T) {
	a := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	b := module.Version{Path: "example.com/b", Version: "v1.0.0"}
	zipA, sumA := zipOf(t, a)
	started := make(chan string, 2)
	src := mapSource{
		files:   map[string][]byte{a.String() + ".zip": zipA, b.String() + ".info": []byte(`{"Version":"v1.0.0"}`)},
		started: started,
	}
	cache, err := modcache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := NewFetcher(t.Context(), cache, src, Sums{a: sumA}, Options{Jobs: 1, Extract: true, ModCacheRW: true, NoSumCheck: func(string) bool { return true }})
	for range cap(f.cpu) {
		f.cpu <- struct{}{} // every unpack slot busy
	}
	zipDone := make(chan error, 1)
	go func() {
		_, err := f.Ensure(t.Context(), a, modcache.Zip)
		zipDone <- err
	}()
	if got := <-started; got != a.String()+".zip" {
		t.Fatalf("first request %s", got)
	}
	// The .info needs the one download slot the zip holds until it waits
	// to be unpacked. A Fetcher that kept it would never fetch the .info:
	// the time limit only bounds such a hang.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if state, err := f.Ensure(ctx, b, modcache.Info); state != Fetched {
		t.Fatalf("info while a zip waits to be unpacked: %v, %v", state, err)
	}
	select {
	case err := <-zipDone:
		t.Fatalf("zip done before an unpack slot was free: %v", err)
	default:
	}
	for range cap(f.cpu) {
		<-f.cpu
	}
	if err := <-zipDone; err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cache.Root(), "example.com", "a@v1.0.0")
	if _, err := os.Stat(filepath.Join(dir, "p.go")); err != nil {
		t.Errorf("zip not unpacked: %v", err)
	}
	if !cache.Has(a, modcache.Zip, sumA) {
		t.Error("zip not in the cache")
	}
}
