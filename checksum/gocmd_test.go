package checksum

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
)

// TestGoVerifiesFromCache checks the contract that matters most: after
// gomodx has looked modules up, the go command verifies them from the sumdb
// cache alone. Here it has no go.sum, no proxy
// (GOPROXY=off) and no way to reach the database, and 'go mod tidy' must still
// accept the modules and write their hashes to go.sum.
func TestGoVerifiesFromCache(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not on PATH")
	}
	if testing.Short() {
		t.Skip("runs the go command")
	}

	a, upper := testModules(t)
	r, gosumdb := newServer(t, a, upper)
	e := newEnv(t)
	db := e.open(t, gosumdb, r.read)
	// One at a time, so the tree grows between the two: a's record is signed
	// in a smaller tree than the latest the go command starts from.
	for _, m := range []testModule{a, upper} {
		if _, _, err := db.Lookup(t.Context(), m.mod); err != nil {
			t.Fatal(err)
		}
		putModule(t, e.gomodcache, m)
	}

	work := t.TempDir()
	files := map[string]string{
		"go.mod":  "module m\n\ngo 1.21\n\nrequire (\n\texample.com/Upper v1.2.3\n\texample.com/a v1.0.0\n)\n",
		"main.go": "package main\n\nimport (\n\t\"example.com/Upper\"\n\t\"example.com/a\"\n)\n\nfunc main() { println(a.A, upper.U) }\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(work, name), []byte(content), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	goEnv := append(os.Environ(),
		"GOPATH="+e.gopath,
		"GOMODCACHE="+e.gomodcache,
		"GOPROXY=off",
		"GOSUMDB="+gosumdb,
		"GOFLAGS=-mod=mod -modcacherw", // -modcacherw: t.TempDir can remove the extracted tree
		"GONOSUMDB=", "GONOSUMCHECK=", "GOPRIVATE=", "GONOPROXY=", "GOINSECURE=",
		"GOTOOLCHAIN=local",
		"GOWORK=off",
		"GOENV=off",
	)
	run := func(args ...string) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), gobin, args...)
		cmd.Dir = work
		cmd.Env = goEnv
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("mod", "tidy")
	sum, err := os.ReadFile(filepath.Join(work, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	want := ""
	for _, m := range []testModule{upper, a} {
		want += fmt.Sprintf("%s %s %s\n%s %s/go.mod %s\n", m.mod.Path, m.mod.Version, m.zipHash, m.mod.Path, m.mod.Version, m.modHash)
	}
	if string(sum) != want {
		t.Errorf("go.sum =\n%s\nwant\n%s", sum, want)
	}
	run("build", "./...")

	// The check is real: a zip that is not the one in the database is refused.
	bad := newModule(t, a.mod.Path, a.mod.Version, map[string]string{
		"go.mod": a.gomod,
		"a.go":   "package a\n\nconst A = \"evil\"\n",
	})
	if err := os.RemoveAll(filepath.Join(e.gomodcache, "example.com")); err != nil {
		t.Fatal(err)
	}
	putModule(t, e.gomodcache, bad)
	os.Remove(filepath.Join(work, "go.sum"))
	cmd := exec.CommandContext(t.Context(), gobin, "mod", "tidy")
	cmd.Dir = work
	cmd.Env = goEnv
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "SECURITY ERROR") {
		t.Errorf("go mod tidy with a zip the database does not know: %v\n%s", err, out)
	}
}

// putModule writes m's .info, .mod, .zip and .ziphash into the download
// cache, plainly: the writing itself is modcache's business.
func putModule(t *testing.T, gomodcache string, m testModule) {
	t.Helper()
	epath, err := module.EscapePath(m.mod.Path)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(gomodcache, "cache", "download", epath, "@v")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	for ext, data := range map[string]string{
		".info":    `{"Version":"` + m.mod.Version + `","Time":"2024-01-23T18:54:04Z"}`,
		".mod":     m.gomod,
		".zip":     string(m.zip),
		".ziphash": m.zipHash,
	} {
		if err := os.WriteFile(filepath.Join(dir, m.mod.Version+ext), []byte(data), 0o666); err != nil {
			t.Fatal(err)
		}
	}
}
