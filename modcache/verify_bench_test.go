package modcache

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

var benchModules = flag.Int("verify.modules", 300, "modules in BenchmarkVerify's cache")

// BenchmarkVerify verifies a whole cache of synthetic modules, each
// complete and extracted: six in ten small (5-30 files), three medium
// (50-200), one large (300-1500), of 1-13 KB of Go-like text per file.
// With 300 modules that is about 110 MB of zips, each also extracted.
//
//	go test ./modcache -run '^$' -bench Verify -benchtime 3x [-verify.modules 300]
func BenchmarkVerify(b *testing.B) {
	c, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { removeDir(c.Root()) })
	size := fillSynthetic(b, c, *benchModules)
	b.SetBytes(size) // MB/s is of zip bytes
	for b.Loop() {
		faults, err := c.Verify(b.Context(), VerifyOptions{All: true})
		if err != nil || len(faults) != 0 {
			b.Fatalf("Verify = %v, %v", faults, err)
		}
	}
	b.ReportMetric(float64(*benchModules), "modules")
}

// fillSynthetic puts n generated modules into c, extracts them as go does,
// and returns the total size of their zips.
func fillSynthetic(b *testing.B, c *Cache, n int) int64 {
	r := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("func return if err != nil type struct interface package import var const for range switch case go defer chan map string int byte error ctx")
	text := func(size int) []byte {
		var buf bytes.Buffer
		buf.WriteString("package p\n\n")
		for buf.Len() < size {
			for range 8 {
				buf.WriteString(words[r.IntN(len(words))] + " ")
			}
			fmt.Fprintf(&buf, "%d\n", r.IntN(100000))
		}
		return buf.Bytes()
	}
	var total int64
	for i := range n {
		mod := module.Version{Path: fmt.Sprintf("example.com/org%d/mod%d", i%17, i), Version: fmt.Sprintf("v1.%d.0", i%5)}
		files := 5 + r.IntN(25)
		switch x := r.IntN(10); {
		case x == 9:
			files = 300 + r.IntN(1200)
		case x >= 6:
			files = 50 + r.IntN(150)
		}
		gomod := "module " + mod.Path + "\n\ngo 1.21\n"
		list := []modzip.File{memFile{"go.mod", []byte(gomod)}}
		for f := range files {
			list = append(list, memFile{fmt.Sprintf("pkg%d/file%d.go", f%7, f), text(1000 + r.IntN(12000))})
		}
		var zb bytes.Buffer
		if err := modzip.Create(&zb, mod, list); err != nil {
			b.Fatal(err)
		}
		total += int64(zb.Len())
		one := func(data []byte) Download {
			return func(store func(io.Reader) error) error { return store(bytes.NewReader(data)) }
		}
		ctx := b.Context()
		if err := c.PutInfo(ctx, mod, one(fmt.Appendf(nil, `{"Version":%q}`, mod.Version))); err != nil {
			b.Fatal(err)
		}
		if err := c.PutMod(ctx, mod, "", one([]byte(gomod))); err != nil {
			b.Fatal(err)
		}
		if err := c.PutZip(ctx, mod, "", one(zb.Bytes())); err != nil {
			b.Fatal(err)
		}
		e, err := c.entry(mod)
		if err != nil {
			b.Fatal(err)
		}
		if err := modzip.Unzip(e.dir, mod, e.zip); err != nil {
			b.Fatal(err)
		}
	}
	return total
}
