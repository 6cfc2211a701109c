package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/gomodx/gomodx/wrap/shell"
)

func TestRoute(t *testing.T) {
	for _, tc := range []struct {
		mode string
		args []string
		want []string
	}{
		{"download-tidy", []string{"mod", "download", "-json", "rsc.io/quote"}, []string{"gomodx", "download", "-json", "rsc.io/quote"}},
		{"download-tidy", []string{"mod", "tidy", "-e"}, []string{"gomodx", "tidy", "-e"}},
		{"download-tidy", []string{"get", "rsc.io/quote"}, []string{"go", "get", "rsc.io/quote"}},
		{"download-tidy", []string{"mod"}, []string{"go", "mod"}},
		{"all", []string{"mod", "tidy"}, []string{"gomodx", "tidy"}},
		{"all", []string{"mod", "verify"}, []string{"gomodx", "go", "mod", "verify"}},
		{"all", []string{"build", "./..."}, []string{"gomodx", "go", "build", "./..."}},
		{"all", []string{"env", "GOPROXY"}, []string{"go", "env", "GOPROXY"}},
		// As in the shell function, only the first word decides.
		{"all", []string{"-C", "dir", "build"}, []string{"go", "-C", "dir", "build"}},
		{"all", nil, []string{"go"}},
	} {
		if got := route(tc.args, tc.mode, "go", "gomodx"); !slices.Equal(got, tc.want) {
			t.Errorf("route(%q, %s) = %q, want %q", tc.args, tc.mode, got, tc.want)
		}
	}
}

// TestRoutedMatchesShellInit keeps routed in step with the commands that
// 'gomodx shell-init fish --all' sends through gomodx.
func TestRoutedMatchesShellInit(t *testing.T) {
	var b bytes.Buffer
	if err := shell.Init(&b, "fish", true); err != nil {
		t.Fatal(err)
	}
	const marker = `contains -- "$argv[1]" `
	_, rest, ok := strings.Cut(b.String(), marker)
	if !ok {
		t.Fatalf("shell-init fish --all output has no %q:\n%s", marker, b.String())
	}
	line, _, _ := strings.Cut(rest, "\n")
	if got := strings.Fields(line); !slices.Equal(got, routed) {
		t.Errorf("shell-init --all routes %q; the dispatcher routes %q", got, routed)
	}
}
