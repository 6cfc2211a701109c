package modcache

import (
	"fmt"
	"strings"

	"golang.org/x/mod/module"
)

// Scope is which entries 'gomodx verify' and 'gomodx clean' look at.
type Scope string

const (
	ScopeModules Scope = "modules" // the module versions named on the command line
	ScopeProject Scope = "project" // the module versions the project uses (its go.sum files, its requirements)
	ScopeCache   Scope = "cache"   // every entry of the cache
)

// Describe names the scope in a sentence: "the project's go.sum".
func (s Scope) Describe() string {
	switch s {
	case ScopeProject:
		return "the project's go.sum"
	case ScopeModules:
		return "the named modules"
	}
	return "the whole cache"
}

// Select decides what verify and clean check: the module versions args
// name (each module@version, with a canonical version), else, in a module
// and without all, the versions the project uses (project), else the whole
// cache. The project's entries include the checksum-database files every
// module's verification relies on (VerifyOptions.Shared).
func Select(args []string, all, inModule bool, project []module.Version) (Scope, VerifyOptions, error) {
	switch {
	case len(args) > 0:
		mods := make([]module.Version, 0, len(args))
		for _, arg := range args {
			path, vers, _ := strings.Cut(arg, "@")
			if err := module.Check(path, vers); err != nil || module.CanonicalVersion(vers) != vers {
				return "", VerifyOptions{}, fmt.Errorf("%s: want module@version with a canonical version, like example.com/m@v1.2.3", arg)
			}
			mods = append(mods, module.Version{Path: path, Version: vers})
		}
		return ScopeModules, VerifyOptions{Mods: mods}, nil
	case inModule && !all:
		return ScopeProject, VerifyOptions{Mods: project, Shared: true}, nil
	}
	return ScopeCache, VerifyOptions{All: true}, nil
}
