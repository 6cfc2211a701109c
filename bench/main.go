// Bench compares gomodx with the plain go command on the same inputs, side
// by side in one run, without leaving the machine.
//
// It serves the module graphs of real projects (see corpus.go: their real
// zips, fetched once from the module proxy into a cache outside the
// repository) from a fake GOPROXY on 127.0.0.1 that puts back the costs of
// a distant mirror (a round-trip time per response, more per new
// connection, optional bandwidth caps and resets, optional HTTPS with
// HTTP/2), and times `go mod download`, `gomodx download` and
// `GOMAXPROCS=16 go mod download` (and the same for tidy) on a cold module
// cache, interleaved round by round; then the download right after
// `go clean -modcache`. It reports wall time, CPU time and peak memory.
//
// Usage:
//
//	go run ./bench [flags]
//
// Examples:
//
//	go run ./bench                                  # full run (make bench)
//	go run ./bench -projects grpc -rounds 1         # quick look
//	go run ./bench -projects kubectl,gh,prometheus  # more graphs
//	go run ./bench -tools go,go16                   # without gomodx
//	go run ./bench -gomodx go                       # the harness itself, go in gomodx's column
//	go run ./bench -generated -unpruned             # a synthetic graph of a shape no project has
//
// With a bandwidth for the whole link (-bandwidth), the report also gives
// the link's limit: the bytes go needed over that bandwidth, plus three
// round trips (make bench-link).
//
// Two other modes compare the same tools in other conditions:
//
//	go run ./bench -faults        # on loopback mirrors that fail (make bench-faults)
//	go run ./bench -real          # on a real project against proxy.golang.org (make bench-real)
//
// -faults serves the first of -projects (kubectl's real zips by default;
// -generated for the synthetic graph) from loopback mirrors that fail as
// faults.go says: by default the mix (502/503s, resets, hangs and zips cut
// short, on one mirror and on two), a row per -fault-seeds seed, each
// against a fault-free row of as many mirrors; -scenarios all adds 429s,
// stalls, a slow, a dead and a lying mirror. It reports for each tool
// whether it finishes with a verified module cache, how long it takes,
// and gomodx's own counts (retries, hedges, failovers) from its JSON
// events. -real is the only mode that leaves the machine, so it is never
// part of make test: it compares the tools on a small real project with
// the default GOPROXY, and with one whose first mirror is unreachable.
//
// The report is Markdown on stdout; progress goes to stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is the parsed command line.
type config struct {
	projects    []string
	corpus      string // where the real graphs are kept
	corpusProxy string // where they are fetched from, once
	generated   bool   // the synthetic graph instead
	clean       bool   // the clean+download row
	settle      time.Duration

	connBandwidth float64 // MB/s per connection, 0 for none
	resets        float64 // share of zip bodies cut mid-way
	tls           bool

	rtts       []time.Duration
	rounds     int
	warmRounds int
	modules    int
	scale      float64
	seed       uint64
	unpruned   bool
	tools      []string
	commands   []string
	gomodx     string
	gomodxBase string   // another gomodx binary, the gomodx-base tool: before and after a change, side by side
	wrap       []string // command line prefix of gomodx's runs (a profiler)
	goBin      string
	keep       bool
	timeout    time.Duration
	handshake  float64
	bandwidth  float64 // MB/s, 0 for none

	faults     bool          // the fault comparison instead (faults.go)
	scenarios  []string      // of -faults; none means defaultScenarios
	faultSeeds []uint64      // of -faults: a row per seed for each scenario whose faults are drawn
	retryWait  time.Duration // GOMODX_RETRY_WAIT for -faults, 0 for gomodx's default
	eventsDir  string        // keep gomodx's JSON events of each -faults run here
	real       bool          // the real proxy check instead (real.go)
	realProxy  string        // GOPROXY of -real
	// realUnreachable is the first mirror of -real's second setup, one
	// that cannot be reached ("" skips the setup).
	realUnreachable string
}

func main() {
	log.SetPrefix("bench: ")
	log.SetFlags(0)
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if err != flag.ErrHelp {
			log.Print(err)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	switch {
	case cfg.faults:
		err = runFaults(ctx, cfg, os.Stdout, os.Stderr)
	case cfg.real:
		err = runReal(ctx, cfg, os.Stdout, os.Stderr)
	default:
		err = run(ctx, cfg, os.Stdout, os.Stderr)
	}
	stop()
	if err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

// parseFlags turns the command line into a config.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	projectList := fs.String("projects", "kubectl", "real projects whose module graphs to measure on, comma-separated: "+projectNames())
	fs.StringVar(&cfg.corpus, "corpus", defaultCorpusDir(), "where the real graphs are kept between runs (fetched the first time)")
	fs.StringVar(&cfg.corpusProxy, "corpus-proxy", "https://proxy.golang.org", "the module proxy the real graphs are fetched from, once")
	fs.BoolVar(&cfg.generated, "generated", false, "measure on the generated graph (-modules, -scale, -seed, -unpruned) instead of real projects")
	fs.BoolVar(&cfg.clean, "clean", true, "add the row of a download right after go clean -modcache, at the largest RTT")
	fs.DurationVar(&cfg.settle, "settle", 65*time.Second, "wait after removing the runs' module caches before timing again (the file system creates files slowly for about a minute after a large removal)")
	rtts := fs.String("rtt", "0,150", "round-trip times to the mirror, in ms (or with a unit), comma-separated")
	fs.IntVar(&cfg.rounds, "rounds", 5, "rounds per RTT and command; the tables show medians and min–max")
	fs.IntVar(&cfg.warmRounds, "warm-rounds", 5, "rounds of the warm-cache comparison (0 skips it)")
	fs.IntVar(&cfg.modules, "modules", 300, "with -generated: module versions in the graph; 30% of them are downloaded")
	fs.Float64Var(&cfg.scale, "scale", 1, "with -generated: zip size factor: 1 is 95 MB of zips in all")
	fs.Uint64Var(&cfg.seed, "seed", 1, "with -generated: seed of the graph")
	fs.BoolVar(&cfg.unpruned, "unpruned", false, "with -generated: main module at go 1.16: go reads and downloads the whole graph")
	fs.Float64Var(&cfg.connBandwidth, "conn-bandwidth", 0, "bandwidth of each connection, in MB/s (0: unlimited); one TCP flow over a long lossy link gets about 1")
	fs.Float64Var(&cfg.resets, "resets", 0, "share of zip bodies the mirror cuts at half and closes the connection (0.02: 2%)")
	fs.BoolVar(&cfg.tls, "tls", false, "serve https, HTTP/2 first, with a self-signed certificate the tools trust through SSL_CERT_FILE")
	tools := fs.String("tools", "go,gomodx,go16", "tools to run, comma-separated: go, gomodx, go16")
	commands := fs.String("commands", "download,tidy", "commands to run, comma-separated: download, tidy")
	fs.StringVar(&cfg.gomodx, "gomodx", "", "gomodx binary to run (default: build github.com/gomodx/gomodx); \"go\" runs the plain go command in its place")
	fs.StringVar(&cfg.gomodxBase, "gomodx-base", "", "another gomodx binary, run as the tool gomodx-base (-tools ...,gomodx-base): a change against the binary before it, side by side")
	wrap := fs.String("wrap", "", "run gomodx under this command, split at spaces: \"perf record -g -o /tmp/gomodx.perf --\" profiles it (its time is then the wrapper's too)")
	fs.StringVar(&cfg.goBin, "go", "", "go command to measure and to hand to gomodx as GOMODX_GO (default: go on PATH)")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory (tree, project, caches)")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Minute, "limit for each command run")
	fs.Float64Var(&cfg.handshake, "handshake", 2, "RTTs a new connection costs before its first request (2: TCP + TLS 1.3)")
	fs.Float64Var(&cfg.bandwidth, "bandwidth", 0, "total bandwidth shared by all responses, in MB/s (0: unlimited)")
	fs.BoolVar(&cfg.faults, "faults", false, "compare the tools on faulty mirrors instead, on the first of -projects (or -generated); its defaults: -rtt 50 -rounds 3 -timeout 120s -tools go,gomodx -commands download")
	scenarios := fs.String("scenarios", "", "with -faults, the scenarios to run, comma-separated, or all (default: "+strings.Join(defaultScenarios, ",")+")")
	seeds := fs.String("fault-seeds", "1,2,3", "with -faults, the seeds of the faults: a row per seed for each scenario whose faults are drawn")
	fs.DurationVar(&cfg.retryWait, "retry-wait", 0, "with -faults, GOMODX_RETRY_WAIT for gomodx (0: gomodx's default)")
	fs.StringVar(&cfg.eventsDir, "events", "", "with -faults, keep a copy of gomodx's JSON events (--json-file) of each run in this directory")
	fs.BoolVar(&cfg.real, "real", false, "compare the tools once on a real project against a real module proxy (needs the internet); its defaults: -rounds 3 -timeout 5m -tools go,gomodx")
	fs.StringVar(&cfg.realProxy, "real-proxy", "https://proxy.golang.org", "with -real, the mirror of the default setup (GOPROXY=<it>,direct); GOSUMDB=sum.golang.org is checked through it")
	fs.StringVar(&cfg.realUnreachable, "real-unreachable", "https://goproxy.cn", "with -real, a mirror this machine cannot reach: the setup GOPROXY=<it>,direct (\"\" skips it)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	defaults := map[string]string{}
	switch {
	case cfg.faults && cfg.real:
		return cfg, fmt.Errorf("-faults and -real cannot be used together")
	case cfg.faults:
		defaults = map[string]string{"scale": "0.2", "rtt": "50", "rounds": "3", "timeout": "120s", "tools": "go,gomodx", "commands": "download"}
	case cfg.real:
		defaults = map[string]string{"rounds": "3", "timeout": "5m", "tools": "go,gomodx"}
	}
	for name, value := range defaults {
		if !set[name] {
			if err := fs.Set(name, value); err != nil {
				return cfg, err
			}
		}
	}
	cfg.wrap = strings.Fields(*wrap)
	cfg.projects = split(*projectList)
	for _, p := range cfg.projects {
		if _, err := findProject(p); err != nil {
			return cfg, err
		}
	}
	for _, f := range split(*seeds) {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil || n == 0 {
			return cfg, fmt.Errorf("-fault-seeds: bad seed %q (want a positive integer)", f)
		}
		cfg.faultSeeds = append(cfg.faultSeeds, n)
	}
	if len(cfg.faultSeeds) == 0 {
		return cfg, fmt.Errorf("-fault-seeds needs at least one seed")
	}
	cfg.scenarios = split(*scenarios)
	if err := checkScenarios(cfg.scenarios); err != nil {
		return cfg, err
	}
	var err error
	if cfg.rtts, err = parseRTTs(*rtts); err != nil {
		return cfg, err
	}
	cfg.tools = split(*tools)
	cfg.commands = split(*commands)
	if cfg.faults && len(cfg.rtts) != 1 {
		return cfg, fmt.Errorf("-faults runs at one RTT, not %d", len(cfg.rtts))
	}
	for _, c := range cfg.commands {
		if c != "download" && c != "tidy" {
			return cfg, fmt.Errorf("-commands: unknown command %q (want download, tidy)", c)
		}
	}
	switch {
	case cfg.rounds < 1:
		return cfg, fmt.Errorf("-rounds %d: need at least 1", cfg.rounds)
	case cfg.warmRounds < 0:
		return cfg, fmt.Errorf("-warm-rounds %d: must not be negative", cfg.warmRounds)
	case cfg.timeout <= 0:
		return cfg, fmt.Errorf("-timeout %v: must be positive", cfg.timeout)
	case cfg.handshake < 0 || cfg.bandwidth < 0 || cfg.connBandwidth < 0:
		return cfg, fmt.Errorf("-handshake, -bandwidth and -conn-bandwidth must not be negative")
	case cfg.resets < 0 || cfg.resets >= 1:
		return cfg, fmt.Errorf("-resets %g: want a share in [0, 1)", cfg.resets)
	case !cfg.generated && !cfg.faults && !cfg.real && len(cfg.projects) == 0:
		return cfg, fmt.Errorf("-projects needs at least one project")
	case len(cfg.tools) == 0 || len(cfg.commands) == 0 || len(cfg.rtts) == 0:
		return cfg, fmt.Errorf("-tools, -commands and -rtt need at least one value each")
	}
	return cfg, nil
}

// parseRTTs parses "0,50,150" (milliseconds) or "0,50ms,0.15s".
func parseRTTs(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range split(s) {
		if ms, err := strconv.ParseFloat(f, 64); err == nil && ms >= 0 {
			out = append(out, time.Duration(ms*float64(time.Millisecond)))
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("-rtt: bad round-trip time %q", f)
		}
		out = append(out, d)
	}
	return out, nil
}

// split splits a comma-separated list, dropping empty items.
func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// projectNames lists the projects -projects knows.
func projectNames() string {
	var names []string
	for _, p := range projects {
		names = append(names, p.name)
	}
	return strings.Join(names, ", ")
}
