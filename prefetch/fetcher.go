package prefetch

import (
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"sync"

	"golang.org/x/mod/module"

	"github.com/gomodx/gomodx/modcache"
)

// Options configures a Fetcher.
type Options struct {
	// Jobs is how many files are fetched at once. The work waits on the
	// network, so the default (64) is far above the go command's GOMAXPROCS:
	// on a 150 ms link, 16 at a time took 2.4 times as long as 64 (make bench).
	Jobs int
	// Private reports whether a module path matches GONOPROXY/GOPRIVATE. Such
	// modules are never asked of a Source: the go command fetches them itself.
	Private func(path string) bool
	// NoSumCheck reports whether the go command would accept a module without
	// a checksum (GOSUMDB=off, or GONOSUMDB/GOPRIVATE matches). Files go.sum
	// has no line for are fetched only for such modules, or when Checksums
	// can vouch for them; the others are left to the go command.
	NoSumCheck func(path string) bool
	// Checksums, if set, returns the checksum database's hashes for a module
	// that go.sum does not list (the zip's and the go.mod's).
	Checksums func(ctx context.Context, mod module.Version) (zip, gomod string, err error)
	// SumDB is the name of the checksum database behind Checksums, which
	// a mismatch with one of its hashes names (go.sum's are named go.sum).
	SumDB string
	// Progress, if set, is called for every file as it is planned and as it
	// is settled. It may be called from several goroutines at once.
	Progress func(Event)
	// Extract unpacks the zips the walk fetches into the module cache while
	// other downloads are still in flight, as the go command would unpack
	// them after (it finds them ready). A zip it downloads is unpacked as
	// it is verified, in the same pass over its bytes. ModCacheRW leaves
	// the trees writable, as the go command's -modcacherw does.
	Extract    bool
	ModCacheRW bool
	// Downloading, if set, is called for each zip the Fetcher put in the
	// cache: the go command says "go: downloading" for a zip it downloads,
	// and gomodx says it in its stead for those it fetched.
	Downloading func(mod module.Version)
}

// Event reports what happened to one file.
type Event struct {
	Mod   module.Version
	Kind  modcache.Kind
	State State
	Bytes int64 // size written, with Fetched
	Err   error // set with Failed
}

// State is where one file stands. Every file is reported Planned once, when
// it is first asked for, then once more with its outcome.
type State int

const (
	Planned State = iota // asked for
	Fetched              // fetched, verified and written to the cache
	Cached               // already complete in the cache
	Left                 // left to the go command (private, no checksum, direct)
	Failed
)

// A Fetcher puts verified module files into the cache, each at most once
// however many callers ask for it at the same time. It is safe for
// concurrent use, and lives as long as one gomodx command: the prefetch walk
// and the loopback proxy share it.
type Fetcher struct {
	ctx   context.Context // bounds every fetch, whoever waits for it
	cache *modcache.Cache
	src   Source
	sums  Sums
	opts  Options
	sem   chan struct{}  // bounds the files fetched at once
	cpu   chan struct{}  // bounds the zips unpacked at once
	wg    sync.WaitGroup // fetches in flight

	mu    sync.Mutex
	files map[fileKey]*call
}

type fileKey struct {
	mod  module.Version
	kind modcache.Kind
}

// call is one file fetch that several callers may wait for.
type call struct {
	done  chan struct{}
	state State
	err   error
}

// NewFetcher returns a Fetcher that verifies against sums (go.sum lines; nil
// for none) and writes into cache. Cancelling ctx stops every fetch; the ctx
// given to Ensure only bounds that caller's wait, since a fetch may be
// shared by several callers.
func NewFetcher(ctx context.Context, cache *modcache.Cache, src Source, sums Sums, opts Options) *Fetcher {
	if opts.Jobs <= 0 {
		opts.Jobs = 64
	}
	if sums == nil {
		sums = Sums{}
	}
	return &Fetcher{
		ctx:   ctx,
		cache: cache, src: src, sums: sums, opts: opts,
		sem:   make(chan struct{}, opts.Jobs),
		cpu:   make(chan struct{}, runtime.GOMAXPROCS(0)),
		files: map[fileKey]*call{},
	}
}

// Cache returns the module cache the Fetcher writes.
func (f *Fetcher) Cache() *modcache.Cache { return f.cache }

// ErrLeft is returned for a file the Fetcher leaves to the go command: a
// private module, one without a checksum to verify it against, or one that
// GOPROXY says to fetch directly. It is not a failure.
var ErrLeft = errors.New("left to the go command")

// Ensure makes mod's file of the given kind complete in the cache. It
// returns the outcome; the error is ErrLeft for Left and the cause for
// Failed. A file is fetched once: later calls get the first call's outcome
// until Forget.
func (f *Fetcher) Ensure(ctx context.Context, mod module.Version, kind modcache.Kind) (State, error) {
	key := fileKey{mod, kind}
	f.mu.Lock()
	c, ok := f.files[key]
	if !ok {
		c = &call{done: make(chan struct{})}
		f.files[key] = c
	}
	f.mu.Unlock()
	if !ok {
		f.wg.Go(func() { f.run(c, mod, kind) })
	}
	select {
	case <-c.done:
		return c.state, c.err
	case <-ctx.Done():
		return Failed, ctx.Err()
	}
}

// run performs one call, under the Fetcher's own context.
func (f *Fetcher) run(c *call, mod module.Version, kind modcache.Kind) {
	f.report(Event{Mod: mod, Kind: kind, State: Planned})
	c.state, c.err = f.fetch(f.ctx, mod, kind)
	close(c.done)

	ev := Event{Mod: mod, Kind: kind, State: c.state}
	switch c.state {
	case Failed:
		ev.Err = c.err
	case Fetched:
		ev.Bytes = f.size(mod, kind)
	}
	f.report(ev)
}

// extract unpacks mod's zip, if the Fetcher extracts and the fetch did
// not unpack it already (a zip that was in the cache), with no more at
// once than the unpack gate allows. A failure is left for the go command,
// which extracts the zip itself and says what is wrong.
func (f *Fetcher) extract(ctx context.Context, mod module.Version) {
	if !f.opts.Extract {
		return
	}
	f.cache.Extract(ctx, mod, modcache.UnpackOptions{Writable: f.opts.ModCacheRW, Gate: f.unpackGate(nil)})
}

// unpackGate returns the gate of the unpacking work: it holds one of the
// cpu slots while a zip is checked, inflated, hashed and written. A fetch
// that holds a download slot (net) gives it back while it waits for and
// does that work, so that the downloads behind it go on; the slot is taken
// again before the next body, if the mirror walk asks for one.
func (f *Fetcher) unpackGate(net *slot) func(ctx context.Context) (func(), error) {
	return func(ctx context.Context) (func(), error) {
		if net != nil {
			net.release()
		}
		select {
		case f.cpu <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return func() { <-f.cpu }, nil
	}
}

// slot is one place in a semaphore that its holder can give back early
// and take again. Its methods are called by one goroutine at a time.
type slot struct {
	sem  chan struct{}
	held bool
}

// acquire takes the place, unless it is already held.
func (s *slot) acquire(ctx context.Context) error {
	if s.held {
		return nil
	}
	select {
	case s.sem <- struct{}{}:
		s.held = true
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release gives the place back, if it is held.
func (s *slot) release() {
	if s.held {
		<-s.sem
		s.held = false
	}
}

// Served reports whether this Fetcher got mod's file of the given kind
// from a mirror (not from the cache), which shows that the mirror has that
// version.
func (f *Fetcher) Served(mod module.Version, kind modcache.Kind) bool {
	f.mu.Lock()
	c, ok := f.files[fileKey{mod, kind}]
	f.mu.Unlock()
	if !ok {
		return false
	}
	select {
	case <-c.done:
		return c.state == Fetched
	default:
		return false
	}
}

// Wait waits for every fetch in flight to finish, including those whose
// callers stopped waiting. Call it before exiting after a cancellation, so
// that every temp file is cleaned up.
func (f *Fetcher) Wait() { f.wg.Wait() }

// Forget drops the remembered outcome for mod's file, so that the next
// Ensure looks at the cache again (after a repair removed it).
func (f *Fetcher) Forget(mod module.Version, kind modcache.Kind) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.files[fileKey{mod, kind}]; ok {
		select {
		case <-c.done:
			delete(f.files, fileKey{mod, kind})
		default: // still running: its outcome is fresh
		}
	}
}

// ZipTo fetches mod's zip into tmp, verified against go.sum or the checksum
// database where they apply, without writing the cache: the go command that
// asked for it holds the zip's lock and writes it itself. It returns ErrLeft
// when there is nothing to verify it against.
func (f *Fetcher) ZipTo(ctx context.Context, mod module.Version, tmp *os.File) error {
	if f.opts.Private != nil && f.opts.Private(mod.Path) {
		return ErrLeft
	}
	lookup := f.needsLookup(mod, modcache.Zip)
	var (
		want, source string
		ok           = true
		err          error
	)
	if !lookup {
		if want, source, ok, err = f.want(ctx, mod, modcache.Zip); err != nil {
			return err
		}
		if !ok {
			return ErrLeft
		}
	}
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-f.sem }()
	f.report(Event{Mod: mod, Kind: modcache.Zip, State: Planned})
	if lookup {
		// As in fetch: the lookup waits for a mirror's answer.
		looked := false
		var lookupErr error
		err = f.src.Fetch(ctx, mod, string(modcache.Zip), func(body io.Reader) error {
			if !looked {
				looked = true
				want, source, ok, lookupErr = f.want(ctx, mod, modcache.Zip)
				if lookupErr == nil && !ok {
					lookupErr = ErrLeft
				}
			}
			if lookupErr != nil {
				return lookupErr
			}
			return modcache.FetchZip(ctx, mod, want, func(store func(io.Reader) error) error {
				return modcache.SumSource(source, store)(body)
			}, tmp)
		})
		if lookupErr != nil {
			err = lookupErr
		}
	} else {
		err = modcache.FetchZip(ctx, mod, want, func(store func(io.Reader) error) error {
			return f.src.Fetch(ctx, mod, string(modcache.Zip), modcache.SumSource(source, store))
		}, tmp)
	}
	switch {
	case errors.Is(err, ErrLeft), errors.Is(err, errors.ErrUnsupported):
		f.report(Event{Mod: mod, Kind: modcache.Zip, State: Left})
		return ErrLeft
	case err != nil:
		f.report(Event{Mod: mod, Kind: modcache.Zip, State: Failed, Err: err})
		return err
	}
	ev := Event{Mod: mod, Kind: modcache.Zip, State: Fetched}
	if fi, err := tmp.Stat(); err == nil {
		ev.Bytes = fi.Size()
	}
	f.report(ev)
	return nil
}

// Want returns the hash mod's file must have: go.sum's line, else the
// checksum database's when the module is not exempt from it. ok is false
// when there is nothing to check against and the go command would insist on
// one: the file must then be left to the go command.
func (f *Fetcher) Want(ctx context.Context, mod module.Version, kind modcache.Kind) (want string, ok bool, err error) {
	want, _, ok, err = f.want(ctx, mod, kind)
	return want, ok, err
}

// want is Want, with the source of the hash: "" for go.sum, else the
// checksum database's name.
func (f *Fetcher) want(ctx context.Context, mod module.Version, kind modcache.Kind) (want, source string, ok bool, err error) {
	if kind == modcache.Info {
		// An .info carries no checksum, and the go command fetches one
		// (to learn whether the version exists, and its time) before it
		// looks anything up: no lookup for it here either.
		return "", "", true, nil
	}
	zip, gomod := f.sums.Zip(mod), f.sums.GoMod(mod)
	pick := func() string {
		if kind == modcache.Mod {
			return gomod
		}
		return zip
	}
	if pick() != "" {
		return pick(), "", true, nil
	}
	if f.opts.NoSumCheck != nil && f.opts.NoSumCheck(mod.Path) {
		return "", "", true, nil
	}
	if f.opts.Checksums == nil {
		return "", "", false, nil
	}
	zip, gomod, err = f.opts.Checksums(ctx, mod)
	if err != nil {
		return "", "", false, err
	}
	return pick(), f.opts.SumDB, pick() != "", nil
}

func (f *Fetcher) fetch(ctx context.Context, mod module.Version, kind modcache.Kind) (State, error) {
	return f.fetchWith(ctx, mod, kind, func(want string, net *slot, dl modcache.Download) error {
		return f.put(ctx, mod, kind, want, net, dl)
	})
}

// File returns mod's .info or .mod for a go command that asked the
// loopback proxy for it: from the cache when it is there and checks out,
// else fetched and checked as the prefetch checks it, without writing the
// cache (the go command writes what it keeps, so the cache holds what it
// would hold without gomodx). A file the prefetch failed on fails again at
// once, as it did. It returns ErrLeft for a file there is nothing to check
// against: the go command must get it as the mirrors serve it.
func (f *Fetcher) File(ctx context.Context, mod module.Version, kind modcache.Kind) ([]byte, error) {
	f.mu.Lock()
	c, ok := f.files[fileKey{mod, kind}]
	f.mu.Unlock()
	if ok {
		select {
		case <-c.done:
			if c.state == Failed || c.state == Left {
				return nil, c.err
			}
		default:
		}
	}
	var data []byte
	f.report(Event{Mod: mod, Kind: kind, State: Planned})
	state, err := f.fetchWith(ctx, mod, kind, func(want string, _ *slot, dl modcache.Download) error {
		d, err := modcache.FetchFile(ctx, mod, kind, want, dl)
		data = d
		return err
	})
	ev := Event{Mod: mod, Kind: kind, State: state, Err: err, Bytes: int64(len(data))}
	if state != Failed {
		ev.Err = nil
	}
	f.report(ev)
	switch state {
	case Cached:
		file, err := f.cache.Path(mod, string(kind))
		if err != nil {
			return nil, err
		}
		return os.ReadFile(file)
	case Fetched:
		return data, nil
	}
	return nil, err
}

// fetchWith is fetch, with keep doing what is done with the file's body:
// it is called with the hash the body must have and a Download that feeds
// it, once per mirror answer, until it succeeds.
func (f *Fetcher) fetchWith(ctx context.Context, mod module.Version, kind modcache.Kind, keep func(want string, net *slot, dl modcache.Download) error) (State, error) {
	if f.opts.Private != nil && f.opts.Private(mod.Path) {
		if f.cache.Has(mod, kind, "") {
			return Cached, nil
		}
		return Left, ErrLeft
	}
	lookup := f.needsLookup(mod, kind)
	var (
		want, source string
		ok           = true
		err          error
	)
	if !lookup || f.cache.Has(mod, kind, "") {
		// A file in the cache is checked against the checksum database
		// where go.sum has no line for it, as the go command checks it.
		want, source, ok, err = f.want(ctx, mod, kind)
		if err != nil {
			return Failed, err
		}
		if !ok {
			return Left, ErrLeft
		}
		if f.cache.Has(mod, kind, want) {
			return Cached, nil
		}
		lookup = false
	}

	net := &slot{sem: f.sem}
	if err := net.acquire(ctx); err != nil {
		return Failed, err
	}
	defer net.release()

	if lookup {
		// The go command asks the checksum database about a file only
		// once a mirror has served it: a version no mirror has costs no
		// lookup. So the lookup waits for the first body, and the file is
		// then put in the cache checked against its answer.
		looked := false
		var lookupErr error
		err = f.src.Fetch(ctx, mod, string(kind), func(body io.Reader) error {
			// An earlier body's unpacking gave the slot back.
			if err := net.acquire(ctx); err != nil {
				return err
			}
			if !looked {
				looked = true
				want, source, ok, lookupErr = f.want(ctx, mod, kind)
				if lookupErr == nil && !ok {
					lookupErr = ErrLeft
				}
			}
			if lookupErr != nil {
				return lookupErr // not the mirror's doing: the walk stops
			}
			return keep(want, net, func(store func(io.Reader) error) error {
				return modcache.SumSource(source, store)(body)
			})
		})
		if lookupErr != nil {
			err = lookupErr
		}
	} else {
		err = keep(want, net, func(store func(io.Reader) error) error {
			return f.src.Fetch(ctx, mod, string(kind), modcache.SumSource(source, func(body io.Reader) error {
				// An earlier body's unpacking gave the slot back.
				if err := net.acquire(ctx); err != nil {
					return err
				}
				return store(body)
			}))
		})
	}
	switch {
	case errors.Is(err, ErrLeft), errors.Is(err, errors.ErrUnsupported):
		return Left, ErrLeft
	case err != nil:
		return Failed, err
	}
	if kind == modcache.Zip && f.opts.Downloading != nil {
		// What go would have downloaded itself; a zip gomodx could not
		// fetch, go downloads and announces itself.
		f.opts.Downloading(mod)
	}
	return Fetched, nil
}

// needsLookup reports whether the hash of mod's file must come from the
// checksum database: go.sum has no line for it, and the module is not
// exempt.
func (f *Fetcher) needsLookup(mod module.Version, kind modcache.Kind) bool {
	switch {
	case kind == modcache.Info, f.opts.Checksums == nil:
		return false
	case kind == modcache.Mod && f.sums.GoMod(mod) != "", kind == modcache.Zip && f.sums.Zip(mod) != "":
		return false
	case f.opts.NoSumCheck != nil && f.opts.NoSumCheck(mod.Path):
		return false
	}
	return true
}

// put writes mod's file, fed by dl, into the cache, checked against want.
func (f *Fetcher) put(ctx context.Context, mod module.Version, kind modcache.Kind, want string, net *slot, dl modcache.Download) error {
	switch kind {
	case modcache.Info:
		return f.cache.PutInfo(ctx, mod, dl)
	case modcache.Mod:
		return f.cache.PutMod(ctx, mod, want, dl)
	}
	if f.opts.Extract {
		// Unpacked as it is verified: each zip is inflated once.
		return f.cache.PutZipAndUnpack(ctx, mod, want, dl, modcache.UnpackOptions{
			Writable: f.opts.ModCacheRW,
			Gate:     f.unpackGate(net),
		})
	}
	return f.cache.PutZip(ctx, mod, want, dl)
}

func (f *Fetcher) report(ev Event) {
	if f.opts.Progress != nil {
		f.opts.Progress(ev)
	}
}

// size is the size of a file just written to the cache, for progress.
func (f *Fetcher) size(mod module.Version, kind modcache.Kind) int64 {
	file, err := f.cache.Path(mod, string(kind))
	if err != nil {
		return 0
	}
	fi, err := os.Stat(file)
	if err != nil {
		return 0
	}
	return fi.Size()
}
