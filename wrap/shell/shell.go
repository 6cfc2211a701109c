// Package shell writes the shell function that sends 'go mod tidy' and
// 'go mod download' (or every go command that may fetch modules) through
// gomodx, for 'gomodx shell-init'.
package shell

import (
	"fmt"
	"io"
	"strings"
)

// fetching lists the go subcommands that may download modules, which
// "shell-init --all" routes through gomodx.
var fetching = []string{"build", "get", "install", "list", "mod", "run", "test", "vet", "generate", "work"}

// Init writes a shell function named go that sends 'go mod tidy' and
// 'go mod download' (with all, every command that may fetch modules) through
// gomodx, for a shell profile: eval "$(gomodx shell-init bash)". gomodx
// itself never runs that function: it finds the real go on PATH.
func Init(w io.Writer, shell string, all bool) error {
	switch shell {
	case "bash", "zsh", "sh":
		fmt.Fprint(w, posixInit(all))
	case "fish":
		fmt.Fprint(w, fishInit(all))
	default:
		return fmt.Errorf("shell-init: unknown shell %q (want bash, zsh or fish)", shell)
	}
	return nil
}

func posixInit(all bool) string {
	var b strings.Builder
	b.WriteString("# gomodx: send module downloads through gomodx (gomodx shell-init)\n")
	b.WriteString("go() {\n\tcase \"$1 $2\" in\n")
	b.WriteString("\t\"mod tidy\" | \"mod download\")\n\t\tshift\n\t\tcommand gomodx \"$@\"\n\t\t;;\n")
	if all {
		fmt.Fprintf(&b, "\t%s)\n\t\tcommand gomodx go \"$@\"\n\t\t;;\n", casePatterns())
	}
	b.WriteString("\t*)\n\t\tcommand go \"$@\"\n\t\t;;\n\tesac\n}\n")
	return b.String()
}

// casePatterns matches "$1 $2" for the commands that may fetch modules.
func casePatterns() string {
	var pats []string
	for _, c := range fetching {
		pats = append(pats, "\""+c+" \"*")
	}
	return strings.Join(pats, " | ")
}

func fishInit(all bool) string {
	var b strings.Builder
	b.WriteString("# gomodx: send module downloads through gomodx (gomodx shell-init)\n")
	b.WriteString("function go --wraps go\n")
	b.WriteString("\tif test (count $argv) -ge 2; and test \"$argv[1]\" = mod; and contains -- \"$argv[2]\" tidy download\n")
	b.WriteString("\t\tcommand gomodx $argv[2..-1]\n")
	if all {
		fmt.Fprintf(&b, "\telse if test (count $argv) -ge 1; and contains -- \"$argv[1]\" %s\n", strings.Join(fetching, " "))
		b.WriteString("\t\tcommand gomodx go $argv\n")
	}
	b.WriteString("\telse\n\t\tcommand go $argv\n\tend\nend\n")
	return b.String()
}
