package prefetch

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/gomodx/gomodx/modcache"
)

// explicitIndirect is the go version from which a go.mod lists every module
// providing a package its packages import, so its module graph can be pruned.
const explicitIndirect = "1.17"

// Pruning is how much of a module's dependency graph the go command reads,
// as in cmd/go/internal/modload.
type Pruning int

const (
	Pruned    Pruning = iota // go >= 1.17: a dependency's own requirements are not followed
	Unpruned                 // go < 1.17: the whole transitive graph is read
	Workspace                // go.work: every workspace module's requirements are followed
)

func pruningFor(goVersion string) Pruning {
	if goVersion == "" || goLess(goVersion, explicitIndirect) {
		return Unpruned
	}
	return Pruned
}

// Project is what the plan needs from the user's main module or workspace:
// the roots of the module graph, how to walk it, and the checksums that
// decide which bytes may enter the cache.
type Project struct {
	Dir       string          // directory of go.mod, or of go.work in workspace mode
	GoVersion string          // the main module's go directive
	Mains     map[string]bool // main module paths: never fetched
	// MainDirs maps each main module's path to its directory.
	MainDirs map[string]string
	// Ignore maps each main module's path to its go.mod's ignore
	// directives, as a test on a slash-separated directory relative to
	// the module's root.
	Ignore map[string]func(dir string) bool
	// Tools are the packages of the main modules' tool directives.
	Tools   []string
	Roots   []module.Version
	Pruning Pruning
	// Replace maps a module version to its replacement. A key with an empty
	// Version replaces every version of that path. A replacement whose
	// Version is empty is a directory, relative to Dir.
	Replace map[module.Version]module.Version
	Exclude map[module.Version]bool
	Sums    Sums
}

// LoadModule reads the main module at gomod (the file go env GOMOD names,
// or the -modfile override) and its go.sum.
func LoadModule(gomod string) (*Project, error) {
	f, err := parseModFile(gomod)
	if err != nil {
		return nil, err
	}
	p := &Project{
		Dir:      filepath.Dir(gomod),
		Mains:    map[string]bool{},
		MainDirs: map[string]string{},
		Ignore:   map[string]func(string) bool{},
		Pruning:  Unpruned,
		Replace:  map[module.Version]module.Version{},
		Exclude:  map[module.Version]bool{},
		Sums:     Sums{},
	}
	if f.Go != nil {
		p.GoVersion = f.Go.Version
		p.Pruning = pruningFor(f.Go.Version)
	}
	p.addModule(f, p.Dir)
	// go.sum sits beside go.mod, or beside the -modfile with its .mod
	// suffix replaced, as cmd/go/internal/modload does.
	sum := strings.TrimSuffix(gomod, ".mod") + ".sum"
	if err := p.Sums.ReadFile(sum); err != nil {
		return nil, err
	}
	return p, nil
}

// LoadWorkspace reads the go.work file at gowork, every module it uses, and
// their go.sum files together with go.work.sum.
func LoadWorkspace(gowork string) (*Project, error) {
	data, err := os.ReadFile(gowork)
	if err != nil {
		return nil, err
	}
	wf, err := modfile.ParseWork(gowork, data, nil)
	if err != nil {
		return nil, err
	}
	p := &Project{
		Dir:      filepath.Dir(gowork),
		Mains:    map[string]bool{},
		MainDirs: map[string]string{},
		Ignore:   map[string]func(string) bool{},
		Pruning:  Workspace,
		Replace:  map[module.Version]module.Version{},
		Exclude:  map[module.Version]bool{},
		Sums:     Sums{},
	}
	for _, use := range wf.Use {
		dir := filepath.Join(p.Dir, use.Path)
		f, err := parseModFile(filepath.Join(dir, "go.mod"))
		if err != nil {
			return nil, err
		}
		p.addModule(f, dir)
		if err := p.Sums.ReadFile(filepath.Join(dir, "go.sum")); err != nil {
			return nil, err
		}
	}
	// go.work's own replacements override those of the modules it uses.
	for _, r := range wf.Replace {
		p.Replace[r.Old] = resolveDir(r.New, p.Dir)
	}
	if err := p.Sums.ReadFile(gowork + ".sum"); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Project) addModule(f *modfile.File, dir string) {
	if f.Module != nil {
		path := f.Module.Mod.Path
		p.Mains[path] = true
		p.MainDirs[path] = dir
		var patterns []string
		for _, ig := range f.Ignore {
			patterns = append(patterns, ig.Path)
		}
		p.Ignore[path] = ignoreFunc(patterns)
	}
	for _, t := range f.Tool {
		p.Tools = append(p.Tools, t.Path)
	}
	for _, r := range f.Require {
		p.Roots = append(p.Roots, r.Mod)
	}
	for _, r := range f.Replace {
		p.Replace[r.Old] = resolveDir(r.New, dir)
	}
	for _, x := range f.Exclude {
		p.Exclude[x.Mod] = true
	}
}

// resolveDir makes a directory replacement absolute, so that it stays right
// when it came from a module in a workspace.
func resolveDir(m module.Version, dir string) module.Version {
	if m.Version == "" && !filepath.IsAbs(m.Path) {
		m.Path = filepath.Join(dir, m.Path)
	}
	return m
}

// Versions lists the module versions the project uses: those its go.sum
// files name, and its requirements.
func (p *Project) Versions() []module.Version {
	seen := map[module.Version]bool{}
	mods := []module.Version{}
	add := func(m module.Version) {
		if !seen[m] && m.Version != "" {
			seen[m] = true
			mods = append(mods, m)
		}
	}
	for m := range p.Sums {
		add(module.Version{Path: m.Path, Version: strings.TrimSuffix(m.Version, "/go.mod")})
	}
	for _, m := range p.Roots {
		add(m)
	}
	return mods
}

// resolve returns what the go command actually fetches for m: its
// replacement, if any (exact version first, then all versions).
func (p *Project) resolve(m module.Version) module.Version {
	if r, ok := p.Replace[m]; ok {
		return r
	}
	if r, ok := p.Replace[module.Version{Path: m.Path}]; ok {
		return r
	}
	return m
}

// parseModFile parses a main module's go.mod strictly, as the go command does.
func parseModFile(file string) (*modfile.File, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	f, err := modfile.Parse(file, data, nil)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Sums holds go.sum lines: the key's Version is "v1.2.3" for the zip's hash
// and "v1.2.3/go.mod" for the go.mod file's hash.
type Sums map[module.Version]string

// ReadFile adds the lines of a go.sum file; a missing file adds nothing.
func (s Sums) ReadFile(file string) error {
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.parse(file, data)
}

func (s Sums) parse(file string, data []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		// Like cmd/go/internal/modfetch.readGoSum: three fields, h1 hashes only
		// (other algorithms are skipped so that go.sum stays readable by
		// future hash versions).
		if len(f) != 3 {
			return fmt.Errorf("%s:%d: malformed go.sum line", file, n)
		}
		if !strings.HasPrefix(f[2], "h1:") {
			continue
		}
		s[module.Version{Path: f[0], Version: f[1]}] = f[2]
	}
	return sc.Err()
}

// Zip returns go.sum's hash for m's zip, or "".
func (s Sums) Zip(m module.Version) string { return s[m] }

// GoMod returns go.sum's hash for m's go.mod, or "".
func (s Sums) GoMod(m module.Version) string {
	return s[module.Version{Path: m.Path, Version: m.Version + "/go.mod"}]
}

// Load reads the project the go command would use: the workspace at gowork
// when it is set, else the main module at gomod, where modFile (the -modfile
// flag) overrides which file is read. Outside a module it returns nil, nil.
func Load(gomod, gowork, modFile string) (*Project, error) {
	switch {
	case gowork != "" && gowork != "off":
		return LoadWorkspace(gowork)
	case modFile != "":
		return LoadModule(modFile)
	case gomod != "" && gomod != os.DevNull:
		return LoadModule(gomod)
	}
	return nil, nil
}

// Vendored reports whether a build-like go command with these arguments (and
// GOFLAGS, which the caller appends) reads dependencies from vendor/ rather
// than the module cache, as cmd/go/internal/modload decides: -mod=vendor, or
// no -mod flag, a vendor/modules.txt and a go version of 1.14 or later.
func (p *Project) Vendored(args []string) bool {
	mod := ""
	for _, a := range args {
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if v, ok := strings.CutPrefix(a, "mod="); ok {
			mod = v // the last one wins, as with the flag package
		}
	}
	if mod != "" {
		return mod == "vendor"
	}
	if p.Pruning == Workspace {
		return false
	}
	if _, err := os.Stat(filepath.Join(p.Dir, "vendor", "modules.txt")); err != nil {
		return false
	}
	return p.GoVersion != "" && !goLess(p.GoVersion, "1.14")
}

// ignoreFunc is the test of go.mod's ignore directives: "./x" ignores the
// directory x at the module's root and everything below it, "x" every
// directory named x (or path ending so) anywhere in the module.
func ignoreFunc(patterns []string) func(dir string) bool {
	wrap := func(p string) string {
		p = filepath.ToSlash(p)
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		if !strings.HasSuffix(p, "/") {
			p += "/"
		}
		return p
	}
	var rooted, anywhere []string
	for _, pat := range patterns {
		if rel, ok := strings.CutPrefix(pat, "./"); ok {
			rooted = append(rooted, wrap(rel))
		} else {
			anywhere = append(anywhere, wrap(pat))
		}
	}
	return func(dir string) bool {
		if dir == "" {
			return false
		}
		dir = wrap(dir)
		for _, p := range rooted {
			if strings.HasPrefix(dir, p) {
				return true
			}
		}
		for _, p := range anywhere {
			if strings.Contains(dir, p) {
				return true
			}
		}
		return false
	}
}

// Warm reports whether the cache already holds every file the project's
// go.sum files name: each go.mod that go.sum has a line for (matching it),
// each zip (with its .ziphash matching go.sum), and with info each zip's
// .info too. Then there is nothing for a plan to fetch that the last go
// command did not leave in place, and planning, which reads every package
// of the project, would only cost time: what go needs beyond go.sum (a new
// import), it asks the loopback proxy for. A project with no go.sum lines
// is not warm.
func (p *Project) Warm(c *modcache.Cache, info bool) bool {
	if p == nil || len(p.Sums) == 0 {
		return false
	}
	for key, sum := range p.Sums {
		if v, ok := strings.CutSuffix(key.Version, "/go.mod"); ok {
			if !c.Has(module.Version{Path: key.Path, Version: v}, modcache.Mod, sum) {
				return false
			}
			continue
		}
		if !c.Has(key, modcache.Zip, sum) || (info && !c.Has(key, modcache.Info, "")) {
			return false
		}
	}
	return true
}
