package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeBlock returns the fenced block of the given language that follows
// heading in README.md.
func readmeBlock(t *testing.T, heading, lang string) string {
	t.Helper()
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no %q", heading)
	}
	_, block, ok := strings.Cut(section, "\n```"+lang+"\n")
	if !ok {
		t.Fatalf("README.md has no %s block under %q", lang, heading)
	}
	block, _, _ = strings.Cut(block, "\n```\n")
	return block + "\n"
}

// TestREADMEMakefile runs the README's Makefile snippet as written, with
// make and a shell, where gomodx is on PATH and where it is not: make must
// run 'gomodx tidy' in the one and 'go mod tidy' in the other, and echo
// each command without stray spaces.
func TestREADMEMakefile(t *testing.T) {
	mk, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make not installed")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("sh not installed")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Makefile"), []byte(readmeBlock(t, "## Shell and Makefile", "make")), 0o666); err != nil {
		t.Fatal(err)
	}
	// Stand-ins that say how they were called, in a directory of their
	// own, next to one holding only sh: nothing else is on PATH.
	withGomodx, withoutGomodx, shDir := t.TempDir(), t.TempDir(), t.TempDir()
	stub := func(dir, name string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!"+sh+"\necho ran "+name+" \"$@\"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	stub(withGomodx, "gomodx")
	stub(withGomodx, "go")
	stub(withoutGomodx, "go")
	if err := os.Symlink(sh, filepath.Join(shDir, "sh")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, path string
		args       []string
		want       string
	}{
		{"gomodx installed", withGomodx, nil, "gomodx tidy\nran gomodx tidy\ngomodx download\nran gomodx download\n"},
		{"no gomodx", withoutGomodx, nil, "go mod tidy\nran go mod tidy\ngo mod download\nran go mod download\n"},
		{"go chosen", withGomodx, []string{`GOMOD=go mod`}, "go mod tidy\nran go mod tidy\ngo mod download\nran go mod download\n"},
	} {
		cmd := exec.Command(mk, append([]string{"--no-print-directory", "tidy", "deps"}, tt.args...)...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + tt.path + string(os.PathListSeparator) + shDir}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s: make tidy deps: %v\n%s", tt.name, err, out)
			continue
		}
		if string(out) != tt.want {
			t.Errorf("%s: make tidy deps printed:\n%s\nwant:\n%s", tt.name, out, tt.want)
		}
	}
}

// TestNoReferencesOutsideTheRepo: the README, the code and the scripts may
// not send a reader to a document the repository lacks, nor cite in a
// comment a code (a capital letter and a number) that only such a document
// explains.
func TestNoReferencesOutsideTheRepo(t *testing.T) {
	doc := regexp.MustCompile(`\b[A-Za-z][A-Za-z0-9_-]*\.md\b`)
	code := regexp.MustCompile(`\b[A-Z][0-9]{1,2}\b`)
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && strings.HasPrefix(d.Name(), ".") || path == filepath.Join("testdata", "mod") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".txt":
		default:
			if d.Name() != "Makefile" {
				return nil
			}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for n, line := range strings.Split(string(data), "\n") {
			for _, ref := range doc.FindAllString(line, -1) {
				if _, err := os.Stat(ref); err != nil {
					if _, err := os.Stat(filepath.Join(filepath.Dir(path), ref)); err != nil {
						t.Errorf("%s:%d: refers to %s, which the repository lacks", path, n+1, ref)
					}
				}
			}
			if filepath.Ext(path) == ".go" && strings.Contains(line, "//") {
				_, comment, _ := strings.Cut(line, "//")
				if c := code.FindString(comment); c != "" {
					t.Errorf("%s:%d: cites the code %s: %s", path, n+1, c, strings.TrimSpace(line))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
