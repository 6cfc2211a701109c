package modcache

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

// FaultKind says what is wrong with a cache entry.
type FaultKind string

const (
	// ZipCorrupt: the .zip does not open, breaks the module zip rules
	// (zip.CheckZip), or fails to decompress (a CRC error, a cut-off file).
	ZipCorrupt FaultKind = "zip-corrupt"
	// ZiphashMissing: a .zip, or an extracted directory, has no .ziphash.
	ZiphashMissing FaultKind = "ziphash-missing"
	// ZiphashMismatch: the .ziphash is not a valid hash, or is not the
	// hash of the .zip next to it. The go command never re-hashes a zip
	// that has a .ziphash, so a zip changed after its download is used as
	// it is; only 'go mod verify' (and this) notices.
	ZiphashMismatch FaultKind = "ziphash-mismatch"
	// GoSumMismatch: a .zip (with its .ziphash) or a .mod disagrees with
	// the project's go.sum.
	GoSumMismatch FaultKind = "gosum-mismatch"
	// InfoInvalid: the .info is not JSON or names another version.
	InfoInvalid FaultKind = "info-invalid"
	// ModInvalid: the .mod is empty or, with no go.sum hash to check it
	// against, does not parse as a go.mod file.
	ModInvalid FaultKind = "mod-invalid"
	// TempFile: a temp file left by a writer that died (*.tmp), or a temp
	// directory left by a go command older than 1.16.
	TempFile FaultKind = "temp-file"
	// Partial: a .partial marker: an extraction was interrupted.
	Partial FaultKind = "partial"
	// DirModified: the files of an extracted directory no longer hash to
	// the module's hash, as 'go mod verify' reports.
	DirModified FaultKind = "dir-modified"
	// SumdbCorrupt: a checksum-database cache file (a lookup record, a
	// tile, or the latest tree note) does not parse.
	SumdbCorrupt FaultKind = "sumdb-corrupt"
)

// A Fault is one faulty entry of the module cache.
type Fault struct {
	Mod   module.Version // the module version; zero for checksum-database tiles and tree notes
	Kind  FaultKind
	Path  string // the file or directory at fault
	Cause string // what is wrong, in the words of 'go mod verify' where it has some
	// GoSum is the go.sum hash the entry was checked against, if any
	// ("h1:…", for the zip or, for a .mod fault, the go.mod). Repair uses
	// it to tell a wrong .ziphash next to a good zip from a bad zip.
	GoSum string `json:",omitempty"`
	// Fix is what Repair does about the fault; in JSON, its words
	// ("remove .zip, .ziphash and extracted dir").
	Fix Action
	// Keep, when not "", is why Repair will not do Fix: what it would
	// remove lies outside GOMODCACHE, or is an extracted tree that may
	// hold someone's edits (KeepEdits; RepairOptions.Edited overrides
	// that one). See KeptError.
	Keep      string `json:",omitempty"`
	KeepEdits bool   `json:",omitempty"`
}

// String returns the fault as one line: "mod: kind: cause (path)".
func (f Fault) String() string {
	var b strings.Builder
	if f.Mod.Path != "" {
		b.WriteString(f.Mod.String())
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "%s: %s (%s)", f.Kind, f.Cause, f.Path)
	return b.String()
}

// GoSum looks up go.sum hashes. prefetch.Sums satisfies it.
type GoSum interface {
	Zip(mod module.Version) string   // go.sum's h1 hash of mod's zip, or ""
	GoMod(mod module.Version) string // go.sum's h1 hash of mod's go.mod, or ""
}

// VerifyOptions says what Verify checks.
type VerifyOptions struct {
	// All checks every entry in the cache, and every checksum-database
	// file; Mods is then ignored.
	All bool
	// Mods are the module versions to check, without All.
	Mods []module.Version
	// Shared, with Mods, also checks the files every module's verification
	// relies on: the checksum database's tiles and latest tree notes.
	Shared bool
	// Sums supplies go.sum hashes to compare the entries with; nil
	// compares them with nothing but their own .ziphash.
	Sums GoSum
	// Jobs is how many versions are checked at once; 0 means twice
	// GOMAXPROCS (the work is hashing, with some waiting on the disk).
	Jobs int
	// SumdbDir is $GOPATH/pkg/sumdb, which holds each checksum database's
	// latest tree note; "" leaves those notes unchecked.
	SumdbDir string
	// SumdbKeys are verifier keys ("name+hash+key") of checksum databases
	// whose tree notes are checked against their signatures as well; the
	// key of sum.golang.org is always known.
	SumdbKeys []string
	// Checked, if set, is called once for every module version checked,
	// from one goroutine at a time.
	Checked func(mod module.Version)
	// Repair is what Repair will be told, so that each fault's Keep says
	// what Repair will leave as it is.
	Repair RepairOptions
}

// Verify checks the cache entries of opts.Mods, or with opts.All of the whole cache, and
// returns every fault it finds, sorted by module and path. It reads every
// zip and extracted directory it checks, streaming, opts.Jobs at a time.
// It changes nothing and takes no lock, so it can run while the go command
// works; Repair checks a fault again under the lock before it acts.
//
// The error is for failures to read the cache as a whole, or ctx's end;
// a file that cannot be read is reported as a fault of its own.
func (c *Cache) Verify(ctx context.Context, opts VerifyOptions) ([]Fault, error) {
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = 2 * runtime.GOMAXPROCS(0)
	}
	mods := opts.Mods
	var faults []Fault
	if opts.All {
		var err error
		mods, err = c.scan(ctx)
		if err != nil {
			return nil, err
		}
	} else {
		mods = slices.Clone(mods)
		sortVersions(mods)
		mods = slices.Compact(mods)
	}

	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		results = make([][]Fault, len(mods))
		sem     = make(chan struct{}, jobs)
	)
	// The checksum database's files are small and many; one goroutine
	// reads them all while the pool hashes zips.
	var dbFaults []Fault
	wg.Go(func() {
		scan := sumdbScan{all: opts.All, keys: opts.SumdbKeys}
		if !scan.all {
			scan.mods = mods
		}
		if scan.all || opts.Shared {
			scan.tiles, scan.sumdbDir = true, opts.SumdbDir
		}
		dbFaults = c.verifySumdb(ctx, scan)
	})
loop:
	for i, mod := range mods {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		wg.Go(func() {
			defer func() { <-sem }()
			var zipSum, modSum string
			if opts.Sums != nil {
				zipSum, modSum = opts.Sums.Zip(mod), opts.Sums.GoMod(mod)
			}
			results[i] = c.annotate(c.verifyVersion(ctx, mod, zipSum, modSum), opts.Repair)
			if opts.Checked != nil {
				mu.Lock()
				opts.Checked(mod)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, r := range results {
		faults = append(faults, r...)
	}
	faults = append(faults, c.annotate(dbFaults, opts.Repair)...)
	sortFaults(faults)
	return faults, nil
}

// annotate fills in each fault's Keep, for Repair with opts.
func (c *Cache) annotate(faults []Fault, opts RepairOptions) []Fault {
	for i, f := range faults {
		why, edits := c.keep(f, opts.ModCacheRW)
		if edits && opts.Edited {
			continue
		}
		faults[i].Keep, faults[i].KeepEdits = why, edits
	}
	return faults
}

// VerifyModule checks the cache entry of one module version: its .info,
// .mod, .zip, .ziphash, extracted directory, leftover temp files and
// checksum-database lookup record. zipSum and modSum are go.sum's hashes
// of its zip and go.mod ("" for none).
func (c *Cache) VerifyModule(ctx context.Context, mod module.Version, zipSum, modSum string) []Fault {
	faults := c.verifyVersion(ctx, mod, zipSum, modSum)
	faults = append(faults, c.verifySumdb(ctx, sumdbScan{mods: []module.Version{mod}})...)
	c.annotate(faults, RepairOptions{})
	sortFaults(faults)
	return faults
}

// entry holds the paths of one version's cache entry.
type entry struct {
	mod                             module.Version
	vdir                            string // the @v directory
	encVer                          string
	info, gomod, zip, hash, partial string
	dir                             string // the extracted tree
}

func (c *Cache) entry(mod module.Version) (*entry, error) {
	vdir, err := c.dir(mod)
	if err != nil {
		return nil, err
	}
	encPath, _ := module.EscapePath(mod.Path) // checked by c.dir
	encVer, err := module.EscapeVersion(mod.Version)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", mod, err)
	}
	base := filepath.Join(vdir, encVer)
	return &entry{
		mod:     mod,
		vdir:    vdir,
		encVer:  encVer,
		info:    base + ".info",
		gomod:   base + ".mod",
		zip:     base + ".zip",
		hash:    base + ".ziphash",
		partial: base + ".partial",
		dir:     filepath.Join(c.root, filepath.FromSlash(encPath)+"@"+encVer),
	}, nil
}

// verifyVersion checks everything of mod's entry but the sumdb records.
func (c *Cache) verifyVersion(ctx context.Context, mod module.Version, zipSum, modSum string) []Fault {
	e, err := c.entry(mod)
	if err != nil {
		// Not a version the go command could have cached: nothing to check.
		return nil
	}
	var faults []Fault
	add := func(kind FaultKind, path, cause, gosum string, fix Action) {
		faults = append(faults, Fault{Mod: mod, Kind: kind, Path: path, Cause: cause, GoSum: gosum, Fix: fix})
	}

	if cause := checkInfoFile(mod, e.info); cause != "" {
		add(InfoInvalid, e.info, cause, "", RemoveInfo)
	}
	if kind, cause := checkModFile(mod, e.gomod, modSum); kind != "" {
		add(kind, e.gomod, cause, modSum, RemoveMod)
	}
	if ctx.Err() != nil {
		return nil
	}

	st := e.zipState()
	partial := exists(e.partial)
	v := zipVerdict(st, zipSum, !partial && st.dirExists)
	if v.kind != "" {
		add(v.kind, v.path(e), v.cause, zipSum, v.action)
	}
	if ctx.Err() != nil {
		return nil
	}

	switch {
	case partial && st.dirExists:
		add(Partial, e.dir, "extraction was interrupted (.partial marker present)", "", RemovePartDir)
	case partial:
		add(Partial, e.partial, "leftover .partial marker", "", RemovePartial)
	case st.dirExists:
		if ref := st.dirRef(zipSum); ref != "" {
			got, err := dirhash.HashDir(e.dir, mod.Path+"@"+mod.Version, dirhash.DefaultHash)
			switch {
			case err != nil:
				add(DirModified, e.dir, "dir cannot be hashed: "+errText(err), zipSum, RemoveTree)
			case got != ref:
				cause := fmt.Sprintf("dir has been modified: files hash to %s, want %s", got, ref)
				switch {
				case st.zipOK() && st.zipHash == ref:
					if diff := diffTree(mod, e.dir, e.zip); diff != "" {
						cause = "dir has been modified: " + diff
					}
				case st.zipOK() && st.zipHash == got:
					cause = fmt.Sprintf("dir was extracted from the modified zip: files hash to %s, want %s", got, ref)
				}
				add(DirModified, e.dir, cause, zipSum, RemoveDir)
			}
		}
	}

	for _, t := range e.tempFiles(time.Now()) {
		add(TempFile, t, "leftover temp file", "", RemoveTemp)
	}
	return faults
}

// diffTree says how the extracted tree dir differs from the zip it was
// extracted from ("b.go changed; evil.go added"), or "" if it cannot tell.
// It runs only for a tree already known to be modified.
func diffTree(mod module.Version, dir, zipfile string) string {
	prefix := mod.Path + "@" + mod.Version
	inDir, err1 := fileSums(func(h dirhash.Hash) (string, error) { return dirhash.HashDir(dir, prefix, h) })
	inZip, err2 := fileSums(func(h dirhash.Hash) (string, error) { return dirhash.HashZip(zipfile, h) })
	if err1 != nil || err2 != nil {
		return ""
	}
	var changed, added, missing []string
	for name, sum := range inDir {
		switch zsum, ok := inZip[name]; {
		case !ok:
			added = append(added, name)
		case zsum != sum:
			changed = append(changed, name)
		}
	}
	for name := range inZip {
		if _, ok := inDir[name]; !ok {
			missing = append(missing, name)
		}
	}
	var parts []string
	for _, p := range []struct {
		names []string
		what  string
	}{{changed, "changed"}, {added, "added"}, {missing, "missing"}} {
		if len(p.names) == 0 {
			continue
		}
		slices.Sort(p.names)
		list := p.names
		if len(list) > 3 {
			list = append(slices.Clip(list[:3]), fmt.Sprintf("and %d more", len(p.names)-3))
		}
		for i, n := range list {
			list[i] = strings.TrimPrefix(n, prefix+"/")
		}
		parts = append(parts, strings.Join(list, ", ")+" "+p.what)
	}
	return strings.Join(parts, "; ")
}

// fileSums runs a dirhash function with a Hash that records the SHA-256
// of each file instead of combining them.
func fileSums(run func(dirhash.Hash) (string, error)) (map[string]string, error) {
	sums := map[string]string{}
	_, err := run(func(files []string, open func(string) (io.ReadCloser, error)) (string, error) {
		for _, name := range files {
			r, err := open(name)
			if err != nil {
				return "", err
			}
			h := sha256.New()
			_, err = io.Copy(h, r)
			r.Close()
			if err != nil {
				return "", err
			}
			sums[name] = hex.EncodeToString(h.Sum(nil))
		}
		return "", nil
	})
	return sums, err
}

// checkInfoFile returns why the .info file is invalid, or "" if it is
// fine or absent.
func checkInfoFile(mod module.Version, file string) string {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		return "cannot read .info: " + errText(err)
	}
	var info revInfo
	if err := json.Unmarshal(data, &info); err != nil {
		if len(data) == 0 {
			return "empty .info"
		}
		return ".info is not valid JSON: " + err.Error()
	}
	if info.Version != mod.Version {
		return fmt.Sprintf(".info is for version %q", info.Version)
	}
	return ""
}

// checkModFile returns the fault of the .mod file, if any: a mismatch
// with want (go.sum's hash), or an empty or unparsable file.
func checkModFile(mod module.Version, file, want string) (FaultKind, string) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return "", ""
	}
	if err != nil {
		return ModInvalid, "cannot read .mod: " + errText(err)
	}
	if bytes.HasPrefix(data, []byte(oldVgoPrefix)) {
		return "", "" // the go command ignores and replaces these itself
	}
	err = checkGoMod(mod, want, data)
	var mm *HashMismatchError
	var inv *InvalidError
	switch {
	case err == nil:
		return "", ""
	case errors.As(err, &mm):
		return GoSumMismatch, fmt.Sprintf("go.mod has hash %s, go.sum has %s", mm.Got, mm.Want)
	case errors.As(err, &inv):
		return ModInvalid, inv.Err.Error()
	}
	return ModInvalid, err.Error()
}

// zipState is what the disk holds of a version's zip.
type zipState struct {
	zipExists  bool
	zipErr     error  // the zip does not open, check or hash
	zipHash    string // its h1 hash, when zipExists and zipErr == nil
	hashExists bool
	hashErr    error  // the .ziphash exists but cannot be read
	hash       []byte // the .ziphash's content
	dirExists  bool
}

func (s *zipState) zipOK() bool     { return s.zipExists && s.zipErr == nil }
func (s *zipState) hashValid() bool { return s.hashExists && s.hashErr == nil && isValidSum(s.hash) }

// dirRef is the hash the extracted directory must have: go.sum's, when
// there is one; else the .ziphash, as for 'go mod verify'; else, when that
// is unusable, the zip's own hash.
func (s *zipState) dirRef(sum string) string {
	switch {
	case sum != "":
		return sum
	case s.hashValid():
		return string(s.hash)
	case s.zipOK():
		return s.zipHash
	}
	return ""
}

func (e *entry) zipState() *zipState {
	s := &zipState{}
	if fi, err := os.Stat(e.zip); err == nil {
		s.zipExists = true
		if !fi.Mode().IsRegular() {
			s.zipErr = errors.New("not a regular file")
		} else {
			s.zipHash, s.zipErr = hashZipFile(e.mod, e.zip)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		s.zipExists = true
		s.zipErr = err
	}
	data, err := os.ReadFile(e.hash)
	switch {
	case err == nil:
		s.hashExists, s.hash = true, data
	case !errors.Is(err, fs.ErrNotExist):
		s.hashExists, s.hashErr = true, err
	}
	if fi, err := os.Stat(e.dir); err == nil && fi.IsDir() {
		s.dirExists = true
	}
	return s
}

// hashZipFile checks a cached zip as PutZip checks a download, and returns
// its h1 hash. Both steps stream the file.
func hashZipFile(mod module.Version, file string) (string, error) {
	cf, err := modzip.CheckZip(mod, file)
	if err == nil {
		err = cf.Err()
	}
	if err != nil {
		return "", err
	}
	return dirhash.HashZip(file, dirhash.DefaultHash)
}

// verdict is the finding about a version's zip and .ziphash.
type verdict struct {
	kind    FaultKind // "" when there is nothing wrong
	cause   string
	action  Action // ReportOnly, RewriteZiphash, RemoveZip or RemoveTree
	hashAt  bool   // the fault is the .ziphash's rather than the zip's
	dirOnly bool   // the fault is the extracted dir's (nothing else left)
}

func (v verdict) path(e *entry) string {
	switch {
	case v.dirOnly:
		return e.dir
	case v.hashAt:
		return e.hash
	}
	return e.zip
}

// zipVerdict decides what is wrong with a zip and its .ziphash, given
// go.sum's hash sum ("" for none). Verify and Repair both decide with it,
// so that Repair acts on what it sees under the lock, not on a report
// that may be stale. dirUsable says the extracted dir exists and is
// complete, so that a missing .ziphash matters for it.
func zipVerdict(s *zipState, sum string, dirUsable bool) verdict {
	if !s.zipExists {
		switch {
		case s.hashErr != nil:
			return verdict{ZiphashMismatch, "cannot read .ziphash: " + errText(s.hashErr), ReportOnly, true, false}
		case !s.hashExists && dirUsable:
			return verdict{ZiphashMissing, "extracted dir has no .ziphash and no .zip to compute it from", RemoveTree, false, true}
		case !s.hashExists:
			return verdict{}
		case !isValidSum(s.hash):
			return verdict{ZiphashMismatch, ".ziphash is not a valid hash: " + describeSum(s.hash), RemoveZip, true, false}
		case sum != "" && string(s.hash) != sum:
			return verdict{GoSumMismatch, fmt.Sprintf(".ziphash has %s, go.sum has %s", s.hash, sum), RemoveZip, true, false}
		}
		return verdict{}
	}
	if errors.Is(s.zipErr, fs.ErrPermission) {
		return verdict{ZipCorrupt, "cannot read zip: " + errText(s.zipErr), ReportOnly, false, false}
	}
	if s.zipErr != nil {
		return verdict{ZipCorrupt, errText(s.zipErr), RemoveZip, false, false}
	}
	z := s.zipHash
	if sum != "" && z != sum {
		switch {
		case s.hashValid() && string(s.hash) == z:
			return verdict{GoSumMismatch, fmt.Sprintf("zip has hash %s, go.sum has %s", z, sum), RemoveZip, false, false}
		case !s.hashExists:
			return verdict{GoSumMismatch, fmt.Sprintf("zip has hash %s, go.sum has %s (and .ziphash is missing)", z, sum), RemoveZip, false, false}
		case s.hashValid():
			return verdict{ZiphashMismatch, fmt.Sprintf("zip has been modified: it hashes to %s, .ziphash has %s, go.sum has %s", z, s.hash, sum), RemoveZip, false, false}
		}
		return verdict{ZiphashMismatch, fmt.Sprintf("zip has hash %s, go.sum has %s, and .ziphash is not a valid hash", z, sum), RemoveZip, false, false}
	}
	// The zip is good, or there is no go.sum hash to say otherwise.
	switch {
	case s.hashErr != nil:
		return verdict{ZiphashMismatch, "cannot read .ziphash: " + errText(s.hashErr), ReportOnly, true, false}
	case !s.hashExists:
		return verdict{ZiphashMissing, "missing .ziphash (zip hashes to " + z + ")", RewriteZiphash, true, false}
	case !isValidSum(s.hash):
		return verdict{ZiphashMismatch, fmt.Sprintf(".ziphash is not a valid hash: %s (zip hashes to %s)", describeSum(s.hash), z), RewriteZiphash, true, false}
	case string(s.hash) == z:
		return verdict{}
	case sum != "":
		return verdict{ZiphashMismatch, fmt.Sprintf(".ziphash has %s, but the zip hashes to %s, which go.sum has", s.hash, z), RewriteZiphash, true, false}
	}
	// No go.sum hash, and the zip and its .ziphash disagree: either may
	// be the forgery, so neither is trusted.
	return verdict{ZiphashMismatch, fmt.Sprintf("zip has been modified: it hashes to %s, .ziphash has %s", z, s.hash), RemoveZip, false, false}
}

// describeSum quotes the content of an invalid .ziphash, briefly.
func describeSum(data []byte) string {
	switch {
	case len(data) == 0:
		return "empty"
	case bytes.IndexByte(data, 0) >= 0:
		return "NUL bytes (a write was cut short)"
	case len(data) > 64:
		return fmt.Sprintf("%q...", data[:64])
	}
	return fmt.Sprintf("%q", data)
}

// tempGrace is how old a .info or .mod temp file must be to count as left
// over. Their writers (the go command's writeDiskCache, and PutInfo and
// PutMod) hold no lock, but each lives for one small write and a rename.
// Zip temp files need no grace: their writers hold the version's lock,
// which Repair takes.
const tempGrace = 30 * time.Second

// tempFiles returns the version's leftover temp files: <ver>.<ext><n>.tmp
// in the @v directory (modfetch.tempFile's names), and the extraction
// directories <path>@<ver>.tmp-<n> of go commands before 1.16.
func (e *entry) tempFiles(now time.Time) []string {
	var list []string
	prefix := e.encVer + "."
	if entries, err := os.ReadDir(e.vdir); err == nil {
		for _, de := range entries {
			ext, ok := tempExt(de.Name(), prefix)
			if !ok {
				continue
			}
			if ext != "zip" {
				fi, err := de.Info()
				if err != nil || now.Sub(fi.ModTime()) < tempGrace {
					continue
				}
			}
			list = append(list, filepath.Join(e.vdir, de.Name()))
		}
	}
	old, _ := filepath.Glob(quoteGlob(e.dir) + ".tmp-*")
	return append(list, old...)
}

// tempExt reports whether name is a temp file for prefix ("<ver>.") and,
// if so, for which extension: "<ver>.zip123.tmp" has extension "zip".
func tempExt(name, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return "", false
	}
	rest, ok = strings.CutSuffix(rest, ".tmp")
	if !ok {
		return "", false
	}
	ext := strings.TrimRight(rest, "0123456789")
	switch ext {
	case "zip", "info", "mod", "ziphash":
		return ext, true
	}
	return "", false
}

// quoteGlob escapes the glob metacharacters in s (cmd/go/internal/str).
func quoteGlob(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// scan lists every module version with something in the cache: a file in
// an @v directory under cache/download, an extracted tree, or an old go
// command's extraction temp directory.
func (c *Cache) scan(ctx context.Context) ([]module.Version, error) {
	seen := map[module.Version]bool{}

	download := filepath.Join(c.root, "cache", "download")
	err := filepath.WalkDir(download, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == download && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipDir
			}
			return nil // unreadable parts are left out, as go mod verify does
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !d.IsDir() {
			return nil
		}
		if path == filepath.Join(download, "sumdb") {
			return filepath.SkipDir
		}
		if d.Name() != "@v" {
			return nil
		}
		rel, err := filepath.Rel(download, filepath.Dir(path))
		if err != nil {
			return filepath.SkipDir
		}
		modPath, err := module.UnescapePath(filepath.ToSlash(rel))
		if err != nil {
			return filepath.SkipDir
		}
		entries, _ := os.ReadDir(path)
		for _, de := range entries {
			if v, ok := versionOf(de.Name()); ok {
				seen[module.Version{Path: modPath, Version: v}] = true
			}
		}
		return filepath.SkipDir
	})
	if err != nil {
		return nil, err
	}

	err = filepath.WalkDir(c.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == c.root {
				if errors.Is(err, fs.ErrNotExist) {
					return filepath.SkipDir
				}
				return fmt.Errorf("reading module cache: %w", err)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !d.IsDir() || path == c.root {
			return nil
		}
		if path == filepath.Join(c.root, "cache") {
			return filepath.SkipDir
		}
		at := strings.LastIndex(d.Name(), "@")
		if at < 0 {
			return nil
		}
		rel, err := filepath.Rel(c.root, path)
		if err != nil {
			return filepath.SkipDir
		}
		rel = filepath.ToSlash(rel)
		encPath, encVer := rel[:len(rel)-len(d.Name())+at], d.Name()[at+1:]
		modPath, err1 := module.UnescapePath(encPath)
		if base, n, ok := strings.Cut(encVer, ".tmp-"); ok && strings.Trim(n, "0123456789") == "" {
			// An old go command's extraction directory; the per-version
			// check reports it, as long as the version is checked.
			if v, err := module.UnescapeVersion(base); err1 == nil && err == nil && module.CanonicalVersion(v) == v {
				seen[module.Version{Path: modPath, Version: v}] = true
			}
			return filepath.SkipDir
		}
		vers, err2 := module.UnescapeVersion(encVer)
		if err1 == nil && err2 == nil && module.CanonicalVersion(vers) == vers {
			seen[module.Version{Path: modPath, Version: vers}] = true
		}
		return filepath.SkipDir
	})
	if err != nil {
		return nil, err
	}

	mods := make([]module.Version, 0, len(seen))
	for m := range seen {
		mods = append(mods, m)
	}
	sortVersions(mods)
	return mods, nil
}

// versionOf returns the version a file in an @v directory belongs to:
// "v1.0.0" for v1.0.0.zip, v1.0.0.ziphash, v1.0.0.zip123.tmp and so on.
// The list file and .lock files alone do not make a version.
func versionOf(name string) (string, bool) {
	base := strings.TrimSuffix(name, ".tmp")
	if base != name {
		base = strings.TrimRight(base, "0123456789")
	}
	i := strings.LastIndex(base, ".")
	if i < 0 {
		return "", false
	}
	switch base[i+1:] {
	case "info", "mod", "zip", "ziphash", "partial":
	default:
		return "", false
	}
	v, err := module.UnescapeVersion(base[:i])
	if err != nil || module.CanonicalVersion(v) != v {
		return "", false
	}
	return v, true
}

func sortVersions(mods []module.Version) {
	slices.SortFunc(mods, func(a, b module.Version) int {
		return cmp.Or(strings.Compare(a.Path, b.Path), semver.Compare(a.Version, b.Version), strings.Compare(a.Version, b.Version))
	})
}

func sortFaults(faults []Fault) {
	slices.SortStableFunc(faults, func(a, b Fault) int {
		return cmp.Or(
			strings.Compare(a.Mod.Path, b.Mod.Path),
			semver.Compare(a.Mod.Version, b.Mod.Version),
			strings.Compare(a.Path, b.Path),
			strings.Compare(string(a.Kind), string(b.Kind)),
		)
	})
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// errText is err's message without the path an *fs.PathError repeats:
// the fault names the path already.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}
