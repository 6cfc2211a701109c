package doctor

import "testing"

// TestGit checks what doctor says of the git the go command fetches
// private and direct modules with: whether it is needed and there, and
// which stall limits gomodx gives it (or leaves to the user).
func TestGit(t *testing.T) {
	f := newFixture(t, "off")
	f.opts.Offline = true
	added := []string{"GIT_HTTP_LOW_SPEED_LIMIT=1", "GIT_HTTP_LOW_SPEED_TIME=20", "GIT_SSH_COMMAND=ssh -o ServerAliveInterval=7 -o ServerAliveCountMax=3"}

	f.opts.Git = &Git{Path: "/usr/bin/git", Added: added}
	expect(t, find(t, f.run(t), AreaGit, "git"), OK,
		"/usr/bin/git: go fetches modules that reach direct (GOPRIVATE, GOPROXY's direct) with it, and git has no timeout of its own; gomodx adds GIT_HTTP_LOW_SPEED_LIMIT=1, GIT_HTTP_LOW_SPEED_TIME=20 and GIT_SSH_COMMAND='ssh -o ServerAliveInterval=7 -o ServerAliveCountMax=3' (from --stall), so that a stalled fetch fails instead of hanging", "")

	f.opts.Git = &Git{Path: "/usr/bin/git", Added: added[:2], Kept: []string{"core.sshCommand"}}
	expect(t, find(t, f.run(t), AreaGit, "git"), OK, "; yours, kept as they are: core.sshCommand", "")

	f.opts.Git = &Git{Path: "/usr/bin/git"}
	expect(t, find(t, f.run(t), AreaGit, "git"), OK, "with --stall 0, gomodx adds no limit: a stalled fetch hangs", "")

	// No git: fine until a module needs it.
	f.opts.Git = &Git{Added: added}
	expect(t, find(t, f.run(t), AreaGit, "git"), OK, "not found on PATH: go needs it only for modules it fetches itself", "")
	f.vars.GOPRIVATE = "git.corp.example.com"
	expect(t, find(t, f.run(t), AreaGit, "git"), Fail, "not found on PATH, and go fetches modules itself with it: git.corp.example.com/team/lib matches GOPRIVATE/GONOPROXY", "install git")

	f.opts.Git = nil
	for _, c := range f.run(t).Checks {
		if c.Area == AreaGit {
			t.Errorf("a git check without Options.Git: %+v", c)
		}
	}
}
