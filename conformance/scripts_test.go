package main

import "testing"

func TestRunsModCommand(t *testing.T) {
	for _, tc := range []struct {
		script string
		want   bool
	}{
		{"go mod tidy\n", true},
		{"! go mod download -json rsc.io/quote@v1.5.0\n", true},
		{"[short] skip\n[!net:golang.org] ! go mod tidy -e\n", true},
		{"[!GOOS:windows] ? go mod download\n", true},
		{"go mod tidyx\n", false},
		{"go mod edit -require rsc.io/quote@v1.5.2\n", false},
		{"stderr 'to add it:\\n\\tgo mod download rsc.io/quote'\n", false},
		{"# then go mod tidy fixes it\n", false},
		// A file of the archive is not a command.
		{"go build\n-- run.sh --\ngo mod tidy\n", false},
	} {
		if got := runsModCommand([]byte(tc.script)); got != tc.want {
			t.Errorf("runsModCommand(%q) = %v, want %v", tc.script, got, tc.want)
		}
	}
}
