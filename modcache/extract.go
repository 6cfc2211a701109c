package modcache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// Extract unpacks mod's cached zip into its directory in the module cache
// the way the go command does (cmd/go/internal/modfetch unzip), so that a
// go command that runs next finds it ready: under the version's lock, after
// removing a half-made tree, with a .partial marker while it works, through
// golang.org/x/mod/zip's Unzip, and with the directories made read-only
// unless writable (the go command's -modcacherw). A tree that is already
// complete is left alone. The zip must already be in the cache, verified.
func (c *Cache) Extract(ctx context.Context, mod module.Version, writable bool) error {
	e, err := c.entry(mod)
	if err != nil {
		return err
	}
	if e.extracted() {
		return nil
	}
	unlock, err := c.lockVersion(ctx, mod)
	if err != nil {
		return err
	}
	defer unlock()
	if e.extracted() {
		return nil // another process finished it while we waited
	}
	if !c.Has(mod, Zip, "") {
		return fmt.Errorf("%s: extracting: the zip is not in the module cache", mod)
	}
	if _, err := os.Stat(e.dir); err == nil {
		// Left half-made by a writer that died: it no longer holds the lock.
		if err := removeDir(e.dir); err != nil {
			return fmt.Errorf("%s: removing a partly extracted tree: %w", mod, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(e.dir), 0o777); err != nil {
		return fmt.Errorf("%s: extracting: %w", mod, err)
	}
	if err := os.WriteFile(e.partial, nil, 0o666); err != nil {
		return fmt.Errorf("%s: extracting: %w", mod, err)
	}
	if err := modzip.Unzip(e.dir, mod, e.zip); err != nil {
		if removeDir(e.dir) == nil {
			os.Remove(e.partial)
		}
		return fmt.Errorf("%s: extracting: %w", mod, err)
	}
	if err := os.Remove(e.partial); err != nil {
		return fmt.Errorf("%s: extracting: %w", mod, err)
	}
	if !writable {
		makeDirsReadOnly(e.dir)
	}
	return nil
}

// extracted reports what the go command's DownloadDir checks: the tree
// exists, no .partial marker, and a .ziphash beside the zip.
func (e *entry) extracted() bool {
	if fi, err := os.Stat(e.dir); err != nil || !fi.IsDir() {
		return false
	}
	if _, err := os.Stat(e.partial); !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	_, err := os.Stat(e.hash)
	return err == nil
}

// makeDirsReadOnly takes write permission off the tree's directories,
// children first, as modfetch.makeDirsReadOnly does; files keep the mode
// Unzip gave them.
func makeDirsReadOnly(dir string) {
	var dirs []string
	var modes []fs.FileMode
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			if info, err := d.Info(); err == nil && info.Mode()&0o222 != 0 {
				dirs = append(dirs, path)
				modes = append(modes, info.Mode())
			}
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Chmod(dirs[i], modes[i]&^0o222)
	}
}
