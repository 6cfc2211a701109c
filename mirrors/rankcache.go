package mirrors

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The rank cache is a JSON file shared by gomodx processes:
//
//	{"groups": {"<mirror URLs, sorted, space-separated>": {
//		"probed": "2026-11-21T14:40:00Z",
//		"mirrors": [{"url": "https://goproxy.cn", "reachable": true, "firstByte": 48000000, "sumdb": true}, ...,
//			{"url": "https://goproxy.io", "down": "dial tcp: lookup goproxy.io: no such host", "class": "unreachable"}]
//	}}}
//
// Mirrors are listed best first. URLs never hold a password. A mirror whose
// probe found it unreachable, or with a certificate not trusted, is "down":
// a run that ranks from the cache sets it aside as the probe's own run did,
// so that it costs one failed probe per cache lifetime, not a request per
// file. Entries older than a day are dropped when the file is written; a
// broken file is ignored and replaced.
type rankFile struct {
	Groups map[string]rankEntry `json:"groups"`
}

type rankEntry struct {
	Probed  time.Time      `json:"probed"`
	Mirrors []rankedMirror `json:"mirrors"`
}

type rankedMirror struct {
	URL       string        `json:"url"`
	Reachable bool          `json:"reachable"`
	FirstByte time.Duration `json:"firstByte,omitempty"`
	SumDB     bool          `json:"sumdb,omitempty"`
	Down      string        `json:"down,omitempty"`  // why the probe set it aside
	Class     string        `json:"class,omitempty"` // of that failure: "unreachable" or "certificate"
}

// cachedDown is why a mirror is set aside from the rank cache: the probe
// of an earlier run could not reach it.
type cachedDown struct {
	msg   string
	class Class
	at    time.Time
}

func (e *cachedDown) Error() string {
	return "probed at " + e.at.Local().Format("15:04:05") + ": " + e.msg
}

const rankKeep = 24 * time.Hour

// rankKey identifies g's set of mirrors in the cache.
func rankKey(g *group) string {
	urls := make([]string, len(g.mirrors))
	for i, m := range g.mirrors {
		urls[i] = m.redacted
	}
	slices.Sort(urls)
	return strings.Join(urls, " ")
}

func (l *List) readRankFile() rankFile {
	var f rankFile
	if data, err := os.ReadFile(l.rankCache); err == nil {
		if json.Unmarshal(data, &f) != nil {
			f = rankFile{}
		}
	}
	if f.Groups == nil {
		f.Groups = map[string]rankEntry{}
	}
	return f
}

// cachedRank returns g's ranking from the cache if it is fresh.
func (l *List) cachedRank(g *group) *rankEntry {
	if l.rankTTL < 0 || l.rankCache == "" {
		return nil
	}
	l.cacheMu.Lock()
	f := l.readRankFile()
	l.cacheMu.Unlock()
	e, ok := f.Groups[rankKey(g)]
	if !ok {
		return nil
	}
	age := l.now().Sub(e.Probed)
	if age < -time.Minute || age >= l.rankTTL || len(e.Mirrors) != len(g.mirrors) {
		return nil
	}
	return &e
}

// applyCached makes e g's ranking, seeds the scoreboard with its times,
// and sets aside the mirrors it says are down, as the probe that made it
// did.
func (l *List) applyCached(g *group, e *rankEntry) {
	byURL := map[string]*mirror{}
	for _, m := range g.mirrors {
		byURL[m.redacted] = m
	}
	down := map[*mirror]error{}
	l.mu.Lock()
	defer l.mu.Unlock()
	g.rank = map[*mirror]int{}
	for i, c := range e.Mirrors {
		m := byURL[c.URL]
		if m == nil {
			continue
		}
		g.rank[m] = i
		if c.Reachable && m.score.samples == 0 {
			m.score.lat = max(c.FirstByte, time.Microsecond)
			m.score.sumDB = c.SumDB
		}
		if c.Down != "" {
			class := Unreachable
			if c.Class == Certificate.String() {
				class = Certificate
			}
			down[m] = &cachedDown{msg: c.Down, class: class, at: e.Probed}
		}
	}
	l.markDown(g, func(m *mirror) (bool, error) {
		err, isDown := down[m]
		return !isDown, err
	})
	g.fromCache = true
}

// saveRank writes g's ranking into the cache file: to a temporary file
// first, renamed into place, so a concurrent reader sees the old file or
// the new one. Failures are only logged: the cache is an optimisation.
func (l *List) saveRank(g *group, order []*mirror, got map[*mirror]*ProbeResult) {
	if l.rankTTL < 0 || l.rankCache == "" {
		return
	}
	e := rankEntry{Probed: l.now().UTC()}
	for _, m := range order {
		c := rankedMirror{URL: m.redacted}
		r := got[m]
		switch {
		case r == nil:
		case r.Reachable:
			c.Reachable, c.FirstByte, c.SumDB = true, r.FirstByte, r.SumDB
		case finalProbe(r) != nil:
			c.Down, c.Class = r.Err.Error(), Classify(r.Err).String()
		}
		e.Mirrors = append(e.Mirrors, c)
	}

	l.cacheMu.Lock()
	defer l.cacheMu.Unlock()
	f := l.readRankFile()
	for k, old := range f.Groups {
		if l.now().Sub(old.Probed) > rankKeep {
			delete(f.Groups, k)
		}
	}
	f.Groups[rankKey(g)] = e
	data, err := json.MarshalIndent(f, "", "\t")
	if err != nil {
		return
	}
	if err := writeFileAtomic(l.rankCache, data); err != nil {
		l.log.Debug("rank cache not saved", "file", l.rankCache, "error", err)
	}
}

func writeFileAtomic(name string, data []byte) error {
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(name)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
