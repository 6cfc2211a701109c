package main

import (
	"bytes"
	"io"
	"runtime/debug"
	"strings"
	"testing"
)

// gomodx runs the CLI in this process and returns its exit status and
// output.
func gomodx(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(t.Context(), append([]string{"gomodx"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestFlagsAfterArguments: a flag typed after a command's argument means
// what it means before it, as the README writes 'shell-init bash --all'.
func TestFlagsAfterArguments(t *testing.T) {
	_, before, _ := gomodx(t, "shell-init", "--all", "bash")
	code, after, stderr := gomodx(t, "shell-init", "bash", "--all")
	if code != 0 || stderr != "" {
		t.Fatalf("shell-init bash --all: exit status %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(after, `"build "*`) {
		t.Errorf("shell-init bash --all ignored --all:\n%s", after)
	}
	if after != before {
		t.Errorf("shell-init bash --all:\n%s\nshell-init --all bash:\n%s", after, before)
	}

	// An unknown flag after the argument is an error, as before it.
	code, _, stderr = gomodx(t, "shell-init", "bash", "--bogus")
	if code != 2 || stderr != "gomodx: flag provided but not defined: -bogus\ngomodx: hint: run 'gomodx help shell-init' for usage\n" {
		t.Errorf("shell-init bash --bogus: exit status %d, stderr:\n%s", code, stderr)
	}
}

func TestFlagsFirst(t *testing.T) {
	cmds := newApp(io.Discard, io.Discard).Commands
	for _, tt := range []struct{ in, want string }{
		{"gomodx shell-init bash --all", "gomodx shell-init --all -- bash"},
		{"gomodx shell-init --all bash", "gomodx shell-init --all bash"},
		{"gomodx shell-init bash", "gomodx shell-init bash"},
		{"gomodx verify example.com/a@v1.0.0 --json --jobs 4", "gomodx verify --json --jobs 4 -- example.com/a@v1.0.0"},
		{"gomodx verify example.com/a@v1.0.0 --jobs=4 example.com/b@v1.0.0", "gomodx verify --jobs=4 -- example.com/a@v1.0.0 example.com/b@v1.0.0"},
		{"gomodx download example.com/a@v1.0.0 -x -- -odd", "gomodx download -x -- example.com/a@v1.0.0 -odd"},
		{"gomodx download example.com/a@v1.0.0 - -x", "gomodx download -x -- example.com/a@v1.0.0 -"},
		// go's arguments are go's.
		{"gomodx go build ./... -v", "gomodx go build ./... -v"},
		{"gomodx nosuchcommand x -v", "gomodx nosuchcommand x -v"},
	} {
		got := strings.Join(flagsFirst(cmds, strings.Fields(tt.in)), " ")
		if got != tt.want {
			t.Errorf("%s\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}

// TestUsageHint: the hint after bad usage names the help that exists.
func TestUsageHint(t *testing.T) {
	for _, tt := range []struct {
		args []string
		hint string
	}{
		{[]string{"--bogus"}, "gomodx: hint: run 'gomodx help' for usage\n"},
		{[]string{"bogus"}, "gomodx: hint: run 'gomodx help' for usage\n"},
		{[]string{"download", "--bogus"}, "gomodx: hint: run 'gomodx help download' for usage\n"},
	} {
		code, _, stderr := gomodx(t, tt.args...)
		if code != 2 || !strings.HasSuffix(stderr, tt.hint) {
			t.Errorf("gomodx %s: exit status %d, stderr:\n%s\nwant status 2 and %q", strings.Join(tt.args, " "), code, stderr, tt.hint)
		}
	}
	// And the help it names is there.
	if code, stdout, stderr := gomodx(t, "help"); code != 0 || !strings.Contains(stdout, "shell-init") {
		t.Errorf("gomodx help: exit status %d\n%s%s", code, stdout, stderr)
	}
}

func TestVersionOf(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, tt := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"release", debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{"stamped from a clone", debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261130212034-cad417f33bbe+dirty"}}, "v0.0.0-20261130212034-cad417f33bbe+dirty"},
		{"vcs only", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: settings(
			"vcs", "git", "vcs.revision", "cad417f33bbe8e90870c0a216920c53248383717", "vcs.time", "2026-11-30T21:20:34Z", "vcs.modified", "false")},
			"devel cad417f33bbe 2026-11-30T21:20:34Z"},
		{"vcs, modified", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: settings(
			"vcs.revision", "cad417f33bbe8e90870c0a216920c53248383717", "vcs.time", "2026-11-30T21:20:34Z", "vcs.modified", "true")},
			"devel cad417f33bbe 2026-11-30T21:20:34Z +dirty"},
		{"nothing known", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
	} {
		if got := versionOf(&tt.bi); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}
