package goenv

import (
	"crypto/rand"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func TestParseSumDB(t *testing.T) {
	_, vkey, err := note.GenerateKey(rand.Reader, "sum.example.test")
	if err != nil {
		t.Fatal(err)
	}
	_, slashKey, err := note.GenerateKey(rand.Reader, "sum.example.test/")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		gosumdb string
		want    SumDB
		wantErr string
	}{
		{name: "default", gosumdb: "sum.golang.org", want: SumDB{Name: "sum.golang.org", Key: SumGolangOrgKey}},
		{name: "default with its key", gosumdb: SumGolangOrgKey, want: SumDB{Name: "sum.golang.org", Key: SumGolangOrgKey}},
		{name: "china alias", gosumdb: "sum.golang.google.cn", want: SumDB{Name: "sum.golang.org", Key: SumGolangOrgKey, URL: "https://sum.golang.google.cn"}},
		{name: "default with URL", gosumdb: "sum.golang.org https://mirror.example/sumdb", want: SumDB{Name: "sum.golang.org", Key: SumGolangOrgKey, URL: "https://mirror.example/sumdb"}},
		{name: "name+key", gosumdb: vkey, want: SumDB{Name: "sum.example.test", Key: vkey}},
		{name: "name+key url", gosumdb: vkey + " http://127.0.0.1:1/db", want: SumDB{Name: "sum.example.test", Key: vkey, URL: "http://127.0.0.1:1/db"}},
		{name: "off", gosumdb: "off", want: SumDB{Off: true}},
		{name: "empty", gosumdb: "", wantErr: "missing GOSUMDB"},
		{name: "unknown name", gosumdb: "sum.example.test", wantErr: "invalid GOSUMDB: malformed verifier id"},
		{name: "bad key", gosumdb: "sum.example.test+01234567+AAAA", wantErr: "invalid GOSUMDB: "},
		{name: "too many fields", gosumdb: vkey + " https://a https://b", wantErr: "invalid GOSUMDB: too many fields"},
		{name: "bad name", gosumdb: slashKey, wantErr: "invalid sumdb name (must be host[/path]): sum.example.test/"},
		{name: "bad URL", gosumdb: vkey + " http://[::1", wantErr: "invalid GOSUMDB URL: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseSumDB(tc.gosumdb)
			if tc.wantErr != "" {
				if got.Err == nil || !strings.HasPrefix(got.Err.Error(), tc.wantErr) {
					t.Fatalf("ParseSumDB(%q) = %+v, want error %q", tc.gosumdb, got, tc.wantErr)
				}
				if got.Name != "" || got.Key != "" || got.Off {
					t.Errorf("ParseSumDB(%q) = %+v with its error", tc.gosumdb, got)
				}
				return
			}
			if got != tc.want {
				t.Errorf("ParseSumDB(%q) = %+v, want %+v", tc.gosumdb, got, tc.want)
			}
		})
	}
}

func TestDirectURL(t *testing.T) {
	for gosumdb, want := range map[string]string{
		"sum.golang.org":       "https://sum.golang.org",
		"sum.golang.google.cn": "https://sum.golang.google.cn",
		"off":                  "",
		SumGolangOrgKey + " https://mirror.example/db/": "https://mirror.example/db",
	} {
		if got := ParseSumDB(gosumdb).DirectURL(); got != want {
			t.Errorf("%q: DirectURL = %q, want %q", gosumdb, got, want)
		}
	}
}

func TestSumdbDir(t *testing.T) {
	for gopath, want := range map[string]string{
		"/home/a/go":           "/home/a/go/pkg/sumdb",
		"/home/a/go:/other/go": "/home/a/go/pkg/sumdb",
		"":                     "error: GOPATH is not set",
		"rel/go":               "error: GOPATH entry is relative: rel/go",
	} {
		c := New(Vars{GOPATH: gopath}, func(string) string { return "" })
		dir, err := c.SumdbDir()
		got := dir
		if err != nil {
			got = "error: " + err.Error()
		}
		if got != want {
			t.Errorf("GOPATH=%q: SumdbDir = %q, want %q", gopath, got, want)
		}
	}
}
