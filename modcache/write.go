package modcache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/lockedfile"
	"github.com/rogpeppe/go-internal/robustio"
	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

// Size caps for bodies held in memory. Real .info files are a few hundred
// bytes and go.mod files rarely exceed a few KiB; the caps only stop a
// broken mirror from exhausting memory.
const (
	maxInfoSize = 1 << 20
	maxModSize  = 16 << 20
)

// A Download fetches one file from mirrors. It calls store once per attempt
// with that attempt's response body; store returns nil when it accepted the
// body, or an error saying why it rejected it (a *HashMismatchError or
// *InvalidError when the bytes themselves are wrong), and then the Download
// may try again, for example with another mirror. Calls to store must not
// overlap: each one starts the cache's copy of the file from scratch.
// Download returns nil after an accepted store, else an error, which the Put
// methods return as it is: it should name the module and where it came from.
type Download func(store func(body io.Reader) error) error

// revInfo is what the go command writes to a .info file: the JSON encoding
// of modfetch.RevInfo, whose Name and Short fields are never marshaled.
// Field order matters, since go rewrites an .info whose bytes differ from
// its own re-encoding.
type revInfo struct {
	Version string
	Time    time.Time
	Origin  *origin `json:",omitempty"`
}

// origin mirrors cmd/go/internal/modfetch/codehost.Origin, field for field,
// so that re-encoding keeps every field the go command knows about.
type origin struct {
	VCS       string `json:",omitempty"`
	URL       string `json:",omitempty"`
	Subdir    string `json:",omitempty"`
	Hash      string `json:",omitempty"`
	TagPrefix string `json:",omitempty"`
	TagSum    string `json:",omitempty"`
	Ref       string `json:",omitempty"`
	RepoSum   string `json:",omitempty"`
}

// PutInfo fetches mod's .info through dl, checks that it describes
// mod.Version, and writes it into the cache in the go command's canonical
// encoding.
func (c *Cache) PutInfo(ctx context.Context, mod module.Version, dl Download) error {
	file, err := c.Path(mod, "info")
	if err != nil {
		return err
	}
	data, err := FetchFile(ctx, mod, Info, "", dl)
	if err != nil {
		return err
	}
	if err := writeFile(ctx, file, data); err != nil {
		return fmt.Errorf("%s: writing info: %w", mod, err)
	}
	return nil
}

// cleanInfo parses an .info body and re-encodes it as writeDiskStat does:
// the origin loses the fields that only matter when resolving a query
// (tags, repo sum), and the ref for pseudo-versions, which name a commit.
func cleanInfo(mod module.Version, raw []byte) ([]byte, error) {
	var info revInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		return nil, &InvalidError{Mod: mod, Kind: Info, Err: err}
	}
	if info.Version != mod.Version {
		return nil, &InvalidError{Mod: mod, Kind: Info,
			Err: fmt.Errorf("proxy returned info for version %s instead of requested version", info.Version)}
	}
	if info.Origin != nil {
		o := *info.Origin
		o.TagSum = ""
		o.TagPrefix = ""
		o.RepoSum = ""
		if module.IsPseudoVersion(info.Version) {
			o.Ref = ""
		}
		info.Origin = &o
	}
	return json.Marshal(info)
}

// PutMod fetches mod's go.mod through dl, checks it against want (the
// "/go.mod" hash from go.sum; "" means none is required, in which case it
// must at least parse), writes it into the cache and updates the version
// list as the go command does.
func (c *Cache) PutMod(ctx context.Context, mod module.Version, want string, dl Download) error {
	file, err := c.Path(mod, "mod")
	if err != nil {
		return err
	}
	data, err := FetchFile(ctx, mod, Mod, want, dl)
	if err != nil {
		return err
	}
	if err := writeFile(ctx, file, data); err != nil {
		return fmt.Errorf("%s: writing go.mod: %w", mod, err)
	}
	// The go command ignores this error too (writeDiskCache): the list only
	// serves GOPROXY=file:// consumers, and the next .mod write rewrites it.
	_ = rewriteVersionList(filepath.Dir(file))
	return nil
}

// FetchFile downloads mod's .info or .mod through dl and checks it as
// PutInfo and PutMod do (an .info must be JSON naming the version asked
// for, a .mod must match want when want is set), without writing the
// cache: for a go command that will write it itself. It returns the bytes
// to keep: an .info as the go command writes it.
func FetchFile(ctx context.Context, mod module.Version, kind Kind, want string, dl Download) ([]byte, error) {
	var data []byte
	err := fetch(ctx, mod, kind, dl, func(body io.Reader) error {
		data = nil
		limit := int64(maxModSize)
		if kind == Info {
			limit = maxInfoSize
		}
		raw, err := readBody(mod, kind, body, limit)
		if err != nil {
			return err
		}
		if kind == Info {
			raw, err = cleanInfo(mod, raw)
		} else {
			err = checkGoMod(mod, want, raw)
		}
		if err != nil {
			return err
		}
		data = raw
		return nil
	})
	if err != nil {
		return nil, err
	}
	return data, nil
}

// checkGoMod verifies a go.mod body. With a go.sum hash, the hash is all
// that matters: those are the bytes the module's author published, and the
// go command accepts them even if today's parser would not. Without one,
// parsing is the only evidence the body is a go.mod at all.
func checkGoMod(mod module.Version, want string, data []byte) error {
	if len(data) == 0 {
		return &InvalidError{Mod: mod, Kind: Mod, Err: errors.New("empty go.mod")}
	}
	if want != "" {
		got, err := goModSum(data)
		if err != nil {
			return &InvalidError{Mod: mod, Kind: Mod, Err: err}
		}
		if got != want {
			return &HashMismatchError{Mod: mod, Kind: Mod, Want: want, Got: got}
		}
		return nil
	}
	f, err := modfile.ParseLax("go.mod", data, nil)
	if err != nil {
		return &InvalidError{Mod: mod, Kind: Mod, Err: err}
	}
	// ParseLax skips unknown directives, so an HTML error page served with
	// status 200 parses. The go command rejects a dependency's go.mod with
	// no module line (modload.goModSummary), so that is a reliable test.
	if f.Module == nil || f.Module.Mod.Path == "" {
		return &InvalidError{Mod: mod, Kind: Mod, Err: errors.New("go.mod has no module line")}
	}
	return nil
}

// PutZip fetches mod's zip through dl, checks it against the module zip
// rules and against want (the h1 hash from go.sum; "" means none is
// required), and commits it as <ver>.zip with its <ver>.ziphash.
//
// It follows modfetch.downloadZip step for step, under the same per-version
// lock file, so that it can run alongside the go command: the zip is
// streamed to a temp file, verified there, the .ziphash is written, and only
// then is the zip renamed into place. Since the go command trusts a .zip
// that has a .ziphash, this is the only check the zip's content gets.
func (c *Cache) PutZip(ctx context.Context, mod module.Version, want string, dl Download) error {
	return c.putZip(ctx, mod, want, dl, nil)
}

// UnpackOptions are the options of PutZipAndUnpack and Extract.
type UnpackOptions struct {
	// Writable leaves the tree's directories writable, as the go command's
	// -modcacherw does; by default they are made read-only.
	Writable bool
	// Gate, if set, is called before the work on a zip that is all CPU and
	// disk (checking, inflating, hashing, writing the tree), and the
	// function it returns after: the caller bounds with it how many zips
	// are unpacked at once, apart from how many are downloaded.
	Gate func(ctx context.Context) (release func(), err error)
}

// gate runs o.Gate, if any.
func (o *UnpackOptions) gate(ctx context.Context) (release func(), err error) {
	if o == nil || o.Gate == nil {
		return func() {}, nil
	}
	return o.Gate(ctx)
}

// PutZipAndUnpack is PutZip followed by Extract, with each zip inflated
// once rather than twice: the zip is unpacked into the module's directory
// while its h1 hash is computed from the bytes written, and the hash is
// compared with want before anything becomes visible.
//
// The go command's own protocol keeps an unverified tree out of sight: the
// tree is written under the version's lock, at its final place, behind the
// .partial marker that the go command (and Has, Extract and Verify) read
// as "not extracted", exactly as the go command's unzip does. Only once the
// hash matches are the .ziphash, the .zip and then the tree made visible,
// in the go command's order: .ziphash, rename of the zip, removal of
// .partial. A zip that fails (a mismatch, a broken zip) leaves no tree and
// no marker, and is rejected, so that the Download can try another mirror.
//
// When the zip is already in the cache, only its tree is made (Extract);
// when the tree is already complete, only the zip is stored (PutZip).
func (c *Cache) PutZipAndUnpack(ctx context.Context, mod module.Version, want string, dl Download, opts UnpackOptions) error {
	return c.putZip(ctx, mod, want, dl, &opts)
}

// putZip is PutZip, and with unpack PutZipAndUnpack.
func (c *Cache) putZip(ctx context.Context, mod module.Version, want string, dl Download, unpack *UnpackOptions) error {
	// A module that fails module.Check can never be unzipped by the go
	// command; say so now rather than blame the mirrors' zips.
	if err := module.Check(mod.Path, mod.Version); err != nil {
		return err
	}
	e, err := c.entry(mod)
	if err != nil {
		return err
	}
	if c.Has(mod, Zip, want) {
		if unpack != nil {
			return c.Extract(ctx, mod, *unpack)
		}
		return nil
	}
	if err := ctx.Err(); err != nil {
		return wrapErr(mod, "downloading zip", err)
	}
	if err := os.MkdirAll(e.vdir, 0o777); err != nil {
		return fmt.Errorf("%s: creating cache directory: %w", mod, err)
	}
	unlock, err := c.lockVersion(ctx, mod)
	if err != nil {
		return err
	}
	defer unlock()

	// Another process (or the go command) may have finished the zip while
	// we waited for the lock.
	if c.Has(mod, Zip, want) {
		if unpack != nil {
			return c.extractLocked(ctx, e, *unpack)
		}
		return nil
	}
	// Leftover temp files belong to writers that died: a live one would
	// still hold the lock.
	zipBase := filepath.Base(e.zip)
	removeTempFiles(e.vdir, zipBase)
	if unpack != nil && e.extracted() {
		// The tree is complete and go trusts it as it is; only the zip
		// (or its hash) is missing, as after a lost .ziphash.
		unpack = nil
	}
	if unpack != nil {
		if err := clearTree(e); err != nil {
			return fmt.Errorf("%s: removing a partly extracted tree: %w", mod, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return wrapErr(mod, "downloading zip", err)
	}

	f, err := tempFile(ctx, e.vdir, zipBase, 0o666)
	if err != nil {
		return fmt.Errorf("%s: creating temporary zip: %w", mod, err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(f.Name())
		}
	}()

	var (
		hash string
		tree unpackedTree
	)
	if unpack != nil {
		defer func() {
			if !committed && removeDir(e.dir) == nil {
				os.Remove(e.partial)
			}
		}()
	}
	err = fetch(ctx, mod, Zip, dl, func(body io.Reader) error {
		if err := receiveZip(mod, f, body); err != nil {
			return err
		}
		if unpack == nil {
			h, err := checkZip(mod, want, f)
			hash = h
			return err
		}
		release, err := unpack.gate(ctx)
		if err != nil {
			return err
		}
		defer release()
		// The marker goes first, as in the go command's unzip: a crash
		// from here on leaves a tree that everyone reads as partial.
		if err := os.WriteFile(e.partial, nil, 0o666); err != nil {
			return fmt.Errorf("%s: extracting: %w", mod, err)
		}
		h, t, err := newUnpacker().unpack(ctx, e.dir, mod, f.Name())
		if err == nil && want != "" && h != want {
			err = &HashMismatchError{Mod: mod, Kind: Zip, Want: want, Got: h}
		}
		if err != nil {
			// The next body starts from an empty place.
			if rmErr := removeDir(e.dir); rmErr != nil {
				return fmt.Errorf("%w (and removing what it unpacked: %v)", err, rmErr)
			}
			return err
		}
		hash, tree = h, t
		return nil
	})
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: writing zip: %w", mod, err)
	}
	if err := ctx.Err(); err != nil {
		return wrapErr(mod, "downloading zip", err)
	}

	// A zip already in place failed Has (bad or mismatched .ziphash).
	// Remove it before writing the new .ziphash, so that a crash between
	// the two steps cannot pair the old zip with the new hash.
	if err := os.Remove(e.zip); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: removing stale zip: %w", mod, err)
	}
	if err := writeZiphash(e.hash, hash); err != nil {
		return fmt.Errorf("%s: writing ziphash: %w", mod, err)
	}
	if err := os.Rename(f.Name(), e.zip); err != nil {
		return fmt.Errorf("%s: committing zip: %w", mod, err)
	}
	committed = true
	if unpack != nil {
		if err := os.Remove(e.partial); err != nil {
			// The tree stays partial, which the go command cleans up.
			return fmt.Errorf("%s: extracting: %w", mod, err)
		}
		if !unpack.Writable {
			tree.makeReadOnly()
		}
	}
	return nil
}

// FetchZip fetches mod's zip through dl into f, a file the caller owns
// outside the cache, and verifies it as PutZip does, without taking the
// version's lock or writing the cache. It serves a go command that asks a
// proxy for the zip while it holds that lock and writes the zip itself.
func FetchZip(ctx context.Context, mod module.Version, want string, dl Download, f *os.File) error {
	if err := module.Check(mod.Path, mod.Version); err != nil {
		return err
	}
	return fetch(ctx, mod, Zip, dl, func(body io.Reader) error {
		_, err := storeZip(mod, want, f, body)
		return err
	})
}

// storeZip makes f hold exactly body, then verifies it and returns its h1
// hash.
func storeZip(mod module.Version, want string, f *os.File, body io.Reader) (string, error) {
	if err := receiveZip(mod, f, body); err != nil {
		return "", err
	}
	return checkZip(mod, want, f)
}

// receiveZip makes f hold exactly body. f is truncated first, since an
// earlier attempt may have left bytes in it (modfetch.downloadZip does the
// same between proxies).
func receiveZip(mod module.Version, f *os.File, body io.Reader) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("resetting temporary zip: %w", err)
	}
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("resetting temporary zip: %w", err)
	}
	var n int64
	var err error
	if wt, ok := body.(io.WriterTo); ok {
		// The body writes itself into f: a mirrors body fetches a large
		// zip in ranges at once, each written at its offset. It keeps to
		// the size limit itself; n is checked below all the same.
		n, err = wt.WriteTo(f)
	} else {
		n, err = io.Copy(f, io.LimitReader(body, modzip.MaxZipFile+1))
	}
	if err != nil {
		return fmt.Errorf("receiving zip: %w", err)
	}
	if n > modzip.MaxZipFile {
		return &InvalidError{Mod: mod, Kind: Zip,
			Err: fmt.Errorf("zip file too large (more than %d bytes)", int64(modzip.MaxZipFile))}
	}
	return nil
}

// checkZip verifies the zip in f and returns its h1 hash.
func checkZip(mod module.Version, want string, f *os.File) (string, error) {
	// CheckZip covers the go command's own prefix check and the rules
	// modzip.Unzip enforces later; a zip failing it could not be extracted.
	cf, err := modzip.CheckZip(mod, f.Name())
	if err == nil {
		err = cf.Err()
	}
	if err != nil {
		return "", &InvalidError{Mod: mod, Kind: Zip, Err: err}
	}
	got, err := dirhash.HashZip(f.Name(), dirhash.DefaultHash)
	if err != nil {
		return "", &InvalidError{Mod: mod, Kind: Zip, Err: err}
	}
	if want != "" && got != want {
		return "", &HashMismatchError{Mod: mod, Kind: Zip, Want: want, Got: got}
	}
	return got, nil
}

// writeZiphash writes hash to file as modfetch.hashZip does: under a file
// lock, truncating to the final size first so that a torn write leaves NUL
// bytes, which isValidSum (ours and the go command's) rejects.
func writeZiphash(file, hash string) (err error) {
	hf, err := lockedfile.Create(file)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := hf.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if err := hf.Truncate(int64(len(hash))); err != nil {
		return err
	}
	_, err = hf.WriteAt([]byte(hash), 0)
	return err
}

// fetch runs dl with store and checks that some attempt was accepted.
// store sees a body that stops at ctx's cancellation.
func fetch(ctx context.Context, mod module.Version, kind Kind, dl Download, store func(io.Reader) error) error {
	op := "downloading " + string(kind)
	accepted := false
	err := dl(func(body io.Reader) error {
		accepted = false
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := store(withContext(ctx, body)); err != nil {
			return err
		}
		accepted = true
		return nil
	})
	if err != nil {
		return err // the Download's own error, which names the module
	}
	if err := ctx.Err(); err != nil {
		return wrapErr(mod, op, err)
	}
	if !accepted {
		return fmt.Errorf("%s: %s: download reported success without an accepted body", mod, op)
	}
	return nil
}

// withContext returns body as a reader that stops at ctx's cancellation.
// A body that can write itself (io.WriterTo) keeps that ability, so that
// storeZip can let it write into the temp file at offsets.
func withContext(ctx context.Context, body io.Reader) io.Reader {
	r := ctxReader{ctx, body}
	if wt, ok := body.(io.WriterTo); ok {
		return ctxWriterTo{r, wt}
	}
	return r
}

// ctxWriterTo is a ctxReader whose body writes itself; it checks ctx
// before, and the body stops at ctx's cancellation itself.
type ctxWriterTo struct {
	ctxReader
	wt io.WriterTo
}

func (r ctxWriterTo) WriteTo(w io.Writer) (int64, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.wt.WriteTo(w)
}

// ctxReader stops reading once ctx is done, so that a cancelled download
// stops at the next read even if the body's source ignores ctx.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// readBody reads all of body, up to limit bytes.
func readBody(mod module.Version, kind Kind, body io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("receiving %s: %w", kind, err)
	}
	if int64(len(data)) > limit {
		return nil, &InvalidError{Mod: mod, Kind: kind, Err: fmt.Errorf("%s file too large (more than %d bytes)", kind, limit)}
	}
	return data, nil
}

// writeFile writes data to file through a temp file and a rename, as
// modfetch.writeDiskCache does, so that file is either absent or complete.
func writeFile(ctx context.Context, file string, data []byte) (err error) {
	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	f, err := tempFile(ctx, dir, filepath.Base(file), 0o666)
	if err != nil {
		return err
	}
	defer func() {
		// Only remove the temp file if the rename did not happen: after it,
		// another writer may own a file of that name.
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return robustio.Rename(f.Name(), file)
}

// tempFile creates a new file named prefix<random>.tmp in dir, with the
// same naming as modfetch.tempFile so that the go command's cleanup of
// "<ver>.zip*.tmp" also covers ours.
func tempFile(ctx context.Context, dir, prefix string, perm fs.FileMode) (f *os.File, err error) {
	for range 10000 {
		name := filepath.Join(dir, prefix+strconv.Itoa(rand.IntN(1000000000))+".tmp")
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		break
	}
	return f, err
}

// removeTempFiles removes base*.tmp files in dir, best effort, as
// modfetch.downloadZip does. The caller must hold the version lock.
func removeTempFiles(dir, base string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		// Matching each name against the pattern, rather than globbing
		// dir, needs no quoting of glob characters in the cache root.
		if ok, _ := filepath.Match(base+"*.tmp", e.Name()); ok {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// rewriteVersionList rewrites dir/list after a .mod was written, exactly as
// modfetch.rewriteVersionList does: every canonical version with a .mod,
// semver-sorted, one per line, written under a file lock.
func rewriteVersionList(dir string) (err error) {
	f, err := lockedfile.Edit(filepath.Join(dir, "list"))
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var list []string
	for _, e := range entries {
		// A version without a .mod is unusable, so it is not listed; one
		// without a .zip is, since graph pruning may never need the zip.
		if v, ok := strings.CutSuffix(e.Name(), ".mod"); ok && v != "" && module.CanonicalVersion(v) == v {
			list = append(list, v)
		}
	}
	semver.Sort(list)

	var buf bytes.Buffer
	for _, v := range list {
		buf.WriteString(v)
		buf.WriteString("\n")
	}
	if fi, err := f.Stat(); err == nil && int(fi.Size()) == buf.Len() {
		old := make([]byte, buf.Len()+1)
		if n, err := f.ReadAt(old, 0); err == io.EOF && n == buf.Len() && bytes.Equal(buf.Bytes(), old[:n]) {
			return nil // no edit needed
		}
	}
	// Empty the file, then extend it to the final size, so that it is
	// zero-filled and a torn write shows up as trailing NUL bytes.
	if err := f.Truncate(0); err != nil {
		return err
	}
	if err := f.Truncate(int64(buf.Len())); err != nil {
		return err
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Truncate(0)
		return err
	}
	return nil
}
