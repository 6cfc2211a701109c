package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/urfave/cli/v2"
	"golang.org/x/mod/module"
	"golang.org/x/term"

	"github.com/gomodx/gomodx/goenv"
	"github.com/gomodx/gomodx/modcache"
	"github.com/gomodx/gomodx/prefetch"
	"github.com/gomodx/gomodx/wrap"
)

// verifyFlags are the flags of 'gomodx verify' and 'gomodx clean'.
type verifyFlags struct {
	all       bool // verify: the whole cache; clean: remove the whole cache
	allFaults bool // clean: faults anywhere in the cache
	json      bool
	dryRun    bool
	yes       bool
	edited    bool // clean: also trees that may hold edits, of the named modules
	jobs      int
}

func verifyCommand(cmd func() *command) *cli.Command {
	var f verifyFlags
	return &cli.Command{
		Name:      "verify",
		Usage:     "find corrupt, forged or half-written entries in the module cache",
		ArgsUsage: "[module@version...]",
		Description: "Verify checks the module cache entries the current project uses (the versions in its\n" +
			"go.sum files), or with --all (or outside a module) the whole cache: zips that do not open,\n" +
			"zips or go.mod files that disagree with go.sum or their .ziphash, extracted directories\n" +
			"that were changed, leftover temp and .partial files, and checksum-database files that do\n" +
			"not parse. It exits with status 1 when it finds a fault; 'gomodx clean' removes them.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Usage: "verify the whole module cache, not only the project's entries", EnvVars: []string{"GOMODX_VERIFY_ALL"}, Destination: &f.all},
			&cli.BoolFlag{Name: "json", Usage: "print the result as JSON", Destination: &f.json},
			verifyJobsFlag(&f.jobs),
		},
		Action: func(c *cli.Context) error {
			return cmd().verify(c.Context, f, c.Args().Slice())
		},
	}
}

func cleanCommand(cmd func() *command) *cli.Command {
	var f verifyFlags
	return &cli.Command{
		Name:      "clean",
		Usage:     "remove exactly the faulty entries 'gomodx verify' finds (--all: the whole module cache)",
		ArgsUsage: "[module@version...]",
		Description: "Clean removes the faulty module cache entries that 'gomodx verify' reports, under the\n" +
			"same file locks the go command takes, and nothing else; the go command fetches or\n" +
			"re-extracts them when it next needs them. It never removes anything outside GOMODCACHE\n" +
			"(following no symbolic link out of it), nor an extracted module that may hold someone's\n" +
			"edits: one that differs from the module and is writable, or -modcacherw is in GOFLAGS.\n" +
			"It says what it left, and exits with status 1 then; --edited with the module named\n" +
			"removes such a tree, edits and all. With --all it removes the whole module cache,\n" +
			"like 'go clean -modcache' (which it runs), after asking for confirmation.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "show what would be removed, remove nothing", Destination: &f.dryRun},
			&cli.BoolFlag{Name: "edited", Usage: "also remove the extracted trees of the named modules that may hold edits (the edits are lost)", Destination: &f.edited},
			&cli.BoolFlag{Name: "all-faults", Usage: "remove faulty entries anywhere in the cache, as 'gomodx verify --all' finds them", Destination: &f.allFaults},
			&cli.BoolFlag{Name: "all", Usage: "remove the whole module cache ('go clean -modcache')", Destination: &f.all},
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "with --all: do not ask for confirmation", Destination: &f.yes},
			&cli.BoolFlag{Name: "json", Usage: "print the faults and what was done as JSON", Destination: &f.json},
			verifyJobsFlag(&f.jobs),
		},
		Action: func(c *cli.Context) error {
			return cmd().clean(c.Context, f, c.Args().Slice())
		},
	}
}

// verifyJobsFlag is the --jobs of verify and clean.
func verifyJobsFlag(jobs *int) cli.Flag {
	return &cli.IntFlag{Name: "jobs", Usage: fmt.Sprintf("module versions checked at once (0: twice the number of CPUs; at most %d)", maxJobs), EnvVars: []string{"GOMODX_VERIFY_JOBS"}, Destination: jobs,
		Action: intInRange[int]("jobs", "GOMODX_VERIFY_JOBS", 0, maxJobs)}
}

// verifyScope is what a verify or clean run looks at.
type verifyScope struct {
	cache *modcache.Cache
	opts  modcache.VerifyOptions
	what  modcache.Scope
}

// scope works out which entries to verify (modcache.Select): the module
// versions named on the command line, the project's, or the whole cache.
func (c *command) scope(env *goenv.Config, all bool, args []string, jobs int, repair modcache.RepairOptions) (*verifyScope, error) {
	cache, err := modcache.Open(env.GOMODCACHE)
	if err != nil {
		return nil, err
	}
	// The project's go.sum is used whenever there is one; only with all
	// may it be unreadable (the go command reports that better).
	proj, err := prefetch.Load(env.GOMOD, env.GOWORK, env.Flags.ModFile)
	if err != nil && !all {
		return nil, err
	}
	var versions []module.Version
	if proj != nil {
		versions = proj.Versions()
	}
	s := &verifyScope{cache: cache}
	s.what, s.opts, err = modcache.Select(args, all, proj != nil, versions)
	if err != nil {
		return nil, err
	}
	if proj != nil {
		s.opts.Sums = proj.Sums
	}
	s.opts.Jobs = jobs
	s.opts.Repair = repair
	s.opts.SumdbDir, _ = env.SumdbDir()
	if !env.SumDB.Off && env.SumDB.Err == nil {
		s.opts.SumdbKeys = []string{env.SumDB.Key}
	}
	return s, nil
}

// run verifies the scope and returns the faults and how many versions
// were checked: those the cache holds files of. A go.sum names versions go
// never downloaded (a go.mod line kept for the graph's sake, a version
// since upgraded); they are not counted as verified.
func (s *verifyScope) run(ctx context.Context) ([]modcache.Fault, int, error) {
	var n atomic.Int64
	s.opts.Checked = func(mod module.Version) {
		for _, ext := range []string{"mod", "info", "zip"} {
			if file, err := s.cache.Path(mod, ext); err == nil {
				if _, err := os.Stat(file); err == nil {
					n.Add(1)
					return
				}
			}
		}
	}
	faults, err := s.cache.Verify(ctx, s.opts)
	return faults, int(n.Load()), err
}

// verifyResult is the JSON output of verify and clean.
type verifyResult struct {
	GOMODCACHE string
	Scope      modcache.Scope
	Checked    int // module versions checked
	Faults     []faultResult
}

type faultResult struct {
	modcache.Fault
	Repaired bool   `json:",omitempty"` // clean only: Repair did what Fix says
	Gone     bool   `json:",omitempty"` // clean only: nothing left to do under the lock
	Error    string `json:",omitempty"` // clean only: why Repair failed, or left it (Keep)
}

func (c *command) verify(ctx context.Context, f verifyFlags, args []string) error {
	_, env, err := c.goEnv(ctx, "")
	if err != nil {
		return err
	}
	s, err := c.scope(env, f.all, args, f.jobs, modcache.RepairOptions{ModCacheRW: env.Flags.ModCacheRW})
	if err != nil {
		return err
	}
	faults, checked, err := s.run(ctx)
	if err != nil {
		return err
	}
	if f.json {
		res := verifyResult{GOMODCACHE: s.cache.Root(), Scope: s.what, Checked: checked, Faults: []faultResult{}}
		for _, fl := range faults {
			res.Faults = append(res.Faults, faultResult{Fault: fl})
		}
		if err := writeJSON(c.stdout, res); err != nil {
			return err
		}
	} else {
		for _, fl := range faults {
			fmt.Fprintln(c.stdout, fl)
		}
		switch {
		case len(faults) > 0:
		case checked == 0 && s.what == modcache.ScopeModules:
			// Not "verified": there was nothing of them to check.
			fmt.Fprintln(c.stdout, "nothing verified: none of the named module versions is in the module cache")
		default:
			versions := "module versions"
			if checked == 1 {
				versions = "module version"
			}
			fmt.Fprintf(c.stdout, "all modules verified (%d %s in %s)\n", checked, versions, s.what.Describe())
		}
	}
	if len(faults) == 0 {
		return nil
	}
	if !f.json {
		fmt.Fprintf(c.stderr, "gomodx: %s in the module cache (%s)\n", plural(len(faults), "faulty entry", "faulty entries"), s.cache.Root())
		var kept []modcache.Fault
		for _, fl := range faults {
			if fl.Keep != "" {
				kept = append(kept, fl)
			}
		}
		if len(kept) < len(faults) {
			fmt.Fprintf(c.stderr, "gomodx: hint: run '%s' to remove exactly these; the go command fetches them again when needed\n", cleanHint(s.what, args))
		}
		printKept(c.stderr, kept)
	}
	return exit(1)
}

// printKept says, for faults that clean leaves as they are, why and what
// to do instead (report.go's hints for a *modcache.KeptError).
func printKept(w io.Writer, kept []modcache.Fault) {
	if len(kept) == 0 {
		return
	}
	var errs []error
	for _, fl := range kept {
		errs = append(errs, &modcache.KeptError{Fault: fl, Reason: fl.Keep, Edits: fl.KeepEdits})
	}
	fmt.Fprintf(w, "gomodx: 'gomodx clean' leaves %s as %s:\n", plural(len(kept), "faulty entry", "faulty entries"), map[bool]string{true: "it is", false: "they are"}[len(kept) == 1])
	printError(w, errors.Join(errs...))
}

// cleanHint is the clean command that removes what verify found.
func cleanHint(scope modcache.Scope, args []string) string {
	switch scope {
	case modcache.ScopeModules:
		return "gomodx clean " + strings.Join(args, " ")
	case modcache.ScopeCache:
		return "gomodx clean --all-faults"
	}
	return "gomodx clean"
}

func (c *command) clean(ctx context.Context, f verifyFlags, args []string) error {
	if f.edited && (len(args) == 0 || f.all || f.allFaults) {
		return usageError{error: errors.New("--edited removes the trees of the modules named: it takes module@version arguments, and no --all or --all-faults"), command: "clean"}
	}
	g, env, err := c.goEnv(ctx, "")
	if err != nil {
		return err
	}
	if f.all {
		if len(args) > 0 || f.allFaults {
			return errors.New("--all removes the whole module cache: it takes no modules and no --all-faults")
		}
		return c.cleanAll(ctx, g, env, f)
	}
	repair := modcache.RepairOptions{ModCacheRW: env.Flags.ModCacheRW, Edited: f.edited}
	s, err := c.scope(env, f.allFaults, args, f.jobs, repair)
	if err != nil {
		return err
	}
	faults, checked, err := s.run(ctx)
	if err != nil {
		return err
	}
	res := verifyResult{GOMODCACHE: s.cache.Root(), Scope: s.what, Checked: checked, Faults: []faultResult{}}
	var kept []modcache.Fault
	if f.dryRun {
		for _, fl := range faults {
			if !f.json {
				if fl.Keep != "" {
					fmt.Fprintf(c.stdout, "%s: would leave it as it is: %s (%s)\n", faultHead(fl), fl.Keep, fl.Path)
				} else {
					fmt.Fprintf(c.stdout, "%s: would %s (%s)\n", faultHead(fl), fl.Fix, fl.Path)
				}
			}
			if fl.Keep != "" {
				kept = append(kept, fl)
			}
			res.Faults = append(res.Faults, faultResult{Fault: fl})
		}
	}
	var errs []error
	staleIndex := false
	removed, gone := 0, 0
	if !f.dryRun {
		for _, r := range s.cache.Repair(ctx, faults, repair) {
			fr := faultResult{Fault: r.Fault, Repaired: r.Done, Gone: !r.Done && r.Err == nil}
			var keptErr *modcache.KeptError
			switch {
			case r.Err != nil && ctx.Err() != nil:
				return ctx.Err()
			case errors.As(r.Err, &keptErr):
				fr.Error = r.Err.Error()
				fr.Keep, fr.KeepEdits = keptErr.Reason, keptErr.Edits
				kept = append(kept, fr.Fault)
				if !f.json {
					fmt.Fprintf(c.stdout, "%s: left as it is: %s (%s)\n", faultHead(r.Fault), keptErr.Reason, r.Fault.Path)
				}
			case r.Err != nil:
				fr.Error = r.Err.Error()
				errs = append(errs, r.Err)
			case r.Done:
				removed++
				staleIndex = staleIndex || r.Fault.Kind == modcache.DirModified
				if !f.json {
					fmt.Fprintf(c.stdout, "%s: %s (%s)\n", faultHead(r.Fault), r.Fault.Fix.Done(), r.Fault.Path)
				}
			default:
				// Another process (a go command finishing its download)
				// fixed or removed it while clean waited for the lock.
				gone++
				if !f.json {
					fmt.Fprintf(c.stdout, "%s: already gone, nothing removed (%s)\n", faultHead(r.Fault), r.Fault.Path)
				}
			}
			res.Faults = append(res.Faults, fr)
		}
	}
	if f.json {
		if err := writeJSON(c.stdout, res); err != nil {
			return err
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	switch {
	case f.json:
	case len(faults) == 0:
		fmt.Fprintf(c.stderr, "gomodx: no faulty entries in the module cache (%d module versions in %s)\n", checked, s.what.Describe())
	case f.dryRun:
		if n := len(faults) - len(kept); n > 0 {
			fmt.Fprintf(c.stderr, "gomodx: %s; run without --dry-run to fix them\n", plural(n, "faulty entry", "faulty entries"))
		}
		printKept(c.stderr, kept)
	default:
		if removed > 0 {
			fmt.Fprintf(c.stderr, "gomodx: fixed %s; the go command fetches or re-extracts what was removed when it needs it\n", plural(removed, "faulty entry", "faulty entries"))
		}
		if gone > 0 {
			fmt.Fprintf(c.stderr, "gomodx: %s gone by the time clean held the lock: nothing removed for %s\n", plural(gone, "faulty entry was", "faulty entries were"), map[bool]string{true: "it", false: "them"}[gone == 1])
		}
		if staleIndex {
			// cmd/go/internal/modindex keys its index of an extracted
			// module by the directory alone, trusting the cache never to
			// change, so the index of a modified tree outlives the tree.
			fmt.Fprintln(c.stderr, "gomodx: hint: go keeps an index of each extracted module in its build cache, keyed by directory alone; if go still reports files or imports the module does not have, run 'go clean -cache'")
		}
		printKept(c.stderr, kept)
	}
	if len(kept) > 0 && !f.dryRun {
		return exit(1) // the cache still holds these faults
	}
	return nil
}

// cleanAll removes the whole module cache through the real go command's
// 'go clean -modcache', so that exactly what go considers its cache goes,
// in go's own way (directories made writable, then removed), after the
// user confirmed it on a terminal or passed --yes.
func (c *command) cleanAll(ctx context.Context, g *wrap.Go, env *goenv.Config, f verifyFlags) error {
	root := env.GOMODCACHE
	if f.dryRun {
		return ran(g.Run(ctx, "", c.stdout, c.stderr, "clean", "-n", "-modcache"))
	}
	if !f.yes {
		if !stdinIsTerminal() {
			fmt.Fprintf(c.stderr, "gomodx: refusing to remove the whole module cache at %s without confirmation (stdin is not a terminal)\n", root)
			fmt.Fprintf(c.stderr, "gomodx: hint: 'gomodx clean' removes only the faulty entries; to remove everything, rerun with --yes: gomodx clean --all --yes\n")
			return exit(1)
		}
		fmt.Fprintf(c.stderr, "remove the whole module cache at %s? [y/N] ", root)
		answer, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		switch strings.ToLower(strings.TrimSpace(answer)) {
		case "y", "yes":
		default:
			fmt.Fprintln(c.stderr, "gomodx: module cache left as it was")
			return exit(1)
		}
	}
	return ran(g.Run(ctx, "", c.stdout, c.stderr, "clean", "-modcache"))
}

// stdinIsTerminal reports whether a person can answer a question.
func stdinIsTerminal() bool {
	return term.IsTerminal(int(os.Stdin.Fd()))
}

func faultHead(f modcache.Fault) string {
	if f.Mod.Path == "" {
		return string(f.Kind)
	}
	return f.Mod.String() + ": " + string(f.Kind)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "\t")
	return enc.Encode(v)
}
