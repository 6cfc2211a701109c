package mirrors

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomodx/gomodx/retry"
)

// One TCP connection over a long, lossy link carries far less than the
// link can: at 150 ms and 1% loss, on the order of 1 MB/s. A large zip is
// therefore fetched in ranges over several connections at once, when its
// mirror serves ranges and the store writes into a file.

// RangeThreshold is the size from which a zip is fetched in ranges, over
// several connections at once, when its mirror serves ranges and the
// store takes the body with WriteTo into a file (see [List.Fetch]). It is
// where ranges stop costing anything (the rangebench sweep, one file into
// the module cache): at 150 ms and 1 MB/s per connection they pay from
// 2 MB (1.6 s against 2.6 s in one stream; 1.6 s against 5.1 s at 4 MB),
// but at 50 ms and no cap per connection the new connections' round trips
// cost more than they gain below 4 MB (0.45 s against 0.30 s at 2 MB; even
// at 4 MB).
//
// A smaller zip, down to a quarter of it, starts in one stream, and is
// widened to ranges over new connections when what is left of it would
// take long in that stream while few requests share its mirror: the last
// large zips of a download, each held to what one connection carries,
// while the link has room (see [ranged.widen]).
const RangeThreshold = 4 << 20

const (
	rangeConns   = 8         // connections at most for one file
	rangeMinPart = 512 << 10 // a part left to fetch is split only if at least twice this
	progressStep = 256 << 10
	rangeBuf     = 64 << 10
	rangePoll    = 100 * time.Millisecond // how often an idle worker looks for a part to take

	// widenBelow is the number of requests in flight to a mirror below
	// which a zip fetched in one stream may be widened to ranges: with
	// more, they share the link already, and new connections would only
	// take from the others.
	widenBelow = 2 * rangeConns
)

// errNoRanges says that a mirror that answered Accept-Ranges: bytes did not
// serve a range as asked (a 200 for the whole file, another size or
// version, no Content-Range): the file is fetched in one stream instead.
var errNoRanges = errors.New("mirror did not serve the range asked for")

// fileBody is the body Fetch hands to store. Read streams the response, as
// it always has. WriteTo into an io.WriterAt (a file) fetches the file in
// ranges at once, writing each at its offset, when the response allows it
// (see ranged); otherwise it streams too.
type fileBody struct {
	limitedBody
	rng     *ranged     // nil when the file is not fetched in ranges
	written io.ReaderAt // the file WriteTo wrote in ranges, for digest
	emit    func(int64) // reports progress of a large file, or nil
	next    int64       // the progress to report next
	emitted int64       // the progress last reported
}

// body returns what deliver hands to store for the winner of a race.
func (f *fetch) body(ctx context.Context, g *group, win *legResult) *fileBody {
	b := &fileBody{limitedBody: limitedBody{r: win.body, left: f.limit, file: fileName(f.rel)}}
	b.h.SetSeed(f.seed)
	if win.size >= f.l.rangeMin || win.size < 0 {
		m, size := win.m, win.size
		b.emit = func(n int64) {
			f.l.emit(Event{Kind: Progress, Mod: f.fail.Mod, File: f.fail.File, Mirror: m.redacted, Bytes: n, Size: size})
		}
		b.next = progressStep
		if size < 0 {
			// No Content-Length (a compressed or chunked answer): reported
			// once it is seen to be large.
			b.next = f.l.rangeMin
		}
	}
	if win.ranges && b.file == "zip" && win.size >= f.l.rangeMin/4 && win.size <= f.limit && !f.noRanges[win.m] && win.url != nil {
		b.rng = f.newRanged(ctx, g, win, b.emit)
		b.rng.narrow = win.size < f.l.rangeMin
	}
	return b
}

func (b *fileBody) Read(p []byte) (int, error) {
	n, err := b.limitedBody.Read(p)
	// Every progressStep, and at the end of a file whose progress was
	// reported, so that the last report says all of it is in.
	if b.emit != nil && (b.n >= b.next || err == io.EOF && b.emitted > 0 && b.n > b.emitted) {
		b.emit(b.n)
		b.emitted = b.n
		b.next = b.n + progressStep
	}
	return n, err
}

// WriteTo writes the body into w: in ranges at once when w is an
// io.WriterAt and the mirror serves ranges, else in one stream. A store
// that writes a file must have emptied it first.
func (b *fileBody) WriteTo(w io.Writer) (int64, error) {
	wa, ok := w.(io.WriterAt)
	if !ok || b.rng == nil || b.err != nil || b.n > 0 {
		return io.Copy(w, struct{ io.Reader }{b})
	}
	n, err := b.rng.run(wa)
	b.n = n
	if err != nil {
		b.err = err
		return n, err
	}
	if ra, ok := w.(io.ReaderAt); ok {
		b.written = ra
	}
	if s, ok := w.(io.Seeker); ok {
		// Where a stream would have left it.
		if _, err := s.Seek(n, io.SeekStart); err != nil {
			return n, err
		}
	}
	return n, nil
}

// mixed reports whether some of the bytes came from another mirror than
// the one whose answer store got.
func (b *fileBody) mixed() bool {
	if b.rng == nil {
		return false
	}
	b.rng.mu.Lock()
	defer b.rng.mu.Unlock()
	return b.rng.mixed
}

// digest is that of the bytes store got: for a file written in ranges,
// read back from it (it is still as WriteTo left it when store has just
// rejected it).
func (b *fileBody) digest() digest {
	if b.written == nil {
		return b.limitedBody.digest()
	}
	var h maphash.Hash
	h.SetSeed(b.h.Seed())
	n, err := io.Copy(&h, io.NewSectionReader(b.written, 0, b.n))
	return digest{n: n, sum: h.Sum64(), eof: err == nil}
}

// strongETag returns etag if it is a strong entity tag, else "": only a
// strong one says that two ranges are of the same bytes.
func strongETag(etag string) string {
	if strings.HasPrefix(etag, `"`) && len(etag) >= 2 && strings.HasSuffix(etag, `"`) {
		return etag
	}
	return ""
}

// ranged is one file fetched in ranges. Its parts cover the file; each is
// fetched by one worker over a connection of its own, from one source (a
// mirror of the group). A worker that is done with its part takes half of
// the largest part left, or the whole of one that has stalled, so that all
// connections stay busy to the end. A part that breaks is asked for again
// from the byte where it stopped.
type ranged struct {
	f      *fetch
	ctx    context.Context // the walk's
	size   int64
	first  *rangeSource       // the source whose answer started the download
	body   io.ReadCloser      // that answer's body, from offset 0
	cancel context.CancelFunc // that answer's request
	srcs   []*rangeSource
	report func(int64)
	// narrow says the file starts in one stream, widened to ranges only
	// when that pays (see widen).
	narrow bool

	mu      sync.Mutex
	parts   []*part
	mixed   bool  // some bytes came from a source other than the first
	got     int64 // bytes written
	next    int64 // progress to report next
	fatal   error // errNoRanges from the first source: give up on ranges
	stop    context.CancelFunc
	lastErr error
	workers int // workers still fetching

	// reportMu orders the progress reports of the workers, which are made
	// outside mu: a count lower than one already reported is dropped.
	reportMu sync.Mutex
	reported int64
}

// progress reports that n bytes of the file are in, unless a worker has
// already reported more.
func (r *ranged) progress(n int64) {
	if r.report == nil {
		return
	}
	r.reportMu.Lock()
	defer r.reportMu.Unlock()
	if n > r.reported {
		r.reported = n
		r.report(n)
	}
}

// A rangeSource is a mirror the file's ranges may come from.
type rangeSource struct {
	m     *mirror
	tries *atomic.Int32 // the fetch's count of requests to m
	url   *url.URL
	etag  string // the strong ETag of its answers, once known
	bad   error  // it served a range wrongly: not asked again for this file
	first bool   // the mirror whose 200 started the download
}

// A part is a stretch of the file, [pos, end), that one worker fetches.
type part struct {
	pos, end int64
	writing  int64 // the end of the write in progress, at least pos
	owner    *rangeWorker
	last     time.Time // when it last received bytes, or was taken
}

type rangeWorker struct {
	src    *rangeSource
	cc     *http.ClientConn
	cancel context.CancelFunc // of its request in flight
}

// newRanged prepares the ranged fetch of win's file. The other mirrors of
// g that may be asked (not asked yet, not set aside, not liars) serve
// ranges too; each is checked to serve a file of the same size before its
// bytes are used, and the file is verified as a whole by store.
func (f *fetch) newRanged(ctx context.Context, g *group, win *legResult, report func(int64)) *ranged {
	m := win.m
	first := &rangeSource{m: m, tries: f.counter(m), url: win.url, etag: win.etag, first: true}
	r := &ranged{f: f, ctx: ctx, size: win.size, first: first, body: win.body, cancel: win.cancel, report: report, next: progressStep}
	r.srcs = append(r.srcs, first)
	if f.noMix {
		return r
	}
	for _, o := range f.l.order(g, f.fail.File, map[*mirror]bool{m: true}, nil, f.later) {
		f.l.mu.Lock()
		liar := o.score.lied != nil
		f.l.mu.Unlock()
		if liar || o.base == nil || o.base.Scheme == "file" {
			continue
		}
		u, err := url.Parse(o.urlFor(f.rel))
		if err != nil {
			continue
		}
		r.srcs = append(r.srcs, &rangeSource{m: o, tries: f.counter(o), url: u})
	}
	return r
}

// run fetches the file into w and returns its size, or the error that
// stopped it: errNoRanges (wrapped) when the first mirror did not serve a
// range as asked, else the last failure when no worker could go on.
func (r *ranged) run(w io.WriterAt) (int64, error) {
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	r.stop = cancel

	n := int64(rangeConns)
	if max := r.size / r.f.l.rangePart; max < n {
		n = max
	}
	n = max(n, 1)
	if r.narrow {
		n = 1
	}
	now := time.Now()
	step := r.size / n
	r.mu.Lock()
	for i := range n {
		p := &part{pos: i * step, end: (i + 1) * step, last: now}
		if i == n-1 {
			p.end = r.size
		}
		p.writing = p.pos
		p.owner = &rangeWorker{src: r.srcs[int(i)%len(r.srcs)]}
		r.parts = append(r.parts, p)
	}
	first := r.parts[0]
	first.owner.src = r.first
	first.owner.cancel = r.cancel
	starts := append([]*part(nil), r.parts...)
	r.workers = len(starts)
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range starts {
		var body io.ReadCloser
		if p == first {
			body = r.body // serves the first part from offset 0
		}
		wg.Go(func() { r.work(ctx, w, p.owner, p, body) })
	}
	if r.narrow {
		wg.Go(func() { r.widen(ctx, w, &wg) })
	}
	wg.Wait()

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fatal != nil {
		return r.got, r.fatal
	}
	if err := r.ctx.Err(); err != nil {
		return r.got, err
	}
	for _, p := range r.parts {
		if p.pos < p.end {
			if r.lastErr == nil {
				r.lastErr = io.ErrUnexpectedEOF
			}
			return r.got, r.lastErr
		}
	}
	return r.size, nil
}

// widen watches a file fetched in one stream and, once, adds workers that
// split what is left of it (see take) when that stream alone would still
// take at least a second and eight times the mirror's latency (about what
// a new connection and its request cost), and fewer than widenBelow
// requests are in flight to the mirror. It returns when the file is done,
// ranges are given up, no worker is left, or ctx ends.
func (r *ranged) widen(ctx context.Context, w io.WriterAt, wg *sync.WaitGroup) {
	start := time.Now()
	for retry.Sleep(ctx, rangePoll) == nil {
		r.mu.Lock()
		got, left, fatal, workers := r.got, r.size-r.got, r.fatal, r.workers
		r.mu.Unlock()
		if left <= 0 || fatal != nil || workers == 0 {
			return
		}
		if got == 0 {
			continue
		}
		rate := float64(got) / time.Since(start).Seconds()
		if !r.f.l.worthWidening(r.first.m, time.Duration(float64(left)/rate*float64(time.Second))) {
			continue
		}
		// As many workers as the splits of take can keep busy.
		n := min(rangeConns-1, max(left/r.f.l.rangePart-1, 1))
		r.mu.Lock()
		r.workers += int(n)
		r.mu.Unlock()
		for i := range n {
			wk := &rangeWorker{src: r.srcs[(int(i)+1)%len(r.srcs)]}
			wg.Go(func() { r.work(ctx, w, wk, r.take(ctx, wk), nil) })
		}
		return
	}
}

// work fetches p, then whatever part it can take, until none is left. body,
// if not nil, is the first answer's, which serves p from offset 0.
func (r *ranged) work(ctx context.Context, w io.WriterAt, wk *rangeWorker, p *part, body io.ReadCloser) {
	defer func() {
		if wk.cc != nil {
			wk.cc.Close()
		}
		r.mu.Lock()
		r.workers--
		r.mu.Unlock()
	}()
	fails := 0 // in a row, without a byte
	for p != nil && ctx.Err() == nil {
		if body == nil {
			var err error
			body, err = r.request(ctx, wk, p)
			if err != nil {
				if r.failed(ctx, wk, p, err, &fails) {
					return
				}
				continue
			}
		}
		got, err := r.copy(w, p, body)
		body.Close()
		body = nil
		if got > 0 {
			fails = 0
		}
		if err != nil {
			if got == 0 {
				if r.failed(ctx, wk, p, err, &fails) {
					return
				}
			} else {
				r.closeConn(wk)
				if ctx.Err() == nil {
					r.retrying(wk, err)
				}
			}
			continue
		}
		p = r.take(ctx, wk)
	}
}

// failed handles a failure of wk on p that brought no byte, and reports
// whether wk is to stop. A source that did not serve the range as asked is
// not asked again (if it is the first, ranges are given up); otherwise wk
// waits and tries again, up to the policy's retries in a row, then leaves
// p to whoever is free.
func (r *ranged) failed(ctx context.Context, wk *rangeWorker, p *part, err error, fails *int) (stop bool) {
	r.closeConn(wk)
	if ctx.Err() != nil {
		return true
	}
	r.mu.Lock()
	taken := p.pos >= p.end
	r.mu.Unlock()
	if taken {
		// Another worker took p over (and cancelled this request): not a
		// failure.
		return false
	}
	if errors.Is(err, errNoRanges) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if wk.src.first {
			if r.fatal == nil {
				r.fatal = err
				r.stop()
			}
			return true
		}
		wk.src.bad = err
		wk.src = r.first
		return false
	}
	r.f.l.broke(wk.src.m)
	*fails++
	if *fails > max(r.f.l.policy.Retries, 0) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.lastErr = err
		if !wk.src.first {
			// Another mirror kept failing: the first serves this part.
			wk.src.bad = err
			wk.src = r.first
			*fails = 0
			return false
		}
		if p.owner == wk {
			p.owner = nil // for another worker to take, if one is left
		}
		return true
	}
	r.retrying(wk, err)
	if err := retry.Sleep(ctx, r.f.l.policy.Backoff(*fails-1)); err != nil {
		return true
	}
	return false
}

// retrying reports a range asked for again after err.
func (r *ranged) retrying(wk *rangeWorker, err error) {
	f := r.f
	r.mu.Lock()
	r.lastErr = err
	r.mu.Unlock()
	n := wk.src.tries.Add(1)
	f.l.emit(Event{Kind: Retrying, Mod: f.fail.Mod, File: f.fail.File, Mirror: wk.src.m.redacted, Attempt: int(n), Err: err})
}

func (r *ranged) closeConn(wk *rangeWorker) {
	if wk.cc != nil {
		wk.cc.Close()
		wk.cc = nil
	}
}

// request asks wk's source for what is left of p, on wk's own connection,
// and returns the body of a 206 that serves exactly that.
func (r *ranged) request(ctx context.Context, wk *rangeWorker, p *part) (io.ReadCloser, error) {
	r.mu.Lock()
	from, to := p.pos, p.end
	src := wk.src
	etag := src.etag
	p.last = time.Now()
	r.mu.Unlock()
	if from >= to {
		return io.NopCloser(strings.NewReader("")), nil
	}
	l := r.f.l
	ctx, cancel := context.WithCancel(ctx)
	r.mu.Lock()
	wk.cancel = cancel
	r.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.url.String(), nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("User-Agent", l.userAgent)
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", from, to-1))
	if etag != "" {
		req.Header.Set("If-Range", etag)
	}
	if wk.cc != nil && wk.cc.Err() != nil {
		r.closeConn(wk)
	}
	if wk.cc == nil {
		// A connection of its own: over HTTP/2, requests on a shared one
		// would share its window and its losses.
		wk.cc, err = l.transport.NewClientConn(ctx, src.url.Scheme, hostPort(src.url))
		if err != nil {
			cancel()
			return nil, err
		}
	}
	var timer *time.Timer
	if l.policy.Timeout > 0 {
		timer = time.AfterFunc(l.policy.Timeout, cancel)
	}
	// Credentials go by the request's URL, as for every other request.
	resp, err := l.creds.over(wk.cc).RoundTrip(req)
	if timer != nil && !timer.Stop() {
		if err == nil {
			resp.Body.Close()
		}
		cancel()
		return nil, fmt.Errorf("range request: timeout awaiting response headers after %v", l.policy.Timeout)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	if err := r.check(src, resp, from, to); err != nil {
		resp.Body.Close()
		cancel()
		return nil, err
	}
	return l.policy.Body(ctx, cancel, resp.Body), nil
}

// check accepts resp only as a 206 for bytes from..to-1 (or fewer) of a
// file of the expected size and, for a source whose ETag is known, the
// same ETag. Anything else that is not a retryable failure means the
// source does not serve this file's ranges (errNoRanges).
func (r *ranged) check(src *rangeSource, resp *http.Response, from, to int64) error {
	switch resp.StatusCode {
	case http.StatusPartialContent:
	case http.StatusOK, http.StatusRequestedRangeNotSatisfiable:
		return fmt.Errorf("%w: %s for bytes %d-%d", errNoRanges, resp.Status, from, to-1)
	default:
		se := retry.NewStatusError(resp)
		if retry.Transient(se) {
			return se
		}
		return fmt.Errorf("%w: %w", errNoRanges, se)
	}
	first, last, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
	if !ok || first != from || last < first || last >= to || total != r.size {
		return fmt.Errorf("%w: Content-Range %q for bytes %d-%d of %d", errNoRanges, resp.Header.Get("Content-Range"), from, to-1, r.size)
	}
	etag := strongETag(resp.Header.Get("ETag"))
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case src.etag == "":
		src.etag = etag
	case etag != "" && etag != src.etag:
		return fmt.Errorf("%w: ETag %s, was %s", errNoRanges, etag, src.etag)
	}
	return nil
}

// parseContentRange parses "bytes first-last/total".
func parseContentRange(v string) (first, last, total int64, ok bool) {
	v, ok = strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, 0, 0, false
	}
	rng, tot, ok := strings.Cut(v, "/")
	if !ok {
		return 0, 0, 0, false
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	first, err1 = strconv.ParseInt(a, 10, 64)
	last, err2 = strconv.ParseInt(b, 10, 64)
	total, err3 = strconv.ParseInt(tot, 10, 64)
	return first, last, total, err1 == nil && err2 == nil && err3 == nil && first >= 0
}

// copy writes body into w at p's position until p is done (its end may
// move closer while it runs: another worker took the rest) or body ends.
// It returns the bytes it wrote.
func (r *ranged) copy(w io.WriterAt, p *part, body io.Reader) (int64, error) {
	buf := make([]byte, rangeBuf)
	var got int64
	for {
		n, err := body.Read(buf)
		if n > 0 {
			r.mu.Lock()
			at := p.pos
			n = int(min(int64(n), p.end-p.pos))
			p.writing = at + int64(n)
			r.mu.Unlock()
			if n > 0 {
				if _, werr := w.WriteAt(buf[:n], at); werr != nil {
					return got, werr
				}
			}
			r.mu.Lock()
			p.pos += int64(n)
			p.last = time.Now()
			r.got += int64(n)
			if !p.owner.src.first {
				r.mixed = true
			}
			done := p.pos >= p.end
			var report int64
			if r.got >= r.next || r.got == r.size {
				report = r.got
				r.next = r.got + progressStep
			}
			r.mu.Unlock()
			got += int64(n)
			if report > 0 {
				r.progress(report)
			}
			if done {
				return got, nil
			}
		}
		if err == io.EOF {
			r.mu.Lock()
			done := p.pos >= p.end
			r.mu.Unlock()
			if done {
				return got, nil
			}
			return got, io.ErrUnexpectedEOF
		}
		if err != nil {
			r.mu.Lock()
			done := p.pos >= p.end
			r.mu.Unlock()
			if done {
				// Cancelled because another worker took the rest.
				return got, nil
			}
			return got, err
		}
	}
}

// take gives wk the next part to fetch, or nil when the file is done (or
// ranges were given up): a part nobody fetches, a part that has stalled
// (all of what is left of it), or the second half of the largest part
// left, if it is large enough to be worth a request. While there is none
// to take but parts are still being fetched, it waits: one of them may
// stall, and then wk takes it over.
func (r *ranged) take(ctx context.Context, wk *rangeWorker) *part {
	for {
		p, busy := r.tryTake(wk)
		if p != nil || !busy {
			return p
		}
		if retry.Sleep(ctx, rangePoll) != nil {
			return nil
		}
	}
}

// tryTake is take without waiting; busy says parts are still being
// fetched by others.
func (r *ranged) tryTake(wk *rangeWorker) (p *part, busy bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fatal != nil {
		return nil, false
	}
	now := time.Now()
	var biggest *part
	var left int64
	for _, p := range r.parts {
		rest := p.end - max(p.pos, p.writing)
		if rest <= 0 {
			continue
		}
		if p.owner == nil {
			p.owner, p.last = wk, now
			return p, true
		}
		if rest > left {
			biggest, left = p, rest
		}
	}
	if biggest == nil {
		return nil, false
	}
	from := max(biggest.pos, biggest.writing)
	// Silent for twice the hedge delay of its mirror (2 s at least, by
	// default): an idle connection takes it over. (Not when hedging is
	// off.)
	d := r.f.l.hedgeDelay(biggest.owner.src.m)
	stalled := d > 0 && now.Sub(biggest.last) > 2*d
	switch {
	case stalled:
		// All of it: its worker stops at once, and looks for work.
		if c := biggest.owner.cancel; c != nil {
			c()
		}
	case left >= 2*r.f.l.rangePart:
		from += left / 2
	default:
		return nil, true
	}
	p = &part{pos: from, writing: from, end: biggest.end, owner: wk, last: now}
	biggest.end = from
	if wk.src.bad != nil {
		wk.src = r.first
	}
	r.parts = append(r.parts, p)
	return p, true
}

// hostPort is u's host with its port, the scheme's default if u has none.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}
