package goenv

import "strings"

// Flags are the go command flags, from GOFLAGS or a command line, that
// change what gomodx must do.
type Flags struct {
	// ModCacheRW: -modcacherw, extracted modules are left writable.
	ModCacheRW bool
	// ModFile: -modfile, the go.mod file read instead of the main module's.
	ModFile string
	// Mod: -mod (readonly, mod or vendor), "" when not set.
	Mod string
	// List is every flag as given, decoded, in order.
	List []Flag
}

// Flag is one flag of GOFLAGS or a command line.
type Flag struct {
	Raw   string // as written: "-mod=vendor"
	Name  string // without dashes: "mod"
	Value string // after '=', or "" when there is none
}

// DecodeFlags decodes go command flags, as GOFLAGS holds them (one flag
// per field, "-name" or "-name=value", one or two dashes). Arguments that
// are not flags are ignored.
func DecodeFlags(args []string) Flags {
	var f Flags
	for _, raw := range args {
		if !strings.HasPrefix(raw, "-") {
			continue
		}
		name, value, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(raw, "-"), "-"), "=")
		f.List = append(f.List, Flag{Raw: raw, Name: name, Value: value})
		switch name {
		case "modcacherw":
			// As the go command's boolean flags: -modcacherw or
			// -modcacherw=true; any other value leaves it off.
			f.ModCacheRW = value == "" && !strings.Contains(raw, "=") || value == "true"
		case "modfile":
			f.ModFile = value
		case "mod":
			f.Mod = value
		}
	}
	return f
}
