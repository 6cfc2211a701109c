package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A Prober probes mirrors, each at once and each within req.Timeout, and
// returns one result per mirror, in req.Mirrors' order. It must be safe
// for concurrent use. mirrors.Probe can be adapted to it.
type Prober func(ctx context.Context, req ProbeRequest) []ProbeResult

// ProbeRequest says what to probe.
type ProbeRequest struct {
	Mirrors []string      // base URLs (http or https)
	SumDB   string        // checksum database name to ask each mirror about ("" to skip)
	Sample  string        // a small file under each mirror, for the throughput ("" to skip)
	Timeout time.Duration // for each request
}

// ProbeResult is what a Prober learned about one mirror. The durations
// are those of each step, not cumulative; a step that did not happen is 0.
type ProbeResult struct {
	Mirror    string
	Addrs     []string // the addresses DNS gave
	DNS       time.Duration
	Connect   time.Duration
	TLS       time.Duration
	FirstByte time.Duration // from the request written to the first response byte
	Status    int           // of the first request
	// Bytes of the sample file received in Transfer; 0 if the mirror
	// does not have it.
	Bytes    int64
	Transfer time.Duration
	SumDB    bool   // answered 200 to /sumdb/<name>/supported
	Stage    string // where it failed: "dns", "connect", "tls", "first-byte", "download"; "" if it did not
	Err      error
}

// Net is how doctor reaches the network. The zero value uses the system
// resolver, the system's root certificates and HTTP(S)_PROXY, as the go
// command does.
type Net struct {
	// LookupHost resolves a host name; nil means net.DefaultResolver.
	LookupHost func(ctx context.Context, host string) ([]string, error)
	// TLS is the client TLS configuration; nil means the system's roots.
	TLS *tls.Config
	// Proxy picks the HTTP proxy for a request; nil means
	// http.ProxyFromEnvironment.
	Proxy func(*http.Request) (*url.URL, error)
}

// transport returns a fresh transport (no shared connections, so every
// probe measures its own connect and handshake) that dials through n and
// reports DNS and connect steps to rec.
func (n Net) transport(rec *recorder) *http.Transport {
	lookup := n.LookupHost
	if lookup == nil {
		lookup = net.DefaultResolver.LookupHost
	}
	proxy := n.Proxy
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		addrs := []string{host}
		if net.ParseIP(host) == nil {
			start := time.Now()
			addrs, err = lookup(ctx, host)
			rec.step(func(r *ProbeResult) { r.DNS, r.Addrs = time.Since(start), addrs })
			if err != nil {
				rec.fail("dns")
				return nil, err
			}
		}
		start := time.Now()
		var d net.Dialer
		for _, a := range addrs {
			var c net.Conn
			c, err = d.DialContext(ctx, network, net.JoinHostPort(a, port))
			if err == nil {
				rec.step(func(r *ProbeResult) { r.Connect = time.Since(start) })
				return c, nil
			}
		}
		rec.fail("connect")
		return nil, err
	}
	var tlsConfig *tls.Config
	if n.TLS != nil {
		tlsConfig = n.TLS.Clone() // the transport adds its protocols to it
	}
	return &http.Transport{
		Proxy:             proxy,
		DialContext:       dial,
		TLSClientConfig:   tlsConfig,
		ForceAttemptHTTP2: true,
		DisableKeepAlives: rec == nil,
	}
}

// recorder collects one probe's result from the transport's goroutines.
type recorder struct {
	mu sync.Mutex
	r  ProbeResult
}

func (rec *recorder) step(f func(*ProbeResult)) {
	if rec == nil {
		return
	}
	rec.mu.Lock()
	f(&rec.r)
	rec.mu.Unlock()
}

// fail records the first stage that failed.
func (rec *recorder) fail(stage string) {
	rec.step(func(r *ProbeResult) {
		if r.Stage == "" {
			r.Stage = stage
		}
	})
}

// NewProber returns a Prober that reaches each mirror through n: it asks
// the mirror whether it serves the checksum database (or for its root),
// timing each step with net/http/httptrace, then downloads the sample file
// over the same connection to measure the throughput.
func NewProber(n Net) Prober {
	return func(ctx context.Context, req ProbeRequest) []ProbeResult {
		results := make([]ProbeResult, len(req.Mirrors))
		var wg sync.WaitGroup
		for i, m := range req.Mirrors {
			wg.Go(func() { results[i] = probeOne(ctx, n, m, req) })
		}
		wg.Wait()
		return results
	}
}

func probeOne(ctx context.Context, n Net, mirror string, req ProbeRequest) ProbeResult {
	rec := &recorder{r: ProbeResult{Mirror: mirror}}
	tr := n.transport(rec)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	first := mirror + "/"
	if req.SumDB != "" {
		first = mirror + "/sumdb/" + req.SumDB + "/supported"
	}
	// The hooks run on the transport's goroutines; the recorder's mutex
	// orders them.
	var wrote, tlsStart time.Time
	trace := &httptrace.ClientTrace{
		TLSHandshakeStart: func() { rec.step(func(*ProbeResult) { tlsStart = time.Now() }) },
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			rec.step(func(r *ProbeResult) { r.TLS = time.Since(tlsStart) })
			if err != nil {
				rec.fail("tls")
			}
		},
		WroteRequest: func(httptrace.WroteRequestInfo) { rec.step(func(*ProbeResult) { wrote = time.Now() }) },
		GotFirstResponseByte: func() {
			rec.step(func(r *ProbeResult) { r.FirstByte = time.Since(wrote) })
		},
	}
	status, _, err := get(ctx, client, first, req.Timeout, trace, 64<<10)
	rec.step(func(r *ProbeResult) {
		r.Status = status
		r.SumDB = req.SumDB != "" && status == http.StatusOK
	})
	if err != nil {
		rec.fail(stageOf(err, rec))
		rec.step(func(r *ProbeResult) { r.Err = err })
		return rec.result()
	}
	if req.Sample != "" {
		start := time.Now()
		status, nbytes, err := get(ctx, client, mirror+"/"+req.Sample, req.Timeout, nil, 16<<20)
		rec.step(func(r *ProbeResult) {
			switch {
			case err != nil:
				r.Stage, r.Err = "download", err
			case status == http.StatusOK:
				r.Bytes, r.Transfer = nbytes, time.Since(start)
			}
		})
	}
	return rec.result()
}

func (rec *recorder) result() ProbeResult {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.r
}

// stageOf names the step an error of the first request happened in, when
// the transport did not already say.
func stageOf(err error, rec *recorder) string {
	r := rec.result()
	var certErr *tls.CertificateVerificationError
	switch {
	case r.Stage != "":
		return r.Stage
	case errors.As(err, &certErr) || strings.Contains(err.Error(), "tls: "):
		return "tls"
	case r.FirstByte == 0:
		return "first-byte"
	}
	return "download"
}

// get fetches url within timeout and reads at most limit bytes of the
// body. A status other than 200 is not an error: the caller decides.
func get(ctx context.Context, client *http.Client, url string, timeout time.Duration, trace *httptrace.ClientTrace, limit int64) (status int, n int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if trace != nil {
		ctx = httptrace.WithClientTrace(ctx, trace)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("User-Agent", "gomodx-doctor")
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err = io.Copy(io.Discard, io.LimitReader(resp.Body, limit))
	return resp.StatusCode, n, err
}

// explain turns a network error into what went wrong, in words a person
// can act on, and the fix. host is the host that was asked for.
func explain(err error, stage, host string, timeout time.Duration) (what, fix string) {
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return fmt.Sprintf("DNS: no such host %s", dnsErr.Name),
			"check the host name in GOPROXY; if it is an internal mirror, check the VPN or /etc/resolv.conf"
	case errors.As(err, &dnsErr) && dnsErr.IsTimeout:
		return "DNS: lookup timed out", "the DNS server does not answer: check the network or /etc/resolv.conf"
	case errors.As(err, &dnsErr):
		return "DNS: " + dnsErr.Err, "check the network's DNS settings"
	case errors.As(err, &unknownCA):
		return "TLS: certificate signed by unknown authority" + issuer(unknownCA.Cert) + ": a proxy or antivirus is intercepting TLS (or the mirror's certificate is self-signed)",
			"install the intercepting proxy's root certificate in the system store, or point SSL_CERT_FILE at it; do not turn verification off"
	case errors.As(err, &hostErr):
		return "TLS: " + hostErr.Error() + ": wrong host in GOPROXY, or a proxy answering in its place",
			"check the host name in GOPROXY"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fmt.Sprintf("TLS: certificate has expired or is not yet valid (the clock here says %s)", time.Now().UTC().Format(time.RFC3339)),
			"check the system clock; if it is right, the mirror's certificate has expired: use another mirror"
	case errors.As(err, &invalid):
		return "TLS: " + invalid.Error(), "use another mirror, or ask its operator"
	case stage == "tls":
		return "TLS: " + rootCause(err), "check for a proxy or firewall interfering with TLS"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connect: connection refused", "nothing listens at " + host + ": check the port in GOPROXY, or whether the mirror is down"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "connect: network unreachable", "check the network connection or the route to " + host
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), isTimeout(err):
		switch stage {
		case "connect":
			return fmt.Sprintf("connect: no answer within %s", timeout), "a firewall may be dropping the connection: check the network, or use another mirror"
		case "dns":
			return fmt.Sprintf("DNS: no answer within %s", timeout), "check the network's DNS settings"
		case "tls":
			return fmt.Sprintf("TLS: handshake not done within %s", timeout), "check for a proxy or firewall interfering with TLS"
		}
		return fmt.Sprintf("no response within %s", timeout), "the mirror is overloaded or a filter is stalling it: put a faster mirror first in GOPROXY"
	}
	return rootCause(err), "check the network and the mirror's URL"
}

func issuer(c *x509.Certificate) string {
	if c == nil || c.Issuer.CommonName == "" {
		return ""
	}
	return fmt.Sprintf(" (issuer %q)", c.Issuer.CommonName)
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// rootCause drops the 'Get "url": ' wrapping of net/http errors, since
// the check names the mirror already.
func rootCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
