package modcache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/lockedfile"
	"github.com/rogpeppe/go-internal/robustio"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
)

// Repaired is one fault Repair was asked to fix, and how that went.
type Repaired struct {
	Fault Fault
	Err   error // nil: fixed, or already gone
}

// Repair fixes each of faults, in order, by doing exactly what its Fix
// says, and returns one Repaired for each. It is the one way gomodx
// changes a faulty cache entry: 'gomodx clean', 'gomodx doctor --fix' and
// the healing of a failed go command all come here. Once ctx is done, the
// faults not yet repaired get ctx's error.
//
// Each repair removes exactly the faulty cache entry the fault describes,
// so that the go command fetches (or re-extracts) it again, and touches
// nothing else:
//
//   - a corrupt zip, or one that disagrees with its .ziphash or go.sum:
//     the .ziphash, the .zip, the extracted directory and any .partial;
//   - a wrong or missing .ziphash next to a zip that matches go.sum (or
//     with no go.sum hash, a missing one): only the .ziphash, rewritten
//     from the zip as the go command would;
//   - a modified extracted directory, or one left by an interrupted
//     extraction: only that directory (and the .partial marker);
//   - a bad .info or .mod: that file;
//   - a temp file: that file;
//   - a corrupt checksum-database file: that file.
//
// It takes the version's .lock, as the go command does before it touches
// a zip or an extracted directory, and then looks at the entry again: a
// fault that another process has fixed meanwhile, or that Verify reported
// from a half-written state, is left alone. Extracted directories are
// read-only (0555), so they are made writable first, as modfetch.RemoveAll
// does. A file that cannot be read for lack of permission is not removed:
// its error says so.
func (c *Cache) Repair(ctx context.Context, faults []Fault) []Repaired {
	out := make([]Repaired, len(faults))
	for i, f := range faults {
		out[i] = Repaired{Fault: f, Err: c.repair(ctx, f)}
	}
	return out
}

// repair fixes one fault; see Repair.
func (c *Cache) repair(ctx context.Context, f Fault) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if f.Kind == SumdbCorrupt {
		return c.repairSumdb(f)
	}
	e, err := c.entry(f.Mod)
	if err != nil {
		return err
	}
	unlock, err := c.lockVersion(ctx, f.Mod)
	if err != nil {
		return err
	}
	defer unlock()

	err = e.repair(f)
	if err != nil {
		return fmt.Errorf("%s: repairing %s: %w", f.Mod, f.Kind, err)
	}
	return nil
}

func (e *entry) repair(f Fault) error {
	switch f.Kind {
	case ZipCorrupt, ZiphashMissing, ZiphashMismatch:
		return e.repairZip(f.GoSum)
	case GoSumMismatch:
		if f.Path == e.gomod {
			return e.repairMod(f.GoSum)
		}
		return e.repairZip(f.GoSum)
	case ModInvalid:
		return e.repairMod(f.GoSum)
	case InfoInvalid:
		if checkInfoFile(e.mod, e.info) == "" {
			return nil
		}
		return removeFile(e.info)
	case Partial:
		if !exists(e.partial) {
			return nil // the extraction finished, or go cleaned up
		}
		// The order of modfetch.unzip's cleanup: the tree, then the marker.
		if err := removeDir(e.dir); err != nil {
			return err
		}
		return removeFile(e.partial)
	case DirModified:
		return e.repairDir(f.GoSum)
	case TempFile:
		return e.removeTemp(f.Path)
	}
	return fmt.Errorf("unknown fault kind %q", f.Kind)
}

// repairZip acts on what zipVerdict finds now, under the lock.
func (e *entry) repairZip(sum string) error {
	st := e.zipState()
	v := zipVerdict(st, sum, st.dirExists && !exists(e.partial))
	if v.kind == "" {
		return nil // fixed meanwhile
	}
	switch v.action {
	case RewriteZiphash:
		return writeZiphash(e.hash, st.zipHash)
	case RemoveTree:
		return removeDir(e.dir)
	case ReportOnly:
		return errors.New(v.cause + ": not removed; check the owner and permissions of the module cache")
	}
	// The .ziphash goes first: without it the go command trusts neither
	// the zip (it re-hashes it) nor the extracted tree (it re-extracts),
	// so a crash part way leaves a state go repairs by itself.
	for _, file := range []string{e.hash, e.zip} {
		if err := removeFile(file); err != nil {
			return err
		}
	}
	if err := removeDir(e.dir); err != nil {
		return err
	}
	return removeFile(e.partial)
}

// repairMod removes the .mod if it is still faulty, and rewrites the
// version list as the go command does after changing a .mod.
func (e *entry) repairMod(sum string) error {
	if kind, _ := checkModFile(e.mod, e.gomod, sum); kind == "" {
		return nil
	}
	if err := removeFile(e.gomod); err != nil {
		return err
	}
	_ = rewriteVersionList(e.vdir) // best effort, as in PutMod
	return nil
}

// repairDir removes the extracted tree if it still does not hash to the
// module's hash (go.sum's, sum, if known); the go command extracts it
// again from the zip.
func (e *entry) repairDir(sum string) error {
	fi, err := os.Stat(e.dir)
	if err != nil || !fi.IsDir() || exists(e.partial) {
		return nil // gone, or being (re-)extracted: go's business
	}
	if ref := e.zipState().dirRef(sum); ref != "" {
		got, err := dirhash.HashDir(e.dir, e.mod.Path+"@"+e.mod.Version, dirhash.DefaultHash)
		if err == nil && got == ref {
			return nil
		}
	}
	return removeDir(e.dir)
}

// removeTemp removes the temp file or directory at path, which must be
// one of the version's (as tempFiles names them).
func (e *entry) removeTemp(path string) error {
	path = filepath.Clean(path)
	for _, t := range e.tempFiles(time.Now()) {
		if t != path {
			continue
		}
		if fi, err := os.Lstat(t); err == nil && fi.IsDir() {
			return removeDir(t)
		}
		return removeFile(t)
	}
	if exists(path) && !strings.HasPrefix(path, e.vdir+string(filepath.Separator)) && !strings.HasPrefix(path, e.dir+".tmp-") {
		return fmt.Errorf("%s is not a temp file of this module version", path)
	}
	return nil // gone, or too fresh to be a leftover
}

// repairSumdb removes a checksum-database file that is still corrupt.
// Only files of the database cache, and latest tree notes, qualify.
func (c *Cache) repairSumdb(f Fault) error {
	path := filepath.Clean(f.Path)
	root := c.sumdbRoot() + string(filepath.Separator)
	verifiers := sumdbVerifiers(nil)
	var cause string
	switch {
	case filepath.Base(path) == "latest" && filepath.Base(filepath.Dir(filepath.Dir(path))) == "sumdb":
		cause = checkLatest(path, verifiers)
	case strings.HasPrefix(path, root):
		rel := strings.TrimPrefix(path, root)
		name, rest, _ := strings.Cut(rel, string(filepath.Separator))
		dir := filepath.Join(c.sumdbRoot(), name)
		switch {
		case strings.HasPrefix(rest, "lookup"+string(filepath.Separator)):
			cause = checkLookup(path, f.Mod, verifiers)
		case strings.HasPrefix(rest, "tile"+string(filepath.Separator)):
			cause = checkTile(dir, path)
		default:
			return fmt.Errorf("%s is not a checksum database cache file", path)
		}
	default:
		return fmt.Errorf("%s is not a checksum database file", path)
	}
	// A signature Verify checked with a key from VerifyOptions cannot be
	// checked again here; the file is still what Verify saw if it is
	// still well formed, and go fetches it again anyway.
	if cause == "" && !strings.HasPrefix(f.Cause, causeBadSignature) {
		return nil
	}
	if err := removeFile(path); err != nil {
		return fmt.Errorf("repairing %s: %w", f.Kind, err)
	}
	return nil
}

// lockVersion takes mod's .lock, the file lock the go command holds while
// it downloads or extracts mod (modfetch.lockVersion). It gives up when ctx
// ends; the lock is then released as soon as it is granted.
func (c *Cache) lockVersion(ctx context.Context, mod module.Version) (unlock func(), err error) {
	path, err := c.Path(mod, "lock")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
		return nil, err
	}
	type result struct {
		unlock func()
		err    error
	}
	ch := make(chan result, 1)
	go func() {
		u, err := lockedfile.MutexAt(path).Lock()
		ch <- result{u, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("%s: locking module cache: %w", mod, r.err)
		}
		return r.unlock, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.err == nil {
				r.unlock()
			}
		}()
		return nil, ctx.Err()
	}
}

// removeFile removes file; one that is already gone is fine.
func removeFile(file string) error {
	if err := os.Remove(file); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// removeDir removes an extracted tree as modfetch.RemoveAll does: its
// directories are made writable first (the go command leaves them 0555).
func removeDir(dir string) error {
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(path, 0o777)
		}
		return nil
	})
	if err := robustio.RemoveAll(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
