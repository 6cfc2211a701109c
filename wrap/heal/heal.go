// Package heal repairs the module cache after the go command failed on it.
//
// The go command trusts much of what it finds in the cache, and when an
// entry is damaged it fails with its own message, which names the entry
// more or less precisely. [Diagnose] reads that message, [Healer.Heal]
// re-hashes the entries it blames, repairs exactly the faulty ones
// (modcache.Repair, under the go command's locks) and fetches them again,
// verified, so that the command can run once more. A failure that is not
// the cache's (a checksum database caught lying, a certificate problem, a
// mirror serving what go.sum does not vouch for) is left to go's message.
package heal

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/mod/module"

	"github.com/gomodx/gomodx/modcache"
	"github.com/gomodx/gomodx/prefetch"
)

// Diagnosis is what a failed go command's stderr says about the module
// cache. testdata holds the messages of go 1.26 that it reads, one
// fixture per kind of breakage.
type Diagnosis struct {
	// Mods are the module versions whose cache entries the error blames.
	Mods []module.Version
	// Unnamed is set when the error blames the cache without naming a
	// module (a bare "zip: not a valid zip file", a broken checksum
	// database cache): every entry the project uses is checked then.
	Unnamed bool
	// NotCache is set, with the reason, when the error is one gomodx must
	// not "repair": a checksum database that misbehaved, a certificate
	// problem. go's own message is then left to speak for itself.
	NotCache string
}

// go's words for a cache entry it found wrong.
var (
	// A file of the download cache that does not match go.sum or its
	// .ziphash: "verifying M@V: checksum mismatch", "verifying
	// M@V/go.mod: checksum mismatch", "verifying M@V: unexpected ziphash".
	verifyingRE = regexp.MustCompile(`verifying ([^\s@:]+)@(v[^\s:@/]+)(?:/go\.mod)?: (?:checksum mismatch|unexpected ziphash|missing ziphash)`)
	// The same against the checksum database, or a lookup record of its
	// cache that is damaged: "M@V: verifying module: checksum mismatch",
	// "M@V: verifying go.mod: M@V/go.mod: malformed record data", "…:
	// cannot authenticate record data in server response".
	modVerifyingRE = regexp.MustCompile(`([^\s@:]+)@(v[^\s:@/]+): verifying (?:module|go\.mod): .*(?:checksum mismatch|malformed record data|cannot authenticate record data|checksum missing from sumdb)`)
	// A zip go could not unpack: "unzip <file>.zip: zip: not a valid zip
	// file", "…: zip: checksum error".
	unzipRE = regexp.MustCompile(`unzip (\S+\.zip): `)
	// A zip error that names no file (go hashed a zip that had no
	// .ziphash), or a damaged checksum-database cache: its latest tree
	// note, or its tiles.
	unnamedRE = regexp.MustCompile(`(?m)(?:^|: )zip: not a valid zip file$|initializing sumdb\.Client: (?:reading tree note: malformed note|checking tree#\d+: (?:TileReader returned bad result|downloaded inconsistent tile))`)
	// The go command's words for a checksum database caught lying.
	misbehaviorRE = regexp.MustCompile(`go\.sum database server misbehavior detected`)
	// Certificate problems are the network's, never the cache's.
	x509RE = regexp.MustCompile(`x509: |tls: failed to verify certificate`)
)

// Diagnose reads the go command's stderr. cacheRoot is GOMODCACHE, whose
// paths in compile errors and unzip errors name a module; go prints them
// relative to dir, where it ran, when that is shorter.
func Diagnose(stderr, cacheRoot, dir string) Diagnosis {
	var d Diagnosis
	switch {
	case misbehaviorRE.MatchString(stderr):
		d.NotCache = "the checksum database misbehaved: this is a security problem, not a broken cache"
		return d
	case x509RE.MatchString(stderr):
		d.NotCache = "a certificate problem is the network's, not the cache's"
		return d
	}
	add := func(path, vers string) {
		m := module.Version{Path: path, Version: vers}
		if module.Check(path, vers) == nil && !slices.Contains(d.Mods, m) {
			d.Mods = append(d.Mods, m)
		}
	}
	for _, re := range []*regexp.Regexp{verifyingRE, modVerifyingRE} {
		for _, m := range re.FindAllStringSubmatch(stderr, -1) {
			add(m[1], m[2])
		}
	}
	for _, m := range unzipRE.FindAllStringSubmatch(stderr, -1) {
		if mod, ok := zipModule(cacheRoot, m[1]); ok {
			add(mod.Path, mod.Version)
		}
	}
	roots := []string{cacheRoot}
	if rel, err := filepath.Rel(dir, cacheRoot); err == nil && dir != "" {
		roots = append(roots, rel)
	}
	for _, root := range roots {
		for _, mod := range treeModules(root, stderr) {
			add(mod.Path, mod.Version)
		}
	}
	d.Unnamed = unnamedRE.MatchString(stderr)
	return d
}

// zipModule maps $GOMODCACHE/cache/download/<esc path>/@v/<esc ver>.zip
// back to its module.
func zipModule(cacheRoot, file string) (module.Version, bool) {
	rel, err := filepath.Rel(filepath.Join(cacheRoot, "cache", "download"), file)
	if err != nil || strings.HasPrefix(rel, "..") {
		return module.Version{}, false
	}
	escPath, escVer, ok := strings.Cut(filepath.ToSlash(rel), "/@v/")
	if !ok {
		return module.Version{}, false
	}
	path, err1 := module.UnescapePath(escPath)
	vers, err2 := module.UnescapeVersion(strings.TrimSuffix(escVer, ".zip"))
	if err1 != nil || err2 != nil {
		return module.Version{}, false
	}
	return module.Version{Path: path, Version: vers}, true
}

// treeModules finds the extracted module trees that compile errors point
// into: $GOMODCACHE/<esc path>@<esc ver>/file.go:line:col: ….
func treeModules(cacheRoot, stderr string) []module.Version {
	var mods []module.Version
	prefix := filepath.ToSlash(cacheRoot) + "/"
	for line := range strings.Lines(stderr) {
		i := strings.Index(line, prefix)
		if i < 0 || strings.Contains(line, "/cache/download/") || (i > 0 && !strings.ContainsRune(" \t(", rune(line[i-1]))) {
			continue
		}
		rest := line[i+len(prefix):]
		at := strings.Index(rest, "@")
		if at < 0 {
			continue
		}
		end := strings.IndexAny(rest[at:], "/ :")
		if end < 0 {
			continue
		}
		path, err1 := module.UnescapePath(rest[:at])
		vers, err2 := module.UnescapeVersion(rest[at+1 : at+end])
		if err1 == nil && err2 == nil {
			mods = append(mods, module.Version{Path: path, Version: vers})
		}
	}
	return mods
}

// A Healer repairs the cache entries that a failed go command blames and
// fetches them again, verified, so that the command can be run once more.
type Healer struct {
	Fetch    *prefetch.Fetcher
	Project  *prefetch.Project // nil outside a module
	Sums     prefetch.Sums     // the project's go.sum lines
	SumdbDir string            // $GOPATH/pkg/sumdb, "" if unknown
	Log      *slog.Logger      // why nothing was repaired; nil discards
	// ModCacheRW says -modcacherw is in effect for the go command (its
	// flag, or GOFLAGS): an extracted tree that differs from its module
	// may then be someone's work in progress, and is never removed.
	ModCacheRW bool
}

// Repair is one fault fixed.
type Repair struct {
	Fault   modcache.Fault
	Fetched bool // the entry was fetched again from the mirrors
}

// String says what was wrong and what was done, as a person reads it after
// "repaired the module cache: ".
func (r Repair) String() string {
	how := "go will extract it again"
	if r.Fetched {
		how = "fetched again from the mirrors and verified"
	}
	return r.Fault.String() + "; " + how
}

// Heal checks the entries d blames by re-hashing them on disk (go's own
// labels can come out swapped; a compile error in a module's tree says
// nothing by itself), repairs exactly the faulty ones and fetches them
// again. An extracted tree that may hold someone's edits is never
// removed: the error names it and what differs. It returns the repairs made; none means the cache
// was not at fault, or d blames something else (logged), and go's
// failure stands as it is. When a fresh copy from the mirrors does not
// match go.sum either, the cache was not the problem: the error says so,
// and go's message stands as well.
func (h *Healer) Heal(ctx context.Context, d Diagnosis) ([]Repair, error) {
	log := h.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if d.NotCache != "" {
		log.Info("not repairing the module cache", "reason", d.NotCache)
		return nil, nil
	}
	cache := h.Fetch.Cache()
	var faults []modcache.Fault
	for _, m := range d.Mods {
		faults = append(faults, cache.VerifyModule(ctx, m, h.Sums.Zip(m), h.Sums.GoMod(m))...)
	}
	if d.Unnamed {
		var mods []module.Version
		if h.Project != nil {
			mods = h.Project.Versions()
		}
		all, err := cache.Verify(ctx, modcache.VerifyOptions{Mods: mods, Shared: true, Sums: h.Sums, SumdbDir: h.SumdbDir})
		if err != nil {
			return nil, err
		}
		faults = append(faults, all...)
	}
	// A leftover temp file is clutter that breaks nothing: go removes its
	// own under the lock, and never trips over one. A fault found twice
	// (go's message both names the zip and says "not a valid zip file")
	// is one repair.
	seen := map[modcache.Fault]bool{}
	faults = slices.DeleteFunc(faults, func(f modcache.Fault) bool {
		dup := seen[f]
		seen[f] = true
		return dup || f.Kind == modcache.TempFile
	})

	var repairs []Repair
	var errs []error
	// A tree that may hold someone's edits is kept (Repair says so with a
	// *modcache.KeptError): go's compile error in it is theirs to fix.
	for _, r := range cache.Repair(ctx, faults, modcache.RepairOptions{ModCacheRW: h.ModCacheRW}) {
		if r.Err != nil {
			errs = append(errs, r.Err)
			continue
		}
		if !r.Done {
			continue // fixed meanwhile by someone else: nothing to report
		}
		rep := Repair{Fault: r.Fault}
		if kind, ok := refetchKind(r.Fault); ok && r.Fault.Mod.Path != "" {
			h.Fetch.Forget(r.Fault.Mod, kind)
			state, err := h.Fetch.Ensure(ctx, r.Fault.Mod, kind)
			if state == prefetch.Failed {
				errs = append(errs, err)
			}
			rep.Fetched = state == prefetch.Fetched
		}
		repairs = append(repairs, rep)
	}
	return repairs, errors.Join(errs...)
}

// refetchKind says which file to fetch again after a repair; go re-extracts
// trees and checks the checksum database itself.
func refetchKind(f modcache.Fault) (modcache.Kind, bool) {
	switch f.Kind {
	case modcache.GoSumMismatch:
		if strings.HasSuffix(f.Path, ".mod") {
			return modcache.Mod, true
		}
		return modcache.Zip, true
	case modcache.ZipCorrupt, modcache.ZiphashMissing, modcache.ZiphashMismatch:
		return modcache.Zip, true
	case modcache.ModInvalid:
		return modcache.Mod, true
	case modcache.InfoInvalid:
		return modcache.Info, true
	}
	return "", false
}

// Tail keeps the last bytes written to it: enough of the go command's
// stderr to diagnose, without holding a long build log in memory.
type Tail struct {
	max int
	buf []byte
}

// NewTail keeps up to max bytes.
func NewTail(max int) *Tail { return &Tail{max: max} }

func (t *Tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *Tail) String() string { return string(t.buf) }
