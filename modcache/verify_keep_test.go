package modcache

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/lockedfile"
)

// edit changes a.go in the extracted tree of e the way a person debugging
// a dependency does: the tree is made writable and the file rewritten.
func edit(t *testing.T, e *entry) {
	t.Helper()
	if err := os.Chmod(e.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	overwrite(t, filepath.Join(e.dir, "a.go"), "package a\n\nfunc Name() string { return undefinedName } // debugging\n")
}

// keptBy checks that Repair left fault fl alone with a *KeptError of the
// given sort, and changed nothing in the cache.
func keptBy(t *testing.T, c *Cache, fl Fault, opts RepairOptions, edits bool) {
	t.Helper()
	before := snapshot(t, c.Root())
	r := c.Repair(t.Context(), []Fault{fl}, opts)[0]
	var kept *KeptError
	if r.Done || !errors.As(r.Err, &kept) || kept.Edits != edits {
		t.Fatalf("Repair(%v, %+v) = done %v, %v; want it kept (edits %v)", fl, opts, r.Done, r.Err, edits)
	}
	if got := changed(before, snapshot(t, c.Root())); len(got) != 0 {
		t.Errorf("Repair of a kept fault changed %q", got)
	}
}

// TestRepairKeepsEditedTrees: an extracted tree that may hold someone's
// work (writable, or -modcacherw in effect, and different from every hash
// the module is known by) is reported and never removed, unless Edited
// says the user named it; a compile error in it is no reason either.
func TestRepairKeepsEditedTrees(t *testing.T) {
	t.Run("writable tree with an edit", func(t *testing.T) {
		f := newFixture(t)
		e := f.entry(t, 0)
		edit(t, e)
		faults, err := f.c.Verify(t.Context(), VerifyOptions{Mods: f.versions(), Sums: f.sums()})
		if err != nil || len(faults) != 1 || faults[0].Kind != DirModified {
			t.Fatalf("Verify = %v, %v; want one dir-modified", faults, err)
		}
		if !strings.Contains(faults[0].Keep, "writable") || !faults[0].KeepEdits {
			t.Errorf("Keep = %q (edits %v), want it to say the tree is writable", faults[0].Keep, faults[0].KeepEdits)
		}
		if named, _ := f.c.Verify(t.Context(), VerifyOptions{Mods: f.versions(), Sums: f.sums(), Repair: RepairOptions{Edited: true}}); len(named) != 1 || named[0].Keep != "" {
			t.Errorf("Verify for Repair with Edited = %v, want the fault without Keep", named)
		}
		keptBy(t, f.c, faults[0], RepairOptions{}, true)
		// Stale or hand-made faults get the same answer: Repair decides.
		fl := faults[0]
		fl.Keep = ""
		keptBy(t, f.c, fl, RepairOptions{}, true)
		keptBy(t, f.c, Fault{Mod: e.mod, Kind: DirModified, Path: e.dir, Fix: RemoveDir}, RepairOptions{}, true)

		// Named explicitly, it goes; go extracts the module again.
		r := f.c.Repair(t.Context(), faults, RepairOptions{Edited: true})[0]
		if !r.Done || r.Err != nil || exists(e.dir) {
			t.Fatalf("Repair with Edited = done %v, %v; tree exists %v", r.Done, r.Err, exists(e.dir))
		}
		if !testing.Short() {
			f.goWorks(t)
		}
	})

	t.Run("read-only tree under -modcacherw", func(t *testing.T) {
		f := newFixture(t)
		e := f.entry(t, 0)
		edit(t, e)
		os.Chmod(filepath.Join(e.dir, "a.go"), 0o444)
		os.Chmod(e.dir, 0o555)
		faults, err := f.c.Verify(t.Context(), VerifyOptions{Mods: f.versions(), Sums: f.sums(), Repair: RepairOptions{ModCacheRW: true}})
		if err != nil || len(faults) != 1 || !strings.Contains(faults[0].Keep, "-modcacherw") {
			t.Fatalf("Verify = %v, %v; want one dir-modified kept for -modcacherw", faults, err)
		}
		keptBy(t, f.c, faults[0], RepairOptions{ModCacheRW: true}, true)
		// Without -modcacherw a read-only tree is as the go command left
		// it: a difference is damage, and the tree goes.
		faults, _ = f.c.Verify(t.Context(), VerifyOptions{Mods: f.versions(), Sums: f.sums()})
		if len(faults) != 1 || faults[0].Keep != "" {
			t.Fatalf("Verify = %v, want one dir-modified to remove", faults)
		}
		if r := f.c.Repair(t.Context(), faults, RepairOptions{})[0]; !r.Done || r.Err != nil || exists(e.dir) {
			t.Fatalf("Repair = done %v, %v; tree exists %v", r.Done, r.Err, exists(e.dir))
		}
	})

	t.Run("edited tree next to a corrupt zip", func(t *testing.T) {
		// Removing the zip removes the tree (and without the .ziphash go
		// would remove it itself): the whole entry is kept.
		f := newFixture(t)
		e := f.entry(t, 0)
		edit(t, e)
		overwrite(t, e.zip, "<html>502</html>")
		faults, err := f.c.Verify(t.Context(), VerifyOptions{Mods: f.versions(), Sums: f.sums()})
		if err != nil || len(faults) != 2 {
			t.Fatalf("Verify = %v, %v; want zip-corrupt and dir-modified", faults, err)
		}
		for _, fl := range faults {
			if fl.Keep == "" {
				t.Errorf("%v: no Keep", fl)
			}
			keptBy(t, f.c, fl, RepairOptions{}, true)
		}
	})

	t.Run("writable tree as extracted", func(t *testing.T) {
		// -modcacherw trees hold nobody's work while they hash to the
		// module: a corrupt zip takes its tree along.
		f := newFixture(t)
		e := f.entry(t, 0)
		os.Chmod(e.dir, 0o755)
		overwrite(t, e.zip, "<html>502</html>")
		faults, err := f.c.Verify(t.Context(), VerifyOptions{Mods: f.versions(), Sums: f.sums(), Repair: RepairOptions{ModCacheRW: true}})
		if err != nil || len(faults) != 1 || faults[0].Kind != ZipCorrupt || faults[0].Keep != "" {
			t.Fatalf("Verify = %v, %v; want one zip-corrupt to remove", faults, err)
		}
		r := f.c.Repair(t.Context(), faults, RepairOptions{ModCacheRW: true})[0]
		if !r.Done || r.Err != nil || exists(e.dir) || exists(e.zip) {
			t.Fatalf("Repair = done %v, %v", r.Done, r.Err)
		}
	})

	t.Run("writable tree extracted from a forged zip", func(t *testing.T) {
		// The tree is the forgery's content, not anyone's edit.
		f := newFixture(t)
		e := f.entry(t, 0)
		files := map[string]string{"evil.go": "package a\n"}
		for k, v := range f.mods[0].files {
			files[k] = v
		}
		forged := makeZip(t, e.mod, files)
		overwrite(t, e.zip, string(forged))
		overwrite(t, e.hash, zipSum(t, forged))
		removeDir(e.dir)
		f.extract(t, e.mod)
		os.Chmod(e.dir, 0o755)
		faults, err := f.c.Verify(t.Context(), VerifyOptions{Mods: f.versions(), Sums: f.sums(), Repair: RepairOptions{ModCacheRW: true}})
		if err != nil || len(faults) == 0 {
			t.Fatalf("Verify = %v, %v", faults, err)
		}
		for _, r := range f.c.Repair(t.Context(), faults, RepairOptions{ModCacheRW: true}) {
			if r.Err != nil {
				t.Errorf("Repair(%v): %v", r.Fault, r.Err)
			}
		}
		if exists(e.dir) || exists(e.zip) {
			t.Error("the forged zip or its tree is still there")
		}
	})
}

// TestRepairStaysInsideCache: nothing outside GOMODCACHE, once symbolic
// links are resolved, is removed: not through a linked directory of the
// cache, not a tree that is a link, not the latest tree notes.
func TestRepairStaysInsideCache(t *testing.T) {
	t.Run("linked module directory", func(t *testing.T) {
		f := newFixture(t)
		e := f.entry(t, 0)
		// cache/download/example.com/a is a link to a directory elsewhere
		// whose zip is garbage.
		elsewhere := filepath.Join(t.TempDir(), "a")
		if err := os.Rename(filepath.Dir(e.vdir), elsewhere); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(elsewhere, filepath.Dir(e.vdir)); err != nil {
			t.Fatal(err)
		}
		outsideZip := filepath.Join(elsewhere, "@v", "v1.0.0.zip")
		overwrite(t, outsideZip, "<html>not a zip</html>")
		faults, err := f.c.Verify(t.Context(), VerifyOptions{Mods: f.versions(), Sums: f.sums()})
		if err != nil || len(faults) != 1 || faults[0].Kind != ZipCorrupt {
			t.Fatalf("Verify = %v, %v; want one zip-corrupt", faults, err)
		}
		real, _ := filepath.EvalSymlinks(elsewhere)
		if !strings.Contains(faults[0].Keep, "outside GOMODCACHE") || !strings.Contains(faults[0].Keep, real) || faults[0].KeepEdits {
			t.Errorf("Keep = %q, want it to say where the file lies", faults[0].Keep)
		}
		for _, opts := range []RepairOptions{{}, {Edited: true}, {ModCacheRW: true}} {
			keptBy(t, f.c, faults[0], opts, false)
		}
		if !exists(outsideZip) || !exists(filepath.Join(elsewhere, "@v", "v1.0.0.ziphash")) {
			t.Error("Repair removed files outside the module cache")
		}
	})

	t.Run("tree that is a link", func(t *testing.T) {
		f := newFixture(t)
		e := f.entry(t, 0)
		// Someone's checkout, linked in place of the extracted tree.
		src := t.TempDir()
		writeFiles(t, src, map[string]string{"go.mod": f.mods[0].gomod, "a.go": "package a\n\n// mine\n"})
		removeDir(e.dir)
		if err := os.Symlink(src, e.dir); err != nil {
			t.Fatal(err)
		}
		faults, err := f.c.Verify(t.Context(), VerifyOptions{Mods: f.versions(), Sums: f.sums()})
		if err != nil || len(faults) != 1 || faults[0].Kind != DirModified || !strings.Contains(faults[0].Keep, "symbolic link") {
			t.Fatalf("Verify = %v, %v; want one dir-modified kept as a link", faults, err)
		}
		keptBy(t, f.c, faults[0], RepairOptions{Edited: true}, false)
		if !exists(filepath.Join(src, "a.go")) {
			t.Error("the linked checkout lost a file")
		}
	})

	t.Run("linked checksum database cache", func(t *testing.T) {
		c := openCache(t)
		elsewhere := t.TempDir()
		lookup := filepath.Join(elsewhere, "sum.golang.org", "lookup", "example.com", "a@v1.0.0")
		writeFiles(t, filepath.Dir(lookup), map[string]string{filepath.Base(lookup): "garbage"})
		if err := os.MkdirAll(filepath.Dir(c.sumdbRoot()), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(elsewhere, c.sumdbRoot()); err != nil {
			t.Fatal(err)
		}
		faults, err := c.Verify(t.Context(), VerifyOptions{All: true})
		if err != nil || len(faults) != 1 || faults[0].Keep == "" {
			t.Fatalf("Verify = %v, %v; want one sumdb-corrupt kept", faults, err)
		}
		keptBy(t, c, faults[0], RepairOptions{}, false)
		if !exists(lookup) {
			t.Error("Repair removed a file outside the module cache")
		}
	})

	t.Run("cache root that is a link", func(t *testing.T) {
		// GOMODCACHE itself may be a link (to a bigger disk): what lies
		// under it is inside, and is repaired as usual.
		f := newFixture(t)
		link := filepath.Join(t.TempDir(), "modcache")
		if err := os.Symlink(f.c.Root(), link); err != nil {
			t.Fatal(err)
		}
		c, err := Open(link)
		if err != nil {
			t.Fatal(err)
		}
		e, _ := c.entry(f.mods[0].mod)
		overwrite(t, e.zip, "<html>502</html>")
		faults, err := c.Verify(t.Context(), VerifyOptions{Mods: f.versions(), Sums: f.sums()})
		if err != nil || len(faults) != 1 || faults[0].Keep != "" {
			t.Fatalf("Verify = %v, %v; want one zip-corrupt to remove", faults, err)
		}
		if r := c.Repair(t.Context(), faults, RepairOptions{})[0]; !r.Done || r.Err != nil || exists(e.zip) {
			t.Fatalf("Repair = done %v, %v", r.Done, r.Err)
		}
	})
}

// TestRepairReportsOnlyRemovals: a temp file that its writer renamed into
// place while Repair waited for the lock is not "removed", and the file it
// became is left alone.
func TestRepairReportsOnlyRemovals(t *testing.T) {
	f := newFixture(t)
	c := f.c
	e := f.entry(t, 1)
	tmp := e.zip + "4242.tmp"
	data, err := os.ReadFile(e.zip)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(e.zip)
	overwrite(t, tmp, string(data))
	faults, err := c.Verify(t.Context(), VerifyOptions{Mods: f.versions()[1:2]})
	if err != nil || len(faults) != 1 || faults[0].Kind != TempFile {
		t.Fatalf("Verify = %v, %v; want the temp file", faults, err)
	}

	// A go command holds the version's lock while it writes the zip.
	lock, _ := c.Path(e.mod, "lock")
	unlock, err := lockedfile.MutexAt(lock).Lock()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan Repaired)
	go func() { done <- c.Repair(t.Context(), faults, RepairOptions{})[0] }()
	// It commits: the temp file becomes the zip, then it lets go.
	if err := os.Rename(tmp, e.zip); err != nil {
		t.Fatal(err)
	}
	unlock()
	r := <-done
	if r.Done || r.Err != nil {
		t.Errorf("Repair = done %v, %v; want nothing done", r.Done, r.Err)
	}
	if !exists(e.zip) {
		t.Error("the committed zip is gone")
	}

	// A leftover that is still there is removed, and said to be.
	overwrite(t, tmp, "half a zip")
	faults, _ = c.Verify(t.Context(), VerifyOptions{Mods: f.versions()[1:2]})
	if r := c.Repair(t.Context(), faults, RepairOptions{})[0]; !r.Done || r.Err != nil || exists(tmp) {
		t.Errorf("Repair = done %v, %v; want the temp file removed", r.Done, r.Err)
	}
}

// TestRepairCountsWhatItTookAlong: a tree removed with its forged zip was
// removed by the same Repair call that then meets its own fault: Done.
func TestRepairCountsWhatItTookAlong(t *testing.T) {
	f := newFixture(t)
	e := f.entry(t, 0)
	files := map[string]string{"evil.go": "package a\n"}
	for k, v := range f.mods[0].files {
		files[k] = v
	}
	overwrite(t, e.zip, string(makeZip(t, e.mod, files)))
	removeDir(e.dir)
	f.extract(t, e.mod) // from the forgery, read-only
	faults, err := f.c.Verify(t.Context(), VerifyOptions{Mods: f.versions(), Sums: f.sums()})
	if err != nil || len(faults) != 2 {
		t.Fatalf("Verify = %v, %v; want the zip's fault and the tree's", faults, err)
	}
	for _, r := range f.c.Repair(t.Context(), faults, RepairOptions{}) {
		if !r.Done || r.Err != nil {
			t.Errorf("Repair(%v) = done %v, %v; want done", r.Fault, r.Done, r.Err)
		}
	}
	if exists(e.dir) || exists(e.zip) {
		t.Error("the forgery is still there")
	}
}
