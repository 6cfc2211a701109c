package modcache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
)

func TestOpen(t *testing.T) {
	if _, err := Open("pkg/mod"); err == nil || err.Error() != `GOMODCACHE entry is relative; must be absolute path: "pkg/mod"` {
		t.Errorf("Open(relative) error = %v", err)
	}
	if _, err := Open(""); err == nil {
		t.Error("Open(\"\") succeeded")
	}
	root := t.TempDir()
	c, err := Open(root + string(filepath.Separator))
	if err != nil {
		t.Fatal(err)
	}
	if c.Root() != root {
		t.Errorf("Root() = %q, want %q", c.Root(), root)
	}
	if _, err := os.Stat(filepath.Join(root, "cache")); !os.IsNotExist(err) {
		t.Errorf("Open created something: %v", err)
	}
}

func TestPath(t *testing.T) {
	c, err := Open(filepath.FromSlash("/gomodcache"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		mod     module.Version
		ext     string
		want    string // slash-separated, relative to the root; "" means an error
		wantErr string
	}{
		{name: "plain", mod: module.Version{Path: "example.com/a", Version: "v1.0.0"}, ext: "zip",
			want: "cache/download/example.com/a/@v/v1.0.0.zip"},
		{name: "upper case escaped", mod: module.Version{Path: "github.com/Azure/go-Foo", Version: "v1.0.0-RC1"}, ext: "ziphash",
			want: "cache/download/github.com/!azure/go-!foo/@v/v1.0.0-!r!c1.ziphash"},
		{name: "lock", mod: module.Version{Path: "example.com/a", Version: "v2.0.0+incompatible"}, ext: "lock",
			want: "cache/download/example.com/a/@v/v2.0.0+incompatible.lock"},
		{name: "non-canonical version", mod: module.Version{Path: "example.com/a", Version: "v1.0"}, ext: "mod",
			wantErr: `example.com/a@v1.0: non-canonical module version "v1.0"`},
		{name: "unknown extension", mod: module.Version{Path: "example.com/a", Version: "v1.0.0"}, ext: "zip.tmp",
			wantErr: "unknown module cache file extension"},
		{name: "bad path", mod: module.Version{Path: "example.com/a b", Version: "v1.0.0"}, ext: "mod",
			wantErr: "invalid char"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Path(tt.mod, tt.ext)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Path = %q, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(c.Root(), filepath.FromSlash(tt.want)); got != want {
				t.Errorf("Path = %q, want %q", got, want)
			}
		})
	}
}

func TestHas(t *testing.T) {
	mod := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	const gomod = "module example.com/a\n"
	good := makeZip(t, mod, map[string]string{"go.mod": gomod})
	goodSum := zipSum(t, good)
	otherSum := "h1:" + strings.Repeat("A", 43) + "="

	tests := []struct {
		name  string
		files map[string]string // extension → content
		kind  Kind
		want  string
		has   bool
	}{
		{name: "info missing", kind: Info, has: false},
		{name: "info good", files: map[string]string{"info": `{"Version":"v1.0.0","Time":"2024-01-23T18:54:04Z"}`}, kind: Info, has: true},
		{name: "info not json", files: map[string]string{"info": `{"Version":`}, kind: Info, has: false},
		{name: "info wrong version", files: map[string]string{"info": `{"Version":"v1.0.1"}`}, kind: Info, has: false},

		{name: "mod missing", kind: Mod, has: false},
		{name: "mod empty", files: map[string]string{"mod": ""}, kind: Mod, has: false},
		{name: "mod present, no hash wanted", files: map[string]string{"mod": gomod}, kind: Mod, has: true},
		{name: "mod hash matches", files: map[string]string{"mod": gomod}, kind: Mod, want: modSum(t, gomod), has: true},
		{name: "mod hash differs", files: map[string]string{"mod": gomod}, kind: Mod, want: otherSum, has: false},
		{name: "mod from old vgo", files: map[string]string{"mod": "//vgo 0.0.4\n\nmodule example.com/a\n"}, kind: Mod, has: false},

		{name: "zip and ziphash", files: map[string]string{"zip": string(good), "ziphash": goodSum}, kind: Zip, want: goodSum, has: true},
		{name: "zip and ziphash, no hash wanted", files: map[string]string{"zip": string(good), "ziphash": goodSum}, kind: Zip, has: true},
		{name: "ziphash differs from go.sum", files: map[string]string{"zip": string(good), "ziphash": otherSum}, kind: Zip, want: goodSum, has: false},
		{name: "ziphash with NUL", files: map[string]string{"zip": string(good), "ziphash": goodSum[:40] + "\x00\x00\x00\x00\x00\x00\x00"}, kind: Zip, has: false},
		{name: "ziphash wrong length", files: map[string]string{"zip": string(good), "ziphash": goodSum + "\n"}, kind: Zip, has: false},
		{name: "ziphash without h1 prefix", files: map[string]string{"zip": string(good), "ziphash": "h2:" + goodSum[3:]}, kind: Zip, has: false},
		{name: "ziphash missing", files: map[string]string{"zip": string(good)}, kind: Zip, has: false},
		{name: "zip missing", files: map[string]string{"ziphash": goodSum}, kind: Zip, has: false},
		// Like the go command, Has trusts the .ziphash and does not re-hash.
		{name: "zip corrupt but ziphash valid", files: map[string]string{"zip": "forged", "ziphash": goodSum}, kind: Zip, want: goodSum, has: true},

		{name: "unknown kind", files: map[string]string{"zip": string(good), "ziphash": goodSum}, kind: "ziphash", has: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := openCache(t)
			for ext, content := range tt.files {
				file := mustPath(t, c, mod, ext)
				if err := os.MkdirAll(filepath.Dir(file), 0o777); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, []byte(content), 0o666); err != nil {
					t.Fatal(err)
				}
			}
			if got := c.Has(mod, tt.kind, tt.want); got != tt.has {
				t.Errorf("Has(%s, %q) = %v, want %v", tt.kind, tt.want, got, tt.has)
			}
		})
	}
}
