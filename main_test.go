package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomodx/gomodx/checksum/checksumtest"
	"github.com/rogpeppe/go-internal/goproxytest"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	// A binary built with -race sleeps a second before it exits, so that
	// late races get reported; the scripts run gomodx a few hundred times,
	// which made those sleeps most of 'make test'. Ten milliseconds, unless
	// GORACE says otherwise (testscript passes GORACE on to the scripts).
	if gorace := os.Getenv("GORACE"); !strings.Contains(gorace, "atexit_sleep_ms") {
		os.Setenv("GORACE", strings.TrimSpace(gorace+" atexit_sleep_ms=10"))
	}
	testscript.Main(m, map[string]func(){
		"gomodx": main,
	})
}

// TestScript runs the end-to-end scripts in testdata/script against the real
// gomodx binary, the real go command and fake mirrors on 127.0.0.1.
func TestScript(t *testing.T) {
	mods := goproxytest.NewTestServer(t, "testdata/mod", "")
	sumdb, gosumdb := checksumtest.NewServer(t, sumdbName, checksumtest.DirSums("testdata/mod"))
	// Share the user's build cache: scripts build programs, and compiling the
	// standard library afresh for each would dominate the run.
	out, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOCACHE: %v", err)
	}
	gocache := strings.TrimSpace(string(out))
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(e *testscript.Env) error {
			// A fresh fault proxy per script, so hit counters do not leak.
			proxy := newFaultProxy(mods.URL, sumdb)
			e.Defer(proxy.Close)
			e.Values[proxyKey{}] = proxy
			e.Setenv("PROXY", proxy.URL)
			e.Setenv("PROXYHOST", strings.TrimPrefix(proxy.URL, "http://"))
			e.Setenv("GOPROXY", proxy.URL+"/mod")
			e.Setenv("GOPATH", filepath.Join(e.WorkDir, "gopath"))
			e.Setenv("GOMODCACHE", filepath.Join(e.WorkDir, "modcache"))
			e.Setenv("GOCACHE", gocache)
			e.Setenv("GOFLAGS", "-modcacherw")
			e.Setenv("GOSUMDB", "off")
			e.Setenv("TESTSUMDB", gosumdb) // scripts that check against the checksum database
			e.Setenv("GOTOOLCHAIN", "local")
			e.Setenv("GOWORK", "off")
			e.Setenv("GONOSUMDB", "")
			e.Setenv("GONOPROXY", "")
			e.Setenv("GOPRIVATE", "")
			e.Setenv("GOMODX_RETRY_WAIT", "1ms")
			e.Setenv("HOME", filepath.Join(e.WorkDir, "home"))
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "tmpfs":
				// A mount namespace of our own where a tmpfs can be mounted,
				// to fill a disk without touching the machine's.
				err := exec.Command("unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=4k tmpfs /tmp").Run()
				return err == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"vsgo": vsgo,
			// proxylog prints the requests the fault proxy served since the
			// last proxylog, one "client mirror file" line each, sorted.
			"proxylog": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 0 {
					ts.Fatalf("usage: proxylog")
				}
				proxy := ts.Value(proxyKey{}).(*faultProxy)
				base := strings.TrimPrefix(proxy.URL, "http://")
				out := ts.Stdout() // even for no request: stdout is proxylog's, not the last command's
				for _, line := range proxy.takeLog() {
					out.Write([]byte(strings.ReplaceAll(line, base, "") + "\n"))
				}
			},
			// waitproxy waits, at most ten seconds, until the fault proxy has
			// seen a request whose log line contains the argument.
			"waitproxy": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: waitproxy substring")
				}
				proxy := ts.Value(proxyKey{}).(*faultProxy)
				if !proxy.waitFor(args[0], 10*time.Second) {
					ts.Fatalf("no request matching %q within 10s", args[0])
				}
			},
		},
	})
}

type proxyKey struct{}
