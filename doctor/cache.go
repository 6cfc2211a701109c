package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/gomodx/gomodx/modcache"
)

// Thresholds of free space on the disk holding GOMODCACHE.
const (
	failBelow = 256 << 20 // a few large modules no longer fit
	warnBelow = 2 << 30
)

// cacheIO is what checkCacheIO found.
type cacheIO struct {
	root      string
	exists    bool
	notDir    bool
	statErr   error
	existing  string // root, or its nearest existing ancestor
	writeErr  error
	disk      DiskSpace
	diskErr   error
	faults    []modcache.Fault
	verifyErr error
	verified  bool
}

// checkCacheIO looks at GOMODCACHE on disk: whether it exists and can be
// written, the free space, and a quick verify of the project's entries.
func (d *run) checkCacheIO(ctx context.Context) {
	io := &d.cacheIO
	io.root = d.env.GOMODCACHE
	if io.root == "" || !filepath.IsAbs(io.root) {
		return
	}
	fi, err := os.Stat(io.root)
	switch {
	case err == nil && !fi.IsDir():
		io.notDir = true
		return
	case err == nil:
		io.exists = true
	case !errors.Is(err, fs.ErrNotExist):
		io.statErr = err
		return
	}
	io.existing = io.root
	for !io.exists {
		parent := filepath.Dir(io.existing)
		if parent == io.existing {
			break
		}
		io.existing = parent
		if _, err := os.Stat(parent); err == nil {
			break
		}
	}
	io.writeErr = d.opts.Writable(io.existing)
	if io.exists && io.writeErr == nil {
		// go writes below cache/download; a root-owned subtree (a cache
		// restored by a CI step run as root) breaks it as surely.
		if dl := filepath.Join(io.root, "cache", "download"); isDir(dl) {
			io.writeErr = d.opts.Writable(dl)
		}
	}
	io.disk, io.diskErr = d.opts.Disk(io.existing)

	if !io.exists {
		return
	}
	verify := d.opts.Verify
	if verify == nil {
		verify = d.defaultVerify
	}
	if verify != nil {
		io.faults, io.verifyErr = verify(ctx)
		io.verified = true
	}
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// defaultVerify verifies the project's entries, as 'gomodx verify' does,
// or nothing outside a module (the whole cache would take too long for a
// quick check).
func (d *run) defaultVerify(ctx context.Context) ([]modcache.Fault, error) {
	if d.proj == nil {
		return nil, errNoProject
	}
	c, err := modcache.Open(d.env.GOMODCACHE)
	if err != nil {
		return nil, err
	}
	_, opts, err := modcache.Select(nil, false, true, d.proj.Versions())
	if err != nil {
		return nil, err
	}
	opts.Sums = d.proj.Sums
	opts.SumdbDir, _ = d.env.SumdbDir()
	return c.Verify(ctx, opts)
}

var errNoProject = errors.New("not in a module")

// serious are the fault kinds that make the go command fail or build the
// wrong code; the others are clutter go copes with.
var serious = map[modcache.FaultKind]bool{
	modcache.ZipCorrupt:      true,
	modcache.ZiphashMismatch: true,
	modcache.GoSumMismatch:   true,
	modcache.ModInvalid:      true,
	modcache.DirModified:     true,
	modcache.SumdbCorrupt:    true,
}

// cache gives the module cache its verdicts.
func (d *run) cache() {
	io := d.cacheIO
	root := d.env.GOMODCACHE
	switch {
	case root == "":
		d.add(AreaCache, "GOMODCACHE", Fail, "not set, and GOPATH is not set either: go has nowhere to put modules ('module cache not found')", "set GOPATH, or go env -w GOMODCACHE=<an absolute directory>")
		return
	case !filepath.IsAbs(root):
		d.add(AreaCache, "GOMODCACHE", Fail, fmt.Sprintf("%q is relative; go needs an absolute path ('GOMODCACHE entry is relative; must be absolute path')", root), "go env -w GOMODCACHE=<an absolute directory>")
		return
	case io.notDir:
		d.add(AreaCache, "GOMODCACHE", Fail, root+" is not a directory", "remove that file, or point GOMODCACHE elsewhere")
		return
	case io.statErr != nil:
		d.add(AreaCache, "GOMODCACHE", Fail, "cannot read "+root+": "+io.statErr.Error(), "check the permissions of its parent directories")
		return
	}

	switch {
	case io.writeErr != nil:
		what, fix := "not writable by this user", fmt.Sprintf("give the directory back to this user (sudo chown -R %d %s), or go env -w GOMODCACHE=<a writable directory>", os.Getuid(), root)
		if errors.Is(io.writeErr, syscall.EROFS) {
			what, fix = "on a read-only file system", "go env -w GOMODCACHE=<a directory on a writable disk>"
		}
		d.add(AreaCache, "GOMODCACHE", Fail, fmt.Sprintf("%s is %s (%v): go fails with 'could not create module cache' or 'writing go.mod cache: permission denied'", root, what, errText(io.writeErr)), fix)
	case !io.exists:
		d.add(AreaCache, "GOMODCACHE", OK, root+" does not exist yet; go creates it at the first download", "")
	default:
		d.add(AreaCache, "GOMODCACHE", OK, root+" exists and is writable", "")
	}

	switch {
	case io.diskErr != nil:
		// statfs is not available everywhere; say nothing rather than guess.
	case io.disk.Free < failBelow:
		d.add(AreaCache, "disk space", Fail, fmt.Sprintf("only %s free on the disk holding %s: downloads fail with 'no space left on device'", size(io.disk.Free), root),
			"free some space; 'gomodx clean' removes only faulty cache entries, 'gomodx clean --all' the whole cache")
	case io.disk.Free < warnBelow:
		d.add(AreaCache, "disk space", Warn, fmt.Sprintf("%s free on the disk holding %s: a large dependency graph may not fit", size(io.disk.Free), root), "free some space")
	default:
		d.add(AreaCache, "disk space", OK, size(io.disk.Free)+" free", "")
	}

	switch {
	case !io.verified:
	case errors.Is(io.verifyErr, errNoProject):
		d.add(AreaCache, "quick verify", OK, "not in a module: skipped ('gomodx verify --all' checks the whole cache)", "")
	case io.verifyErr != nil:
		d.add(AreaCache, "quick verify", Warn, "could not verify: "+io.verifyErr.Error(), "run 'gomodx verify' for details")
	case len(io.faults) == 0:
		d.add(AreaCache, "quick verify", OK, "the project's entries are intact", "")
	default:
		status := Warn
		var list []string
		for i, f := range io.faults {
			if serious[f.Kind] {
				status = Fail
			}
			if i < 3 {
				what := string(f.Kind)
				if f.Mod.Path != "" {
					what = f.Mod.String() + " " + what
				}
				list = append(list, what)
			}
		}
		if len(io.faults) > 3 {
			list = append(list, fmt.Sprintf("%d more", len(io.faults)-3))
		}
		d.add(AreaCache, "quick verify", status, fmt.Sprintf("%d faulty entries: %s", len(io.faults), words(list)),
			"gomodx clean (removes exactly those entries; 'gomodx verify' lists them)")
		d.report.Faults = io.faults
	}
}

// errText is err's message without the path an *fs.PathError repeats.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
