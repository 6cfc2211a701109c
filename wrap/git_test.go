package wrap

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestGitLimits(t *testing.T) {
	const ssh = "GIT_SSH_COMMAND=ssh -o ServerAliveInterval=7 -o ServerAliveCountMax=3"
	for _, tt := range []struct {
		name       string
		env        map[string]string
		configured []string
		stall      time.Duration
		added      []string
		kept       []string
	}{
		{"nothing set", nil, nil, 20 * time.Second,
			[]string{"GIT_HTTP_LOW_SPEED_LIMIT=1", "GIT_HTTP_LOW_SPEED_TIME=20", ssh}, nil},
		{"no stall limit", nil, nil, 0, nil, nil},
		{"a fraction of a second is a second", nil, nil, 1500 * time.Millisecond,
			[]string{"GIT_HTTP_LOW_SPEED_LIMIT=1", "GIT_HTTP_LOW_SPEED_TIME=2", "GIT_SSH_COMMAND=ssh -o ServerAliveInterval=1 -o ServerAliveCountMax=3"}, nil},
		{"the user's low-speed time", map[string]string{"GIT_HTTP_LOW_SPEED_TIME": "300"}, nil, 20 * time.Second,
			[]string{ssh}, []string{"GIT_HTTP_LOW_SPEED_TIME"}},
		{"git's http.lowSpeedLimit", nil, []string{"http.https://git.corp.example.lowspeedlimit"}, 20 * time.Second,
			[]string{ssh}, []string{"http.lowSpeedLimit/http.lowSpeedTime"}},
		{"the user's GIT_SSH_COMMAND", map[string]string{"GIT_SSH_COMMAND": "ssh -i ~/.ssh/deploy"}, nil, 20 * time.Second,
			[]string{"GIT_HTTP_LOW_SPEED_LIMIT=1", "GIT_HTTP_LOW_SPEED_TIME=20"}, []string{"GIT_SSH_COMMAND"}},
		{"the user's GIT_SSH", map[string]string{"GIT_SSH": "/usr/bin/plink"}, nil, 20 * time.Second,
			[]string{"GIT_HTTP_LOW_SPEED_LIMIT=1", "GIT_HTTP_LOW_SPEED_TIME=20"}, []string{"GIT_SSH"}},
		{"git's core.sshCommand", nil, []string{"core.sshcommand"}, 20 * time.Second,
			[]string{"GIT_HTTP_LOW_SPEED_LIMIT=1", "GIT_HTTP_LOW_SPEED_TIME=20"}, []string{"core.sshCommand"}},
		{"git's ssh.variant", nil, []string{"ssh.variant"}, 20 * time.Second,
			[]string{"GIT_HTTP_LOW_SPEED_LIMIT=1", "GIT_HTTP_LOW_SPEED_TIME=20"}, []string{"ssh.variant"}},
	} {
		l := newGitLimits(func(k string) string { return tt.env[k] }, tt.stall, tt.configured, true)
		if !slices.Equal(l.Added, tt.added) || !slices.Equal(l.Kept, tt.kept) {
			t.Errorf("%s:\nadded %q\n kept %q\nwant\nadded %q\n kept %q", tt.name, l.Added, l.Kept, tt.added, tt.kept)
		}
	}
	// A git config that cannot be read might hold a core.sshCommand:
	// nothing is added then.
	if l := newGitLimits(func(string) string { return "" }, 20*time.Second, nil, false); len(l.Added) > 0 {
		t.Errorf("with git's config unknown, added %q", l.Added)
	}
}

// go 1.26's messages when git gave up on a stalled fetch, as a download
// and a package import report them.
const (
	downloadStalled = `go: github.com/acme/private@v1.0.0: reading github.com/acme/private/go.mod at revision v1.0.0: git ls-remote -q --end-of-options https://github.com/acme/private in /tmp/gopath/pkg/mod/cache/vcs/fa96790492bc7c5a5c0ebed6b06ed468cef0a7bcaff82ebd4a70b5f61be4c190: exit status 128:
	fatal: unable to access 'https://github.com/acme/private/': Operation too slow. Less than 1 bytes/sec transferred the last 20 seconds
`
	importStalled = `go: finding module for package github.com/acme/private
go: example.com/m imports
	github.com/acme/private: module github.com/acme/private: git ls-remote -q --end-of-options origin in /tmp/gopath/pkg/mod/cache/vcs/fa96790492bc7c5a5c0ebed6b06ed468cef0a7bcaff82ebd4a70b5f61be4c190: exit status 128:
	fatal: unable to access 'https://github.com/acme/private/': Operation too slow. Less than 1 bytes/sec transferred the last 20 seconds
`
	sshStalled = `go: git.corp.example/platform/auth@v1.4.0: git fetch -f origin refs/heads/*:refs/heads/* refs/tags/*:refs/tags/* in /tmp/gopath/pkg/mod/cache/vcs/0123: exit status 128:
	Timeout, server git.corp.example not responding.
	fatal: the remote end hung up unexpectedly
`
)

func TestGitLimitsHint(t *testing.T) {
	ours := newGitLimits(func(string) string { return "" }, 20*time.Second, nil, true)
	theirs := newGitLimits(func(k string) string {
		if strings.HasPrefix(k, "GIT_HTTP_LOW_SPEED") || k == "GIT_SSH_COMMAND" {
			return "20"
		}
		return ""
	}, 20*time.Second, nil, true)
	for _, tt := range []struct {
		name   string
		limits GitLimits
		stderr string
		want   string
	}{
		{"download", ours, downloadStalled,
			"gomodx: hint: github.com/acme/private@v1.0.0: git stopped a fetch that received less than 1 byte a second for 20s (GIT_HTTP_LOW_SPEED_LIMIT=1, GIT_HTTP_LOW_SPEED_TIME=20: gomodx sets them from --stall, so that a stalled fetch fails instead of hanging); check the network path to the repository's host, or allow longer with --stall"},
		{"import", ours, "go: downloading example.com/a v1.0.0\n" + importStalled,
			"gomodx: hint: github.com/acme/private: git stopped a fetch that received less than 1 byte a second for 20s (GIT_HTTP_LOW_SPEED_LIMIT=1, GIT_HTTP_LOW_SPEED_TIME=20: gomodx sets them from --stall, so that a stalled fetch fails instead of hanging); check the network path to the repository's host, or allow longer with --stall"},
		{"the user's limits", theirs, downloadStalled,
			"gomodx: hint: github.com/acme/private@v1.0.0: git stopped a fetch that received less than 1 byte a second for 20s, as your GIT_HTTP_LOW_SPEED_LIMIT and GIT_HTTP_LOW_SPEED_TIME (or git's http.lowSpeedLimit and http.lowSpeedTime) say; check the network path to the repository's host, or raise them"},
		{"ssh", ours, sshStalled,
			"gomodx: hint: git.corp.example/platform/auth@v1.4.0: the ssh connection to git.corp.example stopped answering and was closed (-o ServerAliveInterval=7 -o ServerAliveCountMax=3 in GIT_SSH_COMMAND: gomodx sets it from --stall, so that a dead connection fails instead of hanging); check the network path to git.corp.example"},
		{"the user's ssh", theirs, sshStalled, ""},
		{"another failure", ours, "go: example.com/a@v1.0.0: reading https://proxy.golang.org/example.com/a/@v/v1.0.0.mod: 404 Not Found\n", ""},
		{"two modules, one hint each", ours, downloadStalled + strings.ReplaceAll(downloadStalled, "acme/private", "acme/other"),
			"gomodx: hint: github.com/acme/private@v1.0.0: git stopped a fetch that received less than 1 byte a second for 20s (GIT_HTTP_LOW_SPEED_LIMIT=1, GIT_HTTP_LOW_SPEED_TIME=20: gomodx sets them from --stall, so that a stalled fetch fails instead of hanging); check the network path to the repository's host, or allow longer with --stall\n" +
				"gomodx: hint: github.com/acme/other@v1.0.0: git stopped a fetch that received less than 1 byte a second for 20s (GIT_HTTP_LOW_SPEED_LIMIT=1, GIT_HTTP_LOW_SPEED_TIME=20: gomodx sets them from --stall, so that a stalled fetch fails instead of hanging); check the network path to the repository's host, or allow longer with --stall"},
	} {
		if got := tt.limits.Hint(tt.stderr); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}
