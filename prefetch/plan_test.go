package prefetch

import (
	"bytes"
	"context"
	"go/build"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"

	"github.com/gomodx/gomodx/modcache"
)

// The planner's tests: each case is a main module and the modules of a fake
// mirror, written as txtar (the mirror's files under "mod/<path>@<version>/",
// whose go.mod is also its .mod; the main module's files at the root), and
// the files the plan must fetch, which are those the go command reads
// (testdata/script/vsgo_*.txt check the same shapes against the real go).

// mods are the modules every case's mirror serves.
const mods = `
-- mod/example.com/a@v1.0.0/go.mod --
module example.com/a

go 1.21

require example.com/b v1.0.0
-- mod/example.com/a@v1.0.0/a.go --
package a

import "example.com/b"
-- mod/example.com/b@v1.0.0/go.mod --
module example.com/b

go 1.21
-- mod/example.com/b@v1.0.0/b.go --
package b
-- mod/example.com/b@v1.1.0/go.mod --
module example.com/b

go 1.21
-- mod/example.com/b@v1.1.0/b.go --
package b
-- mod/example.com/c@v1.0.0/go.mod --
module example.com/c

go 1.21

require example.com/b v1.1.0
-- mod/example.com/c@v1.0.0/c.go --
package c
-- mod/example.com/c@v1.1.0/go.mod --
module example.com/c

go 1.21
-- mod/example.com/c@v1.1.0/c.go --
package c
-- mod/example.com/old@v1.0.0/go.mod --
module example.com/old

go 1.16

require example.com/d v1.0.0
-- mod/example.com/old@v1.0.0/old.go --
package old

import "example.com/d"
-- mod/example.com/d@v1.0.0/go.mod --
module example.com/d

go 1.16

require example.com/e v1.0.0
-- mod/example.com/d@v1.0.0/d.go --
package d
-- mod/example.com/e@v1.0.0/go.mod --
module example.com/e

go 1.16
-- mod/example.com/e@v1.0.0/e.go --
package e
-- mod/example.com/t@v1.0.0/go.mod --
module example.com/t

go 1.21

require example.com/tdep v1.0.0
-- mod/example.com/t@v1.0.0/t.go --
package t
-- mod/example.com/t@v1.0.0/t_test.go --
package t

import "example.com/tdep"
-- mod/example.com/tdep@v1.0.0/go.mod --
module example.com/tdep

go 1.21

require example.com/tdeptest v1.0.0
-- mod/example.com/tdep@v1.0.0/tdep.go --
package tdep
-- mod/example.com/tdep@v1.0.0/tdep_test.go --
package tdep_test

import "example.com/tdeptest"
-- mod/example.com/tdeptest@v1.0.0/go.mod --
module example.com/tdeptest

go 1.21
-- mod/example.com/tdeptest@v1.0.0/x.go --
package tdeptest
-- mod/example.com/n@v1.0.0/go.mod --
module example.com/n

go 1.21
-- mod/example.com/n@v1.0.0/n.go --
package n
-- mod/example.com/n/sub@v1.0.0/go.mod --
module example.com/n/sub

go 1.21
-- mod/example.com/n/sub@v1.0.0/sub.go --
package sub
-- mod/example.com/w@v1.0.0/go.mod --
module example.com/w

go 1.21
-- mod/example.com/w@v1.0.0/w_windows.go --
package w

import "example.com/c"
-- mod/example.com/w@v1.0.0/w.go --
//go:build ignore

package w

import "example.com/e"
-- mod/example.com/w@v1.0.0/w_other.go --
package w
`

func TestTidy(t *testing.T) {
	tests := []struct {
		name  string
		files string
		opts  TidyOptions
		want  string
	}{
		{
			name: "pruned: roots only, no unused module, test deps without their tests",
			files: `
-- go.mod --
module m

go 1.22

require (
	example.com/a v1.0.0
	example.com/b v1.0.0
	example.com/c v1.0.0
	example.com/t v1.0.0
	example.com/tdep v1.0.0
)
-- m.go --
package m

import (
	_ "example.com/a"
	_ "example.com/t"
)
`,
			want: `
example.com/a@v1.0.0.mod example.com/a@v1.0.0.zip
example.com/b@v1.0.0.mod example.com/b@v1.0.0.zip
example.com/t@v1.0.0.mod example.com/t@v1.0.0.zip
example.com/tdep@v1.0.0.mod example.com/tdep@v1.0.0.zip`,
		},
		{
			name: "unpruned: the whole graph's go.mod files, zips of packages only",
			files: `
-- go.mod --
module m

go 1.16

require (
	example.com/a v1.0.0
	example.com/old v1.0.0
)
-- m.go --
package m

import _ "example.com/a"
`,
			want: `
example.com/a@v1.0.0.mod example.com/a@v1.0.0.zip
example.com/b@v1.0.0.mod example.com/b@v1.0.0.zip
example.com/d@v1.0.0.mod example.com/e@v1.0.0.mod example.com/old@v1.0.0.mod`,
		},
		{
			name: "go 1.17 reads the go 1.16 graph too",
			files: `
-- go.mod --
module m

go 1.17

require example.com/old v1.0.0
-- m.go --
package m

import _ "example.com/old"
`,
			want: `
example.com/d@v1.0.0.mod example.com/d@v1.0.0.zip
example.com/e@v1.0.0.mod
example.com/old@v1.0.0.zip example.com/old@v1.0.0.mod`,
		},
		{
			name: "nested module paths: both are looked into",
			files: `
-- go.mod --
module m

go 1.22

require (
	example.com/n v1.0.0
	example.com/n/sub v1.0.0
)
-- m.go --
package m

import _ "example.com/n/sub"
`,
			want: `
example.com/n/sub@v1.0.0.mod example.com/n/sub@v1.0.0.zip
example.com/n@v1.0.0.zip`,
		},
		{
			name: "exclude and replace",
			files: `
-- go.mod --
module m

go 1.22

require (
	example.com/a v1.0.0
	example.com/c v1.0.0
)

exclude example.com/b v1.1.0

replace example.com/c v1.0.0 => example.com/c v1.1.0
-- m.go --
package m

import (
	_ "example.com/a"
	_ "example.com/c"
)
`,
			want: `
example.com/a@v1.0.0.mod example.com/a@v1.0.0.zip
example.com/b@v1.0.0.mod example.com/b@v1.0.0.zip
example.com/c@v1.1.0.mod example.com/c@v1.1.0.zip`,
		},
		{
			name: "an outdated requirement: the required version; tidy then raises it and loads again, unplanned",
			files: `
-- go.mod --
module m

go 1.22

require (
	example.com/b v1.0.0
	example.com/c v1.0.0
)
-- m.go --
package m

import (
	_ "example.com/b"
	_ "example.com/c"
)
`,
			want: `
example.com/b@v1.0.0.mod example.com/b@v1.0.0.zip
example.com/c@v1.0.0.mod example.com/c@v1.0.0.zip`,
		},
		{
			name: "tidy reads every platform's files, not ignored ones",
			files: `
-- go.mod --
module m

go 1.22

require (
	example.com/c v1.0.0
	example.com/w v1.0.0
)
-- m.go --
package m

import _ "example.com/w"
`,
			want: `
example.com/c@v1.0.0.mod example.com/c@v1.0.0.zip
example.com/w@v1.0.0.mod example.com/w@v1.0.0.zip`,
		},
		{
			name: "a package no module provides: loading stops there, tidy's graph is not planned",
			files: `
-- go.mod --
module m

go 1.22

require example.com/a v1.0.0
-- m.go --
package m

import (
	_ "example.com/a"
	_ "example.com/nowhere"
)
`,
			want: `
example.com/a@v1.0.0.mod example.com/a@v1.0.0.zip
example.com/b@v1.0.0.mod example.com/b@v1.0.0.zip`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newPlanEnv(t, tt.files)
			opts := tt.opts
			opts.GOROOT = build.Default.GOROOT
			if err := Tidy(t.Context(), env.fetcher(t), env.project(t), opts); err != nil {
				t.Fatal(err)
			}
			env.check(t, tt.want)
		})
	}
}

func TestBuild(t *testing.T) {
	const project = `
-- go.mod --
module m

go 1.22

require (
	example.com/a v1.0.0
	example.com/c v1.0.0
	example.com/t v1.0.0
	example.com/w v1.0.0
)
-- m.go --
package m

import _ "example.com/a"
-- lib/lib.go --
package lib

import _ "example.com/t"
-- plat/plat.go --
package plat

import _ "example.com/w"
`
	tests := []struct {
		name string
		opts BuildOptions
		want string
	}{
		{
			name: "b is no root: the whole graph, then go.mod needs updating (no .info)",
			opts: BuildOptions{Patterns: []string{"."}},
			want: `
example.com/a@v1.0.0.mod example.com/a@v1.0.0.zip
example.com/b@v1.1.0.mod example.com/b@v1.1.0.zip
example.com/c@v1.0.0.mod example.com/t@v1.0.0.mod example.com/w@v1.0.0.mod`,
		},
		{
			name: "one package from the roots: its modules' .info, .mod and .zip",
			opts: BuildOptions{Patterns: []string{"./lib"}},
			want: `
example.com/t@v1.0.0.info example.com/t@v1.0.0.mod example.com/t@v1.0.0.zip`,
		},
		{
			name: "tests of the matched packages only",
			opts: BuildOptions{Patterns: []string{"./lib"}, Tests: true},
			want: `
example.com/t@v1.0.0.info example.com/t@v1.0.0.mod example.com/t@v1.0.0.zip`,
		},
		{
			name: "a linux build does not read windows files",
			opts: BuildOptions{Patterns: []string{"./plat"}, Tags: BuildTags("linux", "amd64", false, "1.26", nil)},
			want: `
example.com/w@v1.0.0.info example.com/w@v1.0.0.mod example.com/w@v1.0.0.zip`,
		},
		{
			name: "a windows build does",
			opts: BuildOptions{Patterns: []string{"./plat"}, Tags: BuildTags("windows", "amd64", false, "1.26", nil)},
			want: `
example.com/c@v1.0.0.info example.com/c@v1.0.0.mod example.com/c@v1.0.0.zip
example.com/w@v1.0.0.info example.com/w@v1.0.0.mod example.com/w@v1.0.0.zip`,
		},
		{
			name: "files and queries are not planned",
			opts: BuildOptions{Patterns: []string{"m.go"}},
			want: ``,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newPlanEnv(t, project)
			opts := tt.opts
			opts.Dir = env.dir
			opts.ModMod = true
			opts.GOROOT = build.Default.GOROOT
			if opts.Tags.set == nil {
				opts.Tags = BuildTags("linux", "amd64", false, "1.26", nil)
			}
			if err := Build(t.Context(), env.fetcher(t), env.project(t), opts); err != nil {
				t.Fatal(err)
			}
			env.check(t, tt.want)
		})
	}
}

func TestDownload(t *testing.T) {
	const project = `
-- go.mod --
module m

go 1.22

require (
	example.com/b v1.0.0
	example.com/c v1.0.0
)
`
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no args: the graph, then the requirements at their selected versions", nil, `
example.com/b@v1.0.0.mod
example.com/b@v1.1.0.info example.com/b@v1.1.0.mod example.com/b@v1.1.0.zip
example.com/c@v1.0.0.info example.com/c@v1.0.0.mod example.com/c@v1.0.0.zip`},
		{"a required path: no graph, its required version", []string{"example.com/b"}, `
example.com/b@v1.0.0.info example.com/b@v1.0.0.mod example.com/b@v1.0.0.zip`},
		{"an exact version", []string{"example.com/a@v1.0.0"}, `
example.com/a@v1.0.0.info example.com/a@v1.0.0.mod example.com/a@v1.0.0.zip`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newPlanEnv(t, project)
			p := env.project(t)
			targets, _ := ParseTargets(p, tt.args)
			if err := Run(t.Context(), env.fetcher(t), p, targets); err != nil {
				t.Fatal(err)
			}
			env.check(t, tt.want)
		})
	}
}

// TestDownloadGraphFails checks that when a go.mod of the graph cannot be
// fetched, nothing else is: 'go mod download' fails to load the graph and
// downloads nothing.
func TestDownloadGraphFails(t *testing.T) {
	env := newPlanEnv(t, `
-- go.mod --
module m

go 1.22

require (
	example.com/b v1.0.0
	example.com/c v1.9.9
)
`)
	p := env.project(t)
	if err := Run(t.Context(), env.fetcher(t), p, DefaultTargets(p)); err == nil {
		t.Error("Run succeeded; want the missing go.mod's error")
	}
	env.check(t, `example.com/b@v1.0.0.mod example.com/c@v1.9.9.mod`)
}

// TestDownloadZipBesideInfo checks that a download target whose go.mod the
// graph walk got from the mirror has its zip asked for without waiting for
// its .info, and that one whose go.mod the walk did not read (the mirror
// may not have that version) still waits for its .info first.
func TestDownloadZipBesideInfo(t *testing.T) {
	env := newPlanEnv(t, `
-- go.mod --
module m

go 1.22

require (
	example.com/b v1.0.0
	example.com/c v1.0.0
)
`)
	read := module.Version{Path: "example.com/c", Version: "v1.0.0"}   // a root: the walk reads its go.mod
	unread := module.Version{Path: "example.com/b", Version: "v1.1.0"} // selected through c's go.mod, not read
	zipAsked := map[module.Version]chan struct{}{read: make(chan struct{}), unread: make(chan struct{})}
	var mu sync.Mutex
	zipFirst := map[module.Version]bool{}
	env.src.before = func(mod module.Version, file string) {
		asked, ok := zipAsked[mod]
		if !ok {
			return
		}
		switch file {
		case "zip":
			close(asked)
		case "info":
			if mod == read {
				// The zip comes at once from a correct plan; the bound
				// only keeps a plan that waits for this .info from
				// waiting for ever.
				select {
				case <-asked:
				case <-time.After(time.Minute):
				}
			}
			mu.Lock()
			select {
			case <-asked:
				zipFirst[mod] = true
			default:
			}
			mu.Unlock()
		}
	}
	p := env.project(t)
	if err := Run(t.Context(), env.fetcher(t), p, DefaultTargets(p)); err != nil {
		t.Fatal(err)
	}
	if !zipFirst[read] {
		t.Errorf("%s: the zip waited for the .info, though the walk had fetched its go.mod", read)
	}
	if zipFirst[unread] {
		t.Errorf("%s: the zip was asked for before the .info was answered", unread)
	}
	env.check(t, `
example.com/b@v1.0.0.mod
example.com/b@v1.1.0.info example.com/b@v1.1.0.mod example.com/b@v1.1.0.zip
example.com/c@v1.0.0.info example.com/c@v1.0.0.mod example.com/c@v1.0.0.zip`)
}

// planEnv is one case: the main module in a directory, a fake mirror and
// an empty module cache.
type planEnv struct {
	dir   string
	cache *modcache.Cache
	src   *memSource
}

func newPlanEnv(t *testing.T, files string) *planEnv {
	t.Helper()
	env := &planEnv{dir: t.TempDir(), src: &memSource{mods: map[module.Version]map[string][]byte{}}}
	for _, f := range txtar.Parse([]byte(mods + files)).Files {
		if rest, ok := strings.CutPrefix(f.Name, "mod/"); ok {
			at := strings.Index(rest, "@")
			slash := at + strings.Index(rest[at:], "/")
			mod := module.Version{Path: rest[:at], Version: rest[at+1 : slash]}
			if env.src.mods[mod] == nil {
				env.src.mods[mod] = map[string][]byte{}
			}
			env.src.mods[mod][rest[slash+1:]] = f.Data
			continue
		}
		file := filepath.Join(env.dir, filepath.FromSlash(f.Name))
		os.MkdirAll(filepath.Dir(file), 0o777)
		if err := os.WriteFile(file, f.Data, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	cache, err := modcache.Open(filepath.Join(t.TempDir(), "modcache"))
	if err != nil {
		t.Fatal(err)
	}
	env.cache = cache
	return env
}

func (env *planEnv) project(t *testing.T) *Project {
	p, err := LoadModule(filepath.Join(env.dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (env *planEnv) fetcher(t *testing.T) *Fetcher {
	return NewFetcher(t.Context(), env.cache, env.src, nil, Options{NoSumCheck: func(string) bool { return true }})
}

// check compares the files the mirror was asked for with want (fields
// "path@version.kind", in any order).
func (env *planEnv) check(t *testing.T, want string) {
	t.Helper()
	got := env.src.requests()
	w := strings.Fields(want)
	slices.Sort(w)
	if !slices.Equal(got, w) {
		t.Errorf("fetched:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(w, "\n\t"))
	}
}

// memSource is a mirror in memory that records what it was asked for.
type memSource struct {
	mods map[module.Version]map[string][]byte
	// before, if set, is called with each request before it is answered.
	before func(mod module.Version, file string)
	mu     sync.Mutex
	log    []string
}

func (s *memSource) Fetch(ctx context.Context, mod module.Version, file string, store func(io.Reader) error) error {
	s.mu.Lock()
	s.log = append(s.log, mod.Path+"@"+mod.Version+"."+file)
	s.mu.Unlock()
	if s.before != nil {
		s.before(mod, file)
	}
	files, ok := s.mods[mod]
	if !ok {
		return os.ErrNotExist
	}
	switch file {
	case "info":
		return store(strings.NewReader(`{"Version":"` + mod.Version + `","Time":"2024-01-01T00:00:00Z"}`))
	case "mod":
		return store(bytes.NewReader(files["go.mod"]))
	}
	var zfiles []modzip.File
	for name, data := range files {
		zfiles = append(zfiles, planFile{name, data})
	}
	var buf bytes.Buffer
	if err := modzip.Create(&buf, mod, zfiles); err != nil {
		return err
	}
	return store(&buf)
}

func (s *memSource) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	log := slices.Clone(s.log)
	slices.Sort(log)
	return slices.Compact(log)
}

type planFile struct {
	name string
	data []byte
}

func (f planFile) Path() string                 { return f.name }
func (f planFile) Lstat() (os.FileInfo, error)  { return planInfo{f}, nil }
func (f planFile) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }

type planInfo struct{ f planFile }

func (i planInfo) Name() string       { return filepath.Base(i.f.name) }
func (i planInfo) Size() int64        { return int64(len(i.f.data)) }
func (i planInfo) Mode() os.FileMode  { return 0o644 }
func (i planInfo) ModTime() time.Time { return time.Time{} }
func (i planInfo) IsDir() bool        { return false }
func (i planInfo) Sys() any           { return nil }

// Warm holds when every file go.sum names is in the cache (and, for
// download and builds, each zip's .info), so that planning is skipped.
func TestWarm(t *testing.T) {
	env := newPlanEnv(t, `
-- go.mod --
module m

go 1.22

require example.com/b v1.0.0
`)
	p := env.project(t)
	if p.Warm(env.cache, false) {
		t.Error("a project without go.sum lines is warm")
	}
	f := env.fetcher(t)
	b := module.Version{Path: "example.com/b", Version: "v1.0.0"}
	for _, kind := range []modcache.Kind{modcache.Mod, modcache.Zip} {
		if _, err := f.Ensure(t.Context(), b, kind); err != nil {
			t.Fatal(err)
		}
	}
	zipSum, _ := os.ReadFile(filepath.Join(env.cache.Root(), "cache/download/example.com/b/@v/v1.0.0.ziphash"))
	modFile, _ := os.ReadFile(filepath.Join(env.cache.Root(), "cache/download/example.com/b/@v/v1.0.0.mod"))
	modSum, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(modFile)), nil })
	if err != nil {
		t.Fatal(err)
	}
	p.Sums = Sums{b: string(zipSum), {Path: b.Path, Version: b.Version + "/go.mod"}: modSum}
	if !p.Warm(env.cache, false) {
		t.Error("every file go.sum names is cached, but not warm")
	}
	if p.Warm(env.cache, true) {
		t.Error("warm with .info, but no .info is cached")
	}
	p.Sums[module.Version{Path: "example.com/c", Version: "v1.0.0/go.mod"}] = modSum
	if p.Warm(env.cache, false) {
		t.Error("warm, but c's go.mod is not cached")
	}
}
