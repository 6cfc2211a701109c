package checksum

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb"
)

// TestOps checks the file operations against sumdb.go's contract directly.
func TestOps(t *testing.T) {
	r, gosumdb := newServer(t)
	e := newEnv(t)
	s := &session{db: e.open(t, gosumdb, r.read)}
	latest := dbName + "/latest"

	if key, err := s.ReadConfig("key"); err != nil || string(key) != gosumdb {
		t.Errorf("ReadConfig(key) = %q, %v; want %q", key, err, gosumdb)
	}
	if err := s.WriteConfig("key", nil, []byte("x")); err == nil {
		t.Errorf("WriteConfig(key) succeeded")
	}

	// No latest yet: empty, the starting point of the Client.
	if data, err := s.ReadConfig(latest); err != nil || len(data) != 0 {
		t.Errorf("ReadConfig of a missing latest = %q, %v; want empty", data, err)
	}
	// An empty or missing file takes any old value.
	if err := s.WriteConfig(latest, []byte("stale"), []byte("one")); err != nil {
		t.Fatal(err)
	}
	// Someone else moved it: conflict, and the file is left alone.
	if err := s.WriteConfig(latest, []byte("zero"), []byte("two")); !errors.Is(err, sumdb.ErrWriteConflict) {
		t.Errorf("WriteConfig with a stale old = %v, want ErrWriteConflict", err)
	}
	if err := s.WriteConfig(latest, []byte("one"), []byte("two")); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(e.latest(dbName)); err != nil || string(data) != "two" {
		t.Errorf("latest = %q, %v; want two", data, err)
	}

	// The cache: written whole, empty means absent.
	file := dbName + "/lookup/example.com/a@v1.0.0"
	if _, err := s.ReadCache(file); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadCache of a missing file = %v", err)
	}
	s.WriteCache(file, []byte("record"))
	if data, err := s.ReadCache(file); err != nil || string(data) != "record" {
		t.Errorf("ReadCache = %q, %v", data, err)
	}
	if err := os.WriteFile(filepath.Join(e.gomodcache, "cache/download/sumdb", file), nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadCache(file); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadCache of an empty file = %v, want fs.ErrNotExist", err)
	}
}
