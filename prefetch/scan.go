package prefetch

import (
	"bytes"
	"errors"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"go/version"
	"slices"
	"strconv"
	"strings"
)

// Tags decides which source files count when the plan reads a package's
// imports, as the go command's build constraints do. The zero Tags is the
// one 'go mod tidy' uses: every file counts except those constrained by
// the "ignore" tag, whatever the operating system, architecture and tags.
type Tags struct {
	set  map[string]bool // nil: every tag but "ignore" is both set and unset
	goos string
}

// BuildTags is the tag set of a build for goos/goarch: the operating system
// and architecture, "unix" where it applies, "gc", "cgo" when cgo is on, the
// release tags of goVersion ("go1.1" to "go1.N"), and the -tags given.
func BuildTags(goos, goarch string, cgo bool, goVersion string, tags []string) Tags {
	set := map[string]bool{goos: true, goarch: true, "gc": true}
	if unixOS[goos] {
		set["unix"] = true
	}
	if cgo {
		set["cgo"] = true
	}
	if _, minor, ok := strings.Cut(strings.TrimPrefix(version.Lang("go"+goVersion), "go"), "."); ok {
		n, _ := strconv.Atoi(minor)
		for i := 1; i <= n; i++ {
			set["go1."+strconv.Itoa(i)] = true
		}
	}
	for _, t := range tags {
		set[t] = true
	}
	return Tags{set: set, goos: goos}
}

// any reports whether every tag counts as both set and unset ('go mod tidy').
func (t Tags) any() bool { return t.set == nil }

// matchName reports whether a file name is one the go command reads for a
// package: a .go file whose name does not start with '_' or '.', and whose
// _GOOS, _GOARCH or _GOOS_GOARCH suffix (before an optional _test) matches.
func (t Tags) matchName(name string) bool {
	if !strings.HasSuffix(name, ".go") || strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".") {
		return false
	}
	if t.any() {
		return true
	}
	stem, _, _ := strings.Cut(name, ".")
	i := strings.Index(stem, "_")
	if i < 0 {
		return true
	}
	l := strings.Split(stem[i:], "_")
	if n := len(l); n > 0 && l[n-1] == "test" {
		l = l[:n-1]
	}
	n := len(l)
	switch {
	case n >= 2 && knownOS[l[n-2]] && knownArch[l[n-1]]:
		return t.match(l[n-2], true) && t.match(l[n-1], true)
	case n >= 1 && (knownOS[l[n-1]] || knownArch[l[n-1]]):
		return t.match(l[n-1], true)
	}
	return true
}

// shouldBuild reports whether a file with this content counts, by its
// build constraints.
func (t Tags) shouldBuild(content []byte) bool {
	header, goBuild, err := fileHeader(content)
	if err != nil {
		return false
	}
	if goBuild != "" {
		x, err := constraint.Parse(goBuild)
		if err != nil {
			return false
		}
		return t.eval(x, true)
	}
	for line := range strings.SplitSeq(string(header), "\n") {
		line = strings.TrimSpace(line)
		if !constraint.IsPlusBuild(line) {
			continue
		}
		if x, err := constraint.Parse(line); err == nil && !t.eval(x, true) {
			return false
		}
	}
	return true
}

// eval evaluates a constraint. With every tag counted (t.any), a valid
// tag other than "ignore" takes the value that helps the file count
// (prefer), which a negation flips.
func (t Tags) eval(x constraint.Expr, prefer bool) bool {
	switch x := x.(type) {
	case *constraint.TagExpr:
		return t.match(x.Tag, prefer)
	case *constraint.NotExpr:
		return !t.eval(x.X, !prefer)
	case *constraint.AndExpr:
		return t.eval(x.X, prefer) && t.eval(x.Y, prefer)
	case *constraint.OrExpr:
		return t.eval(x.X, prefer) || t.eval(x.Y, prefer)
	}
	return false
}

// match is one tag's value, as the go command's matchTag computes it.
func (t Tags) match(tag string, prefer bool) bool {
	if !validTag(tag) {
		return false
	}
	if t.any() {
		return tag != "ignore" && prefer
	}
	if t.set[tag] {
		return true
	}
	switch tag {
	case "linux":
		return t.set["android"]
	case "solaris":
		return t.set["illumos"]
	case "darwin":
		return t.set["ios"]
	case "unix":
		return unixOS[t.goos]
	}
	return false
}

// The operating systems and architectures the go command knows, for file
// name suffixes, and those that are "unix".
var (
	knownOS   = setOf("aix android darwin dragonfly freebsd hurd illumos ios js linux nacl netbsd openbsd plan9 solaris wasip1 windows zos")
	unixOS    = setOf("aix android darwin dragonfly freebsd hurd illumos ios linux netbsd openbsd solaris")
	knownArch = setOf("386 amd64 amd64p32 arm armbe arm64 arm64be loong64 mips mipsle mips64 mips64le mips64p32 mips64p32le ppc ppc64 ppc64le riscv riscv64 s390 s390x sparc sparc64 wasm")
)

func setOf(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// validTag reports whether a build tag is made of letters, digits,
// underscores and dots, the only tags the go command accepts.
func validTag(tag string) bool {
	if tag == "" {
		return false
	}
	for _, c := range tag {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c > 0x7f) {
			return false
		}
	}
	return true
}

var errMultipleGoBuild = errors.New("multiple //go:build comments")

// fileHeader returns the part of a Go file where "// +build" lines may
// appear (the leading comments, up to the last blank line before the first
// line that is not a comment) and its "//go:build" line, if any, with the
// go command's reading of the file's first lines.
func fileHeader(content []byte) (header []byte, goBuild string, err error) {
	end := 0
	p := content
	ended := false       // past the first line that is neither blank nor a // comment
	inSlashStar := false // inside a /* */ comment
lines:
	for len(p) > 0 {
		line := p
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, p = line[:i], p[i+1:]
		} else {
			p = p[len(p):]
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 && !ended {
			end = len(content) - len(p)
			continue
		}
		if !bytes.HasPrefix(line, []byte("//")) {
			ended = true
		}
		if !inSlashStar && constraint.IsGoBuild(string(line)) {
			if goBuild != "" {
				return nil, "", errMultipleGoBuild
			}
			goBuild = string(line)
		}
		for len(line) > 0 {
			if inSlashStar {
				i := bytes.Index(line, []byte("*/"))
				if i < 0 {
					continue lines
				}
				inSlashStar = false
				line = bytes.TrimSpace(line[i+2:])
				continue
			}
			if bytes.HasPrefix(line, []byte("//")) {
				continue lines
			}
			if bytes.HasPrefix(line, []byte("/*")) {
				inSlashStar = true
				line = bytes.TrimSpace(line[2:])
				continue
			}
			break lines // source text
		}
	}
	return content[:end], goBuild, nil
}

// fileImports returns the import paths of one Go source file. A file that
// does not parse up to its imports is an error, as it is for the go command.
func fileImports(name string, content []byte) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), name, content, parser.ImportsOnly)
	if err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(f.Imports))
	for _, spec := range f.Imports {
		p, err := strconv.Unquote(spec.Path.Value)
		if err != nil {
			continue
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// errNoGo is a package directory whose Go files all fail the constraints.
var errNoGo = errors.New("no Go source files")

// scanPackage returns the imports of a package's files, and apart from them
// those of its _test.go files, as the go command's import scanner does with
// tags: files are read by name (name is the file's base name).
func scanPackage(tags Tags, names []string, read func(name string) ([]byte, error)) (imports, testImports []string, err error) {
	seen, seenTest := map[string]bool{}, map[string]bool{}
	n := 0
	for _, name := range names {
		if !tags.matchName(name) {
			continue
		}
		content, err := read(name)
		if err != nil {
			return nil, nil, err
		}
		// As the go command does: the imports must parse even in a file
		// the constraints leave out.
		paths, err := fileImports(name, content)
		if err != nil {
			return nil, nil, err
		}
		if !tags.any() && !tags.set["cgo"] && slices.Contains(paths, "C") {
			continue // a cgo file, in a build without cgo
		}
		if !tags.shouldBuild(content) {
			continue
		}
		n++
		into, set := &imports, seen
		if strings.HasSuffix(name, "_test.go") {
			into, set = &testImports, seenTest
		}
		for _, p := range paths {
			if !set[p] {
				set[p] = true
				*into = append(*into, p)
			}
		}
	}
	if n == 0 {
		return nil, nil, errNoGo
	}
	return imports, testImports, nil
}
