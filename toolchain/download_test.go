package toolchain

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomodx/gomodx/goenv"
)

// TestDownload checks when gomodx fetches the toolchain for go and when it
// leaves the download to go, with go's reason.
func TestDownload(t *testing.T) {
	base := goenv.Vars{
		GOPROXY:    "https://proxy.example",
		GOSUMDB:    "sum.golang.org",
		GOMODCACHE: t.TempDir(),
		GOPATH:     t.TempDir(),
	}
	noPath := func(string) (string, error) { return "", errors.New("not found") }
	want := Module("go1.999.0", "linux", "arm64")
	for _, tc := range []struct {
		name    string
		vars    func(*goenv.Vars)
		environ []string
		choice  Choice
		path    func(string) (string, error)
		leave   string // a substring of the reason; "" for a download
	}{
		{name: "download", choice: Choice{Toolchain: "go1.999.0"}},
		{name: "local", leave: "local go command"},
		{name: "in PATH", choice: Choice{Toolchain: "go1.999.0"}, path: func(string) (string, error) { return "/sdk/bin/go1.999.0", nil }, leave: "in PATH (/sdk/bin/go1.999.0)"},
		{name: "path only", choice: Choice{Toolchain: "go1.999.0", PathOnly: true}, leave: "only in PATH"},
		{name: "GOPROXY off", vars: func(v *goenv.Vars) { v.GOPROXY = "off" }, choice: Choice{Toolchain: "go1.999.0"}, leave: "off, or starts with direct"},
		{name: "GOPROXY direct", vars: func(v *goenv.Vars) { v.GOPROXY = "direct" }, choice: Choice{Toolchain: "go1.999.0"}, leave: "off, or starts with direct"},
		{name: "GOPROXY then direct", vars: func(v *goenv.Vars) { v.GOPROXY = "https://proxy.example,direct" }, choice: Choice{Toolchain: "go1.999.0"}},
		{name: "GOPROXY invalid", vars: func(v *goenv.Vars) { v.GOPROXY = "ftp://x" }, choice: Choice{Toolchain: "go1.999.0"}, leave: "does not parse"},
		{name: "GOPRIVATE", vars: func(v *goenv.Vars) { v.GOPRIVATE = "golang.org" }, choice: Choice{Toolchain: "go1.999.0"}, leave: "GONOPROXY or GOPRIVATE"},
		{name: "GONOPROXY", vars: func(v *goenv.Vars) { v.GONOPROXY = "golang.org/toolchain" }, choice: Choice{Toolchain: "go1.999.0"}, leave: "GONOPROXY or GOPRIVATE"},
		// The checksum database is asked whatever GONOSUMDB says.
		{name: "GONOSUMDB", vars: func(v *goenv.Vars) { v.GONOSUMDB = "golang.org" }, choice: Choice{Toolchain: "go1.999.0"}},
		{name: "GOSUMDB off", vars: func(v *goenv.Vars) { v.GOSUMDB = "off" }, choice: Choice{Toolchain: "go1.999.0"}, leave: "GOSUMDB=off"},
		{name: "GOSUMDB invalid", vars: func(v *goenv.Vars) { v.GOSUMDB = "not-a-key" }, choice: Choice{Toolchain: "go1.999.0"}, leave: "GOSUMDB does not parse"},
		{name: "single file proxy", vars: func(v *goenv.Vars) { v.GOPROXY = "file:///srv/proxy" }, choice: Choice{Toolchain: "go1.999.0"}, leave: "file://"},
		{name: "file proxy then another", vars: func(v *goenv.Vars) { v.GOPROXY = "file:///srv/proxy,https://proxy.example" }, choice: Choice{Toolchain: "go1.999.0"}},
		{name: "module proxy itself", environ: []string{"GIT_HTTP_USER_AGENT=proxy.golang.org"}, choice: Choice{Toolchain: "go1.999.0"}, leave: "module proxy"},
		{name: "no GOMODCACHE", vars: func(v *goenv.Vars) { v.GOMODCACHE = "" }, choice: Choice{Toolchain: "go1.999.0"}, leave: "GOMODCACHE"},
		{name: "no GOPATH", vars: func(v *goenv.Vars) { v.GOPATH = "" }, choice: Choice{Toolchain: "go1.999.0"}, leave: "GOPATH"},
		{name: "not a module version", choice: Choice{Toolchain: "go1.999.0 X:boringcrypto"}, leave: "not a version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := base
			if tc.vars != nil {
				tc.vars(&v)
			}
			l := &Local{
				Config:     goenv.New(v, func(string) string { return "" }),
				GOHOSTOS:   "linux",
				GOHOSTARCH: "arm64",
				environ:    lookupIn(tc.environ),
			}
			path := tc.path
			if path == nil {
				path = noPath
			}
			mod, leave := l.Download(tc.choice, path)
			switch {
			case tc.leave == "" && (leave != "" || mod != want):
				t.Errorf("Download = %v, %q; want %v", mod, leave, want)
			case tc.leave != "" && !strings.Contains(leave, tc.leave):
				t.Errorf("Download = %v, %q; want it left: %q", mod, leave, tc.leave)
			}
		})
	}
}

// TestDownloadCached checks that a toolchain whose zip is in the cache is
// left to go, which unpacks it without the network.
func TestDownloadCached(t *testing.T) {
	cache := t.TempDir()
	l := &Local{
		Config:     goenv.New(goenv.Vars{GOPROXY: "https://proxy.example", GOSUMDB: "sum.golang.org", GOMODCACHE: cache, GOPATH: t.TempDir()}, nil),
		GOHOSTOS:   "linux",
		GOHOSTARCH: "amd64",
		environ:    lookupIn(nil),
	}
	noPath := func(string) (string, error) { return "", errors.New("not found") }
	c := Choice{Toolchain: "go1.999.0"}
	if _, leave := l.Download(c, noPath); leave != "" {
		t.Fatalf("empty cache: left (%s)", leave)
	}
	vdir := filepath.Join(cache, "cache", "download", "golang.org", "toolchain", "@v")
	os.MkdirAll(vdir, 0o777)
	os.WriteFile(filepath.Join(vdir, "v0.0.1-go1.999.0.linux-amd64.zip"), []byte("zip"), 0o666)
	os.WriteFile(filepath.Join(vdir, "v0.0.1-go1.999.0.linux-amd64.ziphash"), []byte("h1:"+strings.Repeat("A", 43)+"="), 0o666)
	if _, leave := l.Download(c, noPath); !strings.Contains(leave, "already in the module cache") {
		t.Errorf("cached zip: Download leave = %q", leave)
	}

	// Unpacked, with its .ziphash, go uses the tree even without the zip.
	os.Remove(filepath.Join(vdir, "v0.0.1-go1.999.0.linux-amd64.zip"))
	if _, leave := l.Download(c, noPath); leave != "" {
		t.Fatalf("ziphash alone: left (%s)", leave)
	}
	os.MkdirAll(filepath.Join(cache, "golang.org", "toolchain@v0.0.1-go1.999.0.linux-amd64", "bin"), 0o777)
	if _, leave := l.Download(c, noPath); !strings.Contains(leave, "already in the module cache") {
		t.Errorf("unpacked tree: Download leave = %q", leave)
	}
	partial := filepath.Join(vdir, "v0.0.1-go1.999.0.linux-amd64.partial")
	os.WriteFile(partial, nil, 0o666)
	if _, leave := l.Download(c, noPath); leave != "" {
		t.Errorf("half-unpacked tree: left (%s)", leave)
	}
}
