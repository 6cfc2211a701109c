// Package loopback is the GOPROXY that the go command gomodx hands over to
// talks to: an HTTP server on 127.0.0.1, reachable only through a random
// secret path, that answers from the module cache and fetches what is
// missing through the same Fetcher, mirrors, retries and verification as
// the prefetch, so that whatever go asks for beyond the plan (an @latest,
// a version list, checksum-database tiles) is fetched gomodx's way too.
package loopback

import (
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
	"time"

	"golang.org/x/mod/module"

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
	log     *slog.Logger
	srv     *http.Server
	done    chan struct{}
}

// Serve starts an Endpoint; Close stops it. private reports the module
// paths (GONOPROXY, GOPRIVATE) that must never reach a mirror: the go
// command does not ask a proxy for them, and the Endpoint refuses them all
// the same.
func Serve(f *prefetch.Fetcher, up Upstream, private func(path string) bool, log *slog.Logger) (*Endpoint, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the loopback proxy: %w", err)
	}
	var b [16]byte
	rand.Read(b[:])
	e := &Endpoint{
		secret:  hex.EncodeToString(b[:]),
		fetch:   f,
		up:      up,
		private: private,
		log:     log,
		done:    make(chan struct{}),
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

// serveFile answers from the cache, fetching and verifying the file first.
func (e *Endpoint) serveFile(w http.ResponseWriter, r *http.Request, rest string, mod module.Version, kind modcache.Kind) {
	if kind == modcache.Zip {
		e.serveZip(w, r, rest, mod)
		return
	}
	state, err := e.fetch.Ensure(r.Context(), mod, kind)
	switch state {
	case prefetch.Fetched, prefetch.Cached:
		file, err := e.fetch.Cache().Path(mod, string(kind))
		if err != nil {
			e.fail(w, err)
			return
		}
		f, err := os.Open(file)
		if err != nil {
			e.fail(w, err)
			return
		}
		defer f.Close()
		http.ServeContent(w, r, "", time.Time{}, f)
	case prefetch.Left:
		// Nothing to verify it against here: pass the mirror's answer on,
		// uncached; the go command checks it against the checksum database.
		e.forward(w, r, rest)
	default:
		e.fail(w, err)
	}
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
		e.fail(w, err)
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	switch err := e.fetch.ZipTo(r.Context(), mod, tmp); {
	case errors.Is(err, prefetch.ErrLeft):
		e.forward(w, r, rest) // go checks it against the checksum database
	case err != nil:
		e.fail(w, err)
	default:
		http.ServeContent(w, r, "", time.Time{}, tmp)
	}
}

// forward passes a request on to the mirrors, through a temp file so that
// a retried or failed-over download never reaches the go command half-made.
func (e *Endpoint) forward(w http.ResponseWriter, r *http.Request, rest string) {
	tmp, err := os.CreateTemp("", "gomodx-proxy-*")
	if err != nil {
		e.fail(w, err)
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
		e.fail(w, err)
		return
	}
	http.ServeContent(w, r, "", time.Time{}, tmp)
}

// fail answers with the status that makes the go command do what it would
// have done talking to the mirrors itself: 404 when every mirror said not
// found (so it falls through to the next GOPROXY entry, e.g. direct), 502
// otherwise, with gomodx's explanation as the body, which go prints.
func (e *Endpoint) fail(w http.ResponseWriter, err error) {
	e.log.Debug("loopback proxy", "error", err)
	code := http.StatusBadGateway
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errors.ErrUnsupported) {
		code = http.StatusNotFound
	}
	http.Error(w, "gomodx: "+err.Error(), code)
}
