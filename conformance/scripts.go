package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// namePrefixes select the scripts about module downloads and go.sum by name.
var namePrefixes = []string{"mod_download", "mod_tidy", "mod_sum", "mod_verify", "mod_get_"}

// modCommandRE matches a script line that runs 'go mod download' or 'go mod
// tidy', after any [conditions] and a ! or ? prefix; a line that only
// mentions them (in stderr 'run go mod tidy', say) does not match.
var modCommandRE = regexp.MustCompile(`(?m)^[ \t]*(?:\[[^\]\n]*\][ \t]*)*[!?]?[ \t]*(?:\[[^\]\n]*\][ \t]*)*go[ \t]+mod[ \t]+(?:download|tidy)\b`)

// fileMarkerRE starts the first file of a script's txtar archive, where its
// commands end.
var fileMarkerRE = regexp.MustCompile(`(?m)^-- .+ --$`)

// runsModCommand reports whether a script's commands (not its files) run
// 'go mod download' or 'go mod tidy'.
func runsModCommand(script []byte) bool {
	if loc := fileMarkerRE.FindIndex(script); loc != nil {
		script = script[:loc[0]]
	}
	return modCommandRE.Match(script)
}

// selectScripts returns the names (without .txt) of the scripts in dir to
// run, sorted: those matching run when it is set, else those whose name has
// one of namePrefixes and those that run 'go mod download' or 'go mod tidy'.
func selectScripts(dir string, run *regexp.Regexp) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txt")
		if run != nil {
			if run.MatchString(name) {
				names = append(names, name)
			}
			continue
		}
		if slices.ContainsFunc(namePrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			names = append(names, name)
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		if runsModCommand(data) {
			names = append(names, name)
		}
	}
	return names, nil
}

// testRunPattern is the -test.run pattern for exactly these scripts.
func testRunPattern(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = regexp.QuoteMeta(n)
	}
	return "^TestScript$/^(?:" + strings.Join(quoted, "|") + ")$"
}
