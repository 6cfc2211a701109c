package goenv

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Auth is what the go command would authenticate with: GOAUTH, and the
// netrc credentials it allows. Of GOAUTH's methods only netrc is read
// here; git and commands are left to the go command.
//
// Credentials never appear in errors, logs or events.
type Auth struct {
	// UseNetrc: GOAUTH lists "netrc" (or is empty, whose default it is).
	UseNetrc bool
	// NetrcPath is the netrc file the go command reads: $NETRC, else
	// ~/.netrc (on Windows ~/_netrc when it exists); "" when there is no
	// home directory.
	NetrcPath string
	// Netrc are its complete machine entries, in order; nil without
	// UseNetrc or without the file.
	Netrc []NetrcLine
	// NetrcErr is why the file could not be read (it exists).
	NetrcErr error
}

// NetrcLine is one complete machine entry of a netrc file.
type NetrcLine struct {
	Machine, Login, Password string
}

// readAuth reads the netrc file when goauth allows it.
func readAuth(goauth string, getenv func(string) string) Auth {
	a := Auth{UseNetrc: useNetrc(goauth), NetrcPath: netrcPath(getenv)}
	if !a.UseNetrc || a.NetrcPath == "" {
		return a
	}
	data, err := os.ReadFile(a.NetrcPath)
	switch {
	case err == nil:
		a.Netrc = ParseNetrc(string(data))
	case !os.IsNotExist(err):
		a.NetrcErr = err
	}
	return a
}

// useNetrc reports whether GOAUTH lets the go command read the netrc file.
func useNetrc(goauth string) bool {
	if strings.TrimSpace(goauth) == "" {
		return true // the default, "netrc"
	}
	for _, method := range strings.Split(goauth, ";") {
		if f := strings.Fields(method); len(f) > 0 && f[0] == "netrc" {
			return true
		}
	}
	return false
}

// netrcPath is where the go command reads the netrc file
// (cmd/go/internal/auth.netrcPath).
func netrcPath(getenv func(string) string) string {
	if p := getenv("NETRC"); p != "" {
		return p
	}
	home := getenv("HOME")
	if runtime.GOOS == "windows" {
		home = getenv("USERPROFILE")
		if home == "" {
			return ""
		}
		if _, err := os.Stat(filepath.Join(home, "_netrc")); err == nil {
			return filepath.Join(home, "_netrc")
		}
	}
	if home == "" {
		return ""
	}
	return filepath.Join(home, ".netrc")
}

// ParseNetrc returns the complete machine entries of a netrc file, in
// order, with the go command's reading of the format: tokens come in
// name-value pairs, "machine" starts an entry, which is complete once it
// has a login and a password, "macdef" skips the lines up to the next empty
// one, and a lone "default" at the end of a line ends the file. So a
// "default" entry gives no credentials at all, as for the go command.
func ParseNetrc(data string) []NetrcLine {
	var out []NetrcLine
	var cur NetrcLine
	inMacro := false
	for _, line := range strings.Split(data, "\n") {
		if inMacro {
			inMacro = line != ""
			continue
		}
		f := strings.Fields(line)
		i := 0
		for ; i+1 < len(f); i += 2 {
			switch f[i] {
			case "machine":
				cur = NetrcLine{Machine: f[i+1]}
			case "login":
				cur.Login = f[i+1]
			case "password":
				cur.Password = f[i+1]
			case "macdef":
				inMacro = true
			}
			if cur.Machine != "" && cur.Login != "" && cur.Password != "" {
				out = append(out, cur)
				cur = NetrcLine{}
			}
		}
		if i < len(f) && f[i] == "default" {
			break
		}
	}
	return out
}

// NetrcFor returns the netrc entry the go command would send with a request
// for url, an https URL without its scheme ("host/path/..."): the first
// entry whose machine is url or one of its parent paths, the longest
// first.
func (a Auth) NetrcFor(url string) (NetrcLine, bool) {
	prefix := strings.TrimSuffix(url, "/")
	for {
		for _, l := range a.Netrc {
			if l.Machine == prefix {
				return l, true
			}
		}
		i := strings.LastIndexByte(prefix, '/')
		if i < 0 {
			return NetrcLine{}, false
		}
		prefix = prefix[:i]
	}
}
