package main

import (
	"testing"
	"time"
)

// TestLinkLimit checks the link's limit: the bytes at the link's rate,
// plus three round trips.
func TestLinkLimit(t *testing.T) {
	if got, want := linkLimit(48e6, 10e6, 150*time.Millisecond), 5250*time.Millisecond; got != want {
		t.Errorf("linkLimit(48 MB, 10 MB/s, 150 ms) = %v, want %v", got, want)
	}
}
