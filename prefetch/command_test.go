package prefetch

import (
	"reflect"
	"testing"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		args    []string
		goflags []string
		want    Command
	}{
		{[]string{"mod", "download", "-x", "example.com/a"}, nil, Command{Kind: ModDownload, Modules: []string{"example.com/a"}}},
		{[]string{"mod", "tidy", "-go=1.21", "-compat", "1.20"}, nil, Command{Kind: ModTidy, Tidy: TidyOptions{GoVersion: "1.21", Compat: "1.20"}}},
		{[]string{"mod", "tidy", "-overlay=o.json"}, nil, Command{}},
		{[]string{"mod", "verify"}, nil, Command{}},
		{[]string{"mod", "graph"}, nil, Command{}},
		{[]string{"build", "-o", "bin/x", "./..."}, nil, Command{Kind: PackageLoad, Build: BuildOptions{Patterns: []string{"./..."}}}},
		{[]string{"build", "-tags=a,b", "."}, []string{"-mod=mod"}, Command{Kind: PackageLoad, Build: BuildOptions{Patterns: []string{"."}, BuildTags: []string{"a", "b"}, ModMod: true}}},
		{[]string{"test", "./...", "-run", "X", "-count=1"}, nil, Command{Kind: PackageLoad, Build: BuildOptions{Patterns: []string{"./..."}, Tests: true}}},
		{[]string{"test", "./...", "-args", "-custom"}, nil, Command{Kind: PackageLoad, Build: BuildOptions{Patterns: []string{"./..."}, Tests: true}}},
		{[]string{"test", "./...", "-custom"}, nil, Command{}},
		{[]string{"run", ".", "-flag", "arg"}, nil, Command{Kind: PackageLoad, Build: BuildOptions{Patterns: []string{"."}}}},
		{[]string{"list", "-m", "all"}, nil, Command{}},
		{[]string{"list", "-test", "-deps", "./..."}, nil, Command{Kind: PackageLoad, Build: BuildOptions{Patterns: []string{"./..."}, Tests: true}}},
		{[]string{"build", "-mod=vendor", "."}, nil, Command{Kind: PackageLoad, Vendor: true, Build: BuildOptions{Patterns: []string{"."}}}},
		{[]string{"build", "-overlay", "o.json", "."}, nil, Command{}},
		{[]string{"get", "example.com/a@latest"}, nil, Command{}},
		{[]string{"build", "-C", "sub", "."}, nil, Command{Kind: PackageLoad, Dir: "sub", Build: BuildOptions{Patterns: []string{"."}}}},
	}
	for _, tt := range tests {
		got := ParseCommand(tt.args, tt.goflags)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseCommand(%q, %q) =\n\t%+v\nwant\n\t%+v", tt.args, tt.goflags, got, tt.want)
		}
	}
}
