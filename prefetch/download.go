package prefetch

import (
	"context"
	"regexp"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// Targets says which modules 'go mod download' downloads, as its arguments
// do: .info, .mod and .zip of each.
type Targets struct {
	// Graph: the go command loads the whole module graph first (reading
	// every go.mod in it), and a path's version is the one the graph
	// selects. Without it, a path is one the main module requires, at the
	// version it requires.
	Graph    bool
	Paths    []string         // these module paths
	Patterns []string         // "all", or patterns with "...": every module path of the graph they match
	Versions []module.Version // exactly these versions
}

// DefaultTargets is what 'go mod download' with no arguments downloads
// (cmd/go/internal/modcmd/download.go): with graph pruning, the main
// module's requirements, after loading the whole graph; without it, or in
// a workspace, every module of the graph ("all").
func DefaultTargets(p *Project) Targets {
	if p.Pruning == Pruned {
		t := Targets{Graph: true}
		for _, r := range p.Roots {
			t.Paths = append(t.Paths, r.Path)
		}
		return t
	}
	if len(p.Roots) == 0 && p.Pruning == Unpruned {
		return Targets{}
	}
	return Targets{Graph: true, Patterns: []string{"all"}}
}

// ParseTargets turns 'go mod download' arguments into Targets, as the go
// command's listModules reads them. Arguments that are queries rather than
// versions (@latest, @upgrade, a branch) are returned in queries: only the
// go command can resolve them. p may be nil outside a module.
func ParseTargets(p *Project, args []string) (t Targets, queries []string) {
	if len(args) == 0 {
		if p == nil {
			return Targets{}, nil
		}
		return DefaultTargets(p), nil
	}
	var roots map[string]string
	if p != nil {
		roots = rootVersions(p.Roots)
	}
	for _, arg := range args {
		path, vers, hasVers := strings.Cut(arg, "@")
		switch {
		case hasVers:
			if semver.IsValid(vers) && semver.Canonical(vers) == vers && module.Check(path, vers) == nil {
				t.Versions = append(t.Versions, module.Version{Path: path, Version: vers})
			} else {
				queries = append(queries, arg)
			}
		case p == nil:
			queries = append(queries, arg) // the go command says what is wrong
		case arg == "all" || strings.Contains(arg, "..."):
			t.Graph = true
			t.Patterns = append(t.Patterns, arg)
		default:
			if _, ok := roots[arg]; !ok || p.Pruning == Unpruned {
				t.Graph = true
			}
			t.Paths = append(t.Paths, arg)
		}
	}
	return t, queries
}

// Run fetches what 'go mod download' reads to download t: the go.mod of
// every module in p's module graph when the graph is loaded, and the
// .info, .mod and .zip of each target. p may be nil outside a module. It
// tries every file and returns the errors of all that failed, joined and
// sorted.
func Run(ctx context.Context, f *Fetcher, p *Project, t Targets) error {
	if p == nil {
		p = emptyProject()
		t.Graph, t.Paths, t.Patterns = false, nil, nil
	}
	if len(t.Versions) == 0 && p.Warm(f.cache, true) {
		return nil
	}
	pl := newPlanner(ctx, f, p, "")
	defer pl.close()
	for _, m := range t.Versions {
		pl.download(m)
	}
	selected := rootVersions(p.Roots)
	if t.Graph {
		g := pl.loadGraph(p.Roots, p.Pruning)
		if g.failed {
			// The go command stops at the same go.mod, before it
			// downloads anything.
			return pl.wait()
		}
		selected = g.selected
	}
	for _, path := range t.Paths {
		if v := selected[path]; v != "" && v != "none" {
			pl.download(module.Version{Path: path, Version: v})
		}
	}
	for _, pat := range t.Patterns {
		match := matchPattern(pat)
		for path, v := range selected {
			if match(path) && v != "none" {
				pl.download(module.Version{Path: path, Version: v})
			}
		}
	}
	return pl.wait()
}

// matchPattern reports whether a module path matches a pattern of the go
// command: "all" matches everything; "..." matches any string, and
// "x/..." matches x itself too.
func matchPattern(pattern string) func(string) bool {
	if pattern == "all" {
		return func(string) bool { return true }
	}
	re := regexp.QuoteMeta(pattern)
	re = strings.ReplaceAll(re, `\.\.\.`, `.*`)
	if strings.HasSuffix(re, `/.*`) {
		re = strings.TrimSuffix(re, `/.*`) + `(/.*)?`
	}
	r := regexp.MustCompile(`^` + re + `$`)
	return r.MatchString
}
