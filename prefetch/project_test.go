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
	tests := []struct {
		name        string
		proj        *Project
		args        []string
		want        Targets
		wantQueries []string
	}{
		{"no args in a pruned module", proj, nil, Targets{Paths: []string{"example.com/a"}}, nil},
		{"no args outside a module", nil, nil, Targets{NoGraph: true}, nil},
		{"exact version needs no graph", proj, []string{"example.com/b@v1.2.3"},
			Targets{NoGraph: true, Versions: []module.Version{{Path: "example.com/b", Version: "v1.2.3"}}}, nil},
		{"bare path is the selected version", proj, []string{"example.com/b"}, Targets{Paths: []string{"example.com/b"}}, nil},
		{"all", proj, []string{"all"}, Targets{All: true}, nil},
		{"queries are left to go", proj, []string{"example.com/b@latest", "example.com/b@v1", "example.com/b@master"},
			Targets{NoGraph: true}, []string{"example.com/b@latest", "example.com/b@v1", "example.com/b@master"}},
		{"non-canonical version is a query", proj, []string{"example.com/b@v1.2"}, Targets{NoGraph: true}, []string{"example.com/b@v1.2"}},
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

func TestDefaultTargetsUnpruned(t *testing.T) {
	p := &Project{Pruning: Unpruned, Roots: []module.Version{{Path: "example.com/a", Version: "v1.0.0"}}}
	if got := DefaultTargets(p); !got.All {
		t.Errorf("DefaultTargets(unpruned) = %+v, want All", got)
	}
	if got := DefaultTargets(&Project{Pruning: Unpruned}); got.All {
		t.Errorf("DefaultTargets(no requirements) = %+v, want nothing", got)
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
