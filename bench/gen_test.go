package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
)

// TestGraph checks the generated tree against what the go command will
// check: every go.sum line matches the file the mirror serves, every zip
// module is required by the main module, and the go command reaches every
// go.mod-only node through requirements it loads.
func TestGraph(t *testing.T) {
	for _, unpruned := range []bool{false, true} {
		g, err := newGraph(graphConfig{seed: 1, modules: 60, scale: 0.0005, unpruned: unpruned})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		lay, err := g.writeTree(t.Context(), dir)
		if err != nil {
			t.Fatal(err)
		}
		if d := g.depth(); d < 3 || d > maxDepth {
			t.Errorf("depth %d, want 3..%d", d, maxDepth)
		}

		data, err := os.ReadFile(filepath.Join(lay.project, "go.sum"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		sel := g.selected()
		want := 0
		for i, n := range g.nodes {
			if g.downloads(n, sel) {
				want++
			}
			if g.reads()[i] {
				want++
			}
		}
		if len(lines) != want {
			t.Errorf("go.sum has %d lines, want %d", len(lines), want)
		}
		for _, line := range lines {
			f := strings.Fields(line)
			if len(f) != 3 {
				t.Fatalf("bad go.sum line %q", line)
			}
			vers, isMod := strings.CutSuffix(f[1], "/go.mod")
			mod := module.Version{Path: f[0], Version: vers}
			var got string
			if isMod {
				b, err := os.ReadFile(g.proxyFile(lay.proxy, mod, ".mod"))
				if err != nil {
					t.Fatal(err)
				}
				got, err = goModHash(b)
				if err != nil {
					t.Fatal(err)
				}
			} else {
				got, err = dirhash.HashZip(g.proxyFile(lay.proxy, mod, ".zip"), dirhash.Hash1)
				if err != nil {
					t.Fatal(err)
				}
			}
			if got != f[2] {
				t.Errorf("%s: go.sum says %s, files hash to %s", line, f[2], got)
			}
		}

		data, err = os.ReadFile(filepath.Join(lay.project, "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		mf, err := modfile.Parse("go.mod", data, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(mf.Require) != g.nzip {
			t.Errorf("main go.mod requires %d modules, want %d", len(mf.Require), g.nzip)
		}

		// Walk as the go command does (modload.readModGraph): the main
		// module's requirements, and below those loaded unpruned (an old go
		// line, or an unpruned main module) all requirements transitively.
		index := make(map[module.Version]int)
		for i, n := range g.nodes {
			index[n.mod] = i
		}
		type key struct {
			i        int
			unpruned bool
		}
		loaded := make(map[key]bool)
		read := make(map[int]bool)
		var enqueue func(i int, unpruned bool)
		enqueue = func(i int, unpruned bool) {
			if loaded[key{i, unpruned}] {
				return
			}
			loaded[key{i, unpruned}] = true
			read[i] = true
			n := g.nodes[i]
			for _, r := range n.requires {
				if unpruned || !n.pruned() {
					enqueue(r, true)
				}
			}
		}
		for _, r := range mf.Require {
			i, ok := index[r.Mod]
			if !ok {
				t.Fatalf("main go.mod requires %v, not in the graph", r.Mod)
			}
			enqueue(i, unpruned)
		}
		reads := g.reads()
		hidden := 0
		for i, n := range g.nodes {
			if read[i] != reads[i] {
				t.Errorf("unpruned=%v: %v: go reads its go.mod: %v, graph says %v", unpruned, n.mod, read[i], reads[i])
			}
			if n.hidden {
				hidden++
				if read[i] && !unpruned {
					t.Errorf("%v is meant to be pruned away, but go reads it", n.mod)
				}
			}
		}
		if !unpruned && hidden == 0 || unpruned && len(read) != len(g.nodes) {
			t.Errorf("unpruned=%v: %d hidden nodes, go reads %d of %d go.mod files", unpruned, hidden, len(read), len(g.nodes))
		}
	}
}
