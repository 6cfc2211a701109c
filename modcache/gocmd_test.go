package modcache

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
)

// TestGoAcceptsCache checks the contract that matters most: a cache holding
// only what PutInfo, PutMod and PutZip wrote lets the real go command build
// offline and pass 'go mod verify'.
func TestGoAcceptsCache(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not on PATH")
	}
	if testing.Short() {
		t.Skip("runs the go command")
	}

	mod := module.Version{Path: "example.com/Tiny", Version: "v1.0.0"} // upper case: exercises escaping
	const gomod = "module example.com/Tiny\n\ngo 1.21\n"
	zipData := makeZip(t, mod, map[string]string{
		"go.mod":  gomod,
		"tiny.go": "package tiny\n\n// Hello greets.\nfunc Hello() string { return \"hello\" }\n",
	})
	zipHash, modHash := zipSum(t, zipData), modSum(t, gomod)

	c := openCache(t)
	ctx := t.Context()
	putModule(t, c, mod, gomod, zipData, zipHash, modHash)

	work := t.TempDir()
	files := map[string]string{
		"go.mod":  "module m\n\ngo 1.21\n\nrequire example.com/Tiny v1.0.0\n",
		"go.sum":  fmt.Sprintf("example.com/Tiny v1.0.0 %s\nexample.com/Tiny v1.0.0/go.mod %s\n", zipHash, modHash),
		"main.go": "package main\n\nimport \"example.com/Tiny\"\n\nfunc main() { println(tiny.Hello()) }\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(work, name), []byte(content), 0o666); err != nil {
			t.Fatal(err)
		}
	}

	env := append(os.Environ(),
		"GOMODCACHE="+c.Root(),
		"GOPATH="+filepath.Join(t.TempDir(), "gopath"), // keeps the sumdb config out of the user's GOPATH
		"GOPROXY=off",
		"GOFLAGS=-mod=mod -modcacherw", // -modcacherw: t.TempDir can remove the extracted tree
		"GOSUMDB=off",
		"GONOSUMDB=", "GOPRIVATE=", "GONOPROXY=", "GOINSECURE=",
		"GOTOOLCHAIN=local",
		"GOWORK=off",
		"GOENV=off",
	)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, gobin, args...)
		cmd.Dir = work
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	// "go: downloading" would mean go found the zip incomplete.
	if out := run("build", "./..."); strings.Contains(out, "downloading") {
		t.Errorf("go build wanted to download:\n%s", out)
	}
	if out := run("mod", "verify"); !strings.Contains(out, "all modules verified") {
		t.Errorf("go mod verify: %s", out)
	}
	// go reads Time from the .info we wrote.
	if out := run("list", "-m", "-f", "{{.Time}}", "example.com/Tiny"); !strings.HasPrefix(out, "2024-01-23 18:54:04 +0000 UTC") {
		t.Errorf("go list -m Time = %q", out)
	}
	data, err := os.ReadFile(filepath.Join(work, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != files["go.sum"] {
		t.Errorf("go changed go.sum:\n%s", data)
	}
}
