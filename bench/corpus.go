package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
)

// The real-zip corpus: the module graphs of well-known large projects at
// fixed versions, fetched once from the module proxy by the go command
// itself (so checked against go.sum and the checksum database), kept in a
// module cache outside the repository, checked again by hash on every
// later run, and served to the tools by the loopback mirror.

// corpusFormat names what fetch puts in the corpus; changing it makes the
// next run fetch every project again.
const corpusFormat = "v2 (download, tidy, every .info)"

// project is one real project whose module graph the benchmark serves.
type project struct {
	name string
	// mod is the project's own module: its zip gives the main module's
	// packages (go mod tidy needs them); sum is its go.sum hash.
	mod module.Version
	sum string
	// testdata/real/<name> holds its go.mod and go.sum as released.
}

// projects are the graphs -projects can name.
var projects = []project{
	{"kubectl", module.Version{Path: "k8s.io/kubectl", Version: "v0.31.3"}, "h1:3r111pCjPsvnR98oLLxDMwAeM6OPGmPty6gSKaLTQes="},
	{"client-go", module.Version{Path: "k8s.io/client-go", Version: "v0.31.3"}, "h1:CAlZuM+PH2cm+86LOBemaJI/lQ5linJ6UFxKX/SoG+4="},
	{"grpc", module.Version{Path: "google.golang.org/grpc", Version: "v1.67.1"}, "h1:zWnc1Vrcno+lHZCOofnIMvycFcc0QRGIzm9dhnDX68E="},
	{"gin", module.Version{Path: "github.com/gin-gonic/gin", Version: "v1.10.0"}, "h1:nTuyha1TYqgedzytsKYqna+DfLos46nTv2ygFy86HFU="},
	{"gh", module.Version{Path: "github.com/cli/cli/v2", Version: "v2.63.2"}, "h1:BFuY8DnRqpBQEFjeCVh1rOnn6EwipTzOOKTb4uliG4Q="},
	{"prometheus", module.Version{Path: "github.com/prometheus/prometheus", Version: "v0.54.1"}, "h1:vKuwQNjnYN2/mDoWfHXDhAsz/68q/dQDb+YbcEqU7MQ="},
}

// findProject returns the project named name.
func findProject(name string) (project, error) {
	for _, p := range projects {
		if p.name == name {
			return p, nil
		}
	}
	var names []string
	for _, p := range projects {
		names = append(names, p.name)
	}
	return project{}, fmt.Errorf("-projects: unknown project %q (want one of %s)", name, strings.Join(names, ", "))
}

// corpus is the module cache that holds the real graphs.
type corpus struct {
	dir   string // holds modcache/ and a marker per project
	goBin string
	proxy string // GOPROXY to fetch from
	log   *log.Logger
}

// modcache is the corpus's GOMODCACHE; its cache/download is a GOPROXY tree.
func (c *corpus) modcache() string { return filepath.Join(c.dir, "modcache") }

// proxyTree is what the mirror serves.
func (c *corpus) proxyTree() string { return filepath.Join(c.modcache(), "cache", "download") }

// defaultCorpusDir is where the corpus lives unless -corpus says otherwise.
func defaultCorpusDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "gomodx-bench")
	}
	return filepath.Join(os.TempDir(), "gomodx-bench")
}

// realLayout is a project ready to be benchmarked.
type realLayout struct {
	project project
	source  string // the main module: the project's tree, go.mod and go.sum as released
	zips    int    // zips go mod download fetches
	zipped  int64  // their bytes
	mods    int    // go.mod files in the corpus for it
}

// ensure makes sure p's graph is in the corpus and intact, fetching it
// the first time, and returns where its main module is.
func (c *corpus) ensure(ctx context.Context, p project) (*realLayout, error) {
	gomod, err := os.ReadFile(filepath.Join("bench", "testdata", "real", p.name, "go.mod"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w (run the benchmark from the repository root)", p.name, err)
	}
	gosum, err := os.ReadFile(filepath.Join("bench", "testdata", "real", p.name, "go.sum"))
	if err != nil {
		return nil, err
	}
	marker := filepath.Join(c.dir, "ok-"+p.name)
	// The stamp changes with the committed files and with corpusFormat.
	stamp := fmt.Sprintf("%s %s %s %x\n", corpusFormat, p.mod, p.sum, hashBytes(gomod, gosum))
	if old, err := os.ReadFile(marker); err != nil || string(old) != stamp {
		start := time.Now()
		c.log.Printf("%s: fetching the module graph of %s from %s into %s, once (go mod download and go mod tidy, checked against go.sum and the checksum database)",
			p.name, p.mod, c.proxy, c.dir)
		if err := c.fetch(ctx, p); err != nil {
			return nil, fmt.Errorf("%s: fetching the corpus: %w", p.name, err)
		}
		if err := os.WriteFile(marker, []byte(stamp), 0o666); err != nil {
			return nil, err
		}
		c.log.Printf("%s: fetched in %v", p.name, time.Since(start).Round(time.Second))
	}
	lay, err := c.check(p, gosum)
	if err != nil {
		return nil, fmt.Errorf("%s: the corpus in %s fails its check (remove %s to fetch it again): %w", p.name, c.dir, marker, err)
	}
	src, err := c.source(p)
	if err != nil {
		return nil, err
	}
	if err := sameFile(filepath.Join(src, "go.mod"), gomod); err != nil {
		return nil, err
	}
	if err := sameFile(filepath.Join(src, "go.sum"), gosum); err != nil {
		return nil, err
	}
	lay.source = src
	return lay, nil
}

// source returns the extracted tree of p's own module in the corpus.
func (c *corpus) source(p project) (string, error) {
	escPath, err := module.EscapePath(p.mod.Path)
	if err != nil {
		return "", err
	}
	escVer, err := module.EscapeVersion(p.mod.Version)
	if err != nil {
		return "", err
	}
	return filepath.Join(c.modcache(), filepath.FromSlash(escPath)+"@"+escVer), nil
}

// fetch runs the go command against the real proxy: go mod download of the
// project's own module, then go mod download and go mod tidy in a copy of
// its tree, which fetch every file the tools will ask the mirror for.
func (c *corpus) fetch(ctx context.Context, p project) error {
	if err := os.MkdirAll(c.dir, 0o777); err != nil {
		return err
	}
	env := append(os.Environ(),
		"GOMODCACHE="+c.modcache(),
		"GOPROXY="+c.proxy,
		"GOSUMDB=sum.golang.org",
		"GOFLAGS=-modcacherw",
		"GOTOOLCHAIN=local",
		"GOWORK=off",
		"GONOSUMDB=", "GONOPROXY=", "GOPRIVATE=", "GOINSECURE=",
	)
	goCmd := func(dir string, args ...string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, c.goBin, args...)
		cmd.Dir, cmd.Env = dir, env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return out, nil
	}
	tmp, err := os.MkdirTemp(c.dir, "fetch-")
	if err != nil {
		return err
	}
	defer removeAll(tmp)
	out, err := goCmd(tmp, "mod", "download", "-json", p.mod.String())
	if err != nil {
		return err
	}
	var dl struct{ Dir, Sum, Error string }
	if err := json.Unmarshal(out, &dl); err != nil {
		return err
	}
	if dl.Error != "" || dl.Sum != p.sum {
		return fmt.Errorf("%s: got sum %q (error %q), want %s", p.mod, dl.Sum, dl.Error, p.sum)
	}
	work := filepath.Join(tmp, "work")
	if err := copyTree(dl.Dir, work); err != nil {
		return err
	}
	for _, args := range [][]string{{"mod", "download"}, {"mod", "tidy"}} {
		if _, err := goCmd(work, args...); err != nil {
			return err
		}
	}
	// A real mirror has the .info of every version whose go.mod it has;
	// the go command fetched only those it read. go list -m fetches the
	// rest, so that a tool that asks for one finds it.
	var missing []string
	err = filepath.WalkDir(c.proxyTree(), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".mod") {
			return err
		}
		if _, err := os.Stat(strings.TrimSuffix(path, ".mod") + ".info"); err == nil {
			return nil
		}
		rel, _ := filepath.Rel(c.proxyTree(), path)
		escPath, file, ok := strings.Cut(filepath.ToSlash(rel), "/@v/")
		modPath, err1 := module.UnescapePath(escPath)
		version, err2 := module.UnescapeVersion(strings.TrimSuffix(file, ".mod"))
		if ok && err1 == nil && err2 == nil {
			missing = append(missing, modPath+"@"+version)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for len(missing) > 0 {
		n := min(len(missing), 100)
		if _, err := goCmd(tmp, append([]string{"list", "-m", "-json"}, missing[:n]...)...); err != nil {
			return err
		}
		missing = missing[n:]
	}
	return nil
}

// check hashes every zip and go.mod that p's go.sum names and the corpus
// holds against go.sum, and counts what go mod download fetches.
func (c *corpus) check(p project, gosum []byte) (*realLayout, error) {
	lay := &realLayout{project: p}
	sc := bufio.NewScanner(bytes.NewReader(gosum))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		ver, isMod := strings.CutSuffix(f[1], "/go.mod")
		mod := module.Version{Path: f[0], Version: ver}
		escPath, err1 := module.EscapePath(mod.Path)
		escVer, err2 := module.EscapeVersion(mod.Version)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("go.sum line %q: bad module version", sc.Text())
		}
		base := filepath.Join(c.proxyTree(), filepath.FromSlash(escPath), "@v", escVer)
		var got string
		var err error
		if isMod {
			data, rerr := os.ReadFile(base + ".mod")
			if rerr != nil {
				continue // a go.mod of the graph that no command reads
			}
			lay.mods++
			got, err = dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(data)), nil
			})
		} else {
			fi, serr := os.Stat(base + ".zip")
			if serr != nil {
				continue // a zip that neither command fetches
			}
			lay.zips++
			lay.zipped += fi.Size()
			got, err = dirhash.HashZip(base+".zip", dirhash.DefaultHash)
		}
		if err != nil {
			return nil, err
		}
		if got != f[2] {
			return nil, fmt.Errorf("%s: hash %s, go.sum has %s", f[1], got, f[2])
		}
	}
	return lay, sc.Err()
}

// hashBytes is a short fingerprint of the committed go.mod and go.sum.
func hashBytes(parts ...[]byte) []byte {
	h, _ := dirhash.Hash1([]string{"a"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(bytes.Join(parts, []byte{0}))), nil
	})
	return []byte(h)
}

// sameFile checks that file holds want.
func sameFile(file string, want []byte) error {
	got, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%s differs from the copy in bench/testdata/real", file)
	}
	return nil
}
