// Package goenv is the go command's configuration, read once from the real
// go and decoded the way the go command decodes it, so that every part of
// gomodx sees the same GOPROXY, the same private-module patterns, the same
// checksum database and the same credentials as the go command that runs
// after it.
//
// [Read] asks go itself (go env -json with the variables named: a bare
// 'go env -json' also computes settings that need the build cache, and
// fails under GOCACHE=off), so go env files, GOFLAGS and the defaults of
// the go version in use all count. Decoding is tolerant: a GOPROXY or
// GOSUMDB that does not parse, or an empty GOPATH, is kept as an error
// next to the raw value ([Proxy.Err], [SumDB.Err], [Config.SumdbDir]), and
// the part of gomodx that needs the value decides what to do about it, as
// the go command only complains about a setting when it needs it.
//
// The package imports no other gomodx package: it is the leaf everything
// else takes its configuration from.
package goenv

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"

	"golang.org/x/mod/module"
)

// Vars are the variables gomodx reads, as 'go env' prints them.
type Vars struct {
	GOPROXY     string
	GONOPROXY   string
	GOPRIVATE   string
	GONOSUMDB   string
	GOSUMDB     string
	GOFLAGS     string
	GOMODCACHE  string
	GOMOD       string
	GOWORK      string
	GOINSECURE  string
	GOVERSION   string
	GOPATH      string
	GOAUTH      string
	GO111MODULE string
	GOTOOLCHAIN string
	GOROOT      string
	// What a build's tags are made of.
	GOOS        string
	GOARCH      string
	CGO_ENABLED string
}

// names lists the fields of Vars, for 'go env -json NAME...'.
func names() []string {
	t := reflect.TypeFor[Vars]()
	out := make([]string, t.NumField())
	for i := range out {
		out[i] = t.Field(i).Name
	}
	return out
}

// Config is the go command's configuration: the variables as go prints
// them, and what they mean, decoded once.
type Config struct {
	Vars

	Proxy Proxy // GOPROXY
	SumDB SumDB // GOSUMDB
	Flags Flags // GOFLAGS
	Auth  Auth  // GOAUTH, and the netrc credentials it allows
}

// Read runs 'gobin env -json NAME...' in dir, so gomodx sees exactly what
// the go command will see there, and decodes the result with [New]. When go
// env fails, the error wraps its *exec.ExitError.
func Read(ctx context.Context, gobin, dir string) (*Config, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, gobin, append([]string{"env", "-json"}, names()...)...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s env -json: %w\n%s", gobin, err, strings.TrimSpace(stderr.String()))
	}
	var v Vars
	if err := json.Unmarshal(stdout.Bytes(), &v); err != nil {
		return nil, fmt.Errorf("%s env -json: %v", gobin, err)
	}
	return New(v, os.Getenv), nil
}

// New decodes v. getenv reads the process environment for what the go
// command reads there rather than in go env (NETRC, HOME); nil means
// os.Getenv.
func New(v Vars, getenv func(string) string) *Config {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := &Config{Vars: v}
	c.Proxy.Entries, c.Proxy.Err = ParseProxy(v.GOPROXY)
	c.SumDB = ParseSumDB(v.GOSUMDB)
	c.Flags = DecodeFlags(strings.Fields(v.GOFLAGS))
	c.Auth = readAuth(v.GOAUTH, getenv)
	return c
}

// Private reports whether path must not be fetched through a proxy
// (GONOPROXY, which defaults to GOPRIVATE), as cmd/go/internal/modfetch
// decides it.
func (c *Config) Private(path string) bool {
	return module.MatchPrefixPatterns(cmp.Or(c.GONOPROXY, c.GOPRIVATE), path)
}

// NoSumCheck reports whether the go command accepts path without checking
// it against the checksum database: GOSUMDB=off, or GONOSUMDB (which
// defaults to GOPRIVATE) matches it.
func (c *Config) NoSumCheck(path string) bool {
	return c.SumDB.Off || module.MatchPrefixPatterns(cmp.Or(c.GONOSUMDB, c.GOPRIVATE), path)
}
