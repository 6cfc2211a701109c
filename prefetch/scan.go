package prefetch

import (
	"bytes"
	"errors"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
)

// Tags decides which source files count when the plan reads a package's
// imports, as the go command's build constraints do. The zero Tags is the
// one 'go mod tidy' uses: every file counts except those constrained by
// the "ignore" tag, whatever the operating system, architecture and tags.
type Tags struct{}

// matchName reports whether a file name is one the go command reads for a
// package at all: a .go file whose name does not start with '_' or '.'.
// (Tags that name operating systems or architectures in the file name all
// match for tidy.)
func (Tags) matchName(name string) bool {
	return strings.HasSuffix(name, ".go") && !strings.HasPrefix(name, "_") && !strings.HasPrefix(name, ".")
}

// shouldBuild reports whether a file with this content counts, by its
// build constraints. With every tag both set and unset, a constraint
// fails only where it needs "ignore" (or a tag that is not a valid name).
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

// eval evaluates a constraint where every valid tag but "ignore" is both
// true and false: a tag takes the value that helps the file count
// (prefer), which a negation flips.
func (t Tags) eval(x constraint.Expr, prefer bool) bool {
	switch x := x.(type) {
	case *constraint.TagExpr:
		return validTag(x.Tag) && x.Tag != "ignore" && prefer
	case *constraint.NotExpr:
		return !t.eval(x.X, !prefer)
	case *constraint.AndExpr:
		return t.eval(x.X, prefer) && t.eval(x.Y, prefer)
	case *constraint.OrExpr:
		return t.eval(x.X, prefer) || t.eval(x.Y, prefer)
	}
	return false
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
		if !tags.shouldBuild(content) {
			continue
		}
		paths, err := fileImports(name, content)
		if err != nil {
			return nil, nil, err
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
