// Dispatch stands in for the go command in the script tests of cmd/go when
// the conformance harness runs them through gomodx.
//
// The harness's copy of cmd/go's test code runs this program wherever a
// script says "go ...". It does what a shell with gomodx's shell function
// would do, then replaces itself with the chosen program (so signals and
// the exit status are the chosen program's own):
//
//	go mod download ARGS  ->  gomodx download ARGS
//	go mod tidy ARGS      ->  gomodx tidy ARGS
//	go CMD ARGS           ->  gomodx go CMD ARGS   (mode "all", for the commands
//	                                                'gomodx shell-init --all' routes)
//	anything else         ->  the test binary's go, unchanged
//
// The real go is $TESTGO_EXE, which cmd/go's tests set in every script's
// environment; gomodx is told about it through GOMODX_GO. gomodx's path and
// the mode come from GOMODX_CONFORMANCE_GOMODX and GOMODX_CONFORMANCE_MODE.
package main

import (
	"fmt"
	"os"
	"slices"
	"syscall"
)

// routed are the go subcommands that 'gomodx shell-init --all' sends
// through 'gomodx go' (kept in step with wrap/shell.go).
var routed = []string{"build", "get", "install", "list", "mod", "run", "test", "vet", "generate", "work"}

func main() {
	realGo := os.Getenv("TESTGO_EXE")
	gomodx := os.Getenv("GOMODX_CONFORMANCE_GOMODX")
	if realGo == "" || gomodx == "" {
		fmt.Fprintln(os.Stderr, "dispatch: TESTGO_EXE and GOMODX_CONFORMANCE_GOMODX must be set")
		os.Exit(2)
	}
	argv := route(os.Args[1:], os.Getenv("GOMODX_CONFORMANCE_MODE"), realGo, gomodx)
	env := append(os.Environ(), "GOMODX_GO="+realGo)
	err := syscall.Exec(argv[0], argv, env)
	fmt.Fprintf(os.Stderr, "dispatch: exec %s: %v\n", argv[0], err)
	os.Exit(2)
}

// route returns the command line that runs "go args": gomodx for module
// downloads (and, in mode "all", for every command that may fetch
// modules), else the real go.
func route(args []string, mode, realGo, gomodx string) []string {
	switch {
	case len(args) >= 2 && args[0] == "mod" && (args[1] == "download" || args[1] == "tidy"):
		return append([]string{gomodx}, args[1:]...)
	case mode == "all" && len(args) >= 1 && slices.Contains(routed, args[0]):
		return append([]string{gomodx, "go"}, args...)
	}
	return append([]string{realGo}, args...)
}
