package mirrors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/gomodx/gomodx/retry"
	"golang.org/x/mod/module"
)

// Options configures a [List].
type Options struct {
	Policy    retry.Policy // how hard each mirror is tried; the zero Policy means retry.Default()
	UserAgent string       // sent with every request, e.g. "gomodx/dev"; "gomodx" if empty
	Logger    *slog.Logger // a debug line per failed mirror and per retry; nil discards
}

// List fetches protocol files from the mirrors in GOPROXY order.
// It is safe for concurrent use.
type List struct {
	runs      []run
	policy    retry.Policy
	client    *http.Client
	userAgent string
	log       *slog.Logger
}

// New returns a List for goproxy, parsed as by [Parse].
func New(goproxy string, opts Options) (*List, error) {
	entries, err := Parse(goproxy)
	if err != nil {
		return nil, err
	}
	ms := make([]mirror, len(entries))
	for i, e := range entries {
		if ms[i], err = newMirror(e); err != nil {
			return nil, err
		}
	}
	l := &List{
		runs:      runs(ms),
		policy:    opts.Policy,
		userAgent: opts.UserAgent,
		log:       opts.Logger,
	}
	if l.policy == (retry.Policy{}) {
		l.policy = retry.Default()
	}
	if l.userAgent == "" {
		l.userAgent = "gomodx"
	}
	l.client = l.policy.Client(l.log)
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	return l, nil
}

// Size limits, as in cmd/go/internal/modfetch/codehost.
const (
	maxGoMod   = 16 << 20  // .mod, and .info
	maxZipFile = 500 << 20 // .zip
)

// Fetch gets mod's protocol file, "info", "mod" or "zip", from
// <mirror>/<escaped path>/@v/<escaped version>.<file> and hands the body of a
// 200 response to store.
//
// Mirrors are tried in GOPROXY order as the go command tries them: after a
// mirror followed by ',' the next is tried only when the file was not found
// (404, 410); after '|', after any error. An error from store is that
// mirror's failure like any other, and is not retried on the same mirror.
//
// Each mirror is tried with the List's policy. When the body breaks or
// stalls mid-way, the file is requested again and store is called again
// with the new body, so store must start from scratch each time (truncate
// what it wrote) and must return the body's read errors. A body that grows
// past the go command's size limits is cut off with an error.
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

// walk tries the mirrors in GOPROXY order for rel, recording each failure
// in fail.
func (l *List) walk(ctx context.Context, fail *Error, rel string, limit int64, store func(io.Reader) error) error {
	for _, r := range l.runs {
		// The mirrors of a run are interchangeable: this is where a ranking
		// may reorder r.mirrors. Only the run's end decides how the walk goes on.
		for i, m := range r.mirrors {
			switch m.URL {
			case direct:
				fail.Attempts = append(fail.Attempts, Attempt{Mirror: direct, Err: ErrDirect})
				return fail
			case off:
				fail.Attempts = append(fail.Attempts, Attempt{Mirror: off, Err: ErrOff})
				return fail
			}
			err := l.fetchFrom(ctx, m, rel, limit, store)
			if err == nil {
				return nil
			}
			a := Attempt{Mirror: m.redacted, Err: err}
			fail.Attempts = append(fail.Attempts, a)
			l.log.DebugContext(ctx, "mirror failed", "path", rel, "mirror", a.Mirror, "error", a.describe())
			if ctx.Err() != nil {
				return fail
			}
			last := i == len(r.mirrors)-1
			if last && !r.fallBackOnError && !errors.Is(err, fs.ErrNotExist) {
				return fail
			}
		}
	}
	return fail
}

// fetchFrom gets rel from one mirror.
func (l *List) fetchFrom(ctx context.Context, m mirror, rel string, limit int64, store func(io.Reader) error) error {
	if m.base.Scheme == "file" {
		return fetchFile(ctx, m, rel, limit, store)
	}

	u := *m.base
	u.Path = strings.TrimSuffix(m.base.Path, "/") + "/" + rel
	u.RawPath = strings.TrimSuffix(m.base.RawPath, "/") + "/" + pathEscape(rel)
	target := u.String()

	var rejected error // store's own error, which is not retried
	err := l.policy.Do(ctx, func(ctx context.Context) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", l.userAgent)
		if m.user != nil {
			password, _ := m.user.Password()
			req.SetBasicAuth(m.user.Username(), password)
		}
		resp, err := l.client.Do(req)
		if err != nil {
			// The mirror and file are named by Error; drop `Get "URL": `.
			if ue, ok := err.(*url.Error); ok {
				return ue.Err
			}
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return retry.NewStatusError(resp)
		}
		body := &limitedBody{r: l.policy.Body(ctx, cancel, resp.Body), left: limit, file: fileName(rel)}
		err = store(body)
		if body.err != nil {
			return body.err // the body broke: perhaps worth another try
		}
		if err != nil {
			rejected = err
			return errRejected
		}
		return nil
	})
	if errors.Is(err, errRejected) {
		return rejected
	}
	return err
}

// errRejected stands in for store's error inside retry.Policy.Do, which
// must not retry it whatever it wraps.
var errRejected = errors.New("rejected by store")

// fetchFile gets rel from a file:// mirror. A missing file is not found,
// as with the go command.
func fetchFile(ctx context.Context, m mirror, rel string, limit int64, store func(io.Reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := strings.TrimSuffix(m.base.Path, "/") + "/" + rel
	if runtime.GOOS == "windows" && len(p) >= 3 && p[0] == '/' && p[2] == ':' {
		p = p[1:] // file:///C:/dir
	}
	f, err := os.Open(filepath.FromSlash(p))
	if err != nil {
		return err
	}
	defer f.Close()
	body := &limitedBody{r: f, left: limit, file: fileName(rel)}
	err = store(body)
	if body.err != nil {
		return body.err
	}
	return err
}

// limitedBody reads a response body for store, remembering its first read
// error (so that a broken body is told apart from store's own verdict) and
// failing once more than left bytes arrive.
type limitedBody struct {
	r    io.Reader
	left int64
	file string // "zip", for the too-large message
	err  error  // first error other than io.EOF
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
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
