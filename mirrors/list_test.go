package mirrors

import (
	"strings"
	"testing"
)

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
			l := newList(t, tt.goproxy, Options{})
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
