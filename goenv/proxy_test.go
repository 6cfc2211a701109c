package goenv

import (
	"reflect"
	"testing"
)

func TestParseProxy(t *testing.T) {
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
			got, err := ParseProxy(tt.goproxy)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseProxy(%q) = %v, %v; want error %q", tt.goproxy, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseProxy(%q): %v", tt.goproxy, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseProxy(%q) =\n%+v\nwant\n%+v", tt.goproxy, got, tt.want)
			}
		})
	}
}

func TestProxied(t *testing.T) {
	tests := []struct {
		goproxy string
		proxied bool
		forGo   string // the GOPROXY go gets, behind the loopback proxy L
	}{
		{"https://proxy.golang.org,direct", true, "L,direct"},
		{"https://a.example|https://b.example", true, "L"},
		{"https://a.example,off", true, "L,off"},
		{"direct", false, "L,direct"},
		{"off", false, "L,off"},
		{"direct,https://a.example", false, "L,direct"},
	}
	for _, tt := range tests {
		entries, err := ParseProxy(tt.goproxy)
		if err != nil {
			t.Fatal(err)
		}
		p := Proxy{Entries: entries}
		if got := p.Proxied(); got != tt.proxied {
			t.Errorf("%s: Proxied = %v, want %v", tt.goproxy, got, tt.proxied)
		}
		if got := p.For("L"); got != tt.forGo {
			t.Errorf("%s: For = %q, want %q", tt.goproxy, got, tt.forGo)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://alice:s3cret@a.example/go":      "https://alice:xxxxx@a.example/go",
		"https://alice@a.example":                "https://alice@a.example",
		"https://a.example":                      "https://a.example",
		"https://alice:s3cret@a b.example":       "https://alice:xxxxx@a b.example",
		"https://alice:s3cret@[bad/x":            "https://alice:xxxxx@[bad/x",
		"carol:pa55word@proxy.corp.example:8080": "carol:xxxxx@proxy.corp.example:8080",
		"http://[bad":                            "http://[bad",
		"direct":                                 "direct",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
