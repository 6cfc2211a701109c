package mirrors

import (
	"time"

	"golang.org/x/mod/module"
)

// EventKind says what happened to one request.
type EventKind int

const (
	Started    EventKind = iota // a request for File was sent to Mirror
	Retrying                    // Mirror failed with Err; the same mirror is tried again
	FailedOver                  // Mirror failed with Err; Next is tried instead
	Hedged                      // Mirror was slow; the same request was also sent to Next
	Lied                        // Mirror served bytes that store rejected as wrong (Err)
	Done                        // File came from Mirror: Bytes in Elapsed
	// Rescued: GOPROXY's mirrors could not serve File (Mirror failed
	// with Err), so the built-in mirrors are asked, Next first. Sent once
	// per List, before the first request to a built-in mirror.
	Rescued
	// Progress reports Bytes of a large file received so far, of Size
	// (-1 if unknown), from Mirror (for a file fetched in ranges, from
	// the mirror whose answer started it, whichever mirrors serve the
	// ranges). It comes every few hundred kilobytes, for files of at least
	// [RangeThreshold] bytes (of unknown size: once that many have come).
	Progress
)

// Event reports progress of a Fetch to Options.OnEvent, for progress
// displays and machine-readable logs. Mirror and Next are redacted URLs.
type Event struct {
	Kind    EventKind
	Mod     module.Version
	File    string // "info", "mod" or "zip"
	Mirror  string
	Next    string
	Attempt int // 1 for the first try on Mirror
	Bytes   int64
	Size    int64 // with Progress
	Elapsed time.Duration
	Err     error
	// GOPROXY, with Rescued: a GOPROXY that asks Next first, to make the
	// switch permanent.
	GOPROXY string
}
