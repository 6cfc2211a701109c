package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
)

// allowList is the documented improvements: scripts that plain go passes and
// gomodx may fail, because gomodx does better than the script expects (for
// instance it repairs a corrupt cache entry that go gives up on).
type allowList []allowed

// allowed is one line of the allow list.
type allowed struct {
	setup  string // gomodx, gomodx-all or *
	script string
	line   string // the script line that must be the one failing; "" for any
	reason string
}

// loadAllowList reads lines of "setup script[:line] reason…", where setup
// is gomodx, gomodx-all or * for both, and line, if given, is the line of
// the script where the failure must happen (so that another failure of the
// same script is not excused); # starts a comment.
func loadAllowList(file string) (allowList, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var allow allowList
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 3 || (fields[0] != "*" && setupEnv[fields[0]] == "") {
			return nil, fmt.Errorf("%s:%d: want \"setup script[:line] reason\", where setup is gomodx, gomodx-all or *", file, n)
		}
		a := allowed{setup: fields[0], reason: strings.Join(fields[2:], " ")}
		a.script, a.line, _ = strings.Cut(fields[1], ":")
		allow = append(allow, a)
	}
	return allow, sc.Err()
}

// find returns the entry for script in setup, if any.
func (l allowList) find(setup, script string) (allowed, bool) {
	for _, a := range l {
		if a.script == script && (a.setup == setup || a.setup == "*") {
			return a, true
		}
	}
	return allowed{}, false
}

// excuses reports whether a's failure is the one r shows: when a names a
// line, the script engine's log must say the script failed there.
func (a allowed) excuses(r *outcome) bool {
	if a.line == "" {
		return true
	}
	return strings.Contains(r.output, "FAIL: testdata/script/"+a.script+".txt:"+a.line+":")
}

// verdict compares every gomodx setup with plain go.
type verdict struct {
	regressions []difference // plain go passes, gomodx does not
	allowed     []difference // the same, but excused by the allow list
	stale       []difference // listed in the allow list, but gomodx passes
	better      []difference // plain go fails, gomodx passes
}

// difference is one script whose outcome in a gomodx setup is not plain go's.
type difference struct {
	setup, script string
	reason        string // from the allow list
}

func (d difference) String() string {
	if d.reason != "" {
		return d.setup + " " + d.script + ": " + d.reason
	}
	return d.setup + " " + d.script
}

func compare(scripts []string, setups []setup, results map[string]map[string]*outcome, allow allowList) verdict {
	var v verdict
	for _, s := range setups[1:] {
		for _, name := range scripts {
			plain, got := results["plain"][name].status, results[s.name][name]
			d := difference{setup: s.name, script: name}
			a, listed := allow.find(s.name, name)
			switch {
			case plain == "PASS" && (got.status == "FAIL" || got.status == "NONE"):
				if listed && a.excuses(got) {
					d.reason = a.reason
					v.allowed = append(v.allowed, d)
				} else {
					v.regressions = append(v.regressions, d)
				}
			case plain == "FAIL" && got.status == "PASS":
				v.better = append(v.better, d)
			case listed && got.status == "PASS":
				v.stale = append(v.stale, d)
			}
		}
	}
	return v
}

// printTable writes one row per script and the totals of each setup.
func printTable(w io.Writer, scripts []string, setups []setup, results map[string]map[string]*outcome) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprint(tw, "script")
	for _, s := range setups {
		fmt.Fprint(tw, "\t"+s.name)
	}
	fmt.Fprintln(tw)
	totals := make([]map[string]int, len(setups))
	for i := range totals {
		totals[i] = map[string]int{}
	}
	for _, name := range scripts {
		fmt.Fprint(tw, name)
		for i, s := range setups {
			st := results[s.name][name].status
			totals[i][st]++
			fmt.Fprint(tw, "\t"+st)
		}
		fmt.Fprintln(tw)
	}
	for _, st := range []string{"PASS", "FAIL", "SKIP", "NONE"} {
		if st == "NONE" && !slices.ContainsFunc(totals, func(t map[string]int) bool { return t[st] > 0 }) {
			continue // the usual case: every script finished
		}
		fmt.Fprintf(tw, "total %s", st)
		for i := range setups {
			fmt.Fprintf(tw, "\t%d", totals[i][st])
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}
