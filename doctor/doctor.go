// Package doctor explains why module downloads fail on this machine. It
// checks, in the order a person would, the go toolchain's settings, the
// GOPROXY list, private modules, each mirror (DNS, connect, TLS, first
// byte, throughput, checksum database), the checksum database, the module
// cache, credentials and the HTTP proxy settings, and gives each finding a
// verdict (ok, warn, FAIL) and, when something is wrong, the fix.
//
// Run changes nothing. It reads the go command's configuration as gomodx
// does (package goenv) and reaches the network through the same mirrors
// code a download goes through (package mirrors: transport, credentials,
// GOPROXY's ',' and '|' rules, the words for a failure), so that what it
// says is what gomodx will do. Every network check is bounded by
// Options.Timeout, and the independent ones run at once. The network and
// the file system are reached through Options, so that tests can fake a
// mirror that is down, slow, or intercepted, and a cache that is read-only
// or full.
package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gomodx/gomodx/goenv"
	"github.com/gomodx/gomodx/mirrors"
	"github.com/gomodx/gomodx/modcache"
)

// Status is the verdict of one check.
type Status string

const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "FAIL"
)

// Area groups checks in the report, in the order they are shown.
type Area string

const (
	AreaToolchain   Area = "toolchain"
	AreaProxy       Area = "GOPROXY"
	AreaPrivate     Area = "private modules"
	AreaMirrors     Area = "mirrors"
	AreaSumdb       Area = "checksum database"
	AreaCache       Area = "module cache"
	AreaCredentials Area = "credentials"
	AreaGit         Area = "git"
	AreaNetwork     Area = "HTTP proxy"
)

var areas = []Area{AreaToolchain, AreaProxy, AreaPrivate, AreaMirrors, AreaSumdb, AreaCache, AreaCredentials, AreaGit, AreaNetwork}

// Check is one finding.
type Check struct {
	Area   Area
	Name   string // what was checked: "GO111MODULE", a mirror's URL, a module path
	Status Status
	Detail string // what was found
	Fix    string `json:",omitempty"` // what to do about it, when Status is not OK
}

// Report is the result of Run.
type Report struct {
	Checks []Check
	// First lists, most important first, the fixes to try.
	First []string
	// Faults are the faulty module cache entries the quick verify found;
	// 'gomodx doctor --fix' repairs them.
	Faults []modcache.Fault `json:",omitempty"`
	// GoEnvFixes are 'go env -w' argument lists ("env", "-w", "K=V")
	// that apply the safe settings fixes; 'gomodx doctor --fix
	// --apply-env' runs them.
	GoEnvFixes [][]string `json:",omitempty"`
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool {
	for _, c := range r.Checks {
		if c.Status == Fail {
			return true
		}
	}
	return false
}

// Options are Run's inputs. Only Env is required.
type Options struct {
	Env    *goenv.Config // the go command's configuration; nil when GoErr says why there is none
	GoPath string        // the go binary, for the report
	GoErr  error         // why 'go env' failed, if it did: the first check fails with it
	// Toolchain is the toolchain the go command switches to in the
	// project; the zero value means the local go runs commands itself.
	Toolchain Toolchain
	// Getenv reads the process environment (HTTPS_PROXY and friends, and
	// which go settings come from it); nil means os.Getenv.
	Getenv func(string) string
	// Offline skips every network check.
	Offline bool
	// Timeout bounds each network check; 0 means 5s.
	Timeout time.Duration
	// Mirrors are the options gomodx fetches with (its transport,
	// credentials, user agent): doctor probes and asks the mirrors through
	// them, with its own Timeout and no retries.
	Mirrors mirrors.Options
	// Disk reports the free space of the file system holding a path;
	// nil means statfs(2).
	Disk func(path string) (DiskSpace, error)
	// Writable reports whether the current user may create files in dir;
	// nil means access(2) with W_OK.
	Writable func(dir string) error
	// Verify runs the quick verify of the project's cache entries; nil
	// means modcache.Verify of the versions the project uses.
	Verify func(ctx context.Context) ([]modcache.Fault, error)
	// ReadFile reads files (go.mod, go.work); nil means os.ReadFile.
	ReadFile func(string) ([]byte, error)
	// Git is what the go command's git runs with; nil skips its check.
	Git *Git
}

// Toolchain is the toolchain the go command switches to before it runs a
// command in the project, and whether gomodx fetches it first, as decided
// before any go command runs (package toolchain): doctor reads the local go's
// configuration with GOTOOLCHAIN=local, so that finding this out switches to
// nothing and downloads nothing.
type Toolchain struct {
	// Name is the toolchain go switches to ("go1.27.4"); "" when the
	// local go runs commands itself.
	Name string
	// Why says what asks for it: "go line in /src/m/go.mod",
	// "GOTOOLCHAIN=go1.27.4".
	Why string
	// PathOnly says go looks for it only in PATH (GOTOOLCHAIN=path or
	// <name>+path), and InPath is where it is found there, if anywhere.
	PathOnly bool
	InPath   string
	// Fetch says it is not in the module cache yet, and gomodx fetches it
	// through its mirrors before the go command runs; otherwise Leave
	// says why gomodx does not ("already in the module cache").
	Fetch bool
	Leave string
	// Cached says it is unpacked in the module cache already: go runs it
	// from there, even with GOPROXY=off.
	Cached bool
	// Err is a setting the go command refuses to start with: an invalid
	// GOTOOLCHAIN, or toolchain line.
	Err error
}

// Git describes the git the go command runs for the modules it fetches
// itself (GOPRIVATE, GOPROXY's direct), and the settings gomodx gives it.
type Git struct {
	Path  string   // git on PATH; "" if there is none
	Added []string // "NAME=value" settings gomodx adds to go's environment for git
	Kept  []string // the user's own settings of the same things, left alone
}

// DiskSpace is the free space on a file system.
type DiskSpace struct {
	Free, Total uint64 // bytes available to the user, and in all
}

const defaultTimeout = 5 * time.Second

func (o *Options) defaults() {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Env == nil {
		o.Env = goenv.New(goenv.Vars{}, o.Getenv)
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.Disk == nil {
		o.Disk = diskSpace
	}
	if o.Writable == nil {
		o.Writable = writable
	}
	if o.ReadFile == nil {
		o.ReadFile = os.ReadFile
	}
}

// Run performs every check and returns the report. It changes nothing.
func Run(ctx context.Context, opts Options) *Report {
	opts.defaults()
	d := &run{opts: opts, env: opts.Env, report: &Report{}}
	d.load()

	// The independent checks that wait on the network or the disk run at
	// once; the rest are instant.
	var wg sync.WaitGroup
	if !opts.Offline {
		// Two views of the mirrors: every mirror gomodx may ask, built-in
		// ones included, to probe (a probe carries no module path); and
		// GOPROXY's alone, for the lookups of the project's modules,
		// which must reach only the mirrors go itself would send them to.
		probe, err1 := d.newMirrors(true)
		lookup, err2 := d.newMirrors(false)
		if err1 == nil && err2 == nil {
			defer probe.Close()
			defer lookup.Close()
			wg.Go(func() {
				if len(d.mirrors()) > 0 {
					d.probes = probe.Probe(ctx)
				}
				d.lookupPrivate(ctx, lookup)
			})
			wg.Go(func() { d.directSumdb(ctx, lookup) })
		}
	}
	wg.Go(func() { d.checkCacheIO(ctx) })
	wg.Wait()

	d.toolchain()
	d.goproxy()
	d.private()
	d.mirrorChecks()
	d.sumdb()
	d.cache()
	d.credentials()
	d.git()
	d.proxyEnv()
	d.summarize()
	return d.report
}

// run is the state of one Run.
type run struct {
	opts   Options
	env    *goenv.Config
	report *Report

	proj     *project
	projErr  error
	proxies  []goenv.Entry
	proxyErr error
	probes   []mirrors.ProbeResult

	// lookupPrivate's results: what the mirrors say about each
	// requirement that GONOPROXY does not cover, by module path.
	onMirror map[string]mirrorAnswer
	// directSumdb's result.
	sumdbDirect     error
	sumdbDirectDone bool
	// checkCacheIO's results.
	cacheIO cacheIO
}

func (d *run) add(area Area, name string, status Status, detail, fix string) {
	d.report.Checks = append(d.report.Checks, Check{Area: area, Name: name, Status: status, Detail: detail, Fix: fix})
}

// summarize lists what to do first: the fixes of failed checks, then those
// of warnings, each once.
func (d *run) summarize() {
	seen := map[string]bool{}
	for _, want := range []Status{Fail, Warn} {
		for _, c := range d.report.Checks {
			if c.Status == want && c.Fix != "" && !seen[c.Fix] {
				seen[c.Fix] = true
				d.report.First = append(d.report.First, c.Fix)
			}
		}
	}
}

// WriteText writes the report for a person: one line per check under its
// area, "fix:" lines below problems, and what to do first.
func (r *Report) WriteText(w io.Writer) error {
	bw := &errWriter{w: w}
	for _, area := range areas {
		first := true
		for _, c := range r.Checks {
			if c.Area != area {
				continue
			}
			if first {
				fmt.Fprintf(bw, "%s\n", area)
				first = false
			}
			fmt.Fprintf(bw, "  %-4s  %s: %s\n", c.Status, c.Name, c.Detail)
			if c.Fix != "" && c.Status != OK {
				fmt.Fprintf(bw, "        fix: %s\n", c.Fix)
			}
		}
	}
	fails, warns := 0, 0
	for _, c := range r.Checks {
		switch c.Status {
		case Fail:
			fails++
		case Warn:
			warns++
		}
	}
	switch {
	case len(r.First) == 0 && fails == 0:
		fmt.Fprintf(bw, "\nsummary: nothing wrong found (%d checks)\n", len(r.Checks))
	default:
		fmt.Fprintf(bw, "\nsummary: %d FAIL, %d warn; what to do first:\n", fails, warns)
		for i, fix := range r.First {
			if i == 3 {
				fmt.Fprintf(bw, "  (and %d more above)\n", len(r.First)-3)
				break
			}
			fmt.Fprintf(bw, "  %d. %s\n", i+1, fix)
		}
	}
	return bw.err
}

// WriteJSON writes the report as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	out := struct {
		OK bool
		*Report
	}{!r.Failed(), r}
	if out.Checks == nil {
		out.Checks = []Check{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "\t")
	return enc.Encode(out)
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// words joins a list for a sentence: "a", "a and b", "a, b and c".
func words(list []string) string {
	switch len(list) {
	case 0:
		return ""
	case 1:
		return list[0]
	}
	return strings.Join(list[:len(list)-1], ", ") + " and " + list[len(list)-1]
}
