package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestProjectsHaveTestdata checks that every project -projects names has
// its go.mod and go.sum where corpus.ensure reads them.
func TestProjectsHaveTestdata(t *testing.T) {
	for _, p := range projects {
		for _, name := range []string{"go.mod", "go.sum"} {
			if _, err := os.Stat(filepath.Join("testdata", "real", p.name, name)); err != nil {
				t.Errorf("-projects %s: %v", p.name, err)
			}
		}
	}
}
