package toolchain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/mod/module"

	"github.com/gomodx/gomodx/modcache"
	"github.com/gomodx/gomodx/prefetch"
)

// Options configures [Install].
type Options struct {
	// Cache is the module cache (GOMODCACHE) to install into.
	Cache *modcache.Cache
	// Fetch gets one protocol file of mod from the mirrors and hands each
	// 200 body to store, as mirrors.(*List).Fetch does: it retries a body
	// that breaks, calling store again, and moves on to another mirror
	// when store rejects the bytes.
	Fetch func(ctx context.Context, mod module.Version, file string, store func(body io.Reader) error) error
	// Lookup returns the checksum database's hashes for mod, as
	// checksum.(*DB).Lookup does, filling the go command's own checksum
	// database cache, which go reads when it switches.
	Lookup func(ctx context.Context, mod module.Version) (zip, gomod string, err error)
	// SumDB is the checksum database's name, for messages.
	SumDB string
	// Progress, if set, gets the zip's events: Planned, then its outcome.
	Progress func(prefetch.Event)
	// Downloading, if set, gets the line the go command prints when it
	// starts the download, "go: downloading go1.27.3 (linux/amd64)", so
	// that it can be printed in go's stead: once a mirror answers with the
	// zip, since where none does go tries itself and prints it then.
	Downloading func(line string)
}

// Install puts the toolchain module mod into the module cache the way the
// go command's toolchain switch does, so that go switches to it without a
// request of its own:
//
//   - the zip is fetched through opts.Fetch and verified against the
//     checksum database (asked once a mirror answers with the zip, as go
//     asks once it has downloaded it), and unpacked as it is hashed into
//     <GOMODCACHE>/golang.org/toolchain@<version>, then committed with
//     its .ziphash under the version's lock (modcache.PutZipAndUnpack):
//     bytes that do not verify never enter the cache, and the mirror that
//     served them is passed over for the next interchangeable one;
//   - the tree's directories are read-only: the go command unpacks a
//     toolchain before it reads GOFLAGS, so -modcacherw does not apply;
//   - the files that go makes executable on first use are made so
//     (pkg/tool, lib/go_*_*_exec, bin), bin/go last.
//
// The go command still does the rest of its first use itself, offline: it
// copies each src/.../_go.mod to go.mod (the zip carries them renamed so
// that it is one module) and checks the zip's hash against the checksum
// database's cached record.
//
// An error means the go command has to try itself: nothing unverified was
// kept. It matches errors.ErrUnsupported when GOPROXY led to "direct" or
// "off", and fs.ErrNotExist when no mirror has the toolchain.
func Install(ctx context.Context, mod module.Version, opts Options) (err error) {
	report := func(state prefetch.State, bytes int64, err error) {
		if opts.Progress != nil {
			opts.Progress(prefetch.Event{Mod: mod, Kind: modcache.Zip, State: state, Bytes: bytes, Err: err})
		}
	}
	report(prefetch.Planned, 0, nil)
	if unpacked(opts.Cache, mod) || opts.Cache.Has(mod, modcache.Zip, "") {
		// The go command trusts a zip with its .ziphash, and checks that
		// against the checksum database itself.
		report(prefetch.Cached, 0, nil)
	} else {
		if err := fetchZip(ctx, mod, opts); err != nil {
			switch {
			case errors.Is(err, errors.ErrUnsupported):
				report(prefetch.Left, 0, nil)
			default:
				report(prefetch.Failed, 0, err)
			}
			return err
		}
		var size int64
		if zip, err := opts.Cache.Path(mod, "zip"); err == nil {
			if fi, err := os.Stat(zip); err == nil {
				size = fi.Size()
			}
		}
		report(prefetch.Fetched, size, nil)
	}

	if !unpacked(opts.Cache, mod) {
		// The go command unpacks a toolchain before it reads GOFLAGS:
		// -modcacherw does not apply.
		if err := opts.Cache.Extract(ctx, mod, modcache.UnpackOptions{}); err != nil {
			return err
		}
	}
	dir, err := extractedDir(opts.Cache, mod)
	if err != nil {
		return err
	}
	if err := markExecutable(dir); err != nil {
		return fmt.Errorf("%s: %w", mod, err)
	}
	return nil
}

// fetchZip fetches mod's zip into the cache, verified against the checksum
// database.
func fetchZip(ctx context.Context, mod module.Version, opts Options) error {
	var (
		want      string
		lookupErr error
		looked    bool
	)
	err := opts.Fetch(ctx, mod, string(modcache.Zip), func(body io.Reader) error {
		if !looked {
			// A mirror has the zip. Only now does go's line come: where no
			// mirror has it, go tries itself and says it then.
			if opts.Downloading != nil {
				opts.Downloading("go: downloading " + Name(mod))
			}
			// The go command would now ask the checksum database, after
			// downloading the zip. Asking first lets the zip be checked as
			// it is written, and costs no request go would not make. The
			// body waits meanwhile.
			looked = true
			want, _, lookupErr = opts.Lookup(ctx, mod)
			if lookupErr == nil && want == "" {
				lookupErr = fmt.Errorf("verifying %s: checksum database %s has no hash for its zip", mod, opts.SumDB)
			}
		}
		if lookupErr != nil {
			return lookupErr // not the mirror's fault: the walk stops here
		}
		// Unpacked as it is hashed, in one pass; nothing becomes visible
		// before the hash matches. SumSource names the database in a
		// mismatch: for a toolchain there is no go.sum.
		return opts.Cache.PutZipAndUnpack(ctx, mod, want, func(store func(io.Reader) error) error {
			return modcache.SumSource(opts.SumDB, store)(body)
		}, modcache.UnpackOptions{})
	})
	if lookupErr != nil {
		return lookupErr
	}
	return err
}

// extractedDir is where the go command unpacks mod:
// <GOMODCACHE>/<escaped path>@<escaped version>.
func extractedDir(c *modcache.Cache, mod module.Version) (string, error) {
	enc, err := module.EscapePath(mod.Path)
	if err != nil {
		return "", err
	}
	encVer, err := module.EscapeVersion(mod.Version)
	if err != nil {
		return "", err
	}
	return filepath.Join(c.Root(), filepath.FromSlash(enc)+"@"+encVer), nil
}

// unpacked reports what the go command's DownloadDir checks before it
// uses a module's tree without downloading anything: the tree is there, no
// .partial marker says it is half-made, and the .ziphash is there (the zip
// itself need not be).
func unpacked(c *modcache.Cache, mod module.Version) bool {
	dir, err := extractedDir(c, mod)
	if err != nil {
		return false
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return false
	}
	partial, err := c.Path(mod, "partial")
	if err != nil {
		return false
	}
	if _, err := os.Stat(partial); !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	ziphash, err := c.Path(mod, "ziphash")
	if err != nil {
		return false
	}
	_, err = os.Stat(ziphash)
	return err == nil
}

// markExecutable sets the execute bits the go command sets on a toolchain
// it has just unpacked (a module zip keeps no file modes), in its order:
// everything under pkg/tool, the lib/**/go_<os>_<arch>_exec scripts, bin/gofmt,
// then everything under bin. bin/go comes last because it is the sign go
// checks: a go command that sees it executable trusts that the rest is. A
// missing directory is an error, as it is for go.
func markExecutable(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	fi, err := os.Stat(filepath.Join(dir, "bin", "go"))
	if err != nil {
		return err
	}
	if fi.Mode()&0o111 != 0 {
		return nil // done already, by go or by an earlier run
	}
	for _, step := range []struct{ dir, pattern string }{
		{"pkg/tool", ""},
		{"lib", "go_?*_?*_exec"},
		{"bin/gofmt", ""},
		{"bin", ""},
	} {
		if err := allowExec(filepath.Join(dir, filepath.FromSlash(step.dir)), step.pattern); err != nil {
			return err
		}
	}
	return nil
}

// allowExec adds the execute bits to every file under root (root itself,
// if it is a file) whose name matches pattern, or to all for "".
func allowExec(root, pattern string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if pattern != "" {
			if ok, _ := filepath.Match(pattern, d.Name()); !ok {
				return nil
			}
		}
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		return os.Chmod(path, fi.Mode()&0o777|0o111)
	})
}
