package progress

import (
	"encoding/json"
	"time"
)

// JSONEvent is one line of gomodx's machine-readable event stream (-json,
// --json-file), in the spirit of 'go test -json': one JSON object per line,
// written as things happen, with the fields that do not apply left out.
//
//	type JSONEvent struct {
//		Time    time.Time // RFC 3339, when it happened
//		Action  string    // what happened: see below
//		Module  string    // module path
//		Version string    // module version
//		File    string    // "info", "mod" or "zip"; for the go command's other
//		                  // requests (lists, queries, checksum database), the path
//		Mirror  string    // the mirror's URL (without password)
//		Next    string    // failover, hedge, mismatch, rescue: the mirror tried next
//		Attempt int       // start, retry: 1 for the first try on Mirror
//		Bytes   int64     // done: size written to the cache; progress: received
//		                  // so far; summary: in all
//		Size    int64     // progress: the file's size, if the mirror said
//		Elapsed float64   // done: seconds from request to cache; summary: seconds spent fetching
//		Error   string    // retry, failover, mismatch, fail
//		Output  string    // repair: what was repaired
//
//		// summary only
//		Modules, Files                  int // fetched (a module with a file that failed is not)
//		Retries, Failovers, Hedges      int // hedges won
//		Mismatches, Repairs, Failed     int // Failed: files
//		Mirrors []struct{ Mirror string; Files int; Bytes int64 } // in order of first use
//	}
//
// Every file of the plan gets a "plan" event, then any number of request
// events, then exactly one outcome, so that plan = done + cached + left +
// fail once the stream is complete:
//
//	plan      the file was added to the plan (the total of the progress display)
//	start     a request was sent to Mirror
//	retry     Mirror failed with Error; the same request is made again
//	failover  Mirror failed with Error; Next is tried instead
//	hedge     Mirror was slow; the same request was also sent to Next
//	progress  Bytes of a large file (4 MiB or more) have come from Mirror so
//	          far, of Size; every few hundred kilobytes
//	mismatch  Mirror served bytes that do not match go.sum or the checksum
//	          database (Error says how); they were not cached
//	done      outcome: the file was verified and written to the module cache
//	cached    outcome: it was already complete in the cache
//	left      outcome: it is left to the go command (GOPRIVATE, no checksum
//	          to check it against, "direct" in GOPROXY)
//	fail      outcome: it could not be fetched (Error); the command fails
//	rescue    GOPROXY's Mirror could not serve File (Error), so the built-in
//	          mirrors are asked from now on, Next first (once per run)
//	repair    a corrupt cache entry of Module was repaired (Output)
//	summary   the last event, when anything was fetched: the totals (also
//	          when the go command failed, where stderr has no summary line)
//
// For example:
//
//	{"Time":"2025-11-21T14:03:05.1Z","Action":"plan","Module":"golang.org/x/text","Version":"v0.21.0","File":"zip"}
//	{"Time":"2025-11-21T14:03:05.1Z","Action":"start","Module":"golang.org/x/text","Version":"v0.21.0","File":"zip","Mirror":"https://goproxy.cn","Attempt":1}
//	{"Time":"2025-11-21T14:03:06.2Z","Action":"failover","Module":"golang.org/x/text","Version":"v0.21.0","File":"zip","Mirror":"https://goproxy.cn","Next":"https://proxy.golang.org","Error":"502 Bad Gateway (3 tries)"}
//	{"Time":"2025-11-21T14:03:06.2Z","Action":"start","Module":"golang.org/x/text","Version":"v0.21.0","File":"zip","Mirror":"https://proxy.golang.org","Attempt":1}
//	{"Time":"2025-11-21T14:03:06.9Z","Action":"done","Module":"golang.org/x/text","Version":"v0.21.0","File":"zip","Mirror":"https://proxy.golang.org","Bytes":6196832,"Elapsed":0.7}
//	{"Time":"2025-11-21T14:03:09.2Z","Action":"summary","Bytes":95200000,"Elapsed":4.1,"Modules":92,"Files":276,"Retries":3,"Failovers":1,"Mirrors":[{"Mirror":"https://proxy.golang.org","Files":221,"Bytes":76160000},{"Mirror":"https://goproxy.cn","Files":55,"Bytes":19040000}]}
//
// Where the stream goes, so that a tool can always tell it apart from the go
// command's own output: with --json-file PATH, to that file, always.
// Otherwise -json writes it to stdout, except where the go command itself
// was given -json (gomodx download -json): stdout then belongs to the go
// command alone and is byte for byte what 'go mod download -json' prints,
// and gomodx writes its events only to --json-file.
type JSONEvent struct {
	Time    time.Time
	Action  string
	Module  string  `json:",omitempty"`
	Version string  `json:",omitempty"`
	File    string  `json:",omitempty"`
	Mirror  string  `json:",omitempty"`
	Next    string  `json:",omitempty"`
	Attempt int     `json:",omitempty"`
	Bytes   int64   `json:",omitempty"`
	Size    int64   `json:",omitempty"`
	Elapsed float64 `json:",omitempty"`
	Error   string  `json:",omitempty"`
	Output  string  `json:",omitempty"`

	Modules    int           `json:",omitempty"`
	Files      int           `json:",omitempty"`
	Retries    int           `json:",omitempty"`
	Failovers  int           `json:",omitempty"`
	Hedges     int           `json:",omitempty"`
	Mismatches int           `json:",omitempty"`
	Repairs    int           `json:",omitempty"`
	Failed     int           `json:",omitempty"`
	Mirrors    []MirrorShare `json:",omitempty"`
}

// MirrorShare is what one mirror served, in a summary event: files and
// bytes written to the cache.
type MirrorShare struct {
	Mirror string
	Files  int
	Bytes  int64
}

// emit writes ev to the JSON stream, stamped with the time, as one line.
// Called with r.mu held. After a failed write the stream is dropped, and
// the download goes on: [Reporter.Err] says so once it is over.
func (r *Reporter) emit(ev JSONEvent) {
	if r.opts.JSON == nil || r.jsonErr != nil {
		return
	}
	ev.Time = r.now()
	b, err := json.Marshal(ev)
	if err != nil {
		r.jsonErr = err
		return
	}
	_, r.jsonErr = r.opts.JSON.Write(append(b, '\n'))
}
