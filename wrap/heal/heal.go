package wrap

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/mod/module"

	"github.com/gomodx/gomodx/modcache"
	"github.com/gomodx/gomodx/prefetch"
)

// Diagnosis is what a failed go command's stderr says about the module
// cache (../shared/GO-ERRORS.md lists the signatures).
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

var (
	// "verifying M@V: checksum mismatch", "verifying M@V/go.mod: …",
	// "verifying M@V: unexpected ziphash" (C1, C2, C15)
	verifyingRE = regexp.MustCompile(`verifying ([^\s@:]+)@(v[^\s:@/]+)(?:/go\.mod)?: (?:checksum mismatch|unexpected ziphash|missing ziphash)`)
	// "M@V: verifying module: checksum mismatch", "…: verifying go.mod:
	// checksum mismatch", "…: malformed record data", "…: cannot
	// authenticate record data" (C3, C4, C6, C7)
	modVerifyingRE = regexp.MustCompile(`([^\s@:]+)@(v[^\s:@/]+): verifying (?:module|go\.mod): .*(?:checksum mismatch|malformed record data|cannot authenticate record data|checksum missing from sumdb)`)
	// "unzip <file>.zip: …" (C12, C14)
	unzipRE = regexp.MustCompile(`unzip (\S+\.zip): `)
	// A bare zip error, or a broken checksum database cache (C8-C10, C13).
	unnamedRE = regexp.MustCompile(`(?m)(?:^|: )zip: not a valid zip file$|initializing sumdb\.Client: (?:reading tree note: malformed note|checking tree#\d+: (?:TileReader returned bad result|downloaded inconsistent tile))`)
	// The go command's word for a checksum database caught lying (C11).
	misbehaviorRE = regexp.MustCompile(`go\.sum database server misbehavior detected`)
	// Certificate problems are the network's, never the cache's.
	x509RE = regexp.MustCompile(`x509: |tls: failed to verify certificate`)
)

// Diagnose reads the go command's stderr. cacheRoot is GOMODCACHE, whose
// paths in compile errors and unzip errors name a module (C12, C18); go
// prints them relative to dir, where it ran, when that is shorter.
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
// into: $GOMODCACHE/<esc path>@<esc ver>/file.go:line:col: … (C18).
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
	SumdbDir string            // $GOPATH/pkg/sumdb
}

// Repair is one fault fixed.
type Repair struct {
	Fault   modcache.Fault
	Fetched bool // the entry was fetched again from the mirrors
}

// ErrNotCache reports a go failure that is not the cache's fault.
var ErrNotCache = errors.New("not a problem with the module cache")

// Heal checks the entries d blames by re-hashing them on disk (go's own
// labels can come out swapped), removes exactly the faulty ones and
// fetches them again. It returns the repairs made; none means the cache
// was not at fault. When a fresh copy from the mirrors does not match
// go.sum either, the cache was not the problem: it returns an error and
// the go command's message stands.
func (h *Healer) Heal(ctx context.Context, d Diagnosis) ([]Repair, error) {
	if d.NotCache != "" {
		return nil, fmt.Errorf("%w: %s", ErrNotCache, d.NotCache)
	}
	cache := h.Fetch.Cache()
	var faults []modcache.Fault
	for _, m := range d.Mods {
		faults = append(faults, cache.VerifyModule(ctx, m, h.Sums.Zip(m), h.Sums.GoMod(m))...)
	}
	if d.Unnamed {
		mods := []module.Version{}
		if h.Project != nil {
			mods = h.Project.Versions()
		}
		all, err := cache.Verify(ctx, modcache.VerifyOptions{Mods: mods, Shared: true, Sums: h.Sums, SumdbDir: h.SumdbDir})
		if err != nil {
			return nil, err
		}
		faults = append(faults, all...)
	}
	var repairs []Repair
	var errs []error
	for _, f := range faults {
		if f.Kind == modcache.TempFile {
			continue // clutter that breaks nothing (C25)
		}
		if err := cache.Repair(ctx, f); err != nil {
			errs = append(errs, err)
			continue
		}
		r := Repair{Fault: f}
		if kind, ok := refetchKind(f); ok && f.Mod.Path != "" {
			h.Fetch.Forget(f.Mod, kind)
			state, err := h.Fetch.Ensure(ctx, f.Mod, kind)
			if state == prefetch.Failed {
				errs = append(errs, err)
			}
			r.Fetched = state == prefetch.Fetched
		}
		repairs = append(repairs, r)
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
