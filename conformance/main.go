// Conformance checks gomodx's promise to be never worse than go against the
// go command's own tests: the script tests in cmd/go/testdata/script of the
// Go source tree that came with the machine's go, which run against
// cmd/go's test module proxy (testdata/mod, served on 127.0.0.1).
//
// It runs the scripts about module downloads (every mod_download*,
// mod_tidy*, mod_sum*, mod_verify* and mod_get_* script, and every other
// one whose commands include 'go mod download' or 'go mod tidy'), or those
// named by -run, in up to three setups:
//
//	plain       the go command alone
//	gomodx      'go mod download' and 'go mod tidy' through gomodx
//	gomodx-all  also every command 'gomodx shell-init --all' routes
//	            (build, get, install, list, mod, run, test, vet, generate,
//	            work) through 'gomodx go'
//
// and prints a table of PASS, FAIL and SKIP. It exits non-zero when a
// script that passes with plain go fails through gomodx, unless allowed.txt
// lists it as an improvement, with the reason.
//
// How: cmd/go's tests run each script line "go ..." with the test binary
// itself acting as the go command. The installed GOROOT is never touched;
// it is copied once per go version to a scratch directory (printed; under
// the user cache directory unless -scratch says otherwise), and only the
// copy's test harness is changed, so that a script's "go" runs the program
// named by an environment variable when one is set. That program,
// conformance/dispatch, sends the commands gomodx takes over to gomodx
// (built from this repository on every run) with GOMODX_GO pointing at the
// test binary, and everything else to the test binary unchanged. The copy
// also reports every [net] condition false, so that nothing reaches the
// internet. The test binary is built once from the copy (go test -c
// cmd/go) and reused while the go version and the patch stay the same.
//
// gomodx runs with GOMODX_QUIET=1, because scripts match stderr and
// gomodx's progress lines would differ; -quiet=false shows how many
// scripts that costs. The script engine's output for each failure is kept
// in the scratch directory's repos/<hash of the repository's path>/logs/<setup>/<script>.log, with plain go's
// beside it for each script that regressed.
//
// Usage, from the repository root (make conformance runs the first):
//
//	go run ./conformance                      # all of it, a few minutes
//	go run ./conformance -run 'mod_tidy_.*'   # the scripts matching a pattern
//	go run ./conformance -setups plain,gomodx -quiet=false
package main

import (
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
)

type options struct {
	run      string
	setups   string
	quiet    bool
	parallel int
	timeout  time.Duration
	scratch  string
	allow    string
	goCmd    string
}

func main() {
	var o options
	flag.StringVar(&o.run, "run", "", "run only the scripts whose whole name matches this regular expression (any script, not only the default selection)")
	flag.StringVar(&o.setups, "setups", "plain,gomodx,gomodx-all", "setups to run, comma-separated; plain always runs")
	flag.BoolVar(&o.quiet, "quiet", true, "run gomodx with GOMODX_QUIET=1")
	flag.IntVar(&o.parallel, "parallel", 2*runtime.NumCPU(), "scripts run at once (-test.parallel)")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "limit for each setup's test binary (-test.timeout)")
	flag.StringVar(&o.scratch, "scratch", "", "directory for the GOROOT copy, binaries and logs (default: the user cache directory's gomodx-conformance/<go version>)")
	flag.StringVar(&o.allow, "allow", "", "the documented improvements (default: conformance/allowed.txt)")
	flag.StringVar(&o.goCmd, "go", "go", "the go command whose GOROOT is tested")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	start := time.Now()
	setups, err := chooseSetups(o.setups)
	if err != nil {
		return err
	}
	var runRE *regexp.Regexp
	if o.run != "" {
		if runRE, err = regexp.Compile("^(?:" + o.run + ")$"); err != nil {
			return fmt.Errorf("-run: %w", err)
		}
	}
	tool := &goTool{path: o.goCmd, env: os.Environ()}
	g, repo, err := locate(tool, o.scratch)
	if err != nil {
		return err
	}
	if o.allow == "" {
		o.allow = filepath.Join(repo, "conformance", "allowed.txt")
	}
	allow, err := loadAllowList(o.allow)
	if err != nil {
		return err
	}
	fmt.Printf("scratch directory: %s\n", g.scratch)
	if err := g.prepare(tool); err != nil {
		return err
	}
	scripts, err := selectScripts(filepath.Join(g.cmdGo(), "testdata", "script"), runRE)
	if err != nil {
		return err
	}
	if len(scripts) == 0 {
		return fmt.Errorf("no script matches -run %q", o.run)
	}
	fmt.Printf("%d scripts selected from %s\n", len(scripts), filepath.Join(g.src, "src", "cmd", "go", "testdata", "script"))
	// The GOROOT copy and cmd/go's test binary are shared; gomodx, the
	// dispatcher and the logs belong to this repository (several clones
	// may run the suite at once).
	own := filepath.Join(g.scratch, "repos", fmt.Sprintf("%x", sha256.Sum256([]byte(repo)))[:12])
	gomodx, dispatch, err := buildTools(tool, repo, filepath.Join(own, "bin"))
	if err != nil {
		return err
	}
	logs := filepath.Join(own, "logs")
	if err := os.RemoveAll(logs); err != nil {
		return err
	}

	results := map[string]map[string]*outcome{}
	took := map[string]time.Duration{}
	for _, s := range setups {
		if s.name != "plain" {
			s.env = append(s.env, "GOMODX_CONFORMANCE_DISPATCH="+dispatch, "GOMODX_CONFORMANCE_GOMODX="+gomodx)
			if o.quiet {
				s.env = append(s.env, "GOMODX_QUIET=1")
			}
		}
		fmt.Printf("running %d scripts: %s, -test.parallel=%d\n", len(scripts), s.name, o.parallel)
		t := time.Now()
		if results[s.name], err = runSetup(tool, g, s, scripts, o, filepath.Join(logs, s.name)); err != nil {
			return err
		}
		took[s.name] = time.Since(t).Round(time.Second)
	}

	fmt.Println()
	printTable(os.Stdout, scripts, setups, results)
	for _, s := range setups {
		fmt.Printf("%s took %s\n", s.name, took[s.name])
	}
	v := compare(scripts, setups, results, allow)
	printList("allowed differences (allowed.txt)", v.allowed)
	printList("listed in allowed.txt but passing now (remove them?)", v.stale)
	printList("plain go fails, gomodx passes", v.better)
	files, err := writeLogs(logs, scripts, setups, results, v)
	if err != nil {
		return err
	}
	printList("logs of the failures (and plain go's log of each regression, to compare)", files)
	printList("REGRESSIONS: plain go passes, gomodx fails", v.regressions)
	fmt.Printf("\ntotal time %s\n", time.Since(start).Round(time.Second))
	if len(v.regressions) > 0 {
		return fmt.Errorf("regressions: %d (a script that passes with plain go fails through gomodx)", len(v.regressions))
	}
	return nil
}

// locate finds the GOROOT of the go command under test, the scratch
// directory for its version, and the gomodx repository (the main module of
// the current directory).
func locate(tool *goTool, scratch string) (*goroot, string, error) {
	out, err := tool.run("", "env", "GOROOT", "GOVERSION", "GOMOD")
	if err != nil {
		return nil, "", err
	}
	lines := strings.Split(out, "\n")
	if len(lines) < 3 || filepath.Base(lines[2]) != "go.mod" {
		return nil, "", errors.New("run this from gomodx's repository: go run ./conformance")
	}
	g := &goroot{src: lines[0], version: lines[1], scratch: scratch}
	if g.scratch == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return nil, "", fmt.Errorf("no scratch directory (use -scratch): %w", err)
		}
		g.scratch = filepath.Join(cache, "gomodx-conformance", g.version)
	}
	return g, filepath.Dir(lines[2]), nil
}

// buildTools builds gomodx and the dispatcher from the repository into dir.
func buildTools(tool *goTool, repo, dir string) (gomodx, dispatch string, err error) {
	gomodx, dispatch = filepath.Join(dir, "gomodx"), filepath.Join(dir, "dispatch")
	if _, err := tool.run(repo, "build", "-o", gomodx, "."); err != nil {
		return "", "", err
	}
	if _, err := tool.run(repo, "build", "-o", dispatch, "./conformance/dispatch"); err != nil {
		return "", "", err
	}
	return gomodx, dispatch, nil
}

// printList prints a titled list, if it is not empty.
func printList[T any](title string, list []T) {
	if len(list) == 0 {
		return
	}
	fmt.Printf("\n%s:\n", title)
	for _, x := range list {
		fmt.Printf("  %v\n", x)
	}
}

// writeLogs writes the script engine's output for every failure (or script
// that never finished), and plain go's for every script that regressed, to dir/<setup>/<script>.log, and
// returns the files' names.
func writeLogs(dir string, scripts []string, setups []setup, results map[string]map[string]*outcome, v verdict) ([]string, error) {
	regressed := map[string]bool{}
	for _, d := range slices.Concat(v.regressions, v.allowed) {
		regressed[d.script] = true
	}
	var files []string
	for _, s := range setups {
		for _, name := range scripts {
			r := results[s.name][name]
			failed := r.status == "FAIL" || r.status == "NONE"
			if !failed && !(s.name == "plain" && regressed[name]) {
				continue
			}
			file := filepath.Join(dir, s.name, name+".log")
			if err := os.MkdirAll(filepath.Dir(file), 0o777); err != nil {
				return nil, err
			}
			if err := os.WriteFile(file, []byte(r.output), 0o666); err != nil {
				return nil, err
			}
			files = append(files, file)
		}
	}
	return files, nil
}

// setupEnv is each gomodx setup's dispatcher mode.
var setupEnv = map[string]string{
	"gomodx":     "download-tidy",
	"gomodx-all": "all",
}

// chooseSetups parses -setups; plain always comes first, as the reference.
func chooseSetups(list string) ([]setup, error) {
	setups := []setup{{name: "plain"}}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "plain" || name == "" || slices.ContainsFunc(setups, func(s setup) bool { return s.name == name }) {
			continue
		}
		mode, ok := setupEnv[name]
		if !ok {
			return nil, fmt.Errorf("-setups: unknown setup %q (want plain, gomodx, gomodx-all)", name)
		}
		setups = append(setups, setup{name: name, env: []string{"GOMODX_CONFORMANCE_MODE=" + mode}})
	}
	return setups, nil
}
