// Package checksumtest runs a fake checksum database for tests, which both
// gomodx and the real go command accept.
//
// Serve the handler under a fake proxy's /sumdb/<name>/ and give the go
// command GOSUMDB=<gosumdb> and GOPROXY=<proxy>: it asks
// <proxy>/sumdb/<name>/supported, then reads lookups and tiles from there, and
// never dials <name> itself.
//
//	h, gosumdb := checksumtest.NewServer(t, "sum.example.test", sums)
//	mux.Handle("/sumdb/sum.example.test/", http.StripPrefix("/sumdb/sum.example.test", h))
//
// The database learns a module's go.sum lines from sums the first time
// someone looks it up. For modules kept as txtar files (goproxytest's and
// cmd/go's path_version.txt), sums hashes the very zip and go.mod the fake
// proxy serves for them:
//
//	sums := func(path, version string) ([]byte, error) {
//		zipFile, gomod, err := myProxy.files(path, version) // what the proxy serves
//		if errors.Is(err, fs.ErrNotExist) {
//			return nil, err // the database answers 404
//		}
//		zipHash, err := dirhash.HashZip(zipFile, dirhash.DefaultHash)
//		...
//		modHash, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
//			return io.NopCloser(bytes.NewReader(gomod)), nil
//		})
//		...
//		return fmt.Appendf(nil, "%s %s %s\n%s %s/go.mod %s\n", path, version, zipHash, path, version, modHash), nil
//	}
//
// Without writing a zip, dirhash.Hash1 over the zip's entry names
// ("<path>@<version>/<file>") and contents gives the same hash as HashZip.
// The example shows this for a txtar module.
package checksumtest

import (
	"crypto/rand"
	"errors"
	"io/fs"
	"net/http"
	"testing"

	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"
)

// NewServer returns a fake checksum database called name (a host name,
// optionally followed by a path, such as "sum.example.test"), signed with a
// key made for this call, and the GOSUMDB value ("<name>+<key>") that trusts
// it.
//
// The handler serves the checksum database protocol at its own root:
// /lookup/<path>@<version>, /tile/..., /latest, and /supported (200, empty,
// so that it can be mounted as a proxy's /sumdb/<name>/ as is). Records are
// added to the log in the order modules are first looked up; each asks sums
// for the go.sum lines of path and version ("path version h1:...\n" and
// "path version/go.mod h1:...\n"). An error matching fs.ErrNotExist from sums
// makes the lookup answer 404 Not Found; any other, 500.
func NewServer(tb testing.TB, name string, sums func(path, version string) ([]byte, error)) (handler http.Handler, gosumdb string) {
	tb.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		tb.Fatalf("checksumtest: generating a key for %q: %v", name, err)
	}
	gosum := func(path, version string) ([]byte, error) {
		data, err := sums(path, version)
		if errors.Is(err, fs.ErrNotExist) {
			// sumdb.Server answers 404 only for errors os.IsNotExist
			// recognizes, and that does not see through %w.
			return nil, &fs.PathError{Op: "lookup", Path: path + "@" + version, Err: fs.ErrNotExist}
		}
		return data, err
	}
	db := sumdb.NewServer(sumdb.NewTestServer(skey, gosum))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/supported" {
			w.WriteHeader(http.StatusOK)
			return
		}
		db.ServeHTTP(w, r)
	})
	return h, vkey
}
