package heal

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"golang.org/x/mod/module"
)

// TestDiagnose reads each message of testdata, one per way the go command
// fails on a broken cache (or on something else), and checks what
// Diagnose makes of it: the fixture's comment ends with "want mods
// M@V...", "want unnamed" or "want notcache".
func TestDiagnose(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			a, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var want Diagnosis
			var wantNotCache bool
			for line := range strings.Lines(string(a.Comment)) {
				f := strings.Fields(line)
				if len(f) < 2 || f[0] != "want" {
					continue
				}
				switch f[1] {
				case "mods":
					for _, mv := range f[2:] {
						path, vers, _ := strings.Cut(mv, "@")
						want.Mods = append(want.Mods, module.Version{Path: path, Version: vers})
					}
				case "unnamed":
					want.Unnamed = true
				case "notcache":
					wantNotCache = true
				default:
					t.Fatalf("bad want line %q", line)
				}
			}
			if len(a.Files) != 1 || a.Files[0].Name != "stderr" {
				t.Fatalf("want one file, stderr")
			}
			root, dir := filepath.FromSlash("/w/modcache"), filepath.FromSlash("/w/m")
			stderr := strings.NewReplacer("$GOMODCACHE", root, "$WORK", filepath.FromSlash("/w")).Replace(string(a.Files[0].Data))
			got := Diagnose(stderr, root, dir)
			if !slices.Equal(got.Mods, want.Mods) || got.Unnamed != want.Unnamed || (got.NotCache != "") != wantNotCache {
				t.Errorf("Diagnose =\n%+v\nwant mods %v, unnamed %v, not the cache's %v, from:\n%s", got, want.Mods, want.Unnamed, wantNotCache, stderr)
			}
		})
	}
}

// TestDiagnoseIgnoresOtherTrees checks that a path that only looks like
// one into the module cache, or a download-cache path in a compile error,
// names no module.
func TestDiagnoseIgnoresOtherTrees(t *testing.T) {
	root := filepath.FromSlash("/w/modcache")
	for _, stderr := range []string{
		"# example.com/m\n./x/w/modcache/example.com/a@v1.0.0/a.go:3:1: syntax error\n",
		"/w/modcache/cache/download/example.com/a/@v/v1.0.0.zip: permission denied\n",
		"go: example.com/a@v1.0.0: reading http://127.0.0.1:1/example.com/a/@v/v1.0.0.mod: 404 Not Found\n",
	} {
		if d := Diagnose(stderr, root, filepath.FromSlash("/w/m")); len(d.Mods) != 0 || d.Unnamed || d.NotCache != "" {
			t.Errorf("Diagnose(%q) = %+v, want nothing", stderr, d)
		}
	}
}

func TestTail(t *testing.T) {
	tail := NewTail(8)
	tail.Write([]byte("0123456"))
	tail.Write([]byte("789abc"))
	if got := tail.String(); got != "56789abc" {
		t.Errorf("Tail = %q, want the last 8 bytes", got)
	}
}
