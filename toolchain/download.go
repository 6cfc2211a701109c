package toolchain

import (
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/mod/module"

	"github.com/gomodx/gomodx/modcache"
)

// Unpacked is the reason Download gives for a toolchain unpacked in the
// module cache already.
const Unpacked = "already in the module cache"

// Download returns the module the go command will download to switch to
// c.Toolchain, or, when gomodx must leave it alone, why. It follows the
// go command's Exec and its checksum rules for golang.org/toolchain:
//
//   - a toolchain found in PATH under its name (go1.27.3, as
//     golang.org/dl installs them) is run from there, and GOTOOLCHAIN=path
//     or <name>+path never downloads;
//   - GOPROXY off, or starting with direct, or GONOPROXY/GOPRIVATE matching
//     golang.org/toolchain: go fetches it itself, or not at all;
//   - the checksum database is required, whatever GONOSUMDB and GOPRIVATE
//     say, since no go.sum can list a toolchain: with GOSUMDB=off go refuses
//     the download, and says so, after making it;
//   - the two exceptions go makes to that rule (a GOPROXY that is a single
//     file:// URL, and the module proxy's own fetches) are left to go too;
//   - a toolchain already in the module cache needs no download: unpacked,
//     go runs it whatever GOPROXY says; as a zip, go unpacks it without the
//     network.
//
// lookPath is exec.LookPath, or a stand-in in tests.
//
// The reason is [Unpacked] when the toolchain is unpacked in the module
// cache already.
func (l *Local) Download(c Choice, lookPath func(string) (string, error)) (mod module.Version, leave string) {
	if c.Toolchain == "" {
		return module.Version{}, "the local go command runs it"
	}
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	if p, err := lookPath(c.Toolchain); err == nil {
		return module.Version{}, c.Toolchain + " is in PATH (" + p + ")"
	}
	if c.PathOnly {
		return module.Version{}, "GOTOOLCHAIN looks only in PATH"
	}
	env := l.Config
	mod = Module(c.Toolchain, l.GOHOSTOS, l.GOHOSTARCH)
	if err := module.Check(mod.Path, mod.Version); err != nil || module.CanonicalVersion(mod.Version) != mod.Version {
		return module.Version{}, "not a version the go command can download"
	}
	switch {
	case env.SumDB.Off:
		return module.Version{}, "GOSUMDB=off, and go accepts no toolchain without the checksum database"
	case env.SumDB.Err != nil:
		return module.Version{}, "GOSUMDB does not parse"
	case env.GOMODCACHE == "" || !filepath.IsAbs(env.GOMODCACHE):
		return module.Version{}, "no absolute GOMODCACHE"
	}
	cache, cacheErr := modcache.Open(env.GOMODCACHE)
	if cacheErr == nil && unpacked(cache, mod) {
		// go runs it, checked against the checksum database's lines it
		// keeps, whatever GOPROXY says.
		return module.Version{}, Unpacked
	}
	switch {
	case env.Proxy.Err != nil:
		return module.Version{}, "GOPROXY does not parse"
	case !env.Proxy.Proxied():
		return module.Version{}, "GOPROXY is off, or starts with direct"
	case env.Private(ModulePath):
		return module.Version{}, "GONOPROXY or GOPRIVATE matches " + ModulePath
	case strings.HasPrefix(env.GOPROXY, "file://") && !strings.ContainsAny(env.GOPROXY, ",|"):
		return module.Version{}, "GOPROXY is a single file:// URL"
	case strings.Contains(l.environ("GIT_HTTP_USER_AGENT"), "proxy.golang.org"):
		return module.Version{}, "running as the module proxy"
	}
	if _, err := env.SumdbDir(); err != nil {
		return module.Version{}, "no GOPATH to keep the checksum database's state in"
	}
	if cacheErr == nil && cache.Has(mod, modcache.Zip, "") {
		return module.Version{}, "already in the module cache"
	}
	return mod, ""
}
