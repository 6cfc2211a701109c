package prefetch

import (
	"strings"
)

// A Command is what a go command line asks of the plan: which files that
// command is going to read.
type Command struct {
	Kind CommandKind
	// Download: the arguments of 'go mod download' (module queries).
	Modules []string
	// Tidy: the flags of 'go mod tidy' that change what it reads.
	Tidy TidyOptions
	// Build: the packages a build-like command loads.
	Build BuildOptions
	// Vendor: the command reads vendor/ (-mod=vendor), not the module cache.
	Vendor bool
	// Dir is the -C flag, if any.
	Dir string
}

// CommandKind sorts go commands by what the plan knows of them.
type CommandKind int

const (
	Unplanned   CommandKind = iota // nothing is planned: the go command fetches what it needs through the loopback proxy
	ModDownload                    // go mod download
	ModTidy                        // go mod tidy
	PackageLoad                    // build, install, run, test, vet, list: packages are loaded
)

// ParseCommand reads a go command line (without "go") and GOFLAGS, as the
// go command's flag parsing would, far enough to know what it loads.
// Anything it does not fully understand (an unknown flag, a query such as
// pkg@version, a file list) gives Unplanned: planning a file the go command
// would not read is worse than planning nothing.
func ParseCommand(args []string, goflags []string) Command {
	var c Command
	if len(args) == 0 {
		return c
	}
	sub, rest := args[0], args[1:]
	tests := false
	switch sub {
	case "mod":
		if len(rest) == 0 {
			return c
		}
		switch rest[0] {
		case "download":
			fl, pos, ok := parseFlags(rest[1:], downloadFlags, goflags, false)
			if !ok || fl["overlay"] != "" {
				return c
			}
			c.Kind, c.Modules, c.Dir = ModDownload, pos, fl["C"]
		case "tidy":
			fl, pos, ok := parseFlags(rest[1:], tidyFlags, goflags, false)
			if !ok || len(pos) > 0 || fl["overlay"] != "" {
				return c
			}
			c.Kind, c.Dir = ModTidy, fl["C"]
			c.Tidy.GoVersion, c.Tidy.Compat = fl["go"], fl["compat"]
		}
		return c
	case "test", "vet":
		tests = true
	case "build", "install", "run", "list":
	default:
		return c
	}
	known := buildFlags
	switch sub {
	case "test":
		known = testFlags
	case "list":
		known = listFlags
	case "vet":
		known = vetFlags
	}
	// go run's first argument is the package (or files); the rest are
	// the program's.
	fl, pos, ok := parseFlags(rest, known, goflags, sub == "run")
	if !ok || fl["m"] == "true" || fl["find"] == "true" || fl["overlay"] != "" {
		return c
	}
	if fl["test"] == "true" {
		tests = true
	}
	switch fl["mod"] {
	case "vendor":
		c.Vendor = true
	case "", "mod", "readonly":
	default:
		return c
	}
	c.Kind, c.Dir = PackageLoad, fl["C"]
	c.Build = BuildOptions{Patterns: pos, Tests: tests, ModMod: fl["mod"] == "mod"}
	if tags := fl["tags"]; tags != "" {
		c.Build.BuildTags = strings.FieldsFunc(tags, func(r rune) bool { return r == ',' || r == ' ' })
	}
	return c
}

// flagKind says whether a flag takes a value.
type flagKind int

const (
	boolFlag flagKind = iota + 1
	valueFlag
)

func flagSet(bools, values string) map[string]flagKind {
	m := map[string]flagKind{}
	for _, f := range strings.Fields(bools) {
		m[f] = boolFlag
	}
	for _, f := range strings.Fields(values) {
		m[f] = valueFlag
	}
	return m
}

func merge(sets ...map[string]flagKind) map[string]flagKind {
	m := map[string]flagKind{}
	for _, s := range sets {
		for k, v := range s {
			m[k] = v
		}
	}
	return m
}

// The flags of the go commands the plan reads (go help build, go help
// testflag, go help list, go help mod download/tidy).
var (
	commonFlags   = flagSet("modcacherw x", "C modfile overlay")
	downloadFlags = merge(commonFlags, flagSet("json", "reuse"))
	tidyFlags     = merge(commonFlags, flagSet("e v diff", "go compat"))
	buildFlags    = merge(commonFlags, flagSet("a n race msan asan cover v work linkshared trimpath buildvcs i json",
		"p o tags mod pgo gcflags ldflags asmflags gccgoflags buildmode compiler installsuffix pkgdir toolexec covermode coverpkg exec"))
	listFlags = merge(buildFlags, flagSet("compiled deps e export find m retracted test u versions", "f reuse"))
	vetFlags  = merge(buildFlags, flagSet("", "vettool"))
	testFlags = merge(buildFlags, flagSet("c benchmem failfast fullpath short",
		"bench benchtime blockprofile blockprofilerate count coverprofile cpu cpuprofile fuzz fuzzminimizetime fuzztime list memprofile memprofilerate mutexprofile mutexprofilefraction outputdir parallel run shuffle skip timeout trace artifacts"))
)

// parseFlags splits args into flags (by name, without dashes; a boolean
// set is "true") and positional arguments, with GOFLAGS applied first, as
// the go command applies them. Flags may follow positional arguments
// (go test allows it), unless firstOnly, where the first positional
// argument ends the command's own; "-args" ends them. An unknown flag
// makes ok false.
func parseFlags(args []string, known map[string]flagKind, goflags []string, firstOnly bool) (flags map[string]string, pos []string, ok bool) {
	flags = map[string]string{}
	for _, f := range goflags {
		name, value, hasValue := strings.Cut(strings.TrimLeft(f, "-"), "=")
		switch known[name] {
		case boolFlag:
			if !hasValue {
				value = "true"
			}
			flags[name] = value
		case valueFlag:
			flags[name] = value
		}
		// GOFLAGS may hold flags this command does not have: go ignores them.
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-args" || a == "--args" || a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			if firstOnly {
				break
			}
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		name = strings.TrimPrefix(name, "test.")
		switch known[name] {
		case boolFlag:
			if !hasValue {
				value = "true"
			}
			flags[name] = value
		case valueFlag:
			if !hasValue {
				if i+1 >= len(args) {
					return nil, nil, false
				}
				i++
				value = args[i]
			}
			flags[name] = value
		default:
			return nil, nil, false
		}
	}
	return flags, pos, true
}
