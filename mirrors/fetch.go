package mirrors

import (
	"context"
	"fmt"
	"hash/maphash"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/mod/module"
)

// Size limits, as in cmd/go/internal/modfetch/codehost.
const (
	maxGoMod   = 16 << 20  // .mod, and .info
	maxZipFile = 500 << 20 // .zip
)

// Fetch gets mod's protocol file, "info", "mod" or "zip", from
// <mirror>/<escaped path>/@v/<escaped version>.<file> and hands the body of a
// 200 response to store.
//
// The mirrors are walked group by group, as the package documentation
// explains: within a group of interchangeable mirrors the best one is asked
// first, a slow request is hedged to the next, and any failure moves on to
// the next; past the group, the walk goes on only as GOPROXY's separator
// allows (',' only on not-found, '|' after any failure). A [Rejection] from
// store is that mirror's failure: the file is asked for again from the
// group's other mirrors first, else from the same mirror on a new
// connection, until the mirror is found to lie (see the package
// documentation); any other error from store ends the walk. store is
// called for one body at a time.
//
// Each mirror is tried with the List's policy. When the body breaks or
// stalls mid-way, the file is requested again and store is called again
// with the new body, so store must start from scratch each time (truncate
// what it wrote) and must return the body's read errors. A body that grows
// past the go command's size limits is cut off with an error. The policy's
// MaxTotal bounds the whole walk for the file.
//
// Reaching "direct" returns an error matching [ErrDirect], and reaching
// "off" one matching [ErrOff]. Any other failure is an [*Error] that lists
// every mirror tried.
func (l *List) Fetch(ctx context.Context, mod module.Version, file string, store func(body io.Reader) error) error {
	var limit int64
	switch file {
	case "info", "mod":
		limit = maxGoMod
	case "zip":
		limit = maxZipFile
	default:
		return module.VersionError(mod, fmt.Errorf("unknown protocol file %q (want info, mod or zip)", file))
	}
	escPath, err := module.EscapePath(mod.Path)
	if err != nil {
		return module.VersionError(mod, err)
	}
	escVersion, err := module.EscapeVersion(mod.Version)
	if err != nil {
		return module.VersionError(mod, err)
	}
	rel := escPath + "/@v/" + escVersion + "." + file
	return l.walk(ctx, &Error{Mod: mod, File: file}, rel, limit, store)
}

// Get gets any protocol path relative to a mirror's root: a version list
// ("<escaped path>/@v/list"), "@latest", a version query, or the checksum
// database ("sumdb/<name>/..."). Mirrors are walked as by Fetch.
func (l *List) Get(ctx context.Context, path string, store func(body io.Reader) error) error {
	return l.walk(ctx, &Error{File: path}, path, maxGoMod, store)
}

// openFile opens rel under a file:// mirror. A missing file is not found,
// as with the go command.
func openFile(ctx context.Context, m *mirror, rel string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := strings.TrimSuffix(m.base.Path, "/") + "/" + rel
	if runtime.GOOS == "windows" && len(p) >= 3 && p[0] == '/' && p[2] == ':' {
		p = p[1:] // file:///C:/dir
	}
	return os.Open(filepath.FromSlash(p))
}

// limitedBody reads a response body for store, remembering its first read
// error (so that a broken body is told apart from store's own verdict) and
// failing once more than left bytes arrive. It hashes what store reads, so
// that a mirror serving the same rejected bytes twice can be told from one
// whose bytes were damaged on the way.
type limitedBody struct {
	r    io.Reader
	left int64
	file string // "zip", for the too-large message
	err  error  // first error other than io.EOF
	n    int64  // bytes read
	h    maphash.Hash
	eof  bool // store read to the end
}

// digest identifies the bytes of a body: a fast, seeded hash, not a
// cryptographic one. It only ever makes gomodx give up on a mirror sooner
// (the same bad bytes twice); what is kept is verified by store.
type digest struct {
	n   int64
	sum uint64
	eof bool
}

func (b *limitedBody) digest() digest { return digest{n: b.n, sum: b.h.Sum64(), eof: b.eof} }

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	b.h.Write(p[:n])
	b.eof = err == io.EOF
	b.left -= int64(n)
	b.n += int64(n)
	if b.left < 0 {
		b.err = fmt.Errorf("downloaded %s file too large", b.file)
		return n, b.err
	}
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// fileName returns the extension of rel: "info", "mod" or "zip".
func fileName(rel string) string {
	return rel[strings.LastIndexByte(rel, '.')+1:]
}

// pathEscape escapes s for a URL path but leaves its slashes alone, as
// cmd/go/internal/modfetch does.
func pathEscape(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), "%2F", "/")
}
