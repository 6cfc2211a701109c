package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// goroot is the scratch copy of the installed GOROOT whose cmd/go tests
// the harness runs, and the test binary built from it.
type goroot struct {
	src     string // the installed GOROOT, never written to
	version string // its go version, e.g. go1.26.8
	scratch string // where the copy and everything else of this version lives
}

func (g *goroot) dir() string     { return filepath.Join(g.scratch, "goroot") }
func (g *goroot) cmdGo() string   { return filepath.Join(g.dir(), "src", "cmd", "go") }
func (g *goroot) testBin() string { return filepath.Join(g.scratch, "cmd-go.test") }
func (g *goroot) stampFile() string {
	return filepath.Join(g.scratch, "stamp")
}

// hookFile is added to the copy's cmd/go tests. It lets the script engine's
// "go" command run the program named by GOMODX_CONFORMANCE_DISPATCH instead
// of the test binary, passes the dispatcher's settings (and GOMODX_QUIET)
// into each script's environment, and says no to every [net] condition so
// that no script reaches the internet.
const hookFile = `// Added by gomodx's conformance harness; not part of Go.

package main_test

import (
	"cmd/internal/script"
	"os"
)

func init() {
	extraEnvKeys = append(extraEnvKeys, "GOMODX_CONFORMANCE_GOMODX", "GOMODX_CONFORMANCE_MODE", "GOMODX_QUIET")
}

// gomodxScriptGo is the program a script's "go" command runs.
func gomodxScriptGo(testGo string) string {
	if d := os.Getenv("GOMODX_CONFORMANCE_DISPATCH"); d != "" {
		return d
	}
	return testGo
}

// gomodxNoNet replaces hasNet: the harness runs offline.
func gomodxNoNet(*script.State, string) (bool, error) { return false, nil }
`

// edits are the changes to the copy's existing test files: each old string
// must occur exactly once, so a go release that moved them fails loudly
// instead of silently testing plain go twice.
var edits = []struct{ file, old, new string }{
	{"scriptcmds_test.go", "script.Program(testGo, cancel, waitDelay)", "script.Program(gomodxScriptGo(testGo), cancel, waitDelay)"},
	{"scriptconds_test.go", `"can connect to external network host <suffix>", hasNet)`, `"can connect to external network host <suffix>", gomodxNoNet)`},
}

// stamp identifies a ready copy: the GOROOT it came from, its version and
// the patch applied. A copy whose stamp differs is made again.
func (g *goroot) stamp() string {
	h := sha256.New()
	h.Write([]byte(hookFile))
	for _, e := range edits {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00", e.file, e.old, e.new)
	}
	return fmt.Sprintf("goroot %s\nversion %s\npatch %s\n", g.src, g.version, hex.EncodeToString(h.Sum(nil)))
}

// prepare makes sure the scratch copy and its test binary are there and
// current, building them if not (a minute or two), and reports which.
func (g *goroot) prepare(tool *goTool) error {
	if old, err := os.ReadFile(g.stampFile()); err == nil && string(old) == g.stamp() {
		if _, err := os.Stat(g.testBin()); err == nil {
			fmt.Printf("reusing the GOROOT copy %s and test binary %s\n", g.dir(), g.testBin())
			return nil
		}
	}
	fmt.Printf("copying %s to %s and building cmd/go's test binary (once per go version)\n", g.src, g.dir())
	if err := os.Remove(g.stampFile()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.RemoveAll(g.dir()); err != nil {
		return err
	}
	if err := os.CopyFS(g.dir(), os.DirFS(g.src)); err != nil {
		return fmt.Errorf("copying GOROOT: %w", err)
	}
	if err := g.patch(); err != nil {
		return err
	}
	copyGo := &goTool{path: filepath.Join(g.dir(), "bin", "go"), env: g.env(tool.env)}
	if _, err := copyGo.run(g.cmdGo(), "test", "-c", "-o", g.testBin(), "."); err != nil {
		return fmt.Errorf("building cmd/go's test binary: %w", err)
	}
	return os.WriteFile(g.stampFile(), []byte(g.stamp()), 0o666)
}

// patch changes the copy's cmd/go test harness, and nothing else.
func (g *goroot) patch() error {
	for _, e := range edits {
		file := filepath.Join(g.cmdGo(), e.file)
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		if n := strings.Count(string(data), e.old); n != 1 {
			return fmt.Errorf("patching %s: found %q %d times, want once (has cmd/go's test harness changed?)", file, e.old, n)
		}
		if err := os.WriteFile(file, []byte(strings.Replace(string(data), e.old, e.new, 1)), 0o666); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(g.cmdGo(), "gomodx_conformance_test.go"), []byte(hookFile), 0o666)
}

// env is base with the copy as GOROOT and its go first on PATH (cmd/go's
// TestMain asks the go on PATH for GOROOT), and without the settings of the
// user's own go and gomodx, which must not leak into the tests.
func (g *goroot) env(base []string) []string {
	var env []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "GOROOT", k == "GOFLAGS", k == "GOTOOLCHAIN", k == "PATH", strings.HasPrefix(k, "GOMODX_"):
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"GOROOT="+g.dir(),
		"GOTOOLCHAIN=local",
		"PATH="+filepath.Join(g.dir(), "bin")+string(filepath.ListSeparator)+os.Getenv("PATH"),
	)
}
