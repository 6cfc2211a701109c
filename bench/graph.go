package main

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// The shape of the default graph follows the project that the benchmark is
// meant to reproduce: about 300 module versions, 90 of which go mod download
// fetches (95 MB of zips in all), while it reads the go.mod files of about
// 200 of them to load the graph. With two round trips per zip and one per
// go.mod file, that is what makes it take ~35 s at 150 ms on two cores.
const (
	mainPath = "example.com/app"

	// zipShare is the part of the graph's module versions that the main
	// module requires and so downloads: they provide the imported packages.
	zipShare = 0.3
	// oldShare is the part of the go.mod-only nodes that are older versions
	// of downloaded modules, as real graphs hold many versions of x/sys.
	oldShare = 0.1
	// hiddenShare is the part of the go.mod-only nodes that only pruned
	// modules require, so that a pruned main module does not read them. It
	// sets how many go.mod files go reads (about 200 of 300 by default).
	hiddenShare = 0.5
	// rootLevels is how deep the package imports go: main imports level 1,
	// which imports level 2, which imports level 3. The go command discovers
	// each level only after it has the zips of the level above.
	rootLevels = 3
	// maxDepth bounds the module graph below the main module.
	maxDepth = 5
	// fullSize is the total size of the downloaded zips at -scale 1.
	fullSize = 95e6
	// sizeSigma spreads zip sizes log-normally, from a few KB to tens of MB.
	sizeSigma = 1.7
	// minPad keeps even the smallest module a few KB.
	minPad = 2 << 10
)

// graphConfig says which graph to generate. The same config always yields
// the same graph, and the same bytes in every file.
type graphConfig struct {
	seed     uint64
	modules  int     // module versions in the graph, main module excluded
	scale    float64 // multiplies fullSize
	unpruned bool    // main module and all deps below go 1.17: no graph pruning
}

// node is one module version of the graph.
type node struct {
	mod   module.Version
	goVer string // the go directive of its go.mod
	// zip is set for the modules the main module requires: each is a real
	// package, imported by main.go or by another such package.
	zip bool
	// level is the depth of the node below the main module: the package level
	// for zip modules, the depth of the first go.mod that names it otherwise.
	level   int
	imports []int // zip modules whose package this one imports
	// requires are the nodes its go.mod lists (imports included).
	requires []int
	pad      int64 // bytes of padding data in its zip
	// hidden is set for a go.mod-only node that only pruned modules
	// require: the go command reads it only for an unpruned main module.
	hidden bool
}

// pruned reports whether the go command may skip loading the requirements
// of this module's own requirements (go 1.17 and later).
func (n *node) pruned() bool { return semver.Compare("v"+n.goVer, "v1.17") >= 0 }

// graph is a synthetic module graph: a main module that imports packages of
// zip modules, which in turn require go.mod-only nodes. Pruned zip modules
// (go >= 1.17) hide their requirements from the go command; the unpruned
// ones (older go lines, still common in real graphs) make it read the go.mod
// of everything below them. Half the go.mod-only nodes hang below those;
// the other half only below pruned ones (see hang).
type graph struct {
	cfg   graphConfig
	nodes []*node // zip modules first
	nzip  int
}

// newGraph generates the graph for cfg.
func newGraph(cfg graphConfig) (*graph, error) {
	if cfg.modules < 10 {
		return nil, fmt.Errorf("-modules %d: need at least 10", cfg.modules)
	}
	if cfg.scale <= 0 {
		return nil, fmt.Errorf("-scale %g: must be positive", cfg.scale)
	}
	rng := rand.New(rand.NewPCG(cfg.seed, 0x676f6d6f64))
	g := &graph{cfg: cfg, nzip: max(rootLevels, int(math.Round(float64(cfg.modules)*zipShare)))}
	nother := cfg.modules - g.nzip
	nold := min(int(float64(nother)*oldShare), g.nzip)

	// Each go.mod-only module path gets one to three versions.
	var versions []int
	for left := nother - nold; left > 0; {
		c := min(left, 1+pick(rng, []float64{6, 2.5, 1.5}))
		versions = append(versions, c)
		left -= c
	}
	numbers := rng.Perm(g.nzip + len(versions))
	pathOf := func(i int) string { return modulePath(numbers[i] + 1) }

	g.addZipModules(rng, pathOf)
	for i := range nold {
		// Older versions of downloaded modules, below v1.0.0 so that the
		// main module's requirement stays the selected version.
		g.add(&node{mod: module.Version{Path: g.nodes[i*g.nzip/nold].mod.Path, Version: "v0.9.0"}})
	}
	for j, c := range versions {
		for v := range c {
			g.add(&node{mod: module.Version{Path: pathOf(g.nzip + j), Version: fmt.Sprintf("v1.%d.0", v)}})
		}
	}
	for _, n := range g.nodes[g.nzip:] {
		// Whatever they declare, the go command loads these unpruned when
		// it loads them at all; most declare an old go version.
		n.goVer = goVersion(rng, cfg.unpruned || rng.IntN(4) > 0)
	}
	if err := g.hang(rng); err != nil {
		return nil, err
	}
	g.sizeZips(rng)
	return g, nil
}

// add appends n to the graph.
func (g *graph) add(n *node) { g.nodes = append(g.nodes, n) }

// addZipModules creates the modules that provide packages, in rootLevels
// levels, and the package imports between consecutive levels. Every package
// is imported by at least one package of the level above, so go mod tidy
// keeps every one of them.
func (g *graph) addZipModules(rng *rand.Rand, pathOf func(int) string) {
	var byLevel [rootLevels + 1][]int
	for i := range g.nzip {
		level := 1 + i*rootLevels/g.nzip
		n := &node{mod: module.Version{Path: pathOf(i), Version: "v1.0.0"}, zip: true, level: level}
		byLevel[level] = append(byLevel[level], i)
		g.add(n)
	}
	// A third of each level (at least one) declares a go version older than
	// 1.17: the go command must load the whole graph below those. As in real
	// graphs, such old modules import only old modules, so that what hangs
	// below the pruned ones stays pruned.
	for level := 1; level <= rootLevels; level++ {
		ids := byLevel[level]
		nold := max(1, len(ids)/3)
		if nold == len(ids) && nold > 1 {
			nold--
		}
		old := make(map[int]bool)
		for _, k := range rng.Perm(len(ids))[:nold] {
			old[ids[k]] = true
		}
		for _, i := range ids {
			g.nodes[i].goVer = goVersion(rng, g.cfg.unpruned || old[i])
		}
	}
	for level := 1; level < rootLevels; level++ {
		upper, lower := byLevel[level], byLevel[level+1]
		var newer []int
		for _, i := range upper {
			if g.nodes[i].pruned() {
				newer = append(newer, i)
			}
		}
		for _, j := range lower {
			from := upper
			if g.nodes[j].pruned() && len(newer) > 0 {
				from = newer
			}
			g.link(from[rng.IntN(len(from))], j)
		}
		for _, i := range upper {
			for range rng.IntN(3) {
				if j := lower[rng.IntN(len(lower))]; g.nodes[i].pruned() || !g.nodes[j].pruned() {
					g.link(i, j)
				}
			}
		}
	}
	// go 1.17+ modules list every module that provides a package they
	// build, as go mod tidy leaves them.
	for i := range g.nzip {
		if n := g.nodes[i]; n.pruned() {
			for _, j := range g.importClosure(i) {
				if !slices.Contains(n.requires, j) {
					n.requires = append(n.requires, j)
				}
			}
		}
	}
}

// link makes zip module i import the package of zip module j.
func (g *graph) link(i, j int) {
	if slices.Contains(g.nodes[i].imports, j) {
		return
	}
	g.nodes[i].imports = append(g.nodes[i].imports, j)
	g.nodes[i].requires = append(g.nodes[i].requires, j)
}

// importClosure returns the zip modules that i imports, directly or not.
func (g *graph) importClosure(i int) []int {
	var out []int
	seen := map[int]bool{i: true}
	stack := slices.Clone(g.nodes[i].imports)
	for len(stack) > 0 {
		j := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[j] {
			continue
		}
		seen[j] = true
		out = append(out, j)
		stack = append(stack, g.nodes[j].imports...)
	}
	return out
}

// hang places every go.mod-only node at a depth from 2 to maxDepth under
// a parent one level up, and adds extra edges from shallower nodes so that
// it is a graph rather than a tree.
//
// Most nodes hang below a node that the go command loads unpruned (an old
// zip module or another such go.mod-only node), so it reads their go.mod in
// both modes. The others (hiddenShare) are required only by pruned modules
// (their test dependencies, say) or by each other: they are in the graph,
// but only an unpruned main module makes the go command read them. A
// fetcher that follows pruning as the go command does skips them too.
func (g *graph) hang(rng *rand.Rand) error {
	others := g.nodes[g.nzip:]
	depths := make([]int, len(others))
	for k := range others {
		depths[k] = 2 + pick(rng, []float64{3, 3, 2.5, 1.5})
		others[k].hidden = rng.Float64() < hiddenShare
	}
	order := rng.Perm(len(others))
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(depths[a], depths[b]) })
	// read[d] and hidden[d] are the nodes at depth d that can carry a node
	// of each kind below them; all[d] is every node at depth d.
	var read, hidden, all [maxDepth + 1][]int
	for i, n := range g.nodes[:g.nzip] {
		all[n.level] = append(all[n.level], i)
		if n.pruned() {
			hidden[n.level] = append(hidden[n.level], i)
		} else {
			read[n.level] = append(read[n.level], i)
		}
	}
	for _, k := range order {
		i := g.nzip + k
		n := g.nodes[i]
		carriers := &read
		if n.hidden {
			carriers = &hidden
		}
		d := depths[k]
		for d > 2 && len(carriers[d-1]) == 0 {
			d--
		}
		parent := g.pickParent(rng, carriers[d-1], i)
		if parent < 0 && n.hidden {
			// Nothing can hide it (a tiny graph): let the go command read it.
			n.hidden, carriers, d = false, &read, depths[k]
			for d > 2 && len(carriers[d-1]) == 0 {
				d--
			}
			parent = g.pickParent(rng, carriers[d-1], i)
		}
		if parent < 0 {
			return fmt.Errorf("no parent for %v at depth %d: raise -modules", n.mod, d)
		}
		g.nodes[parent].requires = append(g.nodes[parent].requires, i)
		extra := all
		if n.hidden {
			extra = hidden
		}
		for range rng.IntN(3) {
			up := 1 + rng.IntN(d-1)
			if len(extra[up]) > 0 {
				if c := extra[up][rng.IntN(len(extra[up]))]; g.canRequire(c, i) {
					g.nodes[c].requires = append(g.nodes[c].requires, i)
				}
			}
		}
		n.level = d
		carriers[d] = append(carriers[d], i)
		all[d] = append(all[d], i)
	}
	return nil
}

// pickParent returns a node of cands whose go.mod may list node i, or -1.
func (g *graph) pickParent(rng *rand.Rand, cands []int, i int) int {
	for range 20 {
		if len(cands) == 0 {
			break
		}
		if c := cands[rng.IntN(len(cands))]; g.canRequire(c, i) {
			return c
		}
	}
	for _, c := range cands {
		if g.canRequire(c, i) {
			return c
		}
	}
	return -1
}

// reads reports which nodes' go.mod files the go command reads when it
// loads the graph: every one for an unpruned main module; for a pruned one,
// the main module's requirements, and everything below those that declare
// a go version older than 1.17 (modload.readModGraph).
func (g *graph) reads() []bool {
	read := make([]bool, len(g.nodes))
	below := make([]bool, len(g.nodes)) // loaded with its requirements
	var walk func(i int)
	walk = func(i int) {
		read[i] = true
		if below[i] {
			return
		}
		below[i] = true
		for _, r := range g.nodes[i].requires {
			walk(r)
		}
	}
	for i, n := range g.nodes[:g.nzip] {
		if g.cfg.unpruned || !n.pruned() {
			walk(i)
		}
		read[i] = true
	}
	return read
}

// canRequire reports whether node i's go.mod may list node j: a go.mod
// names each module path at most once, and never its own.
func (g *graph) canRequire(i, j int) bool {
	p := g.nodes[j].mod.Path
	if g.nodes[i].mod.Path == p {
		return false
	}
	for _, r := range g.nodes[i].requires {
		if g.nodes[r].mod.Path == p {
			return false
		}
	}
	return true
}

// sizeZips draws log-normal padding sizes for the zip modules and scales
// them to the configured total.
func (g *graph) sizeZips(rng *rand.Rand) {
	w := make([]float64, g.nzip)
	var sum float64
	for i := range w {
		w[i] = math.Exp(rng.NormFloat64() * sizeSigma)
		sum += w[i]
	}
	total := fullSize * g.cfg.scale
	for i := range w {
		g.nodes[i].pad = max(minPad, int64(total*w[i]/sum))
	}
}

// selected returns, for each module path, the highest version in the graph:
// what minimal version selection picks when it reads every go.mod.
func (g *graph) selected() map[string]string {
	sel := make(map[string]string)
	for _, n := range g.nodes {
		if v, ok := sel[n.mod.Path]; !ok || semver.Compare(n.mod.Version, v) > 0 {
			sel[n.mod.Path] = n.mod.Version
		}
	}
	return sel
}

// downloads reports whether go mod download fetches the zip of node n: in a
// pruned graph only the modules that the main module requires, in an
// unpruned one every selected version (its argument is "all").
func (g *graph) downloads(n *node, sel map[string]string) bool {
	if g.cfg.unpruned {
		return sel[n.mod.Path] == n.mod.Version
	}
	return n.zip
}

// depth returns how deep the graph goes below the main module.
func (g *graph) depth() int {
	d := 0
	for _, n := range g.nodes {
		d = max(d, n.level)
	}
	return d
}

// modulePath returns the path of the k'th module. A few live on other hosts
// and some have upper-case elements, so that escaping is exercised as with
// github.com/BurntSushi or github.com/Azure.
func modulePath(k int) string {
	switch {
	case k%5 == 0:
		return fmt.Sprintf("example.org/Acme/m%03d", k)
	case k%7 == 0:
		return fmt.Sprintf("git.example.net/lib/m%03d", k)
	default:
		return fmt.Sprintf("example.com/m%03d", k)
	}
}

// goVersion draws the go directive of a module: 1.12–1.16 for an old one,
// whose requirements the go command loads in full, 1.17–1.21 otherwise.
func goVersion(rng *rand.Rand, old bool) string {
	if old {
		return fmt.Sprintf("1.%d", 12+rng.IntN(5))
	}
	return fmt.Sprintf("1.%d", 17+rng.IntN(5))
}

// pick returns an index drawn with the given weights.
func pick(rng *rand.Rand, weights []float64) int {
	var sum float64
	for _, w := range weights {
		sum += w
	}
	x := rng.Float64() * sum
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}
