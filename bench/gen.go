package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

// infoTime is the time every .info file reports; the go command only needs
// it to be there.
const infoTime = "2024-01-01T00:00:00Z"

// layout is what writeTree produced.
type layout struct {
	proxy   string // a GOPROXY file tree
	project string // the main module: go.mod, go.sum, main.go
	zipped  int64  // bytes of the zips that go mod download fetches
	largest int64
	fetched int // zips that go mod download fetches
}

// writeTree writes the graph as a GOPROXY file tree under dir/proxy
// (<escaped path>/@v/<version>.{info,mod,zip} and @v/list) and the main
// module under dir/project, with a go.sum complete enough for GOSUMDB=off.
// Zips are built in parallel; their padding is generated on the fly.
func (g *graph) writeTree(ctx context.Context, dir string) (*layout, error) {
	lay := &layout{proxy: filepath.Join(dir, "proxy"), project: filepath.Join(dir, "project")}
	sums := make([]string, len(g.nodes)) // h1: of each zip
	sel := g.selected()

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		jobs = make(chan int)
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range jobs {
				sum, err := g.writeModule(lay.proxy, i)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				sums[i] = sum
				mu.Unlock()
			}
		})
	}
feed:
	for i := range g.nodes {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if len(errs) > 0 {
		return nil, errs[0]
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := g.writeLists(lay.proxy); err != nil {
		return nil, err
	}

	for i, n := range g.nodes {
		if g.downloads(n, sel) {
			fi, err := os.Stat(g.zipFile(lay.proxy, i))
			if err != nil {
				return nil, err
			}
			lay.fetched++
			lay.zipped += fi.Size()
			lay.largest = max(lay.largest, fi.Size())
		}
	}
	return lay, g.writeProject(lay.project, sums, sel)
}

// zipFile returns where node i's zip lives in the proxy tree.
func (g *graph) zipFile(proxy string, i int) string {
	return g.proxyFile(proxy, g.nodes[i].mod, ".zip")
}

// proxyFile returns the path of mod's file with the given suffix.
func (g *graph) proxyFile(proxy string, mod module.Version, suffix string) string {
	p, _ := module.EscapePath(mod.Path)
	v, _ := module.EscapeVersion(mod.Version)
	return filepath.Join(proxy, filepath.FromSlash(p), "@v", v+suffix)
}

// writeModule writes node i's .info, .mod and .zip and returns the h1: hash
// of the zip, as go.sum records it.
func (g *graph) writeModule(proxy string, i int) (string, error) {
	n := g.nodes[i]
	gomod := g.goMod(i)
	info := fmt.Sprintf("{\"Version\":%q,\"Time\":%q}\n", n.mod.Version, infoTime)
	if err := os.MkdirAll(filepath.Dir(g.zipFile(proxy, i)), 0o777); err != nil {
		return "", err
	}
	if err := os.WriteFile(g.proxyFile(proxy, n.mod, ".info"), []byte(info), 0o666); err != nil {
		return "", err
	}
	if err := os.WriteFile(g.proxyFile(proxy, n.mod, ".mod"), gomod, 0o666); err != nil {
		return "", err
	}
	files := []modzip.File{
		memFile{name: "go.mod", data: gomod},
		memFile{name: path.Base(n.mod.Path) + ".go", data: g.goFile(i)},
	}
	if n.pad > 0 {
		files = append(files, padFile{name: "testdata/blob.dat", size: n.pad, seed: [2]uint64{g.cfg.seed, uint64(i)}})
	}
	name := g.zipFile(proxy, i)
	f, err := os.Create(name)
	if err != nil {
		return "", err
	}
	err = modzip.Create(f, n.mod, files)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("%v: zip: %w", n.mod, err)
	}
	return dirhash.HashZip(name, dirhash.Hash1)
}

// writeLists writes each module's @v/list, which the go command asks for
// only when resolving queries; a real mirror has it, so the tree does too.
func (g *graph) writeLists(proxy string) error {
	byPath := make(map[string][]string)
	for _, n := range g.nodes {
		byPath[n.mod.Path] = append(byPath[n.mod.Path], n.mod.Version)
	}
	for p, vs := range byPath {
		semver.Sort(vs)
		list := filepath.Join(filepath.Dir(g.proxyFile(proxy, module.Version{Path: p, Version: vs[0]}, "")), "list")
		if err := os.WriteFile(list, []byte(strings.Join(vs, "\n")+"\n"), 0o666); err != nil {
			return err
		}
	}
	return nil
}

// goMod returns node i's go.mod: module, go and require lines.
func (g *graph) goMod(i int) []byte {
	n := g.nodes[i]
	var b bytes.Buffer
	fmt.Fprintf(&b, "module %s\n\ngo %s\n", n.mod.Path, n.goVer)
	var reqs []module.Version
	for _, r := range n.requires {
		reqs = append(reqs, g.nodes[r].mod)
	}
	writeRequire(&b, reqs, "")
	return b.Bytes()
}

// writeRequire writes a require block, sorted as go mod tidy sorts it.
func writeRequire(b *bytes.Buffer, reqs []module.Version, comment string) {
	if len(reqs) == 0 {
		return
	}
	module.Sort(reqs)
	b.WriteString("\nrequire (\n")
	for _, r := range reqs {
		fmt.Fprintf(b, "\t%s %s%s\n", r.Path, r.Version, comment)
	}
	b.WriteString(")\n")
}

// goFile returns the one Go file of node i's package: it imports the
// packages of the modules node i imports, so that loading it makes the go
// command fetch them.
func (g *graph) goFile(i int) []byte {
	n := g.nodes[i]
	name := path.Base(n.mod.Path)
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Package %s is generated by gomodx's benchmark.\npackage %s\n", name, name)
	var imports []*node
	for _, j := range n.imports {
		imports = append(imports, g.nodes[j])
	}
	writeImports(&b, imports)
	fmt.Fprintf(&b, "\n// F depends on every package that %s imports.\nfunc F() int {\n\treturn 1", name)
	for _, m := range imports {
		fmt.Fprintf(&b, " + %s.F()", path.Base(m.mod.Path))
	}
	b.WriteString("\n}\n")
	return b.Bytes()
}

// writeImports writes an import block, one package per node.
func writeImports(b *bytes.Buffer, imports []*node) {
	if len(imports) == 0 {
		return
	}
	slices.SortFunc(imports, func(x, y *node) int { return strings.Compare(x.mod.Path, y.mod.Path) })
	b.WriteString("\nimport (\n")
	for _, m := range imports {
		fmt.Fprintf(b, "\t%s %q\n", path.Base(m.mod.Path), m.mod.Path)
	}
	b.WriteString(")\n")
}

// writeProject writes the main module: a go.mod requiring every zip module
// (pruned: go 1.21, indirect ones marked; unpruned: go 1.16), a go.sum with
// the lines the go command checks and no more (as go mod tidy leaves it),
// and a main.go importing level 1.
func (g *graph) writeProject(dir string, sums []string, sel map[string]string) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	var direct, indirect []module.Version
	var imports []*node
	for _, n := range g.nodes[:g.nzip] {
		if n.level == 1 {
			direct = append(direct, n.mod)
			imports = append(imports, n)
		} else {
			indirect = append(indirect, n.mod)
		}
	}
	goVer := "1.21"
	if g.cfg.unpruned {
		goVer = "1.16"
	}
	var mod bytes.Buffer
	fmt.Fprintf(&mod, "module %s\n\ngo %s\n", mainPath, goVer)
	writeRequire(&mod, direct, "")
	writeRequire(&mod, indirect, " // indirect")

	var lines []string
	read := g.reads()
	for i, n := range g.nodes {
		if read[i] {
			h, err := goModHash(g.goMod(i))
			if err != nil {
				return err
			}
			lines = append(lines, fmt.Sprintf("%s %s/go.mod %s", n.mod.Path, n.mod.Version, h))
		}
		if g.downloads(n, sel) {
			lines = append(lines, fmt.Sprintf("%s %s %s", n.mod.Path, n.mod.Version, sums[i]))
		}
	}
	slices.SortFunc(lines, compareSumLines)

	var main bytes.Buffer
	main.WriteString("// Command app is the main module of gomodx's benchmark.\npackage main\n")
	writeImports(&main, imports)
	main.WriteString("\nfunc main() {\n\tprintln(0")
	for _, n := range imports {
		fmt.Fprintf(&main, " + %s.F()", path.Base(n.mod.Path))
	}
	main.WriteString(")\n}\n")

	for name, data := range map[string][]byte{
		"go.mod":  mod.Bytes(),
		"go.sum":  []byte(strings.Join(lines, "\n") + "\n"),
		"main.go": main.Bytes(),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o666); err != nil {
			return err
		}
	}
	return nil
}

// goModHash returns the h1: hash of a go.mod file as go.sum records it in
// its /go.mod lines: Hash1 over a single file named "go.mod".
func goModHash(data []byte) (string, error) {
	return dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}

// compareSumLines orders go.sum lines as the go command writes them: by
// path, then by version, the zip line before the /go.mod line.
func compareSumLines(a, b string) int {
	pa, va, _ := strings.Cut(a, " ")
	pb, vb, _ := strings.Cut(b, " ")
	if c := strings.Compare(pa, pb); c != 0 {
		return c
	}
	va, _, _ = strings.Cut(va, " ")
	vb, _, _ = strings.Cut(vb, " ")
	ba, bb := strings.TrimSuffix(va, "/go.mod"), strings.TrimSuffix(vb, "/go.mod")
	if c := semver.Compare(ba, bb); c != 0 {
		return c
	}
	return strings.Compare(va, vb)
}

// memFile is a zip entry held in memory.
type memFile struct {
	name string
	data []byte
}

func (f memFile) Path() string { return f.name }
func (f memFile) Lstat() (os.FileInfo, error) {
	return fileInfo{name: path.Base(f.name), size: int64(len(f.data))}, nil
}
func (f memFile) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }

// padFile is a zip entry of deterministic pseudo-random bytes, generated
// while the zip is written: it makes a module as large as real ones, and
// as incompressible as the compressed sources and assets they ship.
type padFile struct {
	name string
	size int64
	seed [2]uint64
}

func (f padFile) Path() string { return f.name }
func (f padFile) Lstat() (os.FileInfo, error) {
	return fileInfo{name: path.Base(f.name), size: f.size}, nil
}
func (f padFile) Open() (io.ReadCloser, error) {
	var key [32]byte
	for i, s := range f.seed {
		for k := range 8 {
			key[8*i+k] = byte(s >> (8 * k))
		}
	}
	return io.NopCloser(io.LimitReader(rand.NewChaCha8(key), f.size)), nil
}

// fileInfo describes a generated file to modzip.Create.
type fileInfo struct {
	name string
	size int64
}

func (fi fileInfo) Name() string       { return fi.name }
func (fi fileInfo) Size() int64        { return fi.size }
func (fi fileInfo) Mode() fs.FileMode  { return 0o644 }
func (fi fileInfo) ModTime() time.Time { return time.Time{} }
func (fi fileInfo) IsDir() bool        { return false }
func (fi fileInfo) Sys() any           { return nil }
