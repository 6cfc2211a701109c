// Package checksum asks the checksum database (GOSUMDB) which hashes a module
// must have, for the files go.sum has no line for, before gomodx puts them in
// the module cache.
//
// It is a [sumdb.Client] whose operations mirror the go command's own
// (cmd/go/internal/modfetch/sumdb.go), so the two share one on-disk state:
//
//	$GOPATH/pkg/sumdb/<name>/latest                               latest signed tree head (first GOPATH element)
//	$GOMODCACHE/cache/download/sumdb/<name>/lookup/<path>@<ver>   signed lookup records (escaped path and version)
//	$GOMODCACHE/cache/download/sumdb/<name>/tile/8/<L>/<N>[.p/<W>] tiles of the log, saved once authenticated
//
// A lookup answered here therefore costs the go command that runs next no
// network round trip: it verifies from these files, even with GOPROXY=off.
// Tiles and lookups the cache lacks are fetched through a caller-supplied
// [Remote], which gomodx routes through the mirrors' /sumdb/<name>/ endpoint.
//
// The package decides nothing about exemptions: the caller skips modules
// that GONOSUMDB or GOPRIVATE match, and golang.org/toolchain rules.
package checksum

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"

	"github.com/gomodx/gomodx/goenv"
)

// Remote fetches path (such as "/lookup/golang.org/x/text@v0.21.0" or
// "/tile/8/0/x001/123") from the checksum database called name, through the
// mirrors or, when [DB.URL] is set, from that URL. It returns an error matching
// fs.ErrNotExist for 404 and 410 responses. It must return promptly once ctx
// is done. It may be called from several goroutines at once.
type Remote func(ctx context.Context, name, path string) ([]byte, error)

// Options configures [Open].
type Options struct {
	// Env is the go command's configuration: GOSUMDB says which database
	// (and its key and URL), GOPATH where its latest signed tree head is
	// kept ($GOPATH/pkg/sumdb/<name>/latest of its first element, as the
	// go command does; without a usable GOPATH, lookups fail, as they do in
	// the go command), and GOMODCACHE, an absolute path, where lookups and
	// tiles are cached (cache/download/sumdb/<name>/).
	Env *goenv.Config
	// Remote reads what the cache lacks. It is required unless GOSUMDB=off.
	Remote Remote
}

// DB is a client of one checksum database. It is safe for concurrent use.
// A nil *DB stands for GOSUMDB=off: its Lookup always fails.
type DB struct {
	name      string // verifier name, such as "sum.golang.org"
	key       string // verifier key
	url       string // explicit URL from GOSUMDB, or ""
	configDir string // $GOPATH/pkg/sumdb; "" when GOPATH is unusable
	configErr string // why configDir is ""
	cacheDir  string // $GOMODCACHE/cache/download/sumdb
	remote    Remote

	mu     sync.Mutex
	cur    *session       // the session new lookups join; nil after a failure
	secErr *SecurityError // first misbehaviour seen; then every lookup fails
}

// Open returns a client of the checksum database that GOSUMDB names, as
// decoded by goenv (built-in key of sum.golang.org, its alias
// sum.golang.google.cn, "name+key url"). For GOSUMDB=off it returns (nil,
// nil); for a GOSUMDB that does not parse, the go command's error. Open
// does no I/O.
func Open(opts Options) (*DB, error) {
	sdb := opts.Env.SumDB
	if sdb.Off {
		return nil, nil
	}
	if sdb.Err != nil {
		return nil, sdb.Err
	}
	name := sdb.Name
	if opts.Remote == nil {
		return nil, errors.New("checksum database " + name + ": no Remote to read it through")
	}
	gomodcache := opts.Env.GOMODCACHE
	if gomodcache == "" || !filepath.IsAbs(gomodcache) {
		return nil, fmt.Errorf("checksum database %s: GOMODCACHE must be an absolute path, not %q", name, gomodcache)
	}
	db := &DB{
		name:     name,
		key:      sdb.Key,
		url:      sdb.URL,
		cacheDir: filepath.Join(gomodcache, "cache", "download", "sumdb"),
		remote:   opts.Remote,
	}
	// A missing GOPATH is reported when the file is needed, not before.
	if dir, err := opts.Env.SumdbDir(); err != nil {
		db.configErr = err.Error()
	} else {
		db.configDir = dir
	}
	return db, nil
}

// Name returns the database's name, such as "sum.golang.org" (also for
// GOSUMDB=sum.golang.google.cn). It is "" for a nil DB.
func (db *DB) Name() string {
	if db == nil {
		return ""
	}
	return db.name
}

// URL returns the URL GOSUMDB gives for the database ("https://sum.golang.google.cn"
// for sum.golang.google.cn), or "". With a URL the go command goes straight
// there, bypassing the proxies; without one it asks the proxies'
// /sumdb/<name>/ endpoint, then https://<name>. A Remote should do the same.
func (db *DB) URL() string {
	if db == nil {
		return ""
	}
	return db.url
}

// SecurityError reports that the checksum database served two signed tree
// heads that cannot both be true: it, or something between it and us, is
// misbehaving. Msg is the [sumdb.Client]'s report, which starts with
// "SECURITY ERROR" and holds the two heads and a proof. Once one is seen,
// every Lookup of that DB returns it, as the go command stops at the first.
type SecurityError struct {
	Msg string
}

func (e *SecurityError) Error() string { return e.Msg }

// Unwrap returns [sumdb.ErrSecurity].
func (e *SecurityError) Unwrap() error { return sumdb.ErrSecurity }

// Lookup returns the hashes ("h1:...") the database records for mod's zip
// and for its go.mod, authenticated against the database's signed log. It
// reads from and fills the go command's sumdb cache.
//
// A module the database does not know gives an error matching fs.ErrNotExist.
// A misbehaving database gives a *SecurityError, unwrapped. Any other error
// reads "verifying <mod>: checksum database <name>: <cause>".
//
// When ctx is done, Lookup returns at once with ctx's error. The reads it
// started are cancelled when no other Lookup is waiting on them.
func (db *DB) Lookup(ctx context.Context, mod module.Version) (zip, gomod string, err error) {
	if db == nil {
		return "", "", fmt.Errorf("verifying %s: checksum database disabled by GOSUMDB=off", mod)
	}
	if secErr := db.securityError(); secErr != nil {
		return "", "", secErr
	}
	defer func() {
		var secErr *SecurityError
		if err != nil && !errors.As(err, &secErr) {
			err = fmt.Errorf("verifying %s: checksum database %s: %w", mod, db.name, err)
		}
	}()
	// Checked here so that the cause keeps its type; the Client would flatten it.
	if _, err := module.EscapePath(mod.Path); err != nil {
		return "", "", err
	}
	if _, err := module.EscapeVersion(mod.Version); err != nil {
		return "", "", err
	}
	if strings.HasSuffix(mod.Version, "/go.mod") {
		return "", "", fmt.Errorf("invalid version %q", mod.Version)
	}
	if ctx.Err() != nil {
		return "", "", context.Cause(ctx)
	}

	s := db.join()
	type result struct {
		zip, gomod string
		err        error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		r.zip, r.gomod, r.err = s.lookup(mod)
		done <- r
	}()
	select {
	case r := <-done:
		db.leave(s, r.err != nil)
		if secErr := db.securityError(); secErr != nil {
			return "", "", secErr
		}
		return r.zip, r.gomod, r.err
	case <-ctx.Done():
		db.leave(s, true)
		return "", "", context.Cause(ctx)
	}
}

// A session is one sumdb.Client and the context its remote reads run under.
//
// The Client has no notion of a context and remembers every result,
// failures included, for its lifetime: one cancelled or failed read would
// poison every later lookup that needs the same tile or record. So a session
// is retired as soon as a lookup on it fails or is abandoned, and new lookups
// get a fresh session. That is cheap, because everything authenticated is on
// disk: a fresh Client rereads it, as a new go process would. A retired
// session's reads are cancelled once its last waiting lookup has left.
type session struct {
	db     *DB
	client *sumdb.Client
	ctx    context.Context
	cancel context.CancelFunc

	waiters int  // lookups waiting for a result; guarded by db.mu
	retired bool // no new lookups join; guarded by db.mu

	lookupErrs sync.Map // remote path of a lookup → its error from Remote
}

// join returns the current session, starting one if needed, and counts the
// caller as waiting on it.
func (db *DB) join() *session {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.cur == nil {
		ctx, cancel := context.WithCancel(context.Background())
		s := &session{db: db, ctx: ctx, cancel: cancel}
		// Like cmd/go: no SetTileHeight (the default, 8, is what the
		// databases serve) and no SetGONOSUMDB (the caller decides).
		s.client = sumdb.NewClient(s)
		db.cur = s
	}
	db.cur.waiters++
	return db.cur
}

// leave stops counting the caller as waiting on s. If the caller failed or
// gave up, s is retired. A retired session nobody waits on is cancelled.
func (db *DB) leave(s *session, retire bool) {
	db.mu.Lock()
	defer db.mu.Unlock()
	s.waiters--
	if retire && !s.retired {
		s.retired = true
		if db.cur == s {
			db.cur = nil
		}
	}
	if s.retired && s.waiters == 0 {
		s.cancel()
	}
}

func (db *DB) securityError() *SecurityError {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.secErr
}

// lookup runs the Client's two lookups for mod; they share one record, so
// one read at most.
func (s *session) lookup(mod module.Version) (zip, gomod string, err error) {
	zip, err = s.hash(mod.Path, mod.Version, mod)
	if err != nil {
		return "", "", err
	}
	gomod, err = s.hash(mod.Path, mod.Version+"/go.mod", mod)
	if err != nil {
		return "", "", err
	}
	return zip, gomod, nil
}

// hash returns the h1: hash in the database's "path vers h1:..." line.
func (s *session) hash(path, vers string, mod module.Version) (string, error) {
	lines, err := s.client.Lookup(path, vers)
	if err != nil {
		return "", s.cause(mod, vers, err)
	}
	prefix := path + " " + vers + " h1:"
	for _, line := range lines {
		if strings.HasPrefix(line, prefix) {
			return line[len(prefix)-len("h1:"):], nil
		}
	}
	noun := "module"
	if strings.HasSuffix(vers, "/go.mod") {
		noun = "go.mod"
	}
	return "", fmt.Errorf("%s checksum missing from the database's record", noun)
}

// cause turns an error of the Client's Lookup back into one a caller can
// inspect. The Client formats the error of a lookup read with %v, so that
// error is taken from where Remote returned it instead; the rest lose only
// the "path@vers: " prefix that Lookup's own wrapping repeats.
func (s *session) cause(mod module.Version, vers string, err error) error {
	epath, _ := module.EscapePath(mod.Path)
	evers, _ := module.EscapeVersion(mod.Version)
	if e, ok := s.lookupErrs.Load("/lookup/" + epath + "@" + evers); ok {
		return e.(error)
	}
	if errors.Is(err, sumdb.ErrGONOSUMDB) {
		return err
	}
	msg, _ := strings.CutPrefix(err.Error(), mod.Path+"@"+vers+": ")
	return errors.New(msg)
}
