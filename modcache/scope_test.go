package modcache

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/module"
)

func TestSelect(t *testing.T) {
	proj := []module.Version{{Path: "example.com/a", Version: "v1.0.0"}}
	tests := []struct {
		name     string
		args     []string
		all, mod bool
		want     Scope
		wantMods []module.Version
		wantErr  string
	}{
		{name: "the project's", mod: true, want: ScopeProject, wantMods: proj},
		{name: "the project's, even with none", mod: true, want: ScopeProject},
		{name: "all", mod: true, all: true, want: ScopeCache},
		{name: "outside a module", want: ScopeCache},
		{name: "named", mod: true, all: true, args: []string{"example.com/b@v1.2.3"}, want: ScopeModules, wantMods: []module.Version{{Path: "example.com/b", Version: "v1.2.3"}}},
		{name: "not canonical", args: []string{"example.com/b@v1.2"}, wantErr: "example.com/b@v1.2: want module@version"},
		{name: "no version", args: []string{"example.com/b"}, wantErr: "example.com/b: want module@version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			project := proj
			if tt.name == "the project's, even with none" {
				project = []module.Version{}
			}
			scope, opts, err := Select(tt.args, tt.all, tt.mod, project)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("Select = %v, want error %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if scope != tt.want || opts.All != (tt.want == ScopeCache) || !slices.Equal(opts.Mods, tt.wantMods) || opts.Shared != (tt.want == ScopeProject) {
				t.Errorf("Select = %s, %+v; want %s with %v", scope, opts, tt.want, tt.wantMods)
			}
		})
	}
}

// TestActionWords checks that every action says what it does, before and
// after.
func TestActionWords(t *testing.T) {
	for a := ReportOnly; a <= RemoveLatest; a++ {
		plan, done := a.String(), a.Done()
		if plan == "unknown action" || done == "unknown action" || plan == "" {
			t.Errorf("action %d: %q, %q", a, plan, done)
		}
		if verb, rest, _ := strings.Cut(plan, " "); a != ReportOnly && !strings.HasSuffix(done, " "+rest) {
			t.Errorf("action %d: %q then %q: not the same object", a, verb, done)
		}
	}
	if got, _ := RemoveZip.MarshalText(); string(got) != "remove .zip, .ziphash and extracted dir" {
		t.Errorf("MarshalText = %q", got)
	}
}
