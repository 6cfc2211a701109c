package main

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"time"
)

// progressSummary is what the bench reads from gomodx's JSON events
// (--json-file): the totals of its summary event, and counts of its own
// taken from the other events, to explain a slow run.
type progressSummary struct {
	// From the summary event (the last one, when a toolchain download
	// came first with a summary of its own).
	Elapsed                         float64
	Files                           int
	Retries, Failovers, Hedges      int // Hedges: hedges won
	Mismatches, Repairs, Failed     int
	Mirrors                         []struct{ Mirror string }
	hasSummary                      bool
	started                         map[string]int // start events per mirror
	hedged, rescued, retried, lied  int            // hedge, rescue, retry and mismatch events
	slowest                         string         // the file whose done event came last
	slowestElapsed, slowestFinished float64        // its seconds from request to cache; seconds since the first event
}

// readSummary reads the events in file; nil when there are none.
func readSummary(file string) *progressSummary {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	s := &progressSummary{started: map[string]int{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var first time.Time
	for sc.Scan() {
		var ev struct {
			Time    time.Time
			Action  string
			Module  string
			Version string
			File    string
			Mirror  string
			Elapsed float64
			progressSummary
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		if first.IsZero() {
			first = ev.Time
		}
		switch ev.Action {
		case "summary":
			t := ev.progressSummary
			s.Elapsed = ev.Elapsed // the outer field took it
			s.Files, s.Retries, s.Failovers, s.Hedges = t.Files, t.Retries, t.Failovers, t.Hedges
			s.Mismatches, s.Repairs, s.Failed, s.Mirrors = t.Mismatches, t.Repairs, t.Failed, t.Mirrors
			s.hasSummary = true
		case "start":
			s.started[ev.Mirror]++
		case "hedge":
			s.hedged++
		case "rescue":
			s.rescued++
		case "retry":
			s.retried++
		case "mismatch":
			s.lied++
		case "done":
			s.slowest = ev.Module + "@" + ev.Version + " ." + ev.File
			s.slowestElapsed, s.slowestFinished = ev.Elapsed, ev.Time.Sub(first).Seconds()
		}
	}
	if !s.hasSummary && len(s.started) == 0 {
		return nil
	}
	return s
}

// startedAt counts the requests gomodx began at mirrors whose URL
// contains one of hosts.
func (s *progressSummary) startedAt(hosts []string) int {
	if s == nil {
		return 0
	}
	n := 0
	for m, c := range s.started {
		for _, h := range hosts {
			if strings.Contains(m, h) {
				n += c
				break
			}
		}
	}
	return n
}
