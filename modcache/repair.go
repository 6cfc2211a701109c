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
	// Done says that this Repair call removed (or rewrote) the faulty
	// entry: for this fault, or for an earlier one of the same call whose
	// fix took it along (a modified tree goes with its corrupt zip).
	// Done is false with a nil Err when there was nothing left to do by
	// the time Repair held the lock: another process (a go command
	// finishing its download) fixed or removed the entry meanwhile.
	Done bool
	Err  error // why the fault is still there; a *KeptError when on purpose
}

// RepairOptions say what Repair may remove.
type RepairOptions struct {
	// ModCacheRW says -modcacherw is in effect (a flag, or GOFLAGS): an
	// extracted tree may then have been edited whatever its permissions.
	ModCacheRW bool
	// Edited lets Repair remove extracted trees that may hold someone's
	// edits. The caller must have been told so explicitly, for the
	// modules named ('gomodx clean --edited M@V').
	Edited bool
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
//   - a corrupt checksum-database file of the module cache: that file.
//
// It never removes what lies outside GOMODCACHE once symbolic links are
// resolved, nor, unless opts.Edited, an extracted tree that may hold
// someone's edits (see [KeptError]): those faults get a *KeptError, and
// nothing of their entry is touched.
//
// It takes the version's .lock, as the go command does before it touches
// a zip or an extracted directory, and then looks at the entry again: a
// fault that another process has fixed meanwhile, or that Verify reported
// from a half-written state, is left alone (Done is false). Extracted
// directories are read-only (0555), so they are made writable first, as
// modfetch.RemoveAll does. A file that cannot be read for lack of
// permission is not removed: its error says so.
func (c *Cache) Repair(ctx context.Context, faults []Fault, opts RepairOptions) []Repaired {
	out := make([]Repaired, len(faults))
	rm := &removals{}
	for i, f := range faults {
		done, err := c.repair(ctx, f, opts, rm)
		if !done && err == nil && rm.covers(filepath.Clean(f.Path)) {
			done = true // an earlier fault's repair removed it
		}
		out[i] = Repaired{Fault: f, Done: done, Err: err}
	}
	return out
}

// repair fixes one fault; see Repair.
func (c *Cache) repair(ctx context.Context, f Fault, opts RepairOptions, rm *removals) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if f.Kind == SumdbCorrupt {
		if why, _ := c.keep(f, opts.ModCacheRW); why != "" {
			return false, &KeptError{Fault: f, Reason: why}
		}
		return c.repairSumdb(f, rm)
	}
	e, err := c.entry(f.Mod)
	if err != nil {
		return false, err
	}
	unlock, err := c.lockVersion(ctx, f.Mod)
	if err != nil {
		return false, err
	}
	defer unlock()

	if why, edits := c.keep(f, opts.ModCacheRW); why != "" && !(edits && opts.Edited) {
		return false, &KeptError{Fault: f, Reason: why, Edits: edits}
	}
	done, err := e.repair(f, rm)
	if err != nil {
		return done, fmt.Errorf("%s: repairing %s: %w", f.Mod, f.Kind, err)
	}
	return done, nil
}

func (e *entry) repair(f Fault, rm *removals) (bool, error) {
	switch f.Kind {
	case ZipCorrupt, ZiphashMissing, ZiphashMismatch:
		return e.repairZip(f.GoSum, rm)
	case GoSumMismatch:
		if f.Path == e.gomod {
			return e.repairMod(f.GoSum, rm)
		}
		return e.repairZip(f.GoSum, rm)
	case ModInvalid:
		return e.repairMod(f.GoSum, rm)
	case InfoInvalid:
		if checkInfoFile(e.mod, e.info) == "" {
			return false, nil
		}
		return rm.file(e.info)
	case Partial:
		if !exists(e.partial) {
			return false, nil // the extraction finished, or go cleaned up
		}
		// The order of modfetch.unzip's cleanup: the tree, then the marker.
		dirDone, err := rm.tree(e.dir)
		if err != nil {
			return dirDone, err
		}
		done, err := rm.file(e.partial)
		return dirDone || done, err
	case DirModified:
		return e.repairDir(f.GoSum, rm)
	case TempFile:
		return e.removeTemp(f.Path, rm)
	}
	return false, fmt.Errorf("unknown fault kind %q", f.Kind)
}

// repairZip acts on what zipVerdict finds now, under the lock.
func (e *entry) repairZip(sum string, rm *removals) (bool, error) {
	st := e.zipState()
	v := zipVerdict(st, sum, st.dirExists && !exists(e.partial))
	if v.kind == "" {
		return false, nil // fixed meanwhile
	}
	switch v.action {
	case RewriteZiphash:
		return true, writeZiphash(e.hash, st.zipHash)
	case RemoveTree:
		return rm.tree(e.dir)
	case ReportOnly:
		return false, errors.New(v.cause + ": not removed; check the owner and permissions of the module cache")
	}
	// The .ziphash goes first: without it the go command trusts neither
	// the zip (it re-hashes it) nor the extracted tree (it re-extracts),
	// so a crash part way leaves a state go repairs by itself.
	done := false
	for _, file := range []string{e.hash, e.zip} {
		removed, err := rm.file(file)
		done = done || removed
		if err != nil {
			return done, err
		}
	}
	removed, err := rm.tree(e.dir)
	done = done || removed
	if err != nil {
		return done, err
	}
	removed, err = rm.file(e.partial)
	return done || removed, err
}

// repairMod removes the .mod if it is still faulty, and rewrites the
// version list as the go command does after changing a .mod.
func (e *entry) repairMod(sum string, rm *removals) (bool, error) {
	if kind, _ := checkModFile(e.mod, e.gomod, sum); kind == "" {
		return false, nil
	}
	done, err := rm.file(e.gomod)
	if err != nil {
		return false, err
	}
	_ = rewriteVersionList(e.vdir) // best effort, as in PutMod
	return done, nil
}

// repairDir removes the extracted tree if it still does not hash to the
// module's hash (go.sum's, sum, if known); the go command extracts it
// again from the zip.
func (e *entry) repairDir(sum string, rm *removals) (bool, error) {
	fi, err := os.Stat(e.dir)
	if err != nil || !fi.IsDir() || exists(e.partial) {
		return false, nil // gone, or being (re-)extracted: go's business
	}
	if ref := e.zipState().dirRef(sum); ref != "" {
		got, err := dirhash.HashDir(e.dir, e.mod.Path+"@"+e.mod.Version, dirhash.DefaultHash)
		if err == nil && got == ref {
			return false, nil
		}
	}
	return rm.tree(e.dir)
}

// removeTemp removes the temp file or directory at path, which must be
// one of the version's (as tempFiles names them).
func (e *entry) removeTemp(path string, rm *removals) (bool, error) {
	path = filepath.Clean(path)
	for _, t := range e.tempFiles(time.Now()) {
		if t != path {
			continue
		}
		if fi, err := os.Lstat(t); err == nil && fi.IsDir() {
			return rm.tree(t)
		}
		return rm.file(t)
	}
	if exists(path) && !strings.HasPrefix(path, e.vdir+string(filepath.Separator)) && !strings.HasPrefix(path, e.dir+".tmp-") {
		return false, fmt.Errorf("%s is not a temp file of this module version", path)
	}
	return false, nil // gone (renamed into place by its writer), or too fresh to be a leftover
}

// repairSumdb removes a checksum-database file that is still corrupt.
// Only files of the database cache in GOMODCACHE qualify: a latest tree
// note lives outside it, and Repair keeps it (see keep).
func (c *Cache) repairSumdb(f Fault, rm *removals) (bool, error) {
	path := filepath.Clean(f.Path)
	root := c.sumdbRoot() + string(filepath.Separator)
	verifiers := sumdbVerifiers(nil)
	var cause string
	switch {
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
			return false, fmt.Errorf("%s is not a checksum database cache file", path)
		}
	default:
		return false, fmt.Errorf("%s is not a checksum database cache file in GOMODCACHE", path)
	}
	// A signature Verify checked with a key from VerifyOptions cannot be
	// checked again here; the file is still what Verify saw if it is
	// still well formed, and go fetches it again anyway.
	if cause == "" && !strings.HasPrefix(f.Cause, causeBadSignature) {
		return false, nil
	}
	done, err := rm.file(path)
	if err != nil {
		return false, fmt.Errorf("repairing %s: %w", f.Kind, err)
	}
	return done, nil
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

// removals removes the files and trees of one Repair call, and remembers
// them: a fault whose file an earlier repair of the same call removed
// (a modified tree that went with its corrupt zip) was fixed by that call.
type removals struct {
	paths []string
}

// file removes file and reports whether it did; one that is already gone
// is fine.
func (rm *removals) file(file string) (bool, error) {
	if err := os.Remove(file); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	rm.paths = append(rm.paths, file)
	return true, nil
}

// tree is removeDir, reporting whether there was a tree to remove.
func (rm *removals) tree(dir string) (bool, error) {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err := removeDir(dir); err != nil {
		return false, err
	}
	rm.paths = append(rm.paths, dir)
	return true, nil
}

// covers reports whether path, or a tree holding it, was removed.
func (rm *removals) covers(path string) bool {
	for _, p := range rm.paths {
		if path == p || strings.HasPrefix(path, p+string(filepath.Separator)) {
			return true
		}
	}
	return false
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
