package modcache

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/lockedfile"
	"golang.org/x/mod/module"
)

// corruption is one way a cache entry goes bad, what Verify must say about
// it and what Repair must change.
type corruption struct {
	name string
	mod  int  // which of the fixture's modules is corrupted
	sums bool // verify against go.sum; without, only against .ziphash
	// corrupt damages the entry e of module mod.
	corrupt func(t *testing.T, f *fixture, e *entry)
	want    []FaultKind // faults, in Verify's order
	// wantPaths are the faults' paths, relative to the cache root.
	wantPaths func(e *entry) []string
	// repaired are the paths Repair changes (a removed directory stands
	// for its contents), relative to the cache root. Nothing else may
	// change.
	repaired func(e *entry) []string
	// goBreaks says the real go command fails on the damaged cache (an
	// offline build or 'go mod verify'), so that the repair matters.
	goBreaks bool
	// refetch says the repair removed something go must download again;
	// otherwise go works offline straight after Repair.
	refetch bool
}

func zipEntry(e *entry) []string { return []string{e.zip, e.hash, e.dir} }

var corruptions = []corruption{
	{
		name: "garbage over the zip",
		sums: true,
		corrupt: func(t *testing.T, f *fixture, e *entry) {
			overwrite(t, e.zip, "<html>502 Bad Gateway</html>")
			removeDir(e.dir) // so that go needs the zip, and fails on it
		},
		want:      []FaultKind{ZipCorrupt},
		wantPaths: func(e *entry) []string { return []string{e.zip} },
		repaired:  func(e *entry) []string { return []string{e.zip, e.hash} },
		goBreaks:  true,
		refetch:   true,
	},
	{
		name: "truncated zip",
		mod:  2, // example.com/Upper: escaped paths
		sums: true,
		corrupt: func(t *testing.T, f *fixture, e *entry) {
			data, _ := os.ReadFile(e.zip)
			overwrite(t, e.zip, string(data[:len(data)/2]))
		},
		want:      []FaultKind{ZipCorrupt},
		wantPaths: func(e *entry) []string { return []string{e.zip} },
		repaired:  zipEntry,
		goBreaks:  true, // go mod verify
		refetch:   true,
	},
	{
		name: "forged zip next to the original ziphash",
		sums: true,
		corrupt: func(t *testing.T, f *fixture, e *entry) {
			files := map[string]string{"evil.go": "package a\n\nfunc init() { println(\"pwned\") }\n"}
			for k, v := range f.mods[0].files {
				files[k] = v
			}
			overwrite(t, e.zip, string(makeZip(t, e.mod, files)))
			removeDir(e.dir) // go extracts the forgery and builds it
		},
		want:      []FaultKind{ZiphashMismatch},
		wantPaths: func(e *entry) []string { return []string{e.zip} },
		repaired:  func(e *entry) []string { return []string{e.zip, e.hash} },
		goBreaks:  true, // only go mod verify notices; the build succeeds
		refetch:   true,
	},
	{
		name: "forged zip, no go.sum",
		sums: false,
		corrupt: func(t *testing.T, f *fixture, e *entry) {
			overwrite(t, e.zip, string(makeZip(t, e.mod, map[string]string{"go.mod": "module example.com/a\n", "a.go": "package a\n"})))
		},
		want:      []FaultKind{ZiphashMismatch},
		wantPaths: func(e *entry) []string { return []string{e.zip} },
		repaired:  zipEntry,
		goBreaks:  true,
		refetch:   true,
	},
	{
		name: "wrong ziphash next to a good zip",
		sums: true,
		corrupt: func(t *testing.T, f *fixture, e *entry) {
			overwrite(t, e.hash, f.mods[1].zipSum)
		},
		want:      []FaultKind{ZiphashMismatch},
		wantPaths: func(e *entry) []string { return []string{e.hash} },
		repaired:  func(e *entry) []string { return []string{e.hash} },
		goBreaks:  true, // checksum mismatch against go.sum
	},
	{
		name: "missing ziphash",
		sums: true,
		corrupt: func(t *testing.T, f *fixture, e *entry) {
			os.Remove(e.hash)
		},
		want:      []FaultKind{ZiphashMissing},
		wantPaths: func(e *entry) []string { return []string{e.hash} },
		repaired:  func(e *entry) []string { return []string{e.hash} },
		goBreaks:  true, // go mod verify: missing ziphash
	},
	{
		name: "torn ziphash",
		sums: false,
		corrupt: func(t *testing.T, f *fixture, e *entry) {
			overwrite(t, e.hash, strings.Repeat("\x00", 47))
		},
		want:      []FaultKind{ZiphashMismatch},
		wantPaths: func(e *entry) []string { return []string{e.hash} },
		repaired:  func(e *entry) []string { return []string{e.hash} },
		goBreaks:  true,
	},
	{
		name: "zip and ziphash agree, go.sum does not",
		sums: true,
		corrupt: func(t *testing.T, f *fixture, e *entry) {
			other := makeZip(t, e.mod, map[string]string{"go.mod": f.mods[0].gomod, "a.go": "package a\n\nfunc Name() string { return \"retagged\" }\n"})
			overwrite(t, e.zip, string(other))
			overwrite(t, e.hash, zipSum(t, other))
			removeDir(e.dir)
		},
		want:      []FaultKind{GoSumMismatch},
		wantPaths: func(e *entry) []string { return []string{e.zip} },
		repaired:  func(e *entry) []string { return []string{e.zip, e.hash} },
		goBreaks:  true,
		refetch:   true,
	},
	{
		name: "go.mod changed",
		sums: true,
		corrupt: func(t *testing.T, f *fixture, e *entry) {
			overwrite(t, e.gomod, f.mods[0].gomod+"\nrequire example.com/evil v1.0.0\n")
		},
		want:      []FaultKind{GoSumMismatch},
		wantPaths: func(e *entry) []string { return []string{e.gomod} },
		repaired:  func(e *entry) []string { return []string{e.gomod, filepath.Join(e.vdir, "list")} },
		goBreaks:  true,
		refetch:   true,
	},
	{
		name: "empty go.mod",
		sums: true,
		corrupt: func(t *testing.T, f *fixture, e *entry) {
			overwrite(t, e.gomod, "")
		},
		want:      []FaultKind{ModInvalid},
		wantPaths: func(e *entry) []string { return []string{e.gomod} },
		repaired:  func(e *entry) []string { return []string{e.gomod, filepath.Join(e.vdir, "list")} },
		goBreaks:  true,
		refetch:   true,
	},
	{
		name: "html for a go.mod, no go.sum",
		sums: false,
		corrupt: func(t *testing.T, f *fixture, e *entry) {
			overwrite(t, e.gomod, "<html>404 page not found</html>\n")
		},
		want:      []FaultKind{ModInvalid},
		wantPaths: func(e *entry) []string { return []string{e.gomod} },
		repaired:  func(e *entry) []string { return []string{e.gomod, filepath.Join(e.vdir, "list")} },
		goBreaks:  true,
		refetch:   true,
	},
	{
		name: "info not json",
		sums: true,
		corrupt: func(t *testing.T, f *fixture, e *entry) {
			overwrite(t, e.info, `{"Version":"v1.0.0","Ti`)
		},
		want:      []FaultKind{InfoInvalid},
		wantPaths: func(e *entry) []string { return []string{e.info} },
		repaired:  func(e *entry) []string { return []string{e.info} },
		refetch:   true,
	},
	{
		name: "info for another version",
		sums: true,
		corrupt: func(t *testing.T, f *fixture, e *entry) {
			overwrite(t, e.info, `{"Version":"v1.0.1","Time":"2024-01-23T18:54:04Z"}`)
		},
		want:      []FaultKind{InfoInvalid},
		wantPaths: func(e *entry) []string { return []string{e.info} },
		repaired:  func(e *entry) []string { return []string{e.info} },
		refetch:   true,
	},
	{
		name: "leftover temp files",
		sums: true,
		corrupt: func(t *testing.T, f *fixture, e *entry) {
			overwrite(t, e.zip+"123456.tmp", "half a zip")
			overwrite(t, e.gomod+"99.tmp", "module example.com/a\n")
			old := time.Now().Add(-time.Hour)
			os.Chtimes(e.gomod+"99.tmp", old, old)
			// A fresh .info temp file may belong to a live writer: not a fault.
			overwrite(t, e.info+"42.tmp", "{}")
		},
		want:      []FaultKind{TempFile, TempFile},
		wantPaths: func(e *entry) []string { return []string{e.gomod + "99.tmp", e.zip + "123456.tmp"} },
		repaired:  func(e *entry) []string { return []string{e.gomod + "99.tmp", e.zip + "123456.tmp"} },
	},
	{
		name: "old go's extraction temp dir",
		sums: true,
		corrupt: func(t *testing.T, f *fixture, e *entry) {
			writeFiles(t, e.dir+".tmp-12345", map[string]string{"a.go": "package a\n"})
		},
		want:      []FaultKind{TempFile},
		wantPaths: func(e *entry) []string { return []string{e.dir + ".tmp-12345"} },
		repaired:  func(e *entry) []string { return []string{e.dir + ".tmp-12345"} },
	},
	{
		name: "interrupted extraction",
		sums: true,
		corrupt: func(t *testing.T, f *fixture, e *entry) {
			overwrite(t, e.partial, "")
			os.Chmod(e.dir, 0o755)
			os.Remove(filepath.Join(e.dir, "a.go"))
		},
		want:      []FaultKind{Partial},
		wantPaths: func(e *entry) []string { return []string{e.dir} },
		repaired:  func(e *entry) []string { return []string{e.dir, e.partial} },
	},
	{
		name: "leftover partial marker",
		sums: true,
		corrupt: func(t *testing.T, f *fixture, e *entry) {
			removeDir(e.dir)
			overwrite(t, e.partial, "")
		},
		want:      []FaultKind{Partial},
		wantPaths: func(e *entry) []string { return []string{e.partial} },
		repaired:  func(e *entry) []string { return []string{e.partial} },
	},
	{
		name: "file appended to in the extracted dir",
		mod:  2,
		sums: true,
		corrupt: func(t *testing.T, f *fixture, e *entry) {
			file := filepath.Join(e.dir, "upper.go")
			os.Chmod(file, 0o644)
			fh, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			fh.WriteString("\nthis is not go\n")
			fh.Close()
			os.Chmod(file, 0o444) // bit rot, not an edit: still read-only
		},
		want:      []FaultKind{DirModified},
		wantPaths: func(e *entry) []string { return []string{e.dir} },
		repaired:  func(e *entry) []string { return []string{e.dir} },
		goBreaks:  true,
	},
	{
		name: "file deleted from the extracted dir",
		sums: false,
		corrupt: func(t *testing.T, f *fixture, e *entry) {
			os.Chmod(e.dir, 0o755)
			os.Remove(filepath.Join(e.dir, "a.go"))
			os.Chmod(e.dir, 0o555)
		},
		want:      []FaultKind{DirModified},
		wantPaths: func(e *entry) []string { return []string{e.dir} },
		repaired:  func(e *entry) []string { return []string{e.dir} },
		goBreaks:  true,
	},
	{
		name: "extracted dir alone",
		sums: true,
		corrupt: func(t *testing.T, f *fixture, e *entry) {
			os.Remove(e.zip)
			os.Remove(e.hash)
		},
		want:      []FaultKind{ZiphashMissing},
		wantPaths: func(e *entry) []string { return []string{e.dir} },
		repaired:  func(e *entry) []string { return []string{e.dir} },
		goBreaks:  true,
		refetch:   true,
	},
	{
		name: "ziphash alone disagrees with go.sum",
		sums: true,
		corrupt: func(t *testing.T, f *fixture, e *entry) {
			os.Remove(e.zip)
			overwrite(t, e.hash, f.mods[1].zipSum)
		},
		want:      []FaultKind{GoSumMismatch},
		wantPaths: func(e *entry) []string { return []string{e.hash} },
		repaired:  func(e *entry) []string { return []string{e.hash, e.dir} },
		goBreaks:  true,
		refetch:   true,
	},
}

func overwrite(t *testing.T, file, content string) {
	t.Helper()
	os.Chmod(file, 0o644) // extracted files are read-only
	if err := os.WriteFile(file, []byte(content), 0o666); err != nil {
		t.Fatal(err)
	}
}

func rels(t *testing.T, root string, paths []string) []string {
	t.Helper()
	var out []string
	for _, p := range paths {
		r, err := filepath.Rel(root, p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, filepath.ToSlash(r))
	}
	slices.Sort(out)
	return out
}

func faultPaths(t *testing.T, root string, faults []Fault) []string {
	var paths []string
	for _, f := range faults {
		paths = append(paths, f.Path)
	}
	return rels(t, root, paths)
}

func faultKinds(faults []Fault) []FaultKind {
	var kinds []FaultKind
	for _, f := range faults {
		kinds = append(kinds, f.Kind)
	}
	slices.Sort(kinds)
	return kinds
}

// TestVerifyRepair damages a real cache in each way the go command meets in
// the wild, and checks that Verify finds exactly that fault, that Repair
// changes exactly the faulty files, and that the go command then works
// offline (after gomodx fetches again what Repair removed).
func TestVerifyRepair(t *testing.T) {
	for _, tc := range corruptions {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			e := f.entry(t, tc.mod)
			c := f.c
			root := c.Root()
			if faults, err := c.Verify(t.Context(), VerifyOptions{All: true, Sums: f.sums()}); err != nil || len(faults) != 0 {
				t.Fatalf("fresh cache: Verify = %v, %v", faults, err)
			}
			tc.corrupt(t, f, e)
			before := snapshot(t, root)

			var opts []VerifyOptions
			opts = append(opts, VerifyOptions{All: true}, VerifyOptions{Mods: f.versions()}, VerifyOptions{Jobs: 1, Mods: []module.Version{e.mod}})
			if tc.sums {
				for i := range opts {
					opts[i].Sums = f.sums()
				}
			}
			var faults []Fault
			for i, o := range opts {
				got, err := c.Verify(t.Context(), o)
				if err != nil {
					t.Fatal(err)
				}
				want := slices.Clone(tc.want)
				slices.Sort(want)
				if !slices.Equal(faultKinds(got), want) {
					t.Fatalf("Verify (options %d) found %v, want kinds %v", i, got, tc.want)
				}
				if gotP, wantP := faultPaths(t, root, got), rels(t, root, tc.wantPaths(e)); !slices.Equal(gotP, wantP) {
					t.Errorf("fault paths %q, want %q", gotP, wantP)
				}
				for _, fl := range got {
					if fl.Mod != e.mod || fl.Cause == "" || fl.Fix == ReportOnly {
						t.Errorf("fault %+v: want Mod %v, a cause and a fix", fl, e.mod)
					}
				}
				faults = got
			}
			var zipSum, modSum string
			if tc.sums {
				zipSum, modSum = f.sums().Zip(e.mod), f.sums().GoMod(e.mod)
			}
			one := c.VerifyModule(t.Context(), e.mod, zipSum, modSum)
			if !slices.Equal(faultKinds(one), faultKinds(faults)) {
				t.Errorf("VerifyModule = %v, want %v", one, faults)
			}
			for _, fl := range faults {
				t.Logf("%s", fl)
			}
			if !snapEqual(before, snapshot(t, root)) {
				t.Fatal("Verify changed the cache")
			}

			for _, fl := range faults {
				if err := repairOne(c, t.Context(), fl); err != nil {
					t.Fatalf("Repair(%v): %v", fl, err)
				}
			}
			after := snapshot(t, root)
			if got, want := changed(before, after), rels(t, root, tc.repaired(e)); !slices.Equal(got, want) {
				t.Errorf("Repair changed %q, want exactly %q", got, want)
			}
			if left, err := c.Verify(t.Context(), VerifyOptions{All: true, Sums: f.sums()}); err != nil || len(left) != 0 {
				t.Errorf("after Repair, Verify = %v, %v", left, err)
			}
			// A second Repair of the same faults changes nothing.
			for _, fl := range faults {
				if err := repairOne(c, t.Context(), fl); err != nil {
					t.Errorf("second Repair(%v): %v", fl, err)
				}
			}
			if got := changed(after, snapshot(t, root)); len(got) != 0 {
				t.Errorf("second Repair changed %q", got)
			}

			if testing.Short() {
				return
			}
			if tc.refetch {
				f.refill(t)
			}
			f.goWorks(t)
		})
	}
}

// TestCorruptionsBreakGo checks that each damage in corruptions (marked
// goBreaks) is one the go command fails on by itself, offline: these are
// the cases where Verify and Repair are needed at all.
func TestCorruptionsBreakGo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	for _, tc := range corruptions {
		if !tc.goBreaks {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			tc.corrupt(t, f, f.entry(t, tc.mod))
			// verify first: a build may heal what it can.
			vout, vok := f.goCmd(t, "mod", "verify")
			bout, bok := f.goCmd(t, "build", "-o", os.DevNull, ".")
			if vok && bok {
				t.Errorf("go mod verify and go build both succeeded:\n%s\n%s", vout, bout)
			}
		})
	}
}

func snapEqual(a, b map[string]string) bool { return len(changed(a, b)) == 0 }

// TestRepairLeavesHealthyEntries hands Repair a fault of every kind for a
// healthy entry (a stale report) and checks that it removes nothing.
func TestRepairLeavesHealthyEntries(t *testing.T) {
	f := newFixture(t)
	c := f.c
	e := f.entry(t, 0)
	tmp := e.info + "7.tmp"
	overwrite(t, tmp, "{}") // fresh: a live writer's
	before := snapshot(t, c.Root())
	m := f.mods[0]
	for _, fl := range []Fault{
		{Kind: ZipCorrupt, Path: e.zip},
		{Kind: ZipCorrupt, Path: e.zip, GoSum: m.zipSum},
		{Kind: ZiphashMismatch, Path: e.hash, GoSum: m.zipSum},
		{Kind: ZiphashMissing, Path: e.hash},
		{Kind: GoSumMismatch, Path: e.zip, GoSum: m.zipSum},
		{Kind: GoSumMismatch, Path: e.gomod, GoSum: m.modSum},
		{Kind: ModInvalid, Path: e.gomod},
		{Kind: InfoInvalid, Path: e.info},
		{Kind: Partial, Path: e.dir},
		{Kind: DirModified, Path: e.dir},
		{Kind: TempFile, Path: tmp},
	} {
		fl.Mod = m.mod
		if err := repairOne(c, t.Context(), fl); err != nil {
			t.Errorf("Repair(%v): %v", fl, err)
		}
	}
	if got := changed(before, snapshot(t, c.Root())); len(got) != 0 {
		t.Errorf("Repair of stale faults changed %q", got)
	}

	// A temp file Repair is pointed at must be one of the version's.
	err := repairOne(c, t.Context(), Fault{Mod: m.mod, Kind: TempFile, Path: filepath.Join(f.work, "go.mod")})
	if err == nil {
		t.Error("Repair removed a file outside the version's entry")
	}
	if _, err := os.Stat(filepath.Join(f.work, "go.mod")); err != nil {
		t.Error(err)
	}
	err = repairOne(c, t.Context(), Fault{Kind: SumdbCorrupt, Path: filepath.Join(f.work, "go.mod")})
	if err == nil {
		t.Error("Repair of a sumdb fault accepted a path outside the checksum database files")
	}
}

// TestRepairTakesLock checks that Repair waits for the version's lock, as
// the go command holds it while it downloads or extracts, and gives up
// when its context ends.
func TestRepairTakesLock(t *testing.T) {
	f := newFixture(t)
	c := f.c
	e := f.entry(t, 0)
	overwrite(t, e.zip, "garbage")
	faults, err := c.Verify(t.Context(), VerifyOptions{Mods: []module.Version{e.mod}})
	if err != nil || len(faults) != 1 {
		t.Fatalf("Verify = %v, %v", faults, err)
	}
	unlock, err := lockedfile.MutexAt(mustPath(t, c, e.mod, "lock")).Lock()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := repairOne(c, ctx, faults[0]); err != context.DeadlineExceeded {
		t.Errorf("Repair with the lock held elsewhere = %v, want deadline exceeded", err)
	}
	if !exists(e.zip) {
		t.Error("Repair removed the zip without the lock")
	}

	done := make(chan error, 1)
	go func() { done <- repairOne(c, t.Context(), faults[0]) }()
	select {
	case err := <-done:
		t.Fatalf("Repair returned (%v) while the lock was held", err)
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if exists(e.zip) || exists(e.hash) || exists(e.dir) {
		t.Error("Repair left the corrupt entry")
	}
}

func TestVerifyCancel(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := f.c.Verify(ctx, VerifyOptions{All: true}); err != context.Canceled {
		t.Errorf("Verify with a cancelled context = %v", err)
	}
}

func TestVerifyEmptyCache(t *testing.T) {
	c, err := Open(filepath.Join(t.TempDir(), "missing"))
	if err != nil {
		t.Fatal(err)
	}
	faults, err := c.Verify(t.Context(), VerifyOptions{All: true})
	if err != nil || len(faults) != 0 {
		t.Errorf("Verify of a missing cache = %v, %v", faults, err)
	}
}

func TestVerifyChecked(t *testing.T) {
	f := newFixture(t)
	var got []module.Version
	_, err := f.c.Verify(t.Context(), VerifyOptions{All: true, Checked: func(m module.Version) { got = append(got, m) }})
	if err != nil {
		t.Fatal(err)
	}
	want := f.versions()
	sortVersions(want)
	sortVersions(got)
	if !slices.Equal(got, want) {
		t.Errorf("checked %v, want %v", got, want)
	}
}

func TestFaultString(t *testing.T) {
	f := Fault{Mod: module.Version{Path: "example.com/a", Version: "v1.0.0"}, Kind: ZipCorrupt, Path: "/c/a.zip", Cause: "zip: not a valid zip file"}
	if got, want := f.String(), "example.com/a@v1.0.0: zip-corrupt: zip: not a valid zip file (/c/a.zip)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	f.Mod = module.Version{}
	if got := f.String(); !strings.HasPrefix(got, "zip-corrupt: ") {
		t.Errorf("String() without a module = %q", got)
	}
}

func TestVersionOf(t *testing.T) {
	for name, want := range map[string]string{
		"v1.0.0.zip":              "v1.0.0",
		"v1.0.0.ziphash":          "v1.0.0",
		"v1.0.0.zip12345.tmp":     "v1.0.0",
		"v1.0.0.info":             "v1.0.0",
		"v1.0.0.partial":          "v1.0.0",
		"v1.0.0-!r!c.1.mod":       "v1.0.0-RC.1",
		"v2.0.0+incompatible.zip": "v2.0.0+incompatible",
		"v1.0.0.lock":             "",
		"list":                    "",
		"v1.0.zip":                "",
	} {
		got, ok := versionOf(name)
		if got != want || ok != (want != "") {
			t.Errorf("versionOf(%q) = %q, %v, want %q", name, got, ok, want)
		}
	}
}
