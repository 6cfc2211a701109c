package goenv

import (
	"os/exec"
	"path/filepath"
	"testing"
)

func TestDecodeFlags(t *testing.T) {
	f := DecodeFlags([]string{"-mod=vendor", "--modcacherw", "-modfile=alt.mod", "build", "-x"})
	if f.Mod != "vendor" || !f.ModCacheRW || f.ModFile != "alt.mod" || len(f.List) != 4 || f.List[3].Name != "x" {
		t.Errorf("DecodeFlags = %+v", f)
	}
	for _, args := range [][]string{{"-modcacherw=false"}, {"-modcacherw", "-modcacherw=false"}, {}} {
		if DecodeFlags(args).ModCacheRW {
			t.Errorf("%q: ModCacheRW set", args)
		}
	}
	if !DecodeFlags([]string{"-modcacherw=true"}).ModCacheRW {
		t.Error("-modcacherw=true: ModCacheRW not set")
	}
}

func TestMatchers(t *testing.T) {
	c := New(Vars{GOPRIVATE: "corp.example", GONOSUMDB: "sumless.example", GOSUMDB: "sum.golang.org"}, nil)
	if !c.Private("corp.example/a") || c.Private("github.com/a") {
		t.Error("Private does not follow GOPRIVATE")
	}
	if !c.NoSumCheck("sumless.example/a") || c.NoSumCheck("corp.example/a") {
		t.Error("NoSumCheck does not follow GONOSUMDB")
	}
	c = New(Vars{GONOPROXY: "np.example", GOPRIVATE: "corp.example", GOSUMDB: "off"}, nil)
	if !c.Private("np.example/a") || c.Private("corp.example/a") {
		t.Error("GONOPROXY does not override GOPRIVATE")
	}
	if !c.NoSumCheck("github.com/a") {
		t.Error("GOSUMDB=off checks sums")
	}
}

// TestReadGOCACHEOff reads the real go's configuration with the build
// cache off, where a bare 'go env -json' fails.
func TestReadGOCACHEOff(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go on PATH")
	}
	t.Setenv("GOCACHE", "off")
	t.Setenv("GOFLAGS", "-modcacherw -mod=mod")
	t.Setenv("GOPROXY", "https://a.example|https://b.example,direct")
	t.Setenv("GOSUMDB", "not a sumdb")
	t.Setenv("GOPATH", filepath.Join(t.TempDir(), "gopath"))
	t.Setenv("GOMODCACHE", "")
	c, err := Read(t.Context(), gobin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c.GOVERSION == "" || !c.Flags.ModCacheRW || c.Flags.Mod != "mod" || len(c.Proxy.Entries) != 3 || !c.Proxy.Entries[0].FallBackOnError {
		t.Errorf("Read = %+v", c)
	}
	if c.SumDB.Err == nil {
		t.Error("a GOSUMDB that does not parse gave no error")
	}
	if c.GOMODCACHE != filepath.Join(c.GOPATH, "pkg", "mod") {
		t.Errorf("GOMODCACHE = %q, want go's default under GOPATH", c.GOMODCACHE)
	}
}
