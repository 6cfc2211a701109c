package mirrors

import (
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Credentials for mirrors come from the mirror's URL (https://user:pass@host)
// and from the netrc file, as the go command reads it
// (cmd/go/internal/auth): $NETRC, else ~/.netrc (on Windows ~/_netrc when it
// exists). Like the go command, gomodx sends netrc credentials only over
// https, matches a "machine" against the request URL and its parent paths
// (host, host/path, ...), lets the first entry for a machine win, and
// prefers netrc credentials to those in the URL. They never appear in
// errors, logs or events. Other GOAUTH methods (git, commands) are left to
// the go command.

// netrcLine is one machine entry of a netrc file.
type netrcLine struct {
	machine, login, password string
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

// readNetrc reads the netrc file the go command would read, keyed by
// machine. A missing file is no credentials; an unreadable one is logged.
func readNetrc(log *slog.Logger) map[string]netrcLine {
	path := os.Getenv("NETRC")
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil
		}
		path = filepath.Join(home, ".netrc")
		if runtime.GOOS == "windows" {
			if _, err := os.Stat(filepath.Join(home, "_netrc")); err == nil {
				path = filepath.Join(home, "_netrc")
			}
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if !os.IsNotExist(err) {
			log.Debug("netrc not read", "error", err)
		}
		return nil
	}
	byMachine := map[string]netrcLine{}
	for _, l := range parseNetrc(string(data)) {
		if _, dup := byMachine[l.machine]; !dup {
			byMachine[l.machine] = l
		}
	}
	return byMachine
}

// parseNetrc returns the complete machine entries of a netrc file, in
// order, with the go command's reading of the format: tokens come in
// name-value pairs, "machine" starts an entry, which is complete once it
// has a login and a password, "macdef" skips the lines up to the next empty
// one, and a lone "default" at the end of a line ends the file.
func parseNetrc(data string) []netrcLine {
	var out []netrcLine
	var cur netrcLine
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
				cur = netrcLine{machine: f[i+1]}
			case "login":
				cur.login = f[i+1]
			case "password":
				cur.password = f[i+1]
			case "macdef":
				inMacro = true
			}
			if cur.machine != "" && cur.login != "" && cur.password != "" {
				out = append(out, cur)
				cur = netrcLine{}
			}
		}
		if i < len(f) && f[i] == "default" {
			break
		}
	}
	return out
}

// authorize adds m's credentials to req.
func (l *List) authorize(req *http.Request, m *mirror) {
	if req.URL.Scheme == "https" && len(l.netrc) > 0 {
		prefix := strings.TrimSuffix(strings.TrimPrefix(req.URL.String(), "https://"), "/")
		for {
			if c, ok := l.netrc[prefix]; ok {
				req.SetBasicAuth(c.login, c.password)
				return
			}
			i := strings.LastIndexByte(prefix, '/')
			if i < 0 {
				break
			}
			prefix = prefix[:i]
		}
	}
	if m.user != nil {
		password, _ := m.user.Password()
		req.SetBasicAuth(m.user.Username(), password)
	}
}
