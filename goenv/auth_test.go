package goenv

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseNetrc(t *testing.T) {
	const data = `machine a.example login alice password s3cret
machine b.example
	login bob
	password hunter2
machine incomplete.example login carol
macdef init
machine ignored.example login x password y

machine c.example login dave password pw
machine a.example login second password ignored
default
machine after.example login e password f
`
	want := []NetrcLine{
		{"a.example", "alice", "s3cret"},
		{"b.example", "bob", "hunter2"},
		{"c.example", "dave", "pw"},
		{"a.example", "second", "ignored"},
	}
	if got := ParseNetrc(data); !reflect.DeepEqual(got, want) {
		t.Errorf("ParseNetrc =\n%+v\nwant\n%+v", got, want)
	}
}

// TestNetrcDefault checks that a "default" entry gives no credentials, as
// for the go command, which stops reading there.
func TestNetrcDefault(t *testing.T) {
	got := ParseNetrc("machine a.example login al password p1\ndefault login anon password p2\n")
	want := []NetrcLine{{"a.example", "al", "p1"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseNetrc = %+v, want %+v", got, want)
	}
}

func TestUseNetrc(t *testing.T) {
	for goauth, want := range map[string]bool{
		"":                         true,
		"netrc":                    true,
		"off":                      false,
		"git /src":                 false,
		"git /src; netrc":          true,
		"/usr/bin/creds-helper -x": false,
	} {
		if got := useNetrc(goauth); got != want {
			t.Errorf("useNetrc(%q) = %v, want %v", goauth, got, want)
		}
	}
}

func TestNetrcFor(t *testing.T) {
	a := Auth{Netrc: []NetrcLine{
		{"corp.example/go", "alice", "1"},
		{"corp.example", "bob", "2"},
		{"corp.example/go", "carol", "3"},
	}}
	for url, want := range map[string]string{
		"corp.example/go/m/@v/list": "alice",
		"corp.example/go":           "alice",
		"corp.example/other/x":      "bob",
		"corp.example":              "bob",
		"other.example/go":          "",
	} {
		l, ok := a.NetrcFor(url)
		if l.Login != want || ok != (want != "") {
			t.Errorf("NetrcFor(%q) = %+v, %v; want %q", url, l, ok, want)
		}
	}
}

func TestReadAuth(t *testing.T) {
	dir := t.TempDir()
	netrc := filepath.Join(dir, "netrc")
	if err := os.WriteFile(netrc, []byte("machine a.example login al password p\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"NETRC": netrc}
	getenv := func(k string) string { return env[k] }
	if a := readAuth("", getenv); len(a.Netrc) != 1 || a.NetrcPath != netrc {
		t.Errorf("readAuth = %+v", a)
	}
	if a := readAuth("off", getenv); a.UseNetrc || a.Netrc != nil {
		t.Errorf("GOAUTH=off: readAuth = %+v", a)
	}
	env = map[string]string{"HOME": dir}
	if a := readAuth("netrc", getenv); a.NetrcPath != filepath.Join(dir, ".netrc") || a.Netrc != nil || a.NetrcErr != nil {
		t.Errorf("no ~/.netrc: readAuth = %+v", a)
	}
}
