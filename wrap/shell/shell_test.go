package shell

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestShellInit runs the generated functions in a real shell, with stand-ins
// for go and gomodx on PATH that print how they were called.
func TestInit(t *testing.T) {
	bin := t.TempDir()
	for _, name := range []string{"go", "gomodx"} {
		script := "#!/bin/sh\necho " + name + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		shell string
		all   bool
		cmd   string
		want  string
	}{
		{"bash", false, "go mod tidy -v", "gomodx tidy -v"},
		{"bash", false, "go mod download -json x@v1.0.0", "gomodx download -json x@v1.0.0"},
		{"bash", false, "go build ./...", "go build ./..."},
		{"bash", false, "go mod graph", "go mod graph"},
		{"bash", true, "go build ./...", "gomodx go build ./..."},
		{"bash", true, "go version", "go version"},
		{"zsh", false, "go mod tidy -e", "gomodx tidy -e"},
		{"zsh", true, "go get example.com/a@latest", "gomodx go get example.com/a@latest"},
		{"zsh", true, "go env GOPATH", "go env GOPATH"},
		{"fish", false, "go mod tidy -e", "gomodx tidy -e"},
		{"fish", false, "go env GOPATH", "go env GOPATH"},
		{"fish", true, "go test ./...", "gomodx go test ./..."},
	}
	for _, tt := range tests {
		name := tt.shell + " " + tt.cmd
		if tt.all {
			name += " (all)"
		}
		t.Run(name, func(t *testing.T) {
			if _, err := exec.LookPath(tt.shell); err != nil {
				t.Skipf("%s not installed", tt.shell)
			}
			var b strings.Builder
			if err := Init(&b, tt.shell, tt.all); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(tt.shell, "-c", b.String()+"\n"+tt.cmd)
			cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != tt.want {
				t.Errorf("%s ran %q, want %q", tt.cmd, got, tt.want)
			}
		})
	}
	if err := Init(&strings.Builder{}, "tcsh", false); err == nil {
		t.Error("unknown shell accepted")
	}
}
