package modcache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/dirhash"
)

// What gomodx never removes, even when it is faulty: Verify says so in a
// Fault's Keep, and Repair leaves such an entry as it is, with a
// *KeptError that says why.
//
//   - Anything outside GOMODCACHE once symbolic links are resolved: a
//     directory of the cache that is a link elsewhere, an extracted tree
//     that is a link (the go command never makes one), and the checksum
//     database's latest tree notes, which live in $GOPATH/pkg/sumdb.
//   - An extracted tree that may hold someone's work: one that differs
//     from every hash the module is known by (go.sum's, the .ziphash, the
//     zip's) while -modcacherw is in effect or any of it is writable. The
//     go command leaves trees read-only, so a writable one has been opened
//     for editing, which is how people debug a dependency; a compile error
//     in it is that person's work in progress, not corruption. Only
//     RepairOptions.Edited (gomodx clean --edited, for named modules)
//     removes such a tree.
//
// A tree left half-made by an interrupted extraction (a .partial marker)
// is not kept: the go command itself removes it before it extracts the
// module again.

// KeptError is Repair's answer for a fault it left alone on purpose.
type KeptError struct {
	Fault  Fault
	Reason string // why, as in Fault.Keep
	// Edits says that the reason is a tree's possible edits, which
	// RepairOptions.Edited overrides; otherwise the entry lies outside
	// the module cache, which nothing overrides.
	Edits bool
}

func (e *KeptError) Error() string {
	var b strings.Builder
	if e.Fault.Mod.Path != "" {
		b.WriteString(e.Fault.Mod.String() + ": ")
	}
	fmt.Fprintf(&b, "%s: %s; left as it is: %s (%s)", e.Fault.Kind, e.Fault.Cause, e.Reason, e.Fault.Path)
	return b.String()
}

// keep says why the fix of f must not be done, or "" if it may be; edits
// reports that the reason is a tree that may hold someone's edits.
// modcacherw says -modcacherw is in effect. Verify calls it to fill
// Fault.Keep, and Repair again under the version's lock.
func (c *Cache) keep(f Fault, modcacherw bool) (reason string, edits bool) {
	if f.Kind == SumdbCorrupt {
		if f.Fix == RemoveLatest {
			return "it is the checksum database's latest tree note, outside GOMODCACHE: remove it yourself if that database is to be trusted afresh (go then trusts the next tree it is shown, as on first use)", false
		}
		return c.outside(f.Path), false
	}
	e, err := c.entry(f.Mod)
	if err != nil {
		return "", false // Repair reports the bad module version
	}
	files, tree := e.touches(f)
	for _, file := range files {
		if why := c.outside(file); why != "" {
			return why, false
		}
	}
	if tree == "" {
		return "", false
	}
	if why := c.outside(tree); why != "" {
		return why, false
	}
	if fi, err := os.Lstat(tree); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		target, _ := os.Readlink(tree)
		return fmt.Sprintf("the extracted dir is a symbolic link to %s, which the go command never makes", target), false
	}
	if tree == e.dir {
		if why := e.edits(f.GoSum, modcacherw); why != "" {
			return why, true
		}
	}
	return "", false
}

// touches returns the files and the tree (a directory removed whole, or
// "") that the fix of f writes or removes.
func (e *entry) touches(f Fault) (files []string, tree string) {
	switch f.Fix {
	case RemoveInfo:
		return []string{e.info}, ""
	case RemoveMod:
		return []string{e.gomod}, ""
	case RewriteZiphash:
		return []string{e.hash}, ""
	case RemoveZip:
		return []string{e.hash, e.zip, e.partial}, e.dir
	case RemoveDir, RemoveTree:
		return nil, e.dir
	case RemovePartial:
		return []string{e.partial}, ""
	case RemovePartDir:
		return []string{e.partial}, e.dir
	case RemoveTemp:
		if strings.HasPrefix(filepath.Base(f.Path), filepath.Base(e.dir)+".tmp-") {
			return nil, f.Path // an old go command's extraction directory
		}
		return []string{f.Path}, ""
	}
	return nil, ""
}

// outside says why path, once the symbolic links of its directory are
// resolved, is not inside the module cache (itself resolved), or "" when
// it is. Removing path then removes that entry (a link itself, not what it
// points to) and nothing elsewhere. A path whose directory does not exist
// holds nothing to remove.
func (c *Cache) outside(path string) string {
	root, err := filepath.EvalSymlinks(c.root)
	if err != nil {
		return "" // no cache, nothing in it to remove
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(path))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ""
	case err != nil:
		return "cannot tell where it lies: " + errText(err)
	}
	real := filepath.Join(dir, filepath.Base(path))
	if strings.HasPrefix(real, root+string(filepath.Separator)) {
		return ""
	}
	return fmt.Sprintf("through a symbolic link it lies at %s, outside GOMODCACHE (%s)", real, root)
}

// edits says why the extracted tree may hold someone's work, or "" when
// removing it loses nothing: it is absent or half-made, it is read-only
// with -modcacherw off (as the go command leaves it), or it hashes to one
// of the hashes the module is known by: sum (go.sum's, if any), the
// .ziphash or the zip's own. A tree that cannot be hashed may hold work.
func (e *entry) edits(sum string, modcacherw bool) string {
	fi, err := os.Stat(e.dir)
	if err != nil || !fi.IsDir() || exists(e.partial) {
		return ""
	}
	var why string
	switch {
	case modcacherw:
		why = "the extracted dir may hold someone's edits: it differs from the module, and -modcacherw is in effect"
	case writable(e.dir):
		why = "the extracted dir may hold someone's edits: it differs from the module, and it is writable (the go command leaves it read-only)"
	default:
		return ""
	}
	got, err := dirhash.HashDir(e.dir, e.mod.Path+"@"+e.mod.Version, dirhash.DefaultHash)
	if err != nil {
		return why
	}
	st := e.zipState()
	for _, known := range []string{sum, st.hashString(), st.zipHash} {
		if known != "" && got == known {
			return ""
		}
	}
	return why
}

// hashString is the .ziphash's hash, or "" if it has none that is valid.
func (s *zipState) hashString() string {
	if s.hashValid() {
		return string(s.hash)
	}
	return ""
}

// writable reports whether anything in the tree at dir could have been
// written to: a directory or file with a write permission bit, or an entry
// that is neither (a symbolic link), which no module zip holds. The go
// command extracts files 0444 and, without -modcacherw, makes every
// directory 0555.
func writable(dir string) bool {
	found := false
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if info.Mode()&0o222 != 0 || !(info.Mode().IsDir() || info.Mode().IsRegular()) {
			found = true
			return filepath.SkipAll
		}
		return nil
	})
	return found
}
