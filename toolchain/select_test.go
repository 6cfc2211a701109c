package toolchain

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// selectCases are situations in which the go command decides whether to
// switch toolchains. Each runs in a fresh directory holding files (a
// go.mod, a go.work, a go env file named "goenv"), in dir (relative), with
// env added to a clean environment. The local go must be older than 1.999.
var selectCases = []struct {
	name  string
	env   []string
	files map[string]string
	dir   string
}{
	{name: "go.env default", files: gomod("go 1.999.0")},
	{name: "auto, older go line", env: auto, files: gomod("go 1.21")},
	{name: "auto, language version", env: auto, files: gomod("go 1.999")},
	{name: "auto, release", env: auto, files: gomod("go 1.999.1")},
	{name: "auto, release candidate", env: auto, files: gomod("go 1.999rc1")},
	{name: "auto, comment", env: auto, files: gomod("go 1.999.1 // newest")},
	{name: "auto, malformed go line", env: auto, files: gomod("go 1.999-foo")},
	{name: "auto, toolchain line", env: auto, files: gomod("go 1.21\ntoolchain go1.999.2")},
	{name: "auto, go line above toolchain line", env: auto, files: gomod("go 1.999.3\ntoolchain go1.999.2")},
	{name: "auto, older toolchain line", env: auto, files: gomod("go 1.21\ntoolchain go1.21.0")},
	{name: "auto, custom toolchain line", env: auto, files: gomod("go 1.21\ntoolchain go1.999.2-bigcorp")},
	{name: "auto, toolchain default", env: auto, files: gomod("go 1.21\ntoolchain default")},
	{name: "auto, invalid toolchain line", env: auto, files: gomod("go 1.21\ntoolchain bogus")},
	{name: "minimum+auto, toolchain default", env: []string{"GOTOOLCHAIN=go1.999.0+auto"}, files: gomod("go 1.21\ntoolchain default")},
	{name: "minimum+auto, older go line", env: []string{"GOTOOLCHAIN=go1.19+auto"}, files: gomod("go 1.20")},
	{name: "minimum+auto, newer go line", env: []string{"GOTOOLCHAIN=go1.999.0+auto"}, files: gomod("go 1.999.6")},
	{name: "local+auto", env: []string{"GOTOOLCHAIN=local+auto"}, files: gomod("go 1.999")},
	{name: "named", env: []string{"GOTOOLCHAIN=go1.999.4"}, files: gomod("go 1.21")},
	{name: "named, older than local", env: []string{"GOTOOLCHAIN=go1.22.0"}, files: gomod("go 1.21")},
	{name: "named language version", env: []string{"GOTOOLCHAIN=go1.999"}},
	{name: "named, outside a module", env: []string{"GOTOOLCHAIN=go1.999.4"}},
	{name: "local", env: []string{"GOTOOLCHAIN=local"}, files: gomod("go 1.999")},
	{name: "path", env: []string{"GOTOOLCHAIN=path"}, files: gomod("go 1.999")},
	{name: "named+path", env: []string{"GOTOOLCHAIN=go1.999.0+path"}, files: gomod("go 1.21")},
	{name: "invalid", env: []string{"GOTOOLCHAIN=bogus"}, files: gomod("go 1.21")},
	{name: "invalid suffix", env: []string{"GOTOOLCHAIN=go1.999.0+foo"}, files: gomod("go 1.21")},
	{name: "invalid minimum", env: []string{"GOTOOLCHAIN=bogus+auto"}, files: gomod("go 1.21")},
	{name: "modules off", env: []string{"GOTOOLCHAIN=go1.999.0", "GO111MODULE=off"}, files: gomod("go 1.21")},
	{name: "modules auto, outside a module", env: []string{"GOTOOLCHAIN=go1.999.0", "GO111MODULE=auto"}},
	{name: "modules auto, in a module", env: []string{"GOTOOLCHAIN=go1.999.0", "GO111MODULE=auto"}, files: gomod("go 1.21")},
	{name: "go.work", env: auto, dir: "m", files: map[string]string{"go.work": "go 1.999.5\n\nuse ./m\n", "m/go.mod": "module m\n\ngo 1.21\n"}},
	{name: "go.work off", env: append(auto, "GOWORK=off"), dir: "m", files: map[string]string{"go.work": "go 1.999.5\n\nuse ./m\n", "m/go.mod": "module m\n\ngo 1.21\n"}},
	{name: "GOWORK missing file", env: append(auto, "GOWORK=$DIR/none.work"), files: gomod("go 1.999.7")},
	{name: "GOWORK relative", env: append(auto, "GOWORK=rel.work"), files: gomod("go 1.21")},
	{name: "go env file", env: []string{"GOENV=$DIR/goenv"}, files: map[string]string{"goenv": "GOTOOLCHAIN=auto\n", "go.mod": "module m\n\ngo 1.999\n"}},
	{name: "environment over go env file", env: []string{"GOENV=$DIR/goenv", "GOTOOLCHAIN=local"}, files: map[string]string{"goenv": "GOTOOLCHAIN=auto\n", "go.mod": "module m\n\ngo 1.999\n"}},
	{name: "go.mod in the temporary directory", env: append(auto, "TMPDIR=$DIR"), files: gomod("go 1.999")},
	{name: "subdirectory of a module", env: auto, dir: "a/b", files: map[string]string{"go.mod": "module m\n\ngo 1.999.8\n", "a/b/x.go": "package b\n"}},
	{name: "switching already", env: append(auto, targetEnv+"=go1.999.0"), files: gomod("go 1.999")},
}

var auto = []string{"GOTOOLCHAIN=auto"}

func gomod(lines string) map[string]string {
	return map[string]string{"go.mod": "module m\n\n" + lines + "\n"}
}

// TestSelectMatchesGo checks Select (with ReadLocal reading the settings)
// against the real go command's own decision, case by case: with GOPROXY=off
// and nothing in PATH, a go command that switches says which toolchain it
// could not find or download.
func TestSelectMatchesGo(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	gobin, _ = filepath.Abs(gobin)
	for _, tc := range selectCases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for name, data := range tc.files {
				file := filepath.Join(root, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(file), 0o777); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, []byte(data), 0o666); err != nil {
					t.Fatal(err)
				}
			}
			dir := filepath.Join(root, filepath.FromSlash(tc.dir))
			if err := os.MkdirAll(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			env := cleanEnv(root)
			for _, kv := range tc.env {
				env = append(env, strings.ReplaceAll(kv, "$DIR", root))
			}

			want, wantErr, goFailed := goDecides(t, gobin, dir, env)

			local, err := ReadLocal(context.Background(), gobin, env, dir)
			if err != nil {
				// go env refuses the setting too: gomodx leaves the
				// error to go, which must fail.
				if !goFailed {
					t.Fatal(err)
				}
				return
			}
			got, err := Select(local.Settings())
			if (err != nil) != wantErr {
				t.Fatalf("Select() error = %v, go's error: %v", err, wantErr)
			}
			got.Why = ""
			if got != want {
				t.Errorf("Select() = %+v, go chose %+v", got, want)
			}
		})
	}
}

// cleanEnv is an environment with only what the go command needs, under
// root: no GO variable of the machine's leaks in, and PATH holds no
// toolchain.
func cleanEnv(root string) []string {
	empty := filepath.Join(root, ".empty-path")
	os.MkdirAll(empty, 0o777)
	return []string{
		"PATH=" + empty,
		// Nowhere to write: go's telemetry would otherwise leave a
		// process writing under root after go exits.
		"HOME=/no-home",
		"XDG_CONFIG_HOME=/no-home",
		"TMPDIR=" + os.TempDir(),
		"GOENV=off",
		"GOPATH=" + filepath.Join(root, ".gopath"),
		"GOMODCACHE=" + filepath.Join(root, ".modcache"),
		"GOCACHE=" + filepath.Join(root, ".gocache"),
		"GOPROXY=off",
		"GOFLAGS=",
		"GOTELEMETRY=off",
	}
}

var (
	goDownload = regexp.MustCompile(`(?m)^go: download (\S+) for \S+: toolchain not available$`)
	goLang     = regexp.MustCompile(`(?m)^go: invalid toolchain: (\S+) is a language version`)
	goPath     = regexp.MustCompile(`(?m)^go: cannot find "(\S+)" in PATH$`)
	goInvalid  = regexp.MustCompile(`(?m)^go: (invalid GOTOOLCHAIN|invalid toolchain "|go: invalid GOWORK)`)
	goLocal    = regexp.MustCompile(`^go version go`)
	// A go command started to be another toolchain runs nothing else.
	goTarget = regexp.MustCompile(`(?m)^go: toolchain \S+ invoked to provide \S+$`)
)

// goDecides runs 'go version' and reads from its outcome which toolchain
// go decided on: none (the local one answered), one it tried to download
// or to find in PATH, or an error.
func goDecides(t *testing.T, gobin, dir string, env []string) (c Choice, invalid, failed bool) {
	t.Helper()
	cmd := exec.Command(gobin, "version")
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	failed = err != nil
	out := stderr.String()
	switch m := []string(nil); {
	case err == nil && goLocal.MatchString(stdout.String()), goTarget.MatchString(out):
		return Choice{}, false, failed
	case goInvalid.MatchString(out):
		return Choice{}, true, failed
	case setm(&m, goDownload.FindStringSubmatch(out)), setm(&m, goLang.FindStringSubmatch(out)):
		return Choice{Toolchain: m[1]}, false, failed
	case setm(&m, goPath.FindStringSubmatch(out)):
		return Choice{Toolchain: m[1], PathOnly: true}, false, failed
	}
	t.Fatalf("cannot tell what go decided: %v\nstdout: %s\nstderr: %s", err, stdout.String(), out)
	return Choice{}, false, failed
}

func setm(dst *[]string, m []string) bool {
	*dst = m
	return m != nil
}

func TestLocalVersion(t *testing.T) {
	for _, tc := range []struct{ in, vers, name string }{
		{"go1.26.8", "1.26.8", "go1.26.8"},
		{"go1.21rc2", "1.21rc2", "go1.21rc2"},
		{"go1.21.3-bigcorp", "1.21.3", "go1.21.3-bigcorp"},
		{"go1.22.0 X:boringcrypto", "1.22.0", "go1.22.0 X:boringcrypto"},
		{"devel go1.27-4b5c6d7e8f Mon Jan 5 10:00:00 2026 +0000", "1.27", "go1.27"},
	} {
		vers, name, err := localVersion(tc.in)
		if err != nil || vers != tc.vers || name != tc.name {
			t.Errorf("localVersion(%q) = %q, %q, %v; want %q, %q", tc.in, vers, name, err, tc.vers, tc.name)
		}
	}
	if _, _, err := localVersion("devel +abcdef"); err == nil {
		t.Errorf("localVersion of an old development build: no error")
	}
}

func TestGoModLookup(t *testing.T) {
	data := []byte("module m\n\n// go 1.1\ngotoolchain x\n\tgo\t1.22 // comment\ngo 1.23\ntoolchain go1.24.0\n")
	if got := goModLookup(data, "go"); got != "1.22" {
		t.Errorf("go = %q, want 1.22", got)
	}
	if got := goModLookup(data, "toolchain"); got != "go1.24.0" {
		t.Errorf("toolchain = %q, want go1.24.0", got)
	}
	if got := goModLookup(data, "godebug"); got != "" {
		t.Errorf("godebug = %q, want none", got)
	}
}

func TestReadEnvFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "env")
	os.WriteFile(file, []byte("# comment\nGOTOOLCHAIN=go1.30.0+auto\n\nlower=x\n=y\nGOPROXY=a,b=c\nGOEMPTY=\n"), 0o666)
	got := readEnvFile(file)
	want := map[string]string{"GOTOOLCHAIN": "go1.30.0+auto", "GOPROXY": "a,b=c", "GOEMPTY": ""}
	if len(got) != len(want) {
		t.Errorf("readEnvFile = %v, want %v", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("readEnvFile[%s] = %q, want %q", k, g, v)
		}
	}
	if readEnvFile(filepath.Join(t.TempDir(), "none")) != nil || readEnvFile("") != nil {
		t.Errorf("a missing file or none: want nil")
	}
}

func TestLocalGetenv(t *testing.T) {
	l := &Local{
		environ:    lookupIn([]string{"GOTOOLCHAIN=", "GOPROXY=env"}),
		userFile:   map[string]string{"GOTOOLCHAIN": "auto", "GOSUMDB": ""},
		gorootFile: map[string]string{"GOTOOLCHAIN": "local", "GOSUMDB": "sum.golang.org", "GOPROXY": "goroot"},
	}
	for key, want := range map[string]string{
		"GOTOOLCHAIN": "auto", // an empty variable does not count
		"GOPROXY":     "env",
		"GOSUMDB":     "", // the user file's empty value hides go.env's
		"GOFLAGS":     "",
	} {
		if got := l.Getenv(key); got != want {
			t.Errorf("Getenv(%s) = %q, want %q", key, got, want)
		}
	}
}

func TestName(t *testing.T) {
	mod := Module("go1.27.3", "linux", "amd64")
	if mod.Path != "golang.org/toolchain" || mod.Version != "v0.0.1-go1.27.3.linux-amd64" {
		t.Errorf("Module = %v", mod)
	}
	if got := Name(mod); got != "go1.27.3 (linux/amd64)" {
		t.Errorf("Name = %q", got)
	}
}
