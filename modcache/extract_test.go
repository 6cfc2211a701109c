package modcache

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
)

// TestExtractLikeGo extracts a module with Extract in one cache and with the
// go command in another, from the same zip, and compares the trees file by
// file, mode by mode; then checks that go uses the tree as it is ('go mod
// verify' hashes it) and does not extract it again.
func TestExtractLikeGo(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not on PATH")
	}
	if testing.Short() {
		t.Skip("runs the go command")
	}
	mod := module.Version{Path: "example.com/Tiny", Version: "v1.0.0"}
	const gomod = "module example.com/Tiny\n\ngo 1.21\n"
	zipData := makeZip(t, mod, map[string]string{
		"go.mod":       gomod,
		"tiny.go":      "package tiny\n\nfunc Hello() string { return \"hello\" }\n",
		"sub/sub.go":   "package sub\n",
		"sub/data.txt": "data\n",
	})
	zipHash, modHash := zipSum(t, zipData), modSum(t, gomod)
	fill := func() *Cache {
		c := openCache(t)
		putModule(t, c, mod, gomod, zipData, zipHash, modHash)
		return c
	}
	ours, theirs := fill(), fill()
	if err := ours.Extract(t.Context(), mod, UnpackOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeDir(ours.Root()); removeDir(theirs.Root()) })

	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "go.mod"), []byte("module m\n\ngo 1.21\n\nrequire example.com/Tiny v1.0.0\n"), 0o666)
	os.WriteFile(filepath.Join(work, "go.sum"), fmt.Appendf(nil, "example.com/Tiny v1.0.0 %s\nexample.com/Tiny v1.0.0/go.mod %s\n", zipHash, modHash), 0o666)
	os.WriteFile(filepath.Join(work, "main.go"), []byte("package main\n\nimport \"example.com/Tiny\"\n\nfunc main() { println(tiny.Hello()) }\n"), 0o666)
	goIn := func(c *Cache, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), gobin, args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "GOMODCACHE="+c.Root(), "GOPATH="+filepath.Join(t.TempDir(), "gopath"),
			"GOPROXY=off", "GOFLAGS=-mod=mod", "GOSUMDB=off", "GOTOOLCHAIN=local", "GOWORK=off", "GOENV=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	goIn(theirs, "mod", "download", "example.com/Tiny")

	dir := func(c *Cache) string { return filepath.Join(c.Root(), "example.com", "!tiny@v1.0.0") }
	if got, want := treeModes(t, dir(ours)), treeModes(t, dir(theirs)); got != want {
		t.Errorf("Extract made\n%s\nthe go command makes\n%s", got, want)
	}
	if _, err := os.Stat(filepath.Join(ours.Root(), "cache", "download", "example.com", "!tiny", "@v", "v1.0.0.partial")); !os.IsNotExist(err) {
		t.Errorf(".partial left behind: %v", err)
	}
	if out := goIn(ours, "mod", "verify"); !strings.Contains(out, "all modules verified") {
		t.Errorf("go mod verify: %s", out)
	}
	// A second Extract leaves the complete tree alone.
	before := treeModes(t, dir(ours))
	if err := ours.Extract(t.Context(), mod, UnpackOptions{}); err != nil || treeModes(t, dir(ours)) != before {
		t.Errorf("second Extract: %v", err)
	}
}

// treeModes lists a tree's files and directories with their modes.
func treeModes(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		fmt.Fprintf(&b, "%s %v\n", rel, info.Mode())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
