package wrap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFindSkipsItself puts a copy of this test binary first on PATH under
// the name go, as a symlink or alias to gomodx would: Find must pass over it
// and return the real go behind it.
func TestFindSkipsItself(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	fake := t.TempDir()
	if err := os.Symlink(self, filepath.Join(fake, "go")); err != nil {
		t.Fatal(err)
	}
	real := t.TempDir()
	if err := os.WriteFile(filepath.Join(real, "go"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PATH": fake + string(os.PathListSeparator) + real}
	g, err := Find(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if g.Path != filepath.Join(real, "go") {
		t.Errorf("Find = %s, want the go after gomodx's own link", g.Path)
	}

	env["GOMODX_GO"] = filepath.Join(real, "go")
	env["PATH"] = ""
	if g, err := Find(func(k string) string { return env[k] }); err != nil || g.Path != env["GOMODX_GO"] {
		t.Errorf("with GOMODX_GO: Find = %v, %v", g, err)
	}

	env["GOMODX_GO"] = ""
	if _, err := Find(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "GOMODX_GO") {
		t.Errorf("no go anywhere: err = %v, want a hint about GOMODX_GO", err)
	}
}
