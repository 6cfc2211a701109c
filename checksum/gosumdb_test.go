package checksum

import (
	"context"
	"strings"
	"testing"
)

func TestOpenOptions(t *testing.T) {
	remote := func(context.Context, string, string) ([]byte, error) { return nil, nil }
	for _, tc := range []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"no remote", Options{Env: testEnv("sum.golang.org", "", t.TempDir())}, "checksum database sum.golang.org: no Remote"},
		{"no GOMODCACHE", Options{Env: testEnv("sum.golang.org", "", ""), Remote: remote}, "checksum database sum.golang.org: GOMODCACHE must be an absolute path"},
		{"relative GOMODCACHE", Options{Env: testEnv("sum.golang.org", "", "pkg/mod"), Remote: remote}, "checksum database sum.golang.org: GOMODCACHE must be an absolute path"},
		{"GOSUMDB that does not parse", Options{Env: testEnv("sum.example.test", "", t.TempDir()), Remote: remote}, "invalid GOSUMDB: malformed verifier id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Open(tc.opts); err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("Open = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestOpenNames(t *testing.T) {
	remote := func(context.Context, string, string) ([]byte, error) { return nil, nil }
	for gosumdb, want := range map[string][2]string{
		"sum.golang.org":       {"sum.golang.org", ""},
		"sum.golang.google.cn": {"sum.golang.org", "https://sum.golang.google.cn"},
	} {
		db, err := Open(Options{Env: testEnv(gosumdb, t.TempDir(), t.TempDir()), Remote: remote})
		if err != nil {
			t.Fatal(err)
		}
		if db.Name() != want[0] || db.URL() != want[1] {
			t.Errorf("Open(%q): name %q, URL %q; want %q", gosumdb, db.Name(), db.URL(), want)
		}
	}
}
