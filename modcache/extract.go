package modcache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/mod/module"
)

// Extract unpacks mod's cached zip into its directory in the module cache
// the way the go command does (cmd/go/internal/modfetch unzip), so that a
// go command that runs next finds it ready: under the version's lock, after
// removing a half-made tree, with a .partial marker while it works, with
// the checks of golang.org/x/mod/zip's Unzip, and with the directories made
// read-only unless opts.Writable (the go command's -modcacherw). A tree
// that is already complete is left alone. The zip must already be in the
// cache, with its .ziphash.
//
// Unlike the go command, Extract hashes the files as it writes them, and
// removes the tree again if they do not hash to the .ziphash: a zip that
// changed in the cache since it was verified is not unpacked.
func (c *Cache) Extract(ctx context.Context, mod module.Version, opts UnpackOptions) error {
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
	return c.extractLocked(ctx, e, opts)
}

// extractLocked is Extract for a caller that holds the version's lock.
func (c *Cache) extractLocked(ctx context.Context, e *entry, opts UnpackOptions) error {
	mod := e.mod
	if e.extracted() {
		return nil // another process finished it while we waited
	}
	if !c.Has(mod, Zip, "") {
		return fmt.Errorf("%s: extracting: the zip is not in the module cache", mod)
	}
	want, err := os.ReadFile(e.hash)
	if err != nil {
		return fmt.Errorf("%s: extracting: %w", mod, err)
	}
	if err := clearTree(e); err != nil {
		return fmt.Errorf("%s: removing a partly extracted tree: %w", mod, err)
	}
	release, err := opts.gate(ctx)
	if err != nil {
		return fmt.Errorf("%s: extracting: %w", mod, err)
	}
	defer release()
	if err := os.WriteFile(e.partial, nil, 0o666); err != nil {
		return fmt.Errorf("%s: extracting: %w", mod, err)
	}
	got, tree, err := newUnpacker().unpack(ctx, e.dir, mod, e.zip)
	if err == nil && got != string(want) {
		err = fmt.Errorf("the zip has hash %s, its .ziphash says %s", got, want)
	}
	if err != nil {
		if removeDir(e.dir) == nil {
			os.Remove(e.partial)
		}
		return fmt.Errorf("%s: extracting: %w", mod, err)
	}
	if err := os.Remove(e.partial); err != nil {
		return fmt.Errorf("%s: extracting: %w", mod, err)
	}
	if !opts.Writable {
		tree.makeReadOnly()
	}
	return nil
}

// clearTree removes what the go command's unzip removes before it unpacks
// a zip, which the version's lock (held by the caller) makes safe: the
// temporary trees of go commands before 1.16 (<dir>.tmp-<n>), and a tree
// that is not completely extracted. The .partial marker stays until the
// new tree replaces it.
func clearTree(e *entry) error {
	if old, err := filepath.Glob(quoteGlob(e.dir) + ".tmp-*"); err == nil {
		for _, p := range old {
			removeDir(p) // best effort, as the go command does
		}
	}
	if _, err := os.Lstat(e.dir); err == nil {
		return removeDir(e.dir)
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
