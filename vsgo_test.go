package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// vsgo runs a gomodx command and the go command it stands for side by side,
// from the same go.mod and go.sum, each with a module cache of its own
// ($WORK/<name>-gomodx and $WORK/<name>-go: a name used again finds its
// caches warm), and fails unless they end alike:
//
//   - the exit status, stdout, go.mod and go.sum;
//   - stderr, as a set of lines, without gomodx's own "gomodx:" lines;
//   - the files the mirror was asked for: by gomodx and the go command it
//     ran together, against those plain go asked for;
//   - the files each leaves in its module cache.
//
// It prints the files the mirror was asked for, one a line, so that a script
// can check them too, and gomodx's stderr. Usage: vsgo [-outcome] name download|tidy|go [args...];
// plain go runs 'go mod download|tidy args' or 'go args'. With -outcome only
// the exit status, stdout, go.mod and go.sum are compared: for failures
// whose wording may differ (gomodx explains an unreachable mirror in its
// own words where go quotes its dial error).
func vsgo(ts *testscript.TestScript, neg bool, args []string) {
	outcomeOnly := len(args) > 0 && args[0] == "-outcome"
	if outcomeOnly {
		args = args[1:]
	}
	if neg || len(args) < 2 {
		ts.Fatalf("usage: vsgo [-outcome] name download|tidy|go [args...]")
	}
	name, cmd, rest := args[0], args[1], args[2:]
	var goArgs []string
	switch cmd {
	case "download", "tidy":
		goArgs = append([]string{"mod", cmd}, rest...)
	case "go":
		goArgs = rest
	default:
		ts.Fatalf("vsgo: unknown command %q", cmd)
	}
	proxy := ts.Value(proxyKey{}).(*faultProxy)
	proxy.takeLog()
	modFile, sumFile := ts.MkAbs("go.mod"), ts.MkAbs("go.sum")
	origMod, _ := os.ReadFile(modFile)
	origSum, sumErr := os.ReadFile(sumFile)
	cache := ts.Getenv("GOMODCACHE")
	defer ts.Setenv("GOMODCACHE", cache)

	type outcome struct {
		status         string
		stdout, stderr string
		mod, sum       string
		requests       []string
		cache          []string
	}
	run := func(tool string, command []string) outcome {
		os.WriteFile(modFile, origMod, 0o666)
		if sumErr == nil {
			os.WriteFile(sumFile, origSum, 0o666)
		} else {
			os.Remove(sumFile)
		}
		dir := ts.MkAbs(filepath.Join(ts.Getenv("WORK"), name+"-"+tool))
		ts.Setenv("GOMODCACHE", dir)
		var o outcome
		o.status = "ok"
		if err := ts.Exec(command[0], command[1:]...); err != nil {
			o.status = err.Error()
		}
		// Output names the module cache, which differs by design.
		o.stdout = strings.ReplaceAll(ts.ReadFile("stdout"), dir, "$GOMODCACHE")
		o.stderr = strings.ReplaceAll(ts.ReadFile("stderr"), dir, "$GOMODCACHE")
		mod, _ := os.ReadFile(modFile)
		sum, _ := os.ReadFile(sumFile)
		o.mod, o.sum = string(mod), string(sum)
		for _, line := range proxy.takeLog() {
			_, file, _ := strings.Cut(line, "/mod ")
			o.requests = append(o.requests, file)
		}
		slices.Sort(o.requests)
		o.requests = slices.Compact(o.requests)
		o.cache = listFiles(dir)
		return o
	}
	x := run("gomodx", append([]string{"gomodx", cmd}, rest...))
	g := run("go", append([]string{"go"}, goArgs...))

	same := true
	differ := func(what, gomodx, goOut string) {
		if gomodx != goOut {
			same = false
			ts.Logf("vsgo %s: %s differs\n--- gomodx\n%s\n--- go\n%s", name, what, gomodx, goOut)
		}
	}
	differ("exit status", x.status, g.status)
	differ("stdout", x.stdout, g.stdout)
	differ("go.mod", x.mod, g.mod)
	differ("go.sum", x.sum, g.sum)
	if !outcomeOnly {
		differ("stderr", stderrLines(x.stderr), stderrLines(g.stderr))
		differ("requests", strings.Join(x.requests, "\n"), strings.Join(g.requests, "\n"))
		differ("module cache", strings.Join(x.cache, "\n"), strings.Join(g.cache, "\n"))
	}
	ts.Stdout().Write([]byte(strings.Join(x.requests, "\n") + "\n"))
	ts.Stderr().Write([]byte(x.stderr))
	if !same {
		ts.Fatalf("vsgo %s: gomodx %s and go %s differ", name, strings.Join(args[1:], " "), strings.Join(goArgs, " "))
	}
}

// stderrLines is stderr's lines, sorted, without gomodx's own (a
// "gomodx:" line and the indented lines that continue it).
func stderrLines(stderr string) string {
	var lines []string
	ours := false
	for line := range strings.SplitSeq(strings.TrimSuffix(stderr, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "gomodx:"):
			ours = true
		case ours && strings.HasPrefix(line, "\t"):
		case line != "":
			ours = false
			lines = append(lines, line)
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// listFiles lists the regular files below dir, relative to it, sorted.
func listFiles(dir string) []string {
	var files []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(files)
	return files
}
