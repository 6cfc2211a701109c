package mirrors

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomodx/gomodx/goenv"
	"github.com/gomodx/gomodx/retry"
)

// Options configures a [List]. The zero value of each field is a sensible
// default.
type Options struct {
	Policy    retry.Policy // how hard each mirror is tried; the zero Policy means retry.Default()
	UserAgent string       // sent with every request, e.g. "gomodx/dev"; "gomodx" if empty
	Logger    *slog.Logger // a debug line per failed mirror and per retry; nil discards

	// Extra are more mirror URLs to use (--mirror, GOMODX_MIRRORS). They
	// are interchangeable with GOPROXY's first run of mirrors, or with the
	// public mirrors; see the package documentation.
	Extra []string
	// NoBuiltin keeps the built-in public mirrors out, even when GOPROXY
	// is the default (--no-builtin-mirrors).
	NoBuiltin bool
	// Auth is what the go command authenticates with (goenv.Config.Auth):
	// its netrc credentials are sent to https mirrors, as the go command
	// sends them. The zero value sends none.
	Auth goenv.Auth

	// OnEvent, if not nil, receives an Event for each step of each
	// request. It may be called from several goroutines at once.
	OnEvent func(Event)

	// ProbeTimeout bounds the probe of a group's mirrors (default 3s).
	ProbeTimeout time.Duration
	// RankCache is the file that keeps rankings between runs (default
	// os.UserCacheDir()/gomodx/mirrors.json).
	RankCache string
	// RankTTL is how long a cached ranking is used (default 10m). A
	// negative RankTTL disables the cache.
	RankTTL time.Duration
	// HedgeAfter is the least time a request waits for its headers
	// before the next mirror of its group, or the same mirror on a new
	// connection, is asked too (default 1s). The wait is 3 times the
	// mirror's usual latency when that is longer. A range of a large
	// file silent for twice that wait is taken over by another
	// connection. A negative HedgeAfter disables both.
	HedgeAfter time.Duration

	// SumDB is the checksum database a probe asks each mirror about
	// (<mirror>/sumdb/<SumDB>/supported); "" means sum.golang.org.
	SumDB string
	// ProbeSample, if set, is a file under each mirror that a probe
	// downloads after its first answer, to measure the throughput
	// (ProbeResult.Bytes and Transfer).
	ProbeSample string

	// How the network is reached; nil means the system's way. Tests and
	// doctor's own checks set them.
	Dial    func(ctx context.Context, network, addr string) (net.Conn, error) // instead of the transport's dialer
	Proxy   func(*http.Request) (*url.URL, error)                             // instead of HTTPS_PROXY and friends
	RootCAs *x509.CertPool                                                    // trusted instead of the system's roots
	// Builtin replaces the built-in public mirrors (tests).
	Builtin []string

	now func() time.Time // instead of time.Now, for the breaker and the rank cache (tests)
	// Instead of RangeThreshold and rangeMinPart, so that ranges are
	// tested on small files.
	rangeMin, rangePart int64
}

// List fetches protocol files from the mirrors of GOPROXY and the extra and
// built-in ones, as the package documentation describes. It is safe for
// concurrent use. Close stops the probes it may still run in the
// background.
type List struct {
	groups    []*group
	rescue    *group      // the built-in mirrors, when they apply; nil otherwise
	rescued   atomic.Bool // the switch to the rescue group was announced
	policy    retry.Policy
	client    *http.Client    // retrying
	fresh     *http.Client    // retrying, a new connection for every request
	transport *http.Transport // below creds: ranges open connections of their own on it
	creds     *credentials
	rangeMin  int64        // see RangeThreshold
	rangePart int64        // see rangeMinPart
	probes    *http.Client // one try, same connections
	userAgent string
	log       *slog.Logger
	onEvent   func(Event)
	sumdb     string // the database probes ask about
	sample    string // the file probes download, or ""

	probeTimeout time.Duration
	rankCache    string
	rankTTL      time.Duration
	hedgeAfter   time.Duration
	now          func() time.Time

	mu       sync.Mutex // the scoreboard and the rankings
	zipBytes float64    // moving average of zip sizes

	cacheMu sync.Mutex // the rank cache file, within this process

	dbMu     sync.Mutex         // dbRoutes
	dbRoutes map[string]dbRoute // how each checksum database is reached

	bg   context.Context // background probes
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// New returns a List for GOPROXY's entries (goenv.Config.Proxy), with opts.
func New(proxy []goenv.Entry, opts Options) (*List, error) {
	builtin := opts.Builtin
	if builtin == nil {
		builtin = builtinMirrors
	}
	groups, rescue, err := candidates(proxy, opts.Extra, opts.NoBuiltin, builtin)
	if err != nil {
		return nil, err
	}
	l := &List{
		groups:       groups,
		rescue:       rescue,
		policy:       opts.Policy,
		userAgent:    opts.UserAgent,
		log:          opts.Logger,
		onEvent:      opts.OnEvent,
		sumdb:        cmp.Or(opts.SumDB, "sum.golang.org"),
		sample:       opts.ProbeSample,
		probeTimeout: opts.ProbeTimeout,
		rankCache:    opts.RankCache,
		rankTTL:      opts.RankTTL,
		hedgeAfter:   opts.HedgeAfter,
		now:          opts.now,
		zipBytes:     defaultZipBytes,
	}
	if l.policy == (retry.Policy{}) {
		l.policy = retry.Default()
	}
	if l.userAgent == "" {
		l.userAgent = "gomodx"
	}
	if l.probeTimeout <= 0 {
		l.probeTimeout = 3 * time.Second
	}
	if l.rankTTL == 0 {
		l.rankTTL = 10 * time.Minute
	}
	if l.rankCache == "" && l.rankTTL > 0 {
		if dir, err := os.UserCacheDir(); err == nil {
			l.rankCache = filepath.Join(dir, "gomodx", "mirrors.json")
		}
	}
	if l.hedgeAfter == 0 {
		l.hedgeAfter = time.Second
	}
	if l.now == nil {
		l.now = time.Now
	}

	transport := retry.NewTransport()
	if opts.Dial != nil {
		transport.DialContext = opts.Dial
	}
	if opts.Proxy != nil {
		transport.Proxy = opts.Proxy
	}
	if opts.RootCAs != nil {
		transport.TLSClientConfig = &tls.Config{RootCAs: opts.RootCAs}
	}
	creds := newCredentials(transport, opts.Auth, groups)
	l.client = l.policy.ClientFor(creds, l.log)
	l.fresh = l.policy.ClientFor(creds.over(freshTransport(transport)), l.log)
	l.transport, l.creds = transport, creds
	l.rangeMin, l.rangePart = cmp.Or(opts.rangeMin, RangeThreshold), cmp.Or(opts.rangePart, rangeMinPart)
	l.probes = &http.Client{Transport: creds, CheckRedirect: retry.CheckRedirect}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}

	// One score per URL, shared by the groups that have it.
	scores := map[string]*score{}
	for _, g := range l.all() {
		if l.probed(g) {
			g.ready = make(chan struct{})
		}
		for _, m := range g.mirrors {
			if m.keyword() {
				continue
			}
			s := scores[m.URL]
			if s == nil {
				s = new(score)
				scores[m.URL] = s
			}
			m.score = s
		}
	}
	l.bg, l.stop = context.WithCancel(context.Background())
	return l, nil
}

// Close stops the List's background probes (late answers to the first
// probe, re-probes), waits for them to return, and closes idle
// connections. Rankings already made are kept, in memory and in the rank
// cache. Fetches after Close still work, without new probes.
func (l *List) Close() {
	l.stop()
	l.wg.Wait()
	l.probes.CloseIdleConnections()
}
