package wrap

import (
	"os"
	"os/exec"
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

func TestEnvProxy(t *testing.T) {
	tests := []struct {
		goproxy string
		proxied bool
		child   string
	}{
		{"https://proxy.golang.org,direct", true, "EP,direct"},
		{"https://a|https://b", true, "EP"},
		{"https://a,off,direct", true, "EP"},
		{"https://a|direct", true, "EP,direct"},
		{"direct", false, "EP,direct"},
		{"off", false, "EP"},
	}
	for _, tt := range tests {
		e := Env{GOPROXY: tt.goproxy}
		if got := e.Proxied(); got != tt.proxied {
			t.Errorf("GOPROXY=%s: Proxied = %v, want %v", tt.goproxy, got, tt.proxied)
		}
		if got := e.ProxyFor("EP"); got != tt.child {
			t.Errorf("GOPROXY=%s: ProxyFor = %s, want %s", tt.goproxy, got, tt.child)
		}
	}
}

func TestEnvPrivate(t *testing.T) {
	e := Env{GOPRIVATE: "corp.example.com,*.internal", GONOSUMDB: "", GOSUMDB: "sum.golang.org"}
	for path, want := range map[string]bool{
		"corp.example.com/x": true,
		"git.internal/y":     true,
		"github.com/x/y":     false,
	} {
		if got := e.Private(path); got != want {
			t.Errorf("Private(%s) = %v, want %v", path, got, want)
		}
		if got := e.NoSumCheck(path); got != want {
			t.Errorf("NoSumCheck(%s) = %v, want %v", path, got, want)
		}
	}
	if !(Env{GOSUMDB: "off"}).NoSumCheck("github.com/x/y") {
		t.Error("GOSUMDB=off must exempt every module")
	}
	if got := (Env{GOFLAGS: "-mod=mod -modfile=alt.mod"}).ModFile(); got != "alt.mod" {
		t.Errorf("ModFile = %q", got)
	}
	if !(Env{GOFLAGS: "-modcacherw"}).ModCacheRW(nil) || !(Env{}).ModCacheRW([]string{"build", "-modcacherw", "."}) {
		t.Error("ModCacheRW missed -modcacherw")
	}
	if (Env{GOFLAGS: "-mod=mod"}).ModCacheRW([]string{"build"}) {
		t.Error("ModCacheRW without -modcacherw")
	}
}

// TestShellInit runs the generated functions in a real shell, with stand-ins
// for go and gomodx on PATH that print how they were called.
func TestShellInit(t *testing.T) {
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
			if err := ShellInit(&b, tt.shell, tt.all); err != nil {
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
	if err := ShellInit(&strings.Builder{}, "tcsh", false); err == nil {
		t.Error("unknown shell accepted")
	}
}
