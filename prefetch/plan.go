package prefetch

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"golang.org/x/mod/module"

	"github.com/gomodx/gomodx/modcache"
)

func emptyProject() *Project {
	return &Project{Mains: map[string]bool{}, MainDirs: map[string]string{}, Ignore: map[string]func(string) bool{}, Replace: map[module.Version]module.Version{}, Exclude: map[module.Version]bool{}, Sums: Sums{}}
}

// planner is one plan: what it fetched and what failed.
type planner struct {
	ctx    context.Context
	f      *Fetcher
	proj   *Project
	goroot string // for telling standard-library packages apart
	// readonly: -mod=readonly, where the go command fetches no module
	// go.sum has no line for (outside a workspace).
	readonly bool

	summaries sync.Map // module.Version → *summaryCall
	trees     sync.Map // module.Version → *treeCall

	wg   sync.WaitGroup // background fetches
	mu   sync.Mutex
	zips map[module.Version]bool
	errs []error
}

func newPlanner(ctx context.Context, f *Fetcher, p *Project, goroot string) *planner {
	return &planner{ctx: ctx, f: f, proj: p, goroot: goroot, zips: map[module.Version]bool{}}
}

// close releases the module zips the plan read.
func (p *planner) close() {
	p.trees.Range(func(_, v any) bool {
		if t, ok := v.(*treeCall).t.(*zipTree); ok {
			t.r.Close()
		}
		return true
	})
}

// wait waits for the background fetches and returns the failures.
func (p *planner) wait() error {
	p.wg.Wait()
	if err := p.ctx.Err(); err != nil {
		return err
	}
	errs := slices.Clone(p.errs)
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// download fetches, in the background, what 'go mod download' writes for
// m: .info, .mod and .zip, and unpacks the zip.
func (p *planner) download(m module.Version) {
	if p.proj.Mains[m.Path] {
		return
	}
	actual := p.proj.resolve(m)
	if actual.Version == "" {
		return // a directory replacement: nothing to download
	}
	p.mu.Lock()
	dup := p.zips[actual]
	p.zips[actual] = true
	p.mu.Unlock()
	if dup {
		return
	}
	// When the graph walk got this version's go.mod from a mirror, the
	// version exists there and its checksums are known: the zip need not
	// wait a round trip for the .info.
	if p.f.Served(actual, modcache.Mod) {
		p.wg.Go(func() { p.ensure(actual, modcache.Info) })
		p.wg.Go(func() { p.tree(actual) })
		return
	}
	// Otherwise as 'go mod download' does: the .info first (does the
	// version exist, and what is it called?), and only then the .mod and
	// the zip, whose checksum-database lookup a version that does not
	// exist must not cost.
	p.wg.Go(func() {
		state, err := p.f.Ensure(p.ctx, actual, modcache.Info)
		p.record(state, err)
		if state == Failed {
			return
		}
		p.wg.Go(func() { p.ensure(actual, modcache.Mod) })
		p.tree(actual)
	})
}

// ensure fetches one file and records its failure.
func (p *planner) ensure(m module.Version, kind modcache.Kind) error {
	state, err := p.f.Ensure(p.ctx, m, kind)
	p.record(state, err)
	return err
}

// record keeps a failure for the plan's error.
func (p *planner) record(state State, err error) {
	if state == Failed {
		p.mu.Lock()
		if !slices.ContainsFunc(p.errs, func(e error) bool { return e == err }) {
			p.errs = append(p.errs, err)
		}
		p.mu.Unlock()
	}
}
