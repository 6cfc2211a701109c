// Package loopback is the GOPROXY that the go command gomodx hands over to
// talks to: an HTTP server on 127.0.0.1, reachable only through a random
// secret path, that answers from the module cache and fetches what is
// missing through the same Fetcher, mirrors, retries and verification as
// the prefetch, so that whatever go asks for beyond the plan (an @latest,
// a version list, checksum-database tiles) is fetched gomodx's way too.
package loopback

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomodx/gomodx/mirrors"
	"github.com/gomodx/gomodx/modcache"
	"github.com/gomodx/gomodx/prefetch"
)

// Upstream answers the protocol requests the cache cannot: version lists,
// @latest, version queries and the checksum database. path is relative to
// a mirror's root, e.g. "golang.org/x/text/@v/list" or
// "sumdb/sum.golang.org/supported"; store is called once per attempt with
// the body of a 200 answer. A not-found answer from every mirror gives an
// error matching fs.ErrNotExist.
type Upstream interface {
	Get(ctx context.Context, path string, store func(body io.Reader) error) error
}

// Endpoint is the GOPROXY that the wrapped go command talks to: an HTTP
// server on 127.0.0.1 that answers from the module cache, fetching what is
// missing through the Fetcher (so it is verified before it is cached) or the
// Upstream. Its URL carries a random secret path, so that other users of the
// machine cannot use it.
type Endpoint struct {
	URL string // http://127.0.0.1:port/secret

	secret  string
	fetch   *prefetch.Fetcher
	up      Upstream
	private func(path string) bool
	shown   string
	log     *slog.Logger
	srv     *http.Server
	done    chan struct{}

	mu     sync.Mutex
	answer map[string]string // request path → the mirror whose answer the go command got
}

// Options configures an Endpoint.
type Options struct {
	// Private reports the module paths (GONOPROXY, GOPRIVATE) that must
	// never reach a mirror: the go command does not ask a proxy for
	// them, and the Endpoint refuses them all the same.
	Private func(path string) bool
	// Shown is the mirror the go command's messages name in the
	// Endpoint's stead (see [Endpoint.Rewrite]) where no mirror's answer
	// says otherwise: GOPROXY's first mirror.
	Shown string
	Log   *slog.Logger // nil discards
}

// Serve starts an Endpoint; Close stops it.
func Serve(f *prefetch.Fetcher, up Upstream, opts Options) (*Endpoint, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the loopback proxy: %w", err)
	}
	var b [16]byte
	rand.Read(b[:])
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Endpoint{
		secret:  hex.EncodeToString(b[:]),
		fetch:   f,
		up:      up,
		private: opts.Private,
		shown:   opts.Shown,
		log:     log,
		done:    make(chan struct{}),
		answer:  map[string]string{},
	}
	e.URL = "http://" + ln.Addr().String() + "/" + e.secret
	e.srv = &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(e.done)
		e.srv.Serve(ln)
	}()
	return e, nil
}

// Close stops the server and waits for it.
func (e *Endpoint) Close() error {
	err := e.srv.Close()
	<-e.done
	return err
}

// ServeHTTP implements the GOPROXY protocol (go help goproxy).
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/"+e.secret+"/")
	if !ok {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !protocolPath(rest) {
		// Only the GOPROXY protocol is passed on: nothing outside a
		// mirror's base path, whatever dots or escapes the path holds.
		http.NotFound(w, r)
		return
	}
	if path, ok := modulePath(rest); ok && e.private != nil && e.private(path) {
		http.Error(w, "gomodx: "+path+" is private (GOPRIVATE/GONOPROXY): not asked of any mirror", http.StatusNotFound)
		return
	}
	if mod, kind, ok := parseFile(rest); ok {
		e.serveFile(w, r, rest, mod, kind)
		return
	}
	e.forward(w, r, rest)
}

// modulePath is the module path of a protocol request
// ("<path>/@v/...", "<path>/@latest"); sumdb requests have none.
func modulePath(rest string) (string, bool) {
	enc, _, ok := strings.Cut(rest, "/@v/")
	if !ok {
		enc, ok = strings.CutSuffix(rest, "/@latest")
	}
	if !ok || strings.HasPrefix(rest, "sumdb/") {
		return "", false
	}
	path, err := module.UnescapePath(enc)
	return path, err == nil
}

// parseFile recognises "<path>/@v/<version>.<info|mod|zip>" for a canonical
// version; anything else (lists, @latest, queries, sumdb) is forwarded.
func parseFile(rest string) (module.Version, modcache.Kind, bool) {
	encPath, file, ok := strings.Cut(rest, "/@v/")
	if !ok {
		return module.Version{}, "", false
	}
	dot := strings.LastIndex(file, ".")
	if dot < 0 {
		return module.Version{}, "", false
	}
	kind := modcache.Kind(file[dot+1:])
	if kind != modcache.Info && kind != modcache.Mod && kind != modcache.Zip {
		return module.Version{}, "", false
	}
	path, err1 := module.UnescapePath(encPath)
	vers, err2 := module.UnescapeVersion(file[:dot])
	if err1 != nil || err2 != nil || module.Check(path, vers) != nil || module.CanonicalVersion(vers) != vers {
		return module.Version{}, "", false
	}
	return module.Version{Path: path, Version: vers}, kind, true
}

// serveFile answers from the cache, or with the file fetched and checked
// (not cached: the go command writes what it keeps, as without gomodx).
func (e *Endpoint) serveFile(w http.ResponseWriter, r *http.Request, rest string, mod module.Version, kind modcache.Kind) {
	if kind == modcache.Zip {
		e.serveZip(w, r, rest, mod)
		return
	}
	data, err := e.fetch.File(r.Context(), mod, kind)
	switch {
	case err == nil:
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	case errors.Is(err, prefetch.ErrLeft):
		// Nothing to verify it against here: pass the mirror's answer on,
		// uncached; the go command checks it against the checksum database.
		e.forward(w, r, rest)
	case unverified(err):
		// gomodx cannot vouch for the bytes: the go command gets the
		// mirror's answer, uncached, checks it itself and says what is
		// wrong in its own words.
		e.forward(w, r, rest)
	default:
		e.fail(w, rest, err)
	}
}

// unverified reports whether a fetch failed for want of bytes that verify
// (they did not match go.sum or the checksum database, or the database
// could not be asked), rather than for want of an answer from the mirrors.
func unverified(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var merr *mirrors.Error
	if !errors.As(err, &merr) {
		return true
	}
	var rej mirrors.Rejection
	v := merr.Verdict()
	return !v.NotFound && errors.As(v.Err, &rej) && rej.Rejected()
}

// serveZip answers a zip request. The go command asks for a zip while it
// holds the zip's lock, to write the zip itself: so the endpoint must not
// write it too (it would wait for that lock forever). It serves the cache's
// copy if there is one, else a verified download kept outside the cache.
func (e *Endpoint) serveZip(w http.ResponseWriter, r *http.Request, rest string, mod module.Version) {
	cache := e.fetch.Cache()
	if cache.Has(mod, modcache.Zip, "") {
		file, err := cache.Path(mod, "zip")
		if err == nil {
			if f, err := os.Open(file); err == nil {
				defer f.Close()
				http.ServeContent(w, r, "", time.Time{}, f)
				return
			}
		}
	}
	tmp, err := os.CreateTemp("", "gomodx-zip-*")
	if err != nil {
		e.fail(w, rest, err)
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	switch err := e.fetch.ZipTo(r.Context(), mod, tmp); {
	case errors.Is(err, prefetch.ErrLeft), err != nil && unverified(err):
		e.forward(w, r, rest) // go checks it against the checksum database
	case err != nil:
		e.fail(w, rest, err)
	default:
		http.ServeContent(w, r, "", time.Time{}, tmp)
	}
}

// forward passes a request on to the mirrors, through a temp file so that
// a retried or failed-over download never reaches the go command half-made.
func (e *Endpoint) forward(w http.ResponseWriter, r *http.Request, rest string) {
	tmp, err := os.CreateTemp("", "gomodx-proxy-*")
	if err != nil {
		e.fail(w, rest, err)
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	err = e.up.Get(r.Context(), rest, func(body io.Reader) error {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := tmp.Truncate(0); err != nil {
			return err
		}
		_, err := io.Copy(tmp, body)
		return err
	})
	if err != nil {
		e.fail(w, rest, err)
		return
	}
	http.ServeContent(w, r, "", time.Time{}, tmp)
}

// fail answers the go command as the user's GOPROXY would have: a 404
// when the walk went past every mirror as GOPROXY allows (so go moves on
// to "direct" or "off" after it, or reports not-found), else the status
// and explanation of the failure go would have reported, as the mirror
// gave them; 502 with gomodx's explanation for a failure that has no
// status (an unreachable mirror) or is gomodx's own. The mirror is
// remembered for rest, for the go command's messages (see Rewrite).
func (e *Endpoint) fail(w http.ResponseWriter, rest string, err error) {
	e.log.Debug("loopback proxy", "path", rest, "error", err)
	code, body := http.StatusBadGateway, "gomodx: "+err.Error()
	var merr *mirrors.Error
	switch {
	case errors.Is(err, fs.ErrNotExist) && !errors.As(err, &merr), errors.Is(err, errors.ErrUnsupported):
		code = http.StatusNotFound
	case errors.As(err, &merr):
		v := merr.Verdict()
		if v.Mirror != "" {
			e.mu.Lock()
			e.answer[rest] = v.Mirror
			e.mu.Unlock()
		}
		switch {
		case v.NotFound && (v.Status == http.StatusNotFound || v.Status == http.StatusGone):
			code, body = v.Status, v.Body
		case v.NotFound:
			code, body = http.StatusNotFound, "not found"
		case v.Status >= 400:
			code, body = v.Status, v.Body
		default:
			body = "gomodx: " + v.Mirror + ": " + v.Err.Error()
		}
	}
	if body != "" && !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	io.WriteString(w, body)
}

// protocolPath reports whether rest (a request path below the secret) is
// one of the GOPROXY protocol: <module>/@v/list, <module>/@v/<version>.info
// (.mod, .zip), <module>/@latest, or sumdb/<name>/supported, lookup/... or
// tile/..., with a module path and version that unescape, and no empty,
// "." or ".." element anywhere.
func protocolPath(rest string) bool {
	if strings.ContainsAny(rest, "\\\x00") {
		return false
	}
	for _, elem := range strings.Split(rest, "/") {
		if elem == "" || elem == "." || elem == ".." {
			return false
		}
	}
	if db, ok := strings.CutPrefix(rest, "sumdb/"); ok {
		return sumdbPath(db)
	}
	enc, file, ok := strings.Cut(rest, "/@v/")
	if !ok {
		enc, ok = strings.CutSuffix(rest, "/@latest")
		if !ok {
			return false
		}
		file = ""
	}
	if _, err := module.UnescapePath(enc); err != nil {
		return false
	}
	if file == "" || file == "list" {
		return true
	}
	dot := strings.LastIndex(file, ".")
	if dot < 0 || strings.Contains(file, "/") {
		return false
	}
	switch file[dot+1:] {
	case "info", "mod", "zip":
	default:
		return false
	}
	_, err := module.UnescapeVersion(file[:dot])
	return err == nil
}

// sumdbPath reports whether db ("<name>/supported", "<name>/lookup/<path>@<version>",
// "<name>/tile/...") is a request of the checksum database protocol. A
// database's name may hold slashes ("example.com/sumdb").
func sumdbPath(db string) bool {
	switch {
	case strings.HasSuffix(db, "/supported"):
		return validName(strings.TrimSuffix(db, "/supported"))
	case strings.Contains(db, "/lookup/"):
		name, target, _ := strings.Cut(db, "/lookup/")
		at := strings.LastIndex(target, "@")
		if at < 0 || !validName(name) {
			return false
		}
		_, err1 := module.UnescapePath(target[:at])
		_, err2 := module.UnescapeVersion(target[at+1:])
		return err1 == nil && err2 == nil
	case strings.Contains(db, "/tile/"):
		name, tile, _ := strings.Cut(db, "/tile/")
		if !validName(name) {
			return false
		}
		for _, c := range tile {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '.' || c == '/') {
				return false
			}
		}
		return true
	}
	return false
}

// validName reports whether a checksum database's name is a host with an
// optional path, as GOSUMDB allows.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '/' || c == ':') {
			return false
		}
	}
	return true
}
