// Package modcache reads and writes GOMODCACHE exactly as the go command
// does, so that a later go command finds every file complete and fetches
// nothing.
//
// The go command trusts much of what it finds in the cache: a .zip next to
// a valid .ziphash is never re-hashed, and an extracted tree is never
// checked by builds. So this package verifies every file before it gives it
// its final name, and it only ever exposes a file under that name once it is
// complete (temp file plus rename, as in cmd/go/internal/modfetch).
//
// Layout, relative to the cache root:
//
//	cache/download/<escaped path>/@v/list
//	cache/download/<escaped path>/@v/<escaped version>.{info,mod,zip,ziphash,lock,partial}
//
// The package does no network I/O: callers supply a Download that feeds
// response bodies to the cache.
package modcache

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
)

// Kind names one of the files the GOPROXY protocol serves for a version.
type Kind string

const (
	Info Kind = "info"
	Mod  Kind = "mod"
	Zip  Kind = "zip"
)

// Cache is a GOMODCACHE directory.
//
// A Cache holds no state besides its root, so it is safe for use by many
// goroutines and processes at once: it relies on the same temp-file, rename
// and file-lock protocol as the go command.
type Cache struct {
	root string
}

// Open returns the cache rooted at root. Like the go command it refuses a
// relative root, since the meaning of one would change with the working
// directory. Open creates nothing; the Put methods create directories as
// they need them.
func Open(root string) (*Cache, error) {
	if root == "" {
		return nil, errors.New("module cache not found: GOMODCACHE is empty")
	}
	if !filepath.IsAbs(root) {
		return nil, fmt.Errorf("GOMODCACHE entry is relative; must be absolute path: %q", root)
	}
	return &Cache{root: filepath.Clean(root)}, nil
}

// Root returns the cache's root directory.
func (c *Cache) Root() string { return c.root }

// knownExt reports whether ext is one of the file extensions the go command
// keeps per version under cache/download. Path rejects anything else, so
// that a typo cannot create a file the go command would never look at.
func knownExt(ext string) bool {
	switch ext {
	case "info", "mod", "zip", "ziphash", "lock", "partial":
		return true
	}
	return false
}

// Path returns the path of mod's file with the given extension ("info",
// "mod", "zip", "ziphash", "lock" or "partial") under cache/download.
//
// As in modfetch.CachePath, the version must be canonical: the go command
// only ever looks files up by canonical version, so a file stored under any
// other name would never be found.
func (c *Cache) Path(mod module.Version, ext string) (string, error) {
	if !knownExt(ext) {
		return "", fmt.Errorf("%s: unknown module cache file extension %q", mod, ext)
	}
	dir, err := c.dir(mod)
	if err != nil {
		return "", err
	}
	encVer, err := module.EscapeVersion(mod.Version)
	if err != nil {
		return "", fmt.Errorf("%s: %w", mod, err)
	}
	return filepath.Join(dir, encVer+"."+ext), nil
}

// dir returns the @v directory holding mod's files.
func (c *Cache) dir(mod module.Version) (string, error) {
	if v := module.CanonicalVersion(mod.Version); v != mod.Version {
		return "", fmt.Errorf("%s: non-canonical module version %q", mod, mod.Version)
	}
	enc, err := module.EscapePath(mod.Path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", mod, err)
	}
	return filepath.Join(c.root, "cache", "download", filepath.FromSlash(enc), "@v"), nil
}

// oldVgoPrefix marks go.mod files synthesized by pre-release vgo. The go
// command ignores cached .mod files that start with it (cache.go
// readDiskGoMod), so they do not count as complete.
const oldVgoPrefix = "//vgo 0.0."

// Has reports whether kind is already complete for mod, the way the go
// command would accept it without fetching:
//
//   - Info: the .info file parses as JSON and its Version equals mod.Version.
//   - Mod: the .mod file exists and is non-empty; if want != "" its h1 hash
//     equals want.
//   - Zip: the .zip exists and the .ziphash exists and is a valid sum
//     (47 bytes, "h1:" prefix, no NUL); if want != "", the .ziphash equals
//     want.
//
// Has does not re-hash the zip, just as the go command does not: a zip
// that was altered after its .ziphash was written is the concern of Verify.
func (c *Cache) Has(mod module.Version, kind Kind, want string) bool {
	switch kind {
	case Info:
		data, err := c.read(mod, "info")
		if err != nil {
			return false
		}
		var info revInfo
		return json.Unmarshal(data, &info) == nil && info.Version == mod.Version
	case Mod:
		data, err := c.read(mod, "mod")
		if err != nil || len(data) == 0 || bytes.HasPrefix(data, []byte(oldVgoPrefix)) {
			return false
		}
		if want == "" {
			return true
		}
		got, err := goModSum(data)
		return err == nil && got == want
	case Zip:
		zipfile, err := c.Path(mod, "zip")
		if err != nil {
			return false
		}
		if fi, err := os.Stat(zipfile); err != nil || !fi.Mode().IsRegular() {
			return false
		}
		sum, err := os.ReadFile(zipfile + "hash")
		if err != nil || !isValidSum(sum) {
			return false
		}
		return want == "" || string(sum) == want
	}
	return false
}

// read returns the content of mod's file with extension ext.
func (c *Cache) read(mod module.Version, ext string) ([]byte, error) {
	file, err := c.Path(mod, ext)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(file)
}

// goModSum returns the h1 hash go.sum records for a go.mod file: the hash of
// a one-file tree holding data as "go.mod" (modfetch.goModSum).
func goModSum(data []byte) (string, error) {
	return dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}

// isValidSum reports whether data is a complete h1 sum, as modfetch.isValidSum
// does. A NUL byte means a write was cut short: the go command truncates a
// .ziphash to its final length (zero-filled) before writing it.
func isValidSum(data []byte) bool {
	if bytes.IndexByte(data, 0) >= 0 {
		return false
	}
	return len(data) == len("h1:")+base64.StdEncoding.EncodedLen(sha256.Size) &&
		bytes.HasPrefix(data, []byte("h1:"))
}
