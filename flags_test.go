package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestFlagRanges: a value of gomodx's own flags outside its range, given as
// a flag or through its GOMODX_ variable, is bad usage: exit status 2, a
// message naming the value and the range, before anything runs.
func TestFlagRanges(t *testing.T) {
	for _, tt := range []struct {
		args []string
		env  map[string]string
		want string // the first line of stderr
	}{
		{args: []string{"download", "--jobs", "-1"}, want: "gomodx: invalid --jobs -1: must be from 1 to 256"},
		{args: []string{"download", "--jobs", "0"}, want: "gomodx: invalid --jobs 0: must be from 1 to 256"},
		{args: []string{"download", "--jobs", "99999999"}, want: "gomodx: invalid --jobs 99999999: must be from 1 to 256"},
		{args: []string{"tidy", "--timeout", "-5s"}, want: "gomodx: invalid --timeout -5s: must be 0 (no limit) or more"},
		{args: []string{"download", "--retries", "-1"}, want: "gomodx: invalid --retries -1: must be from 0 to 10"},
		{args: []string{"download", "--retries", "1000000"}, want: "gomodx: invalid --retries 1000000: must be from 0 to 10"},
		{args: []string{"download", "--retry-wait", "-1s"}, want: "gomodx: invalid --retry-wait -1s: must be from 1ms to 1m0s"},
		{args: []string{"download", "--retry-wait", "0"}, want: "gomodx: invalid --retry-wait 0s: must be from 1ms to 1m0s"},
		{args: []string{"download", "--min-rate", "-1"}, want: "gomodx: invalid --min-rate -1: must be 0 or more"},
		{args: []string{"download", "--max-total", "-1s"}, want: "gomodx: invalid --max-total -1s: must be 0 (no limit) or more"},
		{args: []string{"tidy", "--stall", "-1s"}, want: "gomodx: invalid --stall -1s: must be 0 (no limit) or more"},
		{args: []string{"download"}, env: map[string]string{"GOMODX_JOBS": "-1"}, want: "gomodx: invalid GOMODX_JOBS=-1: must be from 1 to 256"},
		{args: []string{"go", "build"}, env: map[string]string{"GOMODX_RETRIES": "99999"}, want: "gomodx: invalid GOMODX_RETRIES=99999: must be from 0 to 10"},
		{args: []string{"go", "build"}, env: map[string]string{"GOMODX_RETRY_WAIT": "0s"}, want: "gomodx: invalid GOMODX_RETRY_WAIT=0s: must be from 1ms to 1m0s"},
		{args: []string{"tidy"}, env: map[string]string{"GOMODX_STALL": "-1m"}, want: "gomodx: invalid GOMODX_STALL=-1m: must be 0 (no limit) or more"},
		// The flag wins over the variable; its value is the one named.
		{args: []string{"download", "--jobs", "-2"}, env: map[string]string{"GOMODX_JOBS": "8"}, want: "gomodx: invalid --jobs -2: must be from 1 to 256"},
		{args: []string{"verify", "--jobs", "-1"}, want: "gomodx: invalid --jobs -1: must be from 0 to 256"},
		{args: []string{"clean"}, env: map[string]string{"GOMODX_VERIFY_JOBS": "100000"}, want: "gomodx: invalid GOMODX_VERIFY_JOBS=100000: must be from 0 to 256"},
		{args: []string{"download", "--mirror", "ftp://mirror.example"}, want: "gomodx: invalid --mirror ftp://mirror.example: must be a mirror's URL, http, https or file (invalid proxy URL scheme (must be https, http, file): ftp://mirror.example)"},
		{args: []string{"tidy"}, env: map[string]string{"GOMODX_MIRRORS": "direct"}, want: "gomodx: invalid GOMODX_MIRRORS=direct: must be a mirror's URL, http, https or file (not a mirror URL)"},
		// --edited removes edits: only of trees named one by one.
		{args: []string{"clean", "--edited"}, want: "gomodx: --edited removes the trees of the modules named: it takes module@version arguments, and no --all or --all-faults"},
		{args: []string{"clean", "--edited", "--all-faults", "example.com/a@v1.0.0"}, want: "gomodx: --edited removes the trees of the modules named: it takes module@version arguments, and no --all or --all-faults"},
	} {
		t.Run(strings.Join(tt.args, " ")+envString(tt.env), func(t *testing.T) {
			// Nothing may run: a go that does not exist says so if it is looked for.
			t.Setenv("GOMODX_GO", filepath.Join(t.TempDir(), "no-such-go"))
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"gomodx"}, tt.args...), &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			first, rest, _ := strings.Cut(stderr.String(), "\n")
			if first != tt.want {
				t.Errorf("stderr starts %q, want %q", first, tt.want)
			}
			if want := "gomodx: hint: run 'gomodx help " + tt.args[0] + "' for usage\n"; rest != want {
				t.Errorf("then %q, want %q", rest, want)
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout: %q", stdout.String())
			}
		})
	}
}

// TestFlagRangesAcceptBounds: the bounds themselves pass validation; the
// command then goes on, and fails only for want of a go command.
func TestFlagRangesAcceptBounds(t *testing.T) {
	for _, args := range [][]string{
		{"download", "--jobs", "1", "--retries", "0", "--retry-wait", "1ms", "--timeout", "0", "--stall", "0", "--min-rate", "0", "--max-total", "0"},
		{"download", "--jobs", "256", "--retries", "10", "--retry-wait", "1m"},
		{"verify", "--jobs", "0"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Setenv("GOMODX_GO", filepath.Join(t.TempDir(), "no-such-go"))
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"gomodx"}, args...), &stdout, &stderr)
			if code != 1 || strings.Contains(stderr.String(), "invalid") || !strings.Contains(stderr.String(), "no-such-go") {
				t.Errorf("exit status %d, stderr:\n%s\nwant 1 for the missing go, and no invalid value", code, stderr.String())
			}
		})
	}
}

func envString(env map[string]string) string {
	var s string
	for k, v := range env {
		s += " " + k + "=" + v
	}
	return s
}
