package mirrors

import (
	"bytes"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"

	"github.com/gomodx/gomodx/modcache"
)

type zipFile struct {
	path string
	data []byte
}

func (f zipFile) Path() string                 { return f.path }
func (f zipFile) Lstat() (fs.FileInfo, error)  { return zipInfo{f}, nil }
func (f zipFile) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }

type zipInfo struct{ f zipFile }

func (i zipInfo) Name() string       { return i.f.path }
func (i zipInfo) Size() int64        { return int64(len(i.f.data)) }
func (i zipInfo) Mode() fs.FileMode  { return 0o644 }
func (i zipInfo) ModTime() time.Time { return time.Time{} }
func (i zipInfo) IsDir() bool        { return false }
func (i zipInfo) Sys() any           { return nil }

// bigModule returns a module zip of modA larger than testRangeMin, and its
// h1 hash.
func bigModule(t *testing.T, seed uint64) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	files := []modzip.File{
		zipFile{"go.mod", []byte("module example.com/a\n")},
		zipFile{"a.go", []byte("package a\n")},
		zipFile{"testdata/blob", bigFile(testRangeMin+testRangeMin/2, seed)},
	}
	if err := modzip.Create(&buf, modA, files); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(t.TempDir(), "a.zip")
	if err := os.WriteFile(name, buf.Bytes(), 0o666); err != nil {
		t.Fatal(err)
	}
	sum, err := dirhash.HashZip(name, dirhash.DefaultHash)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), sum
}

// TestFetchRangedIntoCache fetches a large module zip in ranges, with a
// connection cut mid-way, through the module cache's verified write: the
// zip is written at offsets into the cache's temp file, verified, and
// committed with its .ziphash; a tampered one is not kept.
func TestFetchRangedIntoCache(t *testing.T) {
	zip, sum := bigModule(t, 10)
	t.Run("verified", func(t *testing.T) {
		var once sync.Once
		var log rangeLog
		srv := serveRanged(t, zip, &log, func(_ int, from, to int64, _ http.ResponseWriter, _ *http.Request, _ <-chan struct{}) int64 {
			send := int64(-1)
			if from > 0 {
				once.Do(func() { send = (to - from) / 2 })
			}
			return send
		})
		l := newList(t, srv.URL, rangedOptions(t))
		c, err := modcache.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		err = c.PutZip(testCtx(t), modA, sum, func(store func(io.Reader) error) error {
			return l.Fetch(testCtx(t), modA, "zip", store)
		})
		if err != nil {
			t.Fatalf("PutZip: %v", err)
		}
		if !c.Has(modA, modcache.Zip, sum) {
			t.Error("the zip is not in the cache")
		}
		if n := len(log.starts()); n < 2 {
			t.Errorf("%d range requests, want several", n)
		}
	})
	t.Run("tampered", func(t *testing.T) {
		other, _ := bigModule(t, 11) // the same size, other bytes
		if len(other) != len(zip) {
			t.Fatalf("sizes %d and %d", len(other), len(zip))
		}
		var log rangeLog
		srv := serveRanged(t, other, &log, nil)
		// Hedges after a second at least: a try is one request.
		l := newList(t, srv.URL+",off", rangeOptions(t))
		root := t.TempDir()
		c, err := modcache.Open(root)
		if err != nil {
			t.Fatal(err)
		}
		err = c.PutZip(testCtx(t), modA, sum, func(store func(io.Reader) error) error {
			return l.Fetch(testCtx(t), modA, "zip", store)
		})
		if _, ok := err.(*Error); !ok {
			t.Fatalf("PutZip = %v, want the mirror's rejection", err)
		}
		if c.Has(modA, modcache.Zip, "") {
			t.Error("a tampered zip is in the cache")
		}
		// The same bytes twice: a liar, after two requests for the file.
		if n := plainRequests(log.get()); n != 2 {
			t.Errorf("the file was asked for %d times, want 2", n)
		}
		matches, _ := filepath.Glob(filepath.Join(root, "cache/download/example.com/a/@v/*"))
		for _, m := range matches {
			if filepath.Ext(m) != ".lock" {
				t.Errorf("left in the cache: %s", m)
			}
		}
	})
}

// plainRequests counts the requests without Range: one per try of the file.
func plainRequests(reqs []rangeReq) int {
	n := 0
	for _, r := range reqs {
		if r.rng == "" {
			n++
		}
	}
	return n
}
