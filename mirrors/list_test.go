package mirrors

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		goproxy string
		want    []Entry
		wantErr string
	}{
		{
			name:    "empty is the default",
			goproxy: "",
			want:    []Entry{{URL: "https://proxy.golang.org"}, {URL: "direct"}},
		},
		{
			name:    "comma and pipe",
			goproxy: "https://a.example|https://b.example,https://c.example",
			want: []Entry{
				{URL: "https://a.example", FallBackOnError: true},
				{URL: "https://b.example"},
				{URL: "https://c.example"},
			},
		},
		{
			name:    "scheme-less gets https",
			goproxy: "goproxy.cn,mirrors.example/go/,direct",
			want:    []Entry{{URL: "https://goproxy.cn"}, {URL: "https://mirrors.example/go"}, {URL: "direct"}},
		},
		{
			name:    "trailing slashes trimmed",
			goproxy: "https://goproxy.io//|http://127.0.0.1:8080/mod/",
			want:    []Entry{{URL: "https://goproxy.io", FallBackOnError: true}, {URL: "http://127.0.0.1:8080/mod"}},
		},
		{
			name:    "blanks and spaces skipped",
			goproxy: " , https://a.example ,, | direct ",
			want:    []Entry{{URL: "https://a.example"}, {URL: "direct"}},
		},
		{
			name:    "direct ends the list",
			goproxy: "direct,https://ignored.example",
			want:    []Entry{{URL: "direct"}},
		},
		{
			name:    "off ends the list",
			goproxy: "https://a.example|off,https://ignored.example",
			want:    []Entry{{URL: "https://a.example", FallBackOnError: true}, {URL: "off"}},
		},
		{
			name:    "file URL",
			goproxy: "file:///srv/goproxy/",
			want:    []Entry{{URL: "file:///srv/goproxy"}},
		},
		{
			name:    "credentials kept for requests",
			goproxy: "https://alice:s3cret@goproxy.corp.example",
			want:    []Entry{{URL: "https://alice:s3cret@goproxy.corp.example"}},
		},
		{
			name:    "no entries",
			goproxy: " ,|",
			wantErr: "GOPROXY list is not the empty string, but contains no entries",
		},
		{
			name:    "single word is not a URL",
			goproxy: "noproxy",
			wantErr: "invalid proxy URL missing scheme: noproxy",
		},
		{
			name:    "absolute path is not a URL",
			goproxy: "/srv/goproxy",
			wantErr: "invalid proxy URL missing scheme: /srv/goproxy",
		},
		{
			name:    "unknown scheme",
			goproxy: "https://a.example,ftp://b.example",
			wantErr: "invalid proxy URL scheme (must be https, http, file): ftp://b.example",
		},
		{
			name:    "file URL with a host",
			goproxy: "file://host.example/srv",
			wantErr: "invalid file:// proxy URL with non-path elements: file://host.example/srv",
		},
		{
			name:    "invalid URL",
			goproxy: "https://a b.example",
			wantErr: `parse "https://a b.example": invalid character " " in host name`,
		},
		{
			name:    "invalid URL with a password",
			goproxy: "https://alice:s3cret@a b.example",
			wantErr: `parse "https://alice:xxxxx@a b.example": invalid character " " in host name`,
		},
		{
			name:    "bad scheme with a password",
			goproxy: "ftp://alice:s3cret@a.example",
			wantErr: "invalid proxy URL scheme (must be https, http, file): ftp://alice:xxxxx@a.example",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.goproxy)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Parse(%q) = %v, %v; want error %q", tt.goproxy, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.goproxy, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q) =\n%+v\nwant\n%+v", tt.goproxy, got, tt.want)
			}
		})
	}
}

// TestGroups checks the grouping of interchangeable mirrors for a GOPROXY
// that names no public mirror: GOPROXY as written.
func TestGroups(t *testing.T) {
	tests := []struct {
		goproxy string
		want    string // groups as "[a b]," (',' or '|' after each group)
	}{
		{"https://a.example,https://b.example", "[a],[b],"},
		{"https://a.example|https://b.example,https://c.example", "[a b],[c],"},
		{"https://a.example,https://b.example|https://c.example|direct", "[a],[b c]|[direct],"},
		{"https://a.example|https://b.example|", "[a b]|"},
		{"https://a.example|off", "[a]|[off],"},
	}
	for _, tt := range tests {
		t.Run(tt.goproxy, func(t *testing.T) {
			l, err := New(tt.goproxy, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := describeGroups(l.groups); got != tt.want {
				t.Errorf("groups = %s, want %s", got, tt.want)
			}
		})
	}
}

// describeGroups renders groups as "[a b]|[c],", with URLs shortened.
func describeGroups(groups []*group) string {
	var b strings.Builder
	for _, g := range groups {
		var names []string
		for _, m := range g.mirrors {
			name := strings.TrimPrefix(m.URL, "https://")
			name = strings.TrimSuffix(name, ".example")
			if !m.named && !m.keyword() {
				name += "+"
			}
			names = append(names, name)
		}
		sep := ","
		if g.fallBackOnError {
			sep = "|"
		}
		b.WriteString("[" + strings.Join(names, " ") + "]" + sep)
	}
	return b.String()
}
