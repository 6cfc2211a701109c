package checksum

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func TestOpenGOSUMDB(t *testing.T) {
	_, vkey, err := note.GenerateKey(rand.Reader, "sum.example.test")
	if err != nil {
		t.Fatal(err)
	}
	_, slashKey, err := note.GenerateKey(rand.Reader, "sum.example.test/")
	if err != nil {
		t.Fatal(err)
	}
	const golangKey = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
	for _, tc := range []struct {
		name    string
		gosumdb string
		wantDB  string // name of the database, "" for none
		wantURL string
		wantKey string
		wantErr string
	}{
		{name: "default", gosumdb: "sum.golang.org", wantDB: "sum.golang.org", wantKey: golangKey},
		{name: "default with its key", gosumdb: golangKey, wantDB: "sum.golang.org", wantKey: golangKey},
		{name: "china alias", gosumdb: "sum.golang.google.cn", wantDB: "sum.golang.org", wantURL: "https://sum.golang.google.cn", wantKey: golangKey},
		{name: "default with URL", gosumdb: "sum.golang.org https://mirror.example/sumdb", wantDB: "sum.golang.org", wantURL: "https://mirror.example/sumdb", wantKey: golangKey},
		{name: "name+key", gosumdb: vkey, wantDB: "sum.example.test", wantKey: vkey},
		{name: "name+key url", gosumdb: vkey + " http://127.0.0.1:1/db", wantDB: "sum.example.test", wantURL: "http://127.0.0.1:1/db", wantKey: vkey},
		{name: "off", gosumdb: "off"},
		{name: "empty", gosumdb: "", wantErr: "missing GOSUMDB"},
		{name: "unknown name", gosumdb: "sum.example.test", wantErr: "invalid GOSUMDB: malformed verifier id"},
		{name: "bad key", gosumdb: "sum.example.test+01234567+AAAA", wantErr: "invalid GOSUMDB: "},
		{name: "too many fields", gosumdb: vkey + " https://a https://b", wantErr: "invalid GOSUMDB: too many fields"},
		{name: "bad name", gosumdb: slashKey, wantErr: "invalid sumdb name (must be host[/path]): sum.example.test/"},
		{name: "bad URL", gosumdb: vkey + " http://[::1", wantErr: "invalid GOSUMDB URL: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := Open(Options{
				GOSUMDB:    tc.gosumdb,
				GOPATH:     t.TempDir(),
				GOMODCACHE: t.TempDir(),
				Remote: func(context.Context, string, string) ([]byte, error) {
					t.Fatal("Open read the database")
					return nil, nil
				},
			})
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("Open(%q) = %v, want error %q", tc.gosumdb, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if db.Name() != tc.wantDB || db.URL() != tc.wantURL {
				t.Errorf("Open(%q): name %q, URL %q; want %q, %q", tc.gosumdb, db.Name(), db.URL(), tc.wantDB, tc.wantURL)
			}
			if db != nil && db.key != tc.wantKey {
				t.Errorf("Open(%q): key %q, want %q", tc.gosumdb, db.key, tc.wantKey)
			}
		})
	}
}

func TestOpenOptions(t *testing.T) {
	remote := func(context.Context, string, string) ([]byte, error) { return nil, nil }
	for _, tc := range []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"no remote", Options{GOSUMDB: "sum.golang.org", GOMODCACHE: t.TempDir()}, "checksum database sum.golang.org: no Remote"},
		{"no GOMODCACHE", Options{GOSUMDB: "sum.golang.org", Remote: remote}, "checksum database sum.golang.org: GOMODCACHE must be an absolute path"},
		{"relative GOMODCACHE", Options{GOSUMDB: "sum.golang.org", Remote: remote, GOMODCACHE: "pkg/mod"}, "checksum database sum.golang.org: GOMODCACHE must be an absolute path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Open(tc.opts); err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("Open = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
