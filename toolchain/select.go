package toolchain

import (
	"bytes"
	"fmt"
	"go/version"
	"os"
	"path/filepath"
	"strings"
)

// Settings is what the go command reads, at startup, to decide which
// toolchain runs a command.
type Settings struct {
	// Getenv returns a go setting the way cmd/go/internal/cfg.Getenv does:
	// the environment when set to a non-empty value, else the user's go env
	// file (GOENV), else $GOROOT/go.env. See [Local.Getenv].
	Getenv func(key string) string
	// Environ returns a variable of the process environment itself, for
	// the ones the go command reads only there.
	Environ func(key string) string
	// GOVERSION is the local go command's runtime.Version(), as 'go env
	// GOVERSION' prints it ("go1.26.8", "devel go1.27-abcdef …").
	GOVERSION string
	// GOROOT is the local go command's GOROOT; no go.work above it is used.
	GOROOT string
	// Dir is the absolute directory the go command runs in (after -C).
	Dir string
	// TempDir is the go command's os.TempDir(): a go.mod right there is
	// not a module's. "" means this process's.
	TempDir string
}

// Choice is the toolchain the go command will run a command with.
type Choice struct {
	// Toolchain is the name of the toolchain go switches to, such as
	// "go1.27.3", or "" when the local go runs the command itself.
	Toolchain string
	// PathOnly says GOTOOLCHAIN is path or <name>+path: go looks for the
	// toolchain in PATH and never downloads it.
	PathOnly bool
	// Why says what asked for the toolchain, for logs: "go line in
	// /src/m/go.mod", "GOTOOLCHAIN=go1.27.3".
	Why string
}

// targetEnv is the variable a go command sets for the toolchain it
// switches to, and the child clears: while it is set, the child only
// checks that it is the toolchain asked for, and switches no further.
const targetEnv = "GOTOOLCHAIN_INTERNAL_SWITCH_VERSION"

// Select decides, by the rules of cmd/go/internal/toolchain.Select, which
// toolchain the go command will switch to before it runs a command in
// s.Dir: GOTOOLCHAIN (local, auto, path, <name>, <name>+auto,
// <name>+path), then, with auto or path, the toolchain and go lines of
// the go.work or go.mod that go finds there, a language version such as
// "go 1.23" meaning its first release, go1.23.0. Nothing happens when
// modules are off (GO111MODULE=off, or auto outside a module).
//
// The error is a setting the go command refuses to start with (an invalid
// GOTOOLCHAIN, a toolchain line that names no toolchain, a relative GOWORK,
// an unreadable go.mod): the go command reports it in its own words.
//
// What Select leaves out: the switch 'go install m@v' and 'go run m@v' make
// for the go line of m@v, and the switches a command makes later, when it
// meets a module that needs a newer go (those happen through gomodx's
// loopback proxy).
func Select(s Settings) (Choice, error) {
	if !modulesEnabled(s) {
		return Choice{}, nil
	}
	gotoolchain := s.Getenv("GOTOOLCHAIN")
	if gotoolchain == "" {
		// A packager removed it from go.env, or GOROOT is broken: the go
		// command runs itself and says what is wrong.
		return Choice{}, nil
	}
	minVers, minToolchain, err := localVersion(s.GOVERSION)
	if err != nil {
		return Choice{}, err
	}
	localToolchain := minToolchain
	why := "GOTOOLCHAIN=" + gotoolchain
	var mode string
	switch gotoolchain {
	case "auto", "path":
		mode = gotoolchain
	default:
		name, suffix, plus := strings.Cut(gotoolchain, "+")
		if name != "local" {
			v := fromToolchain(name)
			if v == "" {
				if plus {
					return Choice{}, fmt.Errorf("invalid GOTOOLCHAIN %q: invalid minimum toolchain %q", gotoolchain, name)
				}
				return Choice{}, fmt.Errorf("invalid GOTOOLCHAIN %q", gotoolchain)
			}
			minToolchain, minVers = name, v
		}
		if plus && suffix != "auto" && suffix != "path" {
			return Choice{}, fmt.Errorf("invalid GOTOOLCHAIN %q: only version suffixes are +auto and +path", gotoolchain)
		}
		mode = suffix
	}

	choice := minToolchain
	if mode == "auto" || mode == "path" {
		file, goVers, toolchain, err := goModToolchain(s)
		if err != nil {
			return Choice{}, err
		}
		// "toolchain default" keeps the minimum: only GOTOOLCHAIN counts.
		if toolchain != "default" {
			if toolchain != "" {
				toolVers := fromToolchain(toolchain)
				if toolVers == "" || (!strings.HasPrefix(toolchain, "go") && !strings.Contains(toolchain, "-go")) {
					return Choice{}, fmt.Errorf("invalid toolchain %q in %s", toolchain, file)
				}
				// Only above the minimum: equal means the minimum will do.
				if compare(toolVers, minVers) > 0 {
					choice, minVers = toolchain, toolVers
					why = "toolchain line in " + file
				}
			}
			if compare(goVers, minVers) > 0 {
				choice = "go" + goVers
				// From Go 1.21 on, "go 1.N" is a language version and
				// its first release is go1.N.0.
				if isLang(goVers) && compare(goVers, "1.21") >= 0 {
					choice += ".0"
				}
				why = "go line in " + file
			}
		}
	}

	if s.Environ != nil && s.Environ(targetEnv) != "" {
		// A go command started by another one to be a given toolchain
		// checks that it is, and runs the command.
		return Choice{}, nil
	}
	if choice == "local" || choice == localToolchain {
		return Choice{}, nil
	}
	if !strings.HasPrefix(choice, "go1") && !strings.Contains(choice, "-go1") {
		return Choice{}, fmt.Errorf("invalid GOTOOLCHAIN %q", choice)
	}
	return Choice{
		Toolchain: choice,
		PathOnly:  gotoolchain == "path" || strings.HasSuffix(gotoolchain, "+path"),
		Why:       why,
	}, nil
}

// modulesEnabled reports what modload.State.WillBeEnabled does: with
// GO111MODULE off, or auto outside a module, go does not switch at all.
func modulesEnabled(s Settings) bool {
	switch s.Getenv("GO111MODULE") {
	case "on", "":
		return true
	case "auto":
		return findGoMod(s.Dir, s.TempDir) != ""
	}
	return false
}

// goModToolchain finds the go.work or else the go.mod that applies in
// s.Dir, as the go command's modGoToolchain does, and returns its go and
// toolchain lines.
func goModToolchain(s Settings) (file, goVers, toolchain string, err error) {
	file, err = findGoWork(s)
	if err != nil {
		return "", "", "", err
	}
	if file != "" {
		// GOWORK may name a file 'go work init' has yet to create.
		if _, err := os.Stat(file); err != nil {
			file = ""
		}
	}
	if file == "" {
		file = findGoMod(s.Dir, s.TempDir)
	}
	if file == "" {
		return "", "", "", nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", "", "", err
	}
	return file, goModLookup(data, "go"), goModLookup(data, "toolchain"), nil
}

// findGoWork is modload.State.FindGoWork: GOWORK=off means none, empty or
// auto means the nearest go.work above dir (without crossing GOROOT), and
// anything else must be an absolute path.
func findGoWork(s Settings) (string, error) {
	switch gowork := s.Getenv("GOWORK"); gowork {
	case "off":
		return "", nil
	case "", "auto":
		return findUp(s.Dir, "go.work", filepath.Clean(s.GOROOT)), nil
	default:
		if !filepath.IsAbs(gowork) {
			return "", fmt.Errorf("invalid GOWORK: not an absolute path")
		}
		return gowork, nil
	}
}

// findGoMod is modload.FindGoMod: the nearest go.mod above dir, except one
// right in the temporary directory, which go ignores so that experiments
// in /tmp do not turn every test's work directory into a module.
func findGoMod(dir, tempDir string) string {
	if tempDir == "" {
		tempDir = os.TempDir()
	}
	file := findUp(dir, "go.mod", "")
	if file == "" || sameDir(filepath.Dir(file), tempDir) {
		return ""
	}
	return file
}

// findUp returns the first regular file called name in dir or one of its
// parents, stopping before a parent that is stop.
func findUp(dir, name, stop string) string {
	if dir == "" {
		return ""
	}
	dir = filepath.Clean(dir)
	for {
		f := filepath.Join(dir, name)
		if fi, err := os.Stat(f); err == nil && !fi.IsDir() {
			return f
		}
		parent := filepath.Dir(dir)
		if parent == dir || (stop != "" && parent == stop) {
			return ""
		}
		dir = parent
	}
}

// sameDir reports whether a and b are the same directory, lexically or
// after resolving symbolic links (search.InDir returning ".").
func sameDir(a, b string) bool {
	a, b = filepath.Clean(a), filepath.Clean(b)
	if a == b {
		return true
	}
	xa, errA := filepath.EvalSymlinks(a)
	xb, errB := filepath.EvalSymlinks(b)
	return (errA == nil && xa == b) || (errB == nil && a == xb) || (errA == nil && errB == nil && xa == xb)
}

// goModLookup is gover.GoModLookup: the value of the first line of a
// go.mod or go.work that starts with key, comment stripped.
func goModLookup(data []byte, key string) string {
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte("\n"))
		line = bytes.TrimSpace(line)
		rest, ok := bytes.CutPrefix(line, []byte(key))
		if !ok || len(rest) == 0 || (rest[0] != ' ' && rest[0] != '\t') {
			continue
		}
		rest, _, _ = bytes.Cut(rest, []byte("//"))
		return string(bytes.TrimSpace(rest))
	}
	return ""
}

// localVersion is gover.Local and gover.LocalToolchain for a go command
// whose runtime.Version() is goversion: "1.26.8" and "go1.26.8"; for a
// development build ("devel go1.27-abcdef …"), "1.27" and "go1.27".
func localVersion(goversion string) (vers, toolchain string, err error) {
	if v := fromToolchain(goversion); v != "" {
		return v, goversion, nil
	}
	if rest, ok := strings.CutPrefix(goversion, "devel "); ok {
		field, _, _ := strings.Cut(rest, " ")
		if v := fromToolchain(field); v != "" {
			lang := version.Lang("go" + v)
			return strings.TrimPrefix(lang, "go"), lang, nil
		}
	}
	return "", "", fmt.Errorf("cannot tell the version of the local go command from GOVERSION %q", goversion)
}

// fromToolchain is gover.FromToolchain: the version of a toolchain name
// ("1.21.3" for "go1.21.3" or "go1.21.3-bigcorp"), or "" if it names none.
func fromToolchain(name string) string {
	if strings.ContainsAny(name, `\/`) {
		// The name is looked up in PATH: no directories in it.
		return ""
	}
	v, ok := strings.CutPrefix(name, "go")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(v, " \t-"); i >= 0 {
		v = v[:i]
	}
	if !isValid(v) {
		return ""
	}
	return v
}

// The go command's version arithmetic (cmd/go/internal/gover) on versions
// without their "go" prefix, through go/version, which shares its code but
// wants the prefix and drops a "-suffix" that gover would refuse.

func goPrefixed(v string) string {
	if strings.Contains(v, "-") {
		return "" // invalid for gover; go/version would cut it off
	}
	return "go" + v
}

// compare compares two Go versions; malformed ones are less than any valid
// one and equal to each other.
func compare(x, y string) int { return version.Compare(goPrefixed(x), goPrefixed(y)) }

func isValid(v string) bool { return version.IsValid(goPrefixed(v)) }

// isLang reports whether v is a language version ("1.21") rather than a
// release ("1.21.0", "1.21rc1").
func isLang(v string) bool { return isValid(v) && version.Lang(goPrefixed(v)) == goPrefixed(v) }
