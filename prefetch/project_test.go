package prefetch

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/mod/module"
)

func TestParseTargets(t *testing.T) {
	proj := &Project{Pruning: Pruned, Roots: []module.Version{{Path: "example.com/a", Version: "v1.0.0"}}}
	unpruned := &Project{Pruning: Unpruned, Roots: proj.Roots}
	tests := []struct {
		name        string
		proj        *Project
		args        []string
		want        Targets
		wantQueries []string
	}{
		{"no args in a pruned module: the graph, then the requirements", proj, nil, Targets{Graph: true, Paths: []string{"example.com/a"}}, nil},
		{"no args in an unpruned module: all", unpruned, nil, Targets{Graph: true, Patterns: []string{"all"}}, nil},
		{"no args, no requirements, unpruned: nothing", &Project{Pruning: Unpruned}, nil, Targets{}, nil},
		{"no args outside a module", nil, nil, Targets{}, nil},
		{"exact version needs no graph", proj, []string{"example.com/b@v1.2.3"},
			Targets{Versions: []module.Version{{Path: "example.com/b", Version: "v1.2.3"}}}, nil},
		{"a required path needs no graph", proj, []string{"example.com/a"}, Targets{Paths: []string{"example.com/a"}}, nil},
		{"any path needs the graph when unpruned", unpruned, []string{"example.com/a"}, Targets{Graph: true, Paths: []string{"example.com/a"}}, nil},
		{"another path is the selected version", proj, []string{"example.com/b"}, Targets{Graph: true, Paths: []string{"example.com/b"}}, nil},
		{"all", proj, []string{"all"}, Targets{Graph: true, Patterns: []string{"all"}}, nil},
		{"patterns", proj, []string{"example.com/..."}, Targets{Graph: true, Patterns: []string{"example.com/..."}}, nil},
		{"queries are left to go", proj, []string{"example.com/b@latest", "example.com/b@v1", "example.com/b@master"},
			Targets{}, []string{"example.com/b@latest", "example.com/b@v1", "example.com/b@master"}},
		{"non-canonical version is a query", proj, []string{"example.com/b@v1.2"}, Targets{}, []string{"example.com/b@v1.2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, queries := ParseTargets(tt.proj, tt.args)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("targets = %+v, want %+v", got, tt.want)
			}
			if !reflect.DeepEqual(queries, tt.wantQueries) {
				t.Errorf("queries = %q, want %q", queries, tt.wantQueries)
			}
		})
	}
}

func TestMatchPattern(t *testing.T) {
	for _, tt := range []struct {
		pattern, path string
		want          bool
	}{
		{"all", "example.com/a", true},
		{"example.com/...", "example.com/a", true},
		{"example.com/a/...", "example.com/a", true},
		{"example.com/a/...", "example.com/ab", false},
		{"example.com/.../v2", "example.com/x/y/v2", true},
		{"example.com/a", "example.com/a", true},
	} {
		if got := matchPattern(tt.pattern)(tt.path); got != tt.want {
			t.Errorf("matchPattern(%q)(%q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}

func TestSums(t *testing.T) {
	s := Sums{}
	err := s.parse("go.sum", []byte(`example.com/a v1.0.0 h1:zip=
example.com/a v1.0.0/go.mod h1:mod=

example.com/b v1.0.0 h2:future=
`))
	if err != nil {
		t.Fatal(err)
	}
	a := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	if s.Zip(a) != "h1:zip=" || s.GoMod(a) != "h1:mod=" {
		t.Errorf("Zip, GoMod = %q, %q", s.Zip(a), s.GoMod(a))
	}
	if got := s.Zip(module.Version{Path: "example.com/b", Version: "v1.0.0"}); got != "" {
		t.Errorf("an h2 line gave %q; only h1 is understood", got)
	}
	if err := (Sums{}).parse("go.sum", []byte("example.com/a v1.0.0\n")); err == nil || err.Error() != "go.sum:1: malformed go.sum line" {
		t.Errorf("malformed line: err = %v", err)
	}
}

func TestVendored(t *testing.T) {
	dir := t.TempDir()
	p := &Project{Dir: dir, Pruning: Pruned, GoVersion: "1.22"}
	if p.Vendored(nil) {
		t.Error("no vendor directory, yet Vendored")
	}
	if !p.Vendored([]string{"-mod=vendor"}) {
		t.Error("-mod=vendor, yet not Vendored")
	}
	if err := os.MkdirAll(filepath.Join(dir, "vendor"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vendor", "modules.txt"), nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if !p.Vendored(nil) {
		t.Error("vendor/modules.txt with go 1.22, yet not Vendored")
	}
	if p.Vendored([]string{"-mod=vendor", "-mod=mod"}) {
		t.Error("the last -mod flag wins, as in the flag package")
	}
	old := &Project{Dir: dir, Pruning: Unpruned, GoVersion: "1.13"}
	if old.Vendored(nil) {
		t.Error("go 1.13 does not use vendor/ by default")
	}
}
