package main

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// reportHeader is what the report says about the setup.
type reportHeader struct {
	graph     *graph
	layout    *layout
	goVersion string
}

// column is one tool column of the tables.
type column struct{ name, label string }

// columns returns the table's tool columns, always all of them, so tables
// from runs with different -tools line up; a tool not run shows "–".
func columns() []column {
	return []column{
		{"go", "go"},
		{"gomodx", "gomodx"},
		{"go16", "GOMAXPROCS=16 go"},
		{"limit", "limit"},
	}
}

// report writes the Markdown report.
func (b *bench) report(w io.Writer, h reportHeader) {
	g, lay := h.graph, h.layout
	mode := "pruned graph, main module at go 1.21"
	if g.cfg.unpruned {
		mode = "unpruned graph, main module at go 1.16"
	}
	bw := "unlimited"
	if b.cfg.bandwidth > 0 {
		bw = fmt.Sprintf("%g MB/s shared", b.cfg.bandwidth)
	}
	fmt.Fprintf(w, "## gomodx vs go on a synthetic module graph\n\n")
	fmt.Fprintf(w, "- graph: %d module versions, go reads %d go.mod files and downloads %d zips (%.1f MB, largest %.1f MB); depth %d, %s, seed %d\n",
		len(g.nodes), count(g.reads()), lay.fetched, mb(lay.zipped), mb(lay.largest), g.depth(), mode, g.cfg.seed)
	fmt.Fprintf(w, "- mirror: HTTP/1.1 on 127.0.0.1, first byte of each response after 1 RTT, each new connection %g RTT more, bandwidth %s\n",
		b.cfg.handshake, bw)
	fmt.Fprintf(w, "- %s, %s; median of %d rounds, tools interleaved; cold GOMODCACHE and fresh main module per run, GOSUMDB=off\n",
		h.goVersion, cpus(), b.cfg.rounds)
	fmt.Fprintf(w, "- limit: go on a GOMODCACHE whose cache/download is already full (its CPU floor), plus 1 RTT")
	if b.cfg.bandwidth > 0 {
		fmt.Fprintf(w, ", plus the transfer time of the files at the bandwidth limit")
	}
	fmt.Fprintln(w)
	if b.cfg.gomodx == "go" {
		fmt.Fprintf(w, "- the gomodx column runs the plain go command (-gomodx go): a test of the harness\n")
	}
	fmt.Fprintln(w)

	fmt.Fprintf(w, "| RTT | command |")
	for _, c := range columns() {
		fmt.Fprintf(w, " %s |", c.label)
	}
	fmt.Fprintf(w, " go/gomodx | go16/gomodx | gomodx max RSS |\n|---|---|")
	for range len(columns()) + 3 {
		fmt.Fprintf(w, "---:|")
	}
	fmt.Fprintln(w)
	for _, rtt := range b.cfg.rtts {
		for _, cmd := range b.cfg.commands {
			fmt.Fprintf(w, "| %s | %s |", ms(rtt), cmd)
			med := make(map[string]time.Duration)
			for _, c := range columns() {
				s, d := b.median(cellKey{rtt, cmd, c.name})
				if c.name == "limit" && d > 0 {
					d += rtt + b.transfer(cmd)
					s = seconds(d)
				}
				med[c.name] = d
				fmt.Fprintf(w, " %s |", s)
			}
			fmt.Fprintf(w, " %s | %s | %s |\n",
				ratio(med["go"], med["gomodx"]), ratio(med["go16"], med["gomodx"]),
				b.rss(cellKey{rtt, cmd, "gomodx"}))
		}
	}

	b.reportStats(w)
	b.reportWarm(w)
}

// transfer returns how long the bytes that cmd fetches take at the
// bandwidth limit, if there is one.
func (b *bench) transfer(cmd string) time.Duration {
	if b.cfg.bandwidth <= 0 {
		return 0
	}
	return time.Duration(float64(b.fetched[cmd]) / (b.cfg.bandwidth * 1e6) * float64(time.Second))
}

// median returns the median wall time of a cell, as text and as a number
// (0 when there is none: not run, or failed).
func (b *bench) median(k cellKey) (string, time.Duration) {
	c, ok := b.cells[k]
	switch {
	case !ok:
		return "–", 0
	case c.failed:
		return "fail", 0
	}
	var walls []time.Duration
	for _, r := range c.runs {
		walls = append(walls, r.wall)
	}
	d := medianOf(walls)
	return seconds(d), d
}

// rss returns the median peak RSS of a cell's runs.
func (b *bench) rss(k cellKey) string {
	c, ok := b.cells[k]
	if !ok || c.failed {
		return "–"
	}
	var rss []int64
	for _, r := range c.runs {
		rss = append(rss, r.maxRSS)
	}
	return fmt.Sprintf("%.0f MB", mb(medianOf(rss)))
}

// reportStats writes what the mirror saw per cell (medians over rounds),
// then the totals.
func (b *bench) reportStats(w io.Writer) {
	fmt.Fprintf(w, "\nMirror, per run (median): requests / new connections / peak requests in flight / MB served\n\n")
	fmt.Fprintf(w, "| RTT | command |")
	for _, c := range columns() {
		fmt.Fprintf(w, " %s |", c.label)
	}
	fmt.Fprintf(w, "\n|---|---|")
	for range columns() {
		fmt.Fprintf(w, "---:|")
	}
	fmt.Fprintln(w)
	var total mirrorStats
	for _, rtt := range b.cfg.rtts {
		for _, cmd := range b.cfg.commands {
			fmt.Fprintf(w, "| %s | %s |", ms(rtt), cmd)
			for _, col := range columns() {
				c, ok := b.cells[cellKey{rtt, cmd, col.name}]
				if !ok || len(c.runs) == 0 {
					fmt.Fprintf(w, " – |")
					continue
				}
				if c.failed {
					fmt.Fprintf(w, " fail |")
					continue
				}
				var req, conns, peak, bytes []int64
				for _, r := range c.runs {
					req = append(req, r.stats.requests)
					conns = append(conns, r.stats.conns)
					peak = append(peak, r.stats.peak)
					bytes = append(bytes, r.stats.bytes)
					total.requests += r.stats.requests
					total.conns += r.stats.conns
					total.bytes += r.stats.bytes
					total.peak = max(total.peak, r.stats.peak)
				}
				fmt.Fprintf(w, " %d / %d / %d / %.1f |", medianOf(req), medianOf(conns), medianOf(peak), mb(medianOf(bytes)))
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintf(w, "\nmirror total: %d requests, %d connections, %.1f MB served, peak %d requests in flight\n",
		total.requests, total.conns, mb(total.bytes), total.peak)
}

// reportWarm writes the warm-cache comparison: each tool's median, and the
// median of its per-round difference from go.
func (b *bench) reportWarm(w io.Writer) {
	if len(b.warm) == 0 {
		return
	}
	fmt.Fprintf(w, "\nWarm cache (go mod download already done), RTT 0, %d rounds\n\n", b.cfg.warmRounds)
	fmt.Fprintf(w, "| tool | median | median Δ vs go |\n|---|---:|---:|\n")
	base := b.warm["go"]
	for _, c := range columns() {
		walls, ok := b.warm[c.name]
		if !ok {
			continue
		}
		if walls == nil {
			fmt.Fprintf(w, "| %s | fail | – |\n", c.label)
			continue
		}
		delta := "–"
		if c.name != "go" && len(base) == len(walls) {
			var diffs []time.Duration
			for i := range walls {
				diffs = append(diffs, walls[i]-base[i])
			}
			delta = fmt.Sprintf("%+d ms", medianOf(diffs).Milliseconds())
		}
		fmt.Fprintf(w, "| %s | %d ms | %s |\n", c.label, medianOf(walls).Milliseconds(), delta)
	}
}

// medianOf returns the median of xs (the mean of the middle two for an
// even count), or 0 for none.
func medianOf[T time.Duration | int64](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// seconds formats a duration for the table.
func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// ms formats an RTT.
func ms(d time.Duration) string { return fmt.Sprintf("%g ms", float64(d)/float64(time.Millisecond)) }

// ratio formats a/b, or "–" when either is missing.
func ratio(a, b time.Duration) string {
	if a <= 0 || b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", float64(a)/float64(b))
}

// count returns how many of bs are set.
func count(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
