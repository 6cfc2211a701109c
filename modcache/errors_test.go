package modcache

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"golang.org/x/mod/module"
)

// TestHashMismatchWording: a mismatch reads as the go command's ("checksum
// mismatch", the downloaded hash, the expected one under its source's
// name), and names the checksum database, not go.sum, when the expected
// hash came from it.
func TestHashMismatchWording(t *testing.T) {
	mod := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	// A store returns its mismatch as it is (storeZip, checkGoMod); the
	// Download wraps it afterwards.
	mismatch := func(io.Reader) error {
		return &HashMismatchError{Mod: mod, Kind: Zip, Want: "h1:want=", Got: "h1:got="}
	}
	for _, tt := range []struct {
		source string
		want   string
	}{
		{"", "storing: checksum mismatch\n\tdownloaded: h1:got=\n\tgo.sum:     h1:want="},
		{"sum.golang.org", "storing: checksum mismatch\n\tdownloaded: h1:got=\n\tsum.golang.org: h1:want="},
	} {
		err := SumSource(tt.source, mismatch)(strings.NewReader(""))
		err = fmt.Errorf("storing: %w", err)
		if err == nil || err.Error() != tt.want {
			t.Errorf("SumSource(%q): err = %v\nwant %s", tt.source, err, tt.want)
		}
		var mm *HashMismatchError
		if !errors.As(err, &mm) || mm.Source != tt.source {
			t.Errorf("SumSource(%q): Source = %q", tt.source, mm.Source)
		}
	}
	// Other errors pass through untouched.
	other := errors.New("502 Bad Gateway")
	if err := SumSource("sum.golang.org", func(io.Reader) error { return other })(nil); err != other {
		t.Errorf("err = %v, want %v", err, other)
	}
}
