package main

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

// TestTamperFirst checks that the altered zip is still a valid module zip,
// so that only its hash can give it away.
func TestTamperFirst(t *testing.T) {
	g, err := newGraph(graphConfig{seed: 1, modules: 30, scale: 0.0005})
	if err != nil {
		t.Fatal(err)
	}
	lay, err := g.writeTree(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tampered, mod, err := tamperFirst(lay.proxy, lay.proxy)
	if err != nil {
		t.Fatal(err)
	}
	if len(tampered) != 1 {
		t.Fatalf("%d zips altered, want 1", len(tampered))
	}
	for urlPath, data := range tampered {
		orig := filepath.Join(lay.proxy, filepath.FromSlash(urlPath))
		altered := filepath.Join(t.TempDir(), "altered.zip")
		if err := os.WriteFile(altered, data, 0o666); err != nil {
			t.Fatal(err)
		}
		if _, err := modzip.CheckZip(mod, altered); err != nil {
			t.Errorf("altered zip of %s is not a valid module zip: %v", mod, err)
		}
		h1, err := dirhash.HashZip(orig, dirhash.Hash1)
		if err != nil {
			t.Fatal(err)
		}
		h2, err := dirhash.HashZip(altered, dirhash.Hash1)
		if err != nil {
			t.Fatal(err)
		}
		if h1 == h2 {
			t.Errorf("altered zip of %s has the same hash, %s", mod, h1)
		}
	}
}

func TestReason(t *testing.T) {
	tests := []struct{ out, want string }{
		{"go: example.com/m174@v1.0.0: reading http://127.0.0.1:1/example.com/m174/@v/v1.0.0.mod: 502 Bad Gateway\n\tserver response: Bad Gateway", "502 Bad Gateway"},
		{"verifying example.com/m052@v1.0.0: checksum mismatch\n\tdownloaded: h1:x\n\tgo.sum:     h1:y\n\nSECURITY ERROR", "checksum mismatch"},
		{"go: something | else", `go: something \| else`},
		{"line one\nlast line", "last line"},
	}
	for _, tt := range tests {
		if got := reason(tt.out); got != tt.want {
			t.Errorf("reason(%q) = %q, want %q", tt.out, got, tt.want)
		}
	}
}
