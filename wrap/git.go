package wrap

// What the go command's git is told about stalls.
//
// The go command fetches a module that reaches "direct" (GOPROXY's
// direct, GOPRIVATE, GONOPROXY) with git, which has no timeout of its own:
// a clone that stalls on a slow link hangs 'go mod tidy' for ever. gomodx
// gives git the limits it does have, as cargo does for its own fetches,
// unless the user chose them: over https, git's low-speed limit (give up
// when less than a byte a second arrives for --stall), and over ssh,
// keep-alives that close a connection whose server stopped answering.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// GitLimits are the settings gomodx adds to the go command's environment
// for git, and those it leaves alone because the user set them.
type GitLimits struct {
	// Added are "NAME=value" pairs added to the environment.
	Added []string
	// Kept names the user's own settings that gomodx leaves alone: an
	// environment variable, or a git config key ("core.sshCommand").
	Kept []string
}

// gitLowSpeedLimit is git's low-speed limit in bytes a second: below it
// for --stall, a fetch gives up. One byte a second is a stall, not a slow
// link; a server preparing a large pack sends keep-alives meanwhile.
const gitLowSpeedLimit = 1

// sshAliveCount is how many ssh keep-alives may go unanswered.
const sshAliveCount = 3

// gitConfigRE matches the git config keys that set what GitLimits would
// set: git config --get-regexp matches it against lower-case section and
// key names.
const gitConfigRE = `^(core\.sshcommand|ssh\.variant|http\..*lowspeed(limit|time))$`

// newGitLimits decides the settings for stall (0: none) from the
// environment (getenv) and the git config keys the user set (configured,
// lower case, as 'git config --get-regexp' prints them). Without known,
// git's config could not be read: nothing is added then, lest it override
// a setting of the user's (and a git that cannot read its config fails
// for go too).
func newGitLimits(getenv func(string) string, stall time.Duration, configured []string, known bool) GitLimits {
	var l GitLimits
	if stall <= 0 || !known {
		return l
	}
	keep := func(names ...string) bool {
		kept := false
		for _, n := range names {
			if getenv(n) != "" {
				l.Kept = append(l.Kept, n)
				kept = true
			}
		}
		return kept
	}
	keepConfig := func(match func(string) bool, name string) bool {
		if slices.ContainsFunc(configured, match) {
			l.Kept = append(l.Kept, name)
			return true
		}
		return false
	}
	secs := int((stall + time.Second - 1) / time.Second)

	lowSpeed := func(k string) bool { return strings.HasPrefix(k, "http.") && strings.Contains(k, "lowspeed") }
	if envKept := keep("GIT_HTTP_LOW_SPEED_LIMIT", "GIT_HTTP_LOW_SPEED_TIME"); !envKept && !keepConfig(lowSpeed, "http.lowSpeedLimit/http.lowSpeedTime") {
		l.Added = append(l.Added,
			fmt.Sprintf("GIT_HTTP_LOW_SPEED_LIMIT=%d", gitLowSpeedLimit),
			fmt.Sprintf("GIT_HTTP_LOW_SPEED_TIME=%d", secs))
	}

	// GIT_SSH_COMMAND outranks core.sshCommand and GIT_SSH: set it only
	// when none is set, nor a variant that would not read ssh's options.
	envKept := keep("GIT_SSH_COMMAND", "GIT_SSH", "GIT_SSH_VARIANT")
	cmdKept := keepConfig(func(k string) bool { return k == "core.sshcommand" }, "core.sshCommand")
	variantKept := keepConfig(func(k string) bool { return k == "ssh.variant" }, "ssh.variant")
	if !envKept && !cmdKept && !variantKept {
		interval := max(1, (secs+sshAliveCount-1)/sshAliveCount)
		l.Added = append(l.Added, fmt.Sprintf("GIT_SSH_COMMAND=ssh -o ServerAliveInterval=%d -o ServerAliveCountMax=%d", interval, sshAliveCount))
	}
	return l
}

// SetStall sets g.Stall, and starts reading the git config GitLimits
// needs in the background, so that the go command does not wait for it.
func (g *Go) SetStall(ctx context.Context, stall time.Duration) {
	g.Stall = stall
	if stall <= 0 {
		return
	}
	type result struct {
		keys  []string
		known bool
	}
	ch := make(chan result, 1)
	go func() {
		keys, known := gitConfigKeys(ctx, g.Env)
		ch <- result{keys, known}
	}()
	read := sync.OnceValue(func() result { return <-ch })
	g.gitConfig = func() ([]string, bool) { r := read(); return r.keys, r.known }
}

// GitLimits returns the git settings the go command runs with: none
// without a Stall; else those the user has not set, in the environment or
// in git's global or system config.
func (g *Go) GitLimits(ctx context.Context) GitLimits {
	if g.Stall <= 0 {
		return GitLimits{}
	}
	getenv := os.Getenv
	if g.Env != nil {
		getenv = func(k string) string { return envValue(g.Env, k) }
	}
	var keys []string
	var known bool
	if g.gitConfig != nil {
		keys, known = g.gitConfig()
	} else {
		keys, known = gitConfigKeys(ctx, g.Env)
	}
	return newGitLimits(getenv, g.Stall, keys, known)
}

// gitConfigKeys returns the lower-case keys of the git config settings
// that match gitConfigRE, in the config every repository of the go
// command's sees (system, global, and GIT_CONFIG_* in env), and whether
// it could tell: not if git cannot be run or fails.
func gitConfigKeys(ctx context.Context, env []string) (keys []string, known bool) {
	cmd := exec.CommandContext(ctx, "git", "config", "--get-regexp", gitConfigRE)
	cmd.Dir = os.TempDir() // no repository's own config
	cmd.Env = env
	out, err := cmd.Output()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		return nil, true // none set
	case err != nil:
		return nil, false
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		key, _, _ := strings.Cut(sc.Text(), " ")
		keys = append(keys, strings.ToLower(key))
	}
	return keys, true
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// go's words, and git's, for a fetch stopped by these limits.
var (
	// curl's, through git over https.
	httpStallRE = regexp.MustCompile(`Operation too slow\. Less than (\d+) bytes/sec transferred the last (\d+) seconds`)
	// ssh's, when keep-alives go unanswered.
	sshStallRE = regexp.MustCompile(`Timeout, server (\S+) not responding`)
	// The module a line of go's error is about: "go: M@V: ", a
	// continuation "\tM: ", or "module M: ".
	moduleRE = regexp.MustCompile(`(?:^go: |\n\t|module )([^\s@:/'"]+\.[^\s@:'"]*(?:@[^\s:]+)?): `)
)

// Hint returns the hint for go's stderr when it failed because git gave
// up on a stalled fetch, naming the module and the setting, or "".
func (l GitLimits) Hint(stderr string) string {
	var hints []string
	added := func(prefix string) bool {
		return slices.ContainsFunc(l.Added, func(kv string) bool { return strings.HasPrefix(kv, prefix) })
	}
	for _, m := range httpStallRE.FindAllStringSubmatchIndex(stderr, -1) {
		rate, secs := stderr[m[2]:m[3]], stderr[m[4]:m[5]]
		what := fmt.Sprintf("git stopped a fetch that received less than %s %s a second for %ss", rate, plural(rate, "byte"), secs)
		var h string
		if added("GIT_HTTP_LOW_SPEED_TIME=") {
			h = fmt.Sprintf("%s: %s (GIT_HTTP_LOW_SPEED_LIMIT=%d, GIT_HTTP_LOW_SPEED_TIME=%s: gomodx sets them from --stall, so that a stalled fetch fails instead of hanging); check the network path to the repository's host, or allow longer with --stall",
				stalledModule(stderr, m[0]), what, gitLowSpeedLimit, secs)
		} else {
			h = fmt.Sprintf("%s: %s, as your GIT_HTTP_LOW_SPEED_LIMIT and GIT_HTTP_LOW_SPEED_TIME (or git's http.lowSpeedLimit and http.lowSpeedTime) say; check the network path to the repository's host, or raise them",
				stalledModule(stderr, m[0]), what)
		}
		if !slices.Contains(hints, h) {
			hints = append(hints, h)
		}
	}
	if added("GIT_SSH_COMMAND=") {
		for _, m := range sshStallRE.FindAllStringSubmatchIndex(stderr, -1) {
			host := stderr[m[2]:m[3]]
			opts := strings.TrimPrefix(l.value("GIT_SSH_COMMAND"), "ssh ")
			h := fmt.Sprintf("%s: the ssh connection to %s stopped answering and was closed (%s in GIT_SSH_COMMAND: gomodx sets it from --stall, so that a dead connection fails instead of hanging); check the network path to %s",
				stalledModule(stderr, m[0]), host, opts, host)
			if !slices.Contains(hints, h) {
				hints = append(hints, h)
			}
		}
	}
	if len(hints) == 0 {
		return ""
	}
	return "gomodx: hint: " + strings.Join(hints, "\ngomodx: hint: ")
}

func (l GitLimits) value(key string) string { return envValue(l.Added, key) }

// stalledModule names the module of the go error that the message at i
// belongs to: the last one named in its paragraph, from the line that
// starts with "go: ".
func stalledModule(stderr string, i int) string {
	para := stderr[strings.LastIndex(stderr[:i], "\ngo: ")+1 : i]
	all := moduleRE.FindAllStringSubmatch(para, -1)
	if len(all) == 0 {
		return "a module fetched with git"
	}
	return all[len(all)-1][1]
}

func plural(n, noun string) string {
	if n == "1" {
		return noun
	}
	return noun + "s"
}
