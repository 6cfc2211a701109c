// Package toolchain fetches the Go toolchain a go command is about to switch
// to, before it runs, so that the go command finds it in the module cache.
//
// Since Go 1.21 a go.mod that says "go 1.27.3" (or "toolchain go1.27.3"),
// or GOTOOLCHAIN=go1.27.3, makes an older go command download that
// toolchain as the module golang.org/toolchain@v0.0.1-go1.27.3.<goos>-<goarch>
// (a zip of about 76 MB) through GOPROXY, verify it against the checksum
// database, unpack it into the module cache and run it in its own stead. It
// does so single-stream, with no retries, and says nothing but "go:
// downloading go1.27.3 (linux/amd64)". Here the same zip is fetched
// through gomodx's mirrors, with retries and progress, verified against the
// same checksum database, and unpacked exactly where and as the go command
// unpacks it; the go command then switches to it without a request of its
// own.
//
// The steps, each a function:
//
//   - [ReadLocal] reads the local go command's configuration with
//     GOTOOLCHAIN=local, so that reading it switches nothing, and the
//     user's GOTOOLCHAIN the way go reads it (environment, go env file,
//     $GOROOT/go.env).
//   - [Select] decides which toolchain go will switch to, by the go
//     command's own rules.
//   - [Local.Download] decides whether that means a download gomodx may
//     make for go: not when go finds the toolchain in PATH, or only looks
//     there, or when GOPROXY, GONOPROXY or GOSUMDB leave the download to go
//     itself.
//   - [Install] fetches, verifies and unpacks it.
package toolchain

import (
	"strings"

	"golang.org/x/mod/module"
)

// ModulePath is the module the go command downloads toolchains as.
const ModulePath = "golang.org/toolchain"

// Module returns the module version of toolchain (such as "go1.27.3") for
// goos/goarch: golang.org/toolchain@v0.0.1-go1.27.3.linux-amd64. The
// v0.0.1 is the version of the packaging, which has never changed.
func Module(toolchain, goos, goarch string) module.Version {
	return module.Version{Path: ModulePath, Version: "v0.0.1-" + toolchain + "." + goos + "-" + goarch}
}

// Name returns what the go command calls mod when it downloads it:
// "go1.27.3 (linux/amd64)" for golang.org/toolchain@v0.0.1-go1.27.3.linux-amd64.
func Name(mod module.Version) string {
	_, vers, _ := strings.Cut(mod.Version, "-")
	if i := strings.LastIndex(vers, "."); i >= 0 {
		goos, goarch, _ := strings.Cut(vers[i+1:], "-")
		vers = vers[:i] + " (" + goos + "/" + goarch + ")"
	}
	return vers
}
