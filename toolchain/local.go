package toolchain

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"

	"github.com/gomodx/gomodx/goenv"
)

// Local is the local go command's configuration, read without letting it
// switch toolchains: what gomodx needs to decide, before go runs a
// command, which toolchain go will switch to and whether to fetch it.
type Local struct {
	// Config is the local go command's configuration, as 'go env -json'
	// prints it, except that GOTOOLCHAIN is the user's setting rather than
	// the "local" it was read with. When go will not switch, it is exactly
	// what the go command that runs next would print.
	Config *goenv.Config
	// GOHOSTOS and GOHOSTARCH are the platform the local go command runs
	// on, which names the toolchain it downloads (not GOOS and GOARCH, which
	// name the platform it builds for).
	GOHOSTOS, GOHOSTARCH string
	// Dir is the absolute directory go runs in.
	Dir string

	environ    func(string) string
	userFile   map[string]string // the GOENV file, nil if none
	gorootFile map[string]string // $GOROOT/go.env
}

// localVars are the variables ReadLocal asks for beyond goenv's.
type localVars struct {
	goenv.Vars
	GOENV      string
	GOHOSTOS   string
	GOHOSTARCH string
}

// ReadLocal runs 'gobin env -json' in dir (relative to the working
// directory, as -C is) with GOTOOLCHAIN=local added to env (nil: this
// process's environment), so that reading the configuration makes go
// neither switch nor download anything, and decodes it with goenv.New.
// The user's GOTOOLCHAIN, which that hides from go env, is read here the way
// the go command reads it: see [Local.Getenv].
func ReadLocal(ctx context.Context, gobin string, env []string, dir string) (*Local, error) {
	if env == nil {
		env = os.Environ()
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, gobin, append([]string{"env", "-json"}, varNames()...)...)
	cmd.Dir = dir
	cmd.Env = append(env[:len(env):len(env)], "GOTOOLCHAIN=local")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s env -json: %v\n%s", gobin, err, strings.TrimSpace(stderr.String()))
	}
	var v localVars
	if err := json.Unmarshal(stdout.Bytes(), &v); err != nil {
		return nil, fmt.Errorf("%s env -json: %v", gobin, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	environ := lookupIn(env)
	l := &Local{
		GOHOSTOS:   v.GOHOSTOS,
		GOHOSTARCH: v.GOHOSTARCH,
		Dir:        abs,
		environ:    environ,
		userFile:   readEnvFile(v.GOENV),
		gorootFile: readEnvFile(filepath.Join(v.GOROOT, "go.env")),
	}
	if v.GOROOT == "" {
		l.gorootFile = nil
	}
	v.Vars.GOTOOLCHAIN = l.Getenv("GOTOOLCHAIN")
	l.Config = goenv.New(v.Vars, environ)
	return l, nil
}

// Getenv returns a go setting as cmd/go/internal/cfg.Getenv does: the
// environment variable when it is set and not empty, else the user's go env
// file (GOENV, written by 'go env -w'), else $GOROOT/go.env, where a
// distribution keeps its defaults (GOTOOLCHAIN=auto, or local).
func (l *Local) Getenv(key string) string {
	if v := l.environ(key); v != "" {
		return v
	}
	if v, ok := l.userFile[key]; ok {
		return v
	}
	return l.gorootFile[key]
}

// Settings returns what [Select] needs, from l.
func (l *Local) Settings() Settings {
	return Settings{
		Getenv:    l.Getenv,
		Environ:   l.environ,
		GOVERSION: l.Config.GOVERSION,
		GOROOT:    l.Config.GOROOT,
		Dir:       l.Dir,
		TempDir:   l.tempDir(),
	}
}

// tempDir is os.TempDir() as the go command computes it with its
// environment: $TMPDIR, else /tmp, on Unix.
func (l *Local) tempDir() string {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		return os.TempDir() // from variables gomodx and go share
	}
	if dir := l.environ("TMPDIR"); dir != "" {
		return dir
	}
	return "/tmp"
}

// varNames lists what ReadLocal asks go env for: the fields of localVars.
func varNames() []string {
	var names []string
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Anonymous {
				add(f.Type)
				continue
			}
			names = append(names, f.Name)
		}
	}
	add(reflect.TypeFor[localVars]())
	return names
}

// lookupIn returns a getenv over env, a list of KEY=value, where the last
// of several entries for a key wins, as in os/exec.
func lookupIn(env []string) func(string) string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return func(key string) string { return m[key] }
}

// readEnvFile reads a go env file as cmd/go/internal/cfg.readEnvFile does:
// KEY=value lines, where KEY starts with an upper-case letter; other lines
// (comments, blanks) are skipped and nothing is trimmed. A file that cannot
// be read counts as empty, as it does for go. The name "" means none (GOENV=off).
func readEnvFile(file string) map[string]string {
	if file == "" {
		return nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	m := map[string]string{}
	for line := range strings.SplitSeq(string(data), "\n") {
		key, val, ok := strings.Cut(line, "=")
		if !ok || line[0] < 'A' || line[0] > 'Z' {
			continue
		}
		m[key] = val
	}
	return m
}
