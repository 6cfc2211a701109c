package mirrors

import (
	"strings"
	"testing"

	"github.com/gomodx/gomodx/goenv"
)

// TestCandidates checks which mirrors are considered, and how they are
// grouped, without contacting any: GOPROXY as written, and the built-in
// public mirrors as a rescue group apart, for a GOPROXY of well-known
// public mirrors only, never a company proxy.
func TestCandidates(t *testing.T) {
	const rescue = " rescue [goproxy.cn+ goproxy.io+ mirrors.aliyun.com/goproxy+]"
	tests := []struct {
		name      string
		goproxy   string
		extra     []string
		noBuiltin bool
		want      string // as describeGroups renders them; "+" marks an added mirror
		wantErr   string
	}{
		{name: "unset is the default", goproxy: "", want: "[proxy.golang.org],[direct]," + rescue},
		{name: "the default", goproxy: "https://proxy.golang.org,direct", want: "[proxy.golang.org],[direct]," + rescue},
		{name: "default without direct", goproxy: "https://proxy.golang.org", want: "[proxy.golang.org]," + rescue},
		{name: "public mirrors in any order", goproxy: "https://goproxy.cn,https://proxy.golang.org,direct", want: "[goproxy.cn],[proxy.golang.org],[direct], rescue [goproxy.io+ mirrors.aliyun.com/goproxy+]"},
		{name: "public with pipe keeps pipe before direct", goproxy: "goproxy.cn|direct", want: "[goproxy.cn]|[direct], rescue [proxy.golang.org+ goproxy.io+ mirrors.aliyun.com/goproxy+]"},
		{name: "public with off", goproxy: "https://goproxy.io,off", want: "[goproxy.io],[off], rescue [proxy.golang.org+ goproxy.cn+ mirrors.aliyun.com/goproxy+]"},
		{name: "other well-known public", goproxy: "https://mirrors.tencent.com/go/,direct", want: "[mirrors.tencent.com/go],[direct], rescue [proxy.golang.org+ goproxy.cn+ goproxy.io+ mirrors.aliyun.com/goproxy+]"},
		{name: "public spelled differently", goproxy: "https://GOPROXY.CN/,direct", want: "[GOPROXY.CN],[direct], rescue [proxy.golang.org+ goproxy.io+ mirrors.aliyun.com/goproxy+]"},
		{name: "company proxy alone", goproxy: "https://goproxy.corp.example,direct", want: "[goproxy.corp],[direct],"},
		{name: "company proxy before a public one", goproxy: "https://goproxy.corp.example,https://proxy.golang.org,direct", want: "[goproxy.corp],[proxy.golang.org],[direct],"},
		{name: "company proxy piped to a public one", goproxy: "https://goproxy.corp.example|https://proxy.golang.org", want: "[goproxy.corp proxy.golang.org],"},
		{name: "credentials make it private", goproxy: "https://alice:s3cret@goproxy.cn,direct", want: "[alice:s3cret@goproxy.cn],[direct],"},
		{name: "plain http is not the public mirror", goproxy: "http://goproxy.cn,direct", want: "[http://goproxy.cn],[direct],"},
		{name: "direct alone adds nothing", goproxy: "direct", want: "[direct],"},
		{name: "off alone adds nothing", goproxy: "off", want: "[off],"},
		{name: "no builtin keeps GOPROXY as written", goproxy: "https://goproxy.cn,https://proxy.golang.org,direct", noBuiltin: true, want: "[goproxy.cn],[proxy.golang.org],[direct],"},
		{name: "no builtin default", goproxy: "", noBuiltin: true, want: "[proxy.golang.org],[direct],"},
		{name: "extra joins the public mirror", goproxy: "", extra: []string{"https://m.example"}, want: "[proxy.golang.org m+],[direct]," + rescue},
		{name: "extra joins the company proxy", goproxy: "https://goproxy.corp.example,direct", extra: []string{"m.example", " ", "https://n.example/"}, want: "[goproxy.corp m+ n+],[direct],"},
		{name: "extra joins the first run", goproxy: "https://a.example|https://b.example,https://c.example", extra: []string{"https://m.example"}, want: "[a b m+],[c],"},
		{name: "extra before direct may fall back to it", goproxy: "direct", extra: []string{"https://m.example"}, want: "[m+]|[direct],"},
		{name: "extra ignored with off", goproxy: "off", extra: []string{"https://m.example"}, want: "[off],"},
		{name: "extra naming a GOPROXY mirror", goproxy: "https://goproxy.corp.example", extra: []string{"https://goproxy.corp.example/"}, want: "[goproxy.corp],"},
		{name: "extra naming a built-in one", goproxy: "", extra: []string{"https://goproxy.cn"}, want: "[proxy.golang.org goproxy.cn+],[direct], rescue [goproxy.io+ mirrors.aliyun.com/goproxy+]"},
		{name: "extra with no builtin", goproxy: "", extra: []string{"https://m.example"}, noBuiltin: true, want: "[proxy.golang.org m+],[direct],"},
		{name: "extra keyword", goproxy: "", extra: []string{"direct"}, wantErr: "extra mirror direct: not a mirror URL"},
		{name: "extra bad scheme", goproxy: "", extra: []string{"ftp://alice:pw@m.example"}, wantErr: "extra mirror: invalid proxy URL scheme (must be https, http, file): ftp://alice:xxxxx@m.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, err := goenv.ParseProxy(tt.goproxy)
			if err != nil {
				t.Fatal(err)
			}
			groups, rescue, err := candidates(entries, tt.extra, tt.noBuiltin, builtinMirrors)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("candidates = %s, %v; want error %q", describeGroups(groups), err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := describeGroups(groups)
			if rescue != nil {
				got += " rescue " + strings.TrimSuffix(describeGroups([]*group{rescue}), ",")
			}
			if got != tt.want {
				t.Errorf("groups\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
