// Package wrap finds and runs the real go command on the user's behalf.
//
// gomodx never replaces the go command's own logic: it asks the real go for its
// configuration (go env -json) and hands the user's command over to it, with the
// environment the user has, output passed through and the exit status returned.
package wrap

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/module"
)

// Go is the real go command.
type Go struct {
	Path string   // absolute path of the go binary
	Env  []string // environment for every run; nil means os.Environ()
}

// Find returns the real go command: $GOMODX_GO when set, else the first "go"
// on PATH that is not gomodx itself. A symlink or copy of gomodx named go on
// PATH (or a shell alias that makes this process run as "go") would otherwise
// make gomodx call itself forever.
func Find(getenv func(string) string) (*Go, error) {
	if p := getenv("GOMODX_GO"); p != "" {
		abs, err := exec.LookPath(p)
		if err != nil {
			return nil, fmt.Errorf("GOMODX_GO=%s: %w", p, err)
		}
		return &Go{Path: abs}, nil
	}
	self, _ := os.Executable()
	for _, dir := range filepath.SplitList(getenv("PATH")) {
		if dir == "" {
			dir = "."
		}
		cand := filepath.Join(dir, "go")
		fi, err := os.Stat(cand)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			continue
		}
		if self != "" && sameFile(cand, self) {
			continue
		}
		return &Go{Path: cand}, nil
	}
	return nil, errors.New("cannot find the go command on PATH (set GOMODX_GO to its path)")
}

func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false
	}
	return os.SameFile(fa, fb)
}

// Env is the part of the go command's configuration that decides what gomodx
// may fetch, from where, and how it must be verified.
type Env struct {
	GOPROXY    string
	GONOPROXY  string
	GOPRIVATE  string
	GONOSUMDB  string
	GOSUMDB    string
	GOFLAGS    string
	GOMODCACHE string
	GOMOD      string
	GOWORK     string
	GOINSECURE string
	GOVERSION  string
	GOPATH     string
	GOAUTH     string
	GOROOT     string
	// What a build's tags are made of.
	GOOS        string
	GOARCH      string
	CGO_ENABLED string
}

// ReadEnv runs "go env -json" in dir, so gomodx sees exactly what the go
// command will see: go env files, GOFLAGS and the defaults of this go version.
func (g *Go) ReadEnv(ctx context.Context, dir string) (Env, error) {
	var env Env
	err := g.DecodeEnv(ctx, dir, &env)
	return env, err
}

// DecodeEnv decodes "go env -json", run in dir, into v: a struct whose
// fields are named after the variables it wants.
func (g *Go) DecodeEnv(ctx context.Context, dir string, v any) error {
	var stdout, stderr bytes.Buffer
	cmd := g.command(ctx, dir, "env", "-json")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s env -json: %v\n%s", g.Path, err, strings.TrimSpace(stderr.String()))
	}
	if err := json.Unmarshal(stdout.Bytes(), v); err != nil {
		return fmt.Errorf("%s env -json: %v", g.Path, err)
	}
	return nil
}

// Run runs the go command with args in dir, streaming its output, and returns
// its exit status. err is non-nil only when go could not be run at all.
func (g *Go) Run(ctx context.Context, dir string, stdout, stderr io.Writer, args ...string) (int, error) {
	cmd := g.command(ctx, dir, args...)
	cmd.Stdin = os.Stdin
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ctx.Err() != nil {
			return 130, nil // interrupted, as a shell reports it
		}
		return exit.ExitCode(), nil
	}
	if err != nil {
		return 1, fmt.Errorf("running %s: %w", g.Path, err)
	}
	return 0, nil
}

func (g *Go) command(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, g.Path, args...)
	cmd.Dir = dir
	cmd.Env = g.Env
	// On Ctrl-C the terminal has already signalled go itself; give it time to
	// clean up its temp files and locks instead of killing it outright.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// Private reports whether path must not be fetched through a proxy
// (GONOPROXY, which defaults to GOPRIVATE), as cmd/go/internal/modfetch does.
func (e Env) Private(path string) bool {
	return module.MatchPrefixPatterns(cmp.Or(e.GONOPROXY, e.GOPRIVATE), path)
}

// NoSumCheck reports whether the go command accepts path without checking it
// against the checksum database (GOSUMDB=off, or GONOSUMDB, which defaults to
// GOPRIVATE).
func (e Env) NoSumCheck(path string) bool {
	return e.GOSUMDB == "off" || module.MatchPrefixPatterns(cmp.Or(e.GONOSUMDB, e.GOPRIVATE), path)
}

// ModCacheRW reports whether the go command leaves extracted modules
// writable: -modcacherw in GOFLAGS or in its arguments.
func (e Env) ModCacheRW(args []string) bool {
	for _, f := range append(strings.Fields(e.GOFLAGS), args...) {
		if f == "-modcacherw" || f == "--modcacherw" || f == "-modcacherw=true" {
			return true
		}
	}
	return false
}

// ModFile returns the -modfile setting in GOFLAGS, if any.
func (e Env) ModFile() string {
	for _, f := range strings.Fields(e.GOFLAGS) {
		f = strings.TrimPrefix(strings.TrimPrefix(f, "-"), "-")
		if v, ok := strings.CutPrefix(f, "modfile="); ok {
			return v
		}
	}
	return ""
}

// Proxied reports whether GOPROXY lets gomodx fetch anything: it does not
// when GOPROXY is off, or starts with direct.
func (e Env) Proxied() bool {
	first, _, _ := strings.Cut(strings.TrimLeft(e.GOPROXY, ",|"), ",")
	first, _, _ = strings.Cut(first, "|")
	return first != "off" && first != "direct" && first != ""
}

// ProxyFor is the GOPROXY for the wrapped go command: gomodx's loopback
// proxy, followed by direct when the user's GOPROXY reaches direct, so go
// falls through to it after a not-found exactly as it would have.
func (e Env) ProxyFor(endpoint string) string {
	for _, entry := range strings.FieldsFunc(e.GOPROXY, func(r rune) bool { return r == ',' || r == '|' }) {
		switch strings.TrimSpace(entry) {
		case "direct":
			return endpoint + ",direct"
		case "off":
			return endpoint
		}
	}
	return endpoint
}
