package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// column is one tool column of the tables.
type column struct{ name, label string }

// columns returns the table's tool columns: go, gomodx and go16 always, so
// tables from runs with different -tools line up (a tool not run shows
// "–"), and the gomodx-base binary when it was run beside gomodx.
func (b *bench) columns() []column {
	cols := []column{
		{"go", "go"},
		{"gomodx", "gomodx"},
		{"go16", "`GOMAXPROCS=16` go"},
	}
	for _, t := range b.tools {
		if t.name == "gomodx-base" {
			cols = append(cols, column{t.name, t.label})
		}
	}
	return cols
}

// reportHeader writes what the report says about the whole run: the
// machine, the mirror and the method.
func reportHeader(w io.Writer, cfg config, goVersion, tmp string) {
	link := fmt.Sprintf("first byte of each response after 1 RTT, each new connection %g RTT more", cfg.handshake)
	if cfg.connBandwidth > 0 {
		link += fmt.Sprintf(", %g MB/s per connection", cfg.connBandwidth)
	}
	if cfg.bandwidth > 0 {
		link += fmt.Sprintf(", %g MB/s in all", cfg.bandwidth)
	}
	if cfg.resets > 0 {
		link += fmt.Sprintf(", %g%% of zip bodies cut at half (connection closed)", cfg.resets*100)
	}
	proto := "HTTP/1.1"
	if cfg.tls {
		proto = "HTTPS, HTTP/2"
	}
	fmt.Fprintf(w, "## gomodx vs go\n\n")
	fmt.Fprintf(w, "- machine: %s, %s; module caches on %s\n", cpus(), goVersion, fsOf(tmp))
	fmt.Fprintf(w, "- mirror: %s on 127.0.0.1; %s; GOSUMDB=off, go.sum complete\n", proto, link)
	fmt.Fprintf(w, "- each cell: median of %d rounds (min–max); the tools interleaved within each round; every run on a module cache at a new path, after a sync; no cache removed while anything is timed\n", cfg.rounds)
	fmt.Fprintf(w, "- CPU: user + system seconds of the process and the processes it waited for (gomodx's go); RSS: peak resident memory of the largest of them\n")
	if cfg.clean {
		fmt.Fprintf(w, "- clean+download: `go clean -modcache` of a full module cache of the same graph (untimed), a sync, then the cold download\n")
	}
	if cfg.gomodx == "go" {
		fmt.Fprintf(w, "- the gomodx column runs the plain go command (-gomodx go): a test of the harness\n")
	}
}

// report writes the tables of one source.
func (b *bench) report(w io.Writer, src source) {
	fmt.Fprintf(w, "\n### %s\n\n", src.title)
	for _, l := range src.about {
		fmt.Fprintf(w, "- %s\n", l)
	}
	fmt.Fprintf(w, "- load average (1 min) when the runs started: %s\n", b.loadText())
	fmt.Fprintln(w)

	fmt.Fprintf(w, "Wall time:\n\n| op | RTT |")
	for _, c := range b.columns() {
		fmt.Fprintf(w, " %s |", c.label)
	}
	ratios := []string{"go", "go16"}
	fmt.Fprintf(w, " go / gomodx | go16 / gomodx |")
	if len(b.columns()) > 3 {
		ratios = append(ratios, "gomodx-base")
		fmt.Fprintf(w, " base / gomodx |")
	}
	fmt.Fprintf(w, "\n| --- | --- |")
	for range len(b.columns()) + len(ratios) {
		fmt.Fprintf(w, " ---: |")
	}
	fmt.Fprintln(w)
	b.eachRow(func(k cellKey) {
		fmt.Fprintf(w, "| %s | %s |", opLabel(k.op), ms(k.rtt))
		for _, c := range b.columns() {
			fmt.Fprintf(w, " %s |", b.spread(cellKey{k.rtt, k.op, c.name}, func(r result) float64 { return r.wall.Seconds() }, "%.2f s"))
		}
		for _, name := range ratios {
			fmt.Fprintf(w, " %s |", b.ratio(k, name))
		}
		fmt.Fprintln(w)
	})

	fmt.Fprintf(w, "\nCPU time and peak RSS:\n\n| op | RTT |")
	for _, c := range b.columns() {
		fmt.Fprintf(w, " %s CPU |", c.label)
	}
	for _, c := range b.columns() {
		fmt.Fprintf(w, " %s RSS |", c.label)
	}
	fmt.Fprintf(w, "\n| --- | --- |")
	for range 2 * len(b.columns()) {
		fmt.Fprintf(w, " ---: |")
	}
	fmt.Fprintln(w)
	b.eachRow(func(k cellKey) {
		fmt.Fprintf(w, "| %s | %s |", opLabel(k.op), ms(k.rtt))
		for _, c := range b.columns() {
			fmt.Fprintf(w, " %s |", b.spread(cellKey{k.rtt, k.op, c.name}, func(r result) float64 { return r.cpu.Seconds() }, "%.2f s"))
		}
		for _, c := range b.columns() {
			fmt.Fprintf(w, " %s |", b.spread(cellKey{k.rtt, k.op, c.name}, func(r result) float64 { return mb(r.maxRSS) }, "%.0f MB"))
		}
		fmt.Fprintln(w)
	})

	b.reportLimit(w)
	b.reportStats(w)
	b.reportWarm(w)
}

// loadText sums up the load averages seen when the runs started.
func (b *bench) loadText() string {
	var xs []float64
	for _, c := range b.cells {
		for _, r := range c.runs {
			if r.load > 0 {
				xs = append(xs, r.load)
			}
		}
	}
	return loadSummary(xs)
}

// loadSummary formats load averages: "median 1.2, 0.4–2.3".
func loadSummary(xs []float64) string {
	if len(xs) == 0 {
		return "unknown"
	}
	return fmt.Sprintf("median %.1f, %.1f–%.1f", medianOf(xs), slices.Min(xs), slices.Max(xs))
}

// eachRow calls f for every row of the tables, in the order measured.
func (b *bench) eachRow(f func(k cellKey)) {
	for _, op := range []string{opDownload, opTidy, opClean} {
		for _, rtt := range b.cfg.rtts {
			if b.hasRow(rtt, op) {
				f(cellKey{rtt: rtt, op: op})
			}
		}
	}
}

// hasRow reports whether any tool ran op at rtt.
func (b *bench) hasRow(rtt time.Duration, op string) bool {
	for _, c := range b.columns() {
		if _, ok := b.cells[cellKey{rtt, op, c.name}]; ok {
			return true
		}
	}
	return false
}

// opLabel names an operation in the tables.
func opLabel(op string) string {
	if op == opClean {
		return "download after `go clean -modcache`"
	}
	return op
}

// spread formats the median of a cell's runs and their range, by the
// value f takes from each run: "5.26 s (5.10–5.51)".
func (b *bench) spread(k cellKey, f func(result) float64, format string) string {
	c, ok := b.cells[k]
	switch {
	case !ok || len(c.runs) == 0:
		return "–"
	case c.failed:
		return "fail"
	}
	var xs []float64
	for _, r := range c.runs {
		xs = append(xs, f(r))
	}
	med := fmt.Sprintf(format, medianOf(xs))
	if len(xs) == 1 {
		return med
	}
	num := strings.TrimSuffix(strings.TrimSuffix(format, " s"), " MB")
	return fmt.Sprintf("%s (%s–%s)", med, fmt.Sprintf(num, slices.Min(xs)), fmt.Sprintf(num, slices.Max(xs)))
}

// ratio formats how many times faster gomodx was than tool in a row: the
// median of the round-by-round ratios, and their range.
func (b *bench) ratio(k cellKey, tool string) string {
	a, ok1 := b.cells[cellKey{k.rtt, k.op, tool}]
	g, ok2 := b.cells[cellKey{k.rtt, k.op, "gomodx"}]
	if !ok1 || !ok2 || a.failed || g.failed {
		return "–"
	}
	var rs []float64
	for i := range min(len(a.runs), len(g.runs)) {
		if g.runs[i].wall > 0 {
			rs = append(rs, a.runs[i].wall.Seconds()/g.runs[i].wall.Seconds())
		}
	}
	if len(rs) == 0 {
		return "–"
	}
	if len(rs) == 1 {
		return fmt.Sprintf("%.2f×", rs[0])
	}
	return fmt.Sprintf("%.2f× (%.2f–%.2f)", medianOf(rs), slices.Min(rs), slices.Max(rs))
}

// limitRTTs is the round trips in the link's limit: a new connection's
// handshake (TCP and TLS, as the mirror models them with -handshake 2) and
// one request's round trip. Every other round trip a tool pays could, in
// principle, overlap with the transfer.
const limitRTTs = 3

// reportLimit writes, with a bandwidth limit for the whole link, how far
// each tool is from the least time the link allows: the bytes plain go
// needed (the files go mod download or tidy fetched, as the mirror
// counted them) at the link's bandwidth, plus limitRTTs round trips.
func (b *bench) reportLimit(w io.Writer) {
	if b.cfg.bandwidth <= 0 {
		return
	}
	fmt.Fprintf(w, "\nThe link's limit: the bytes plain go needed (what the mirror sent for go's runs, median) over %g MB/s, plus %d RTT (one connection's TCP and TLS handshake and one request's round trip)\n\n",
		b.cfg.bandwidth, limitRTTs)
	fmt.Fprintf(w, "| op | RTT | bytes go needed | limit |")
	for _, c := range b.columns() {
		fmt.Fprintf(w, " %s ÷ limit |", c.label)
	}
	fmt.Fprintf(w, "\n| --- | --- | ---: | ---: |")
	for range b.columns() {
		fmt.Fprintf(w, " ---: |")
	}
	fmt.Fprintln(w)
	b.eachRow(func(k cellKey) {
		goCell, ok := b.cells[cellKey{k.rtt, k.op, "go"}]
		if !ok || goCell.failed || len(goCell.runs) == 0 {
			return
		}
		var bytes []int64
		for _, r := range goCell.runs {
			bytes = append(bytes, r.stats.bytes)
		}
		need := medianOf(bytes)
		limit := linkLimit(need, b.cfg.bandwidth*1e6, k.rtt)
		fmt.Fprintf(w, "| %s | %s | %.1f MB | %.2f s |", opLabel(k.op), ms(k.rtt), mb(need), limit.Seconds())
		for _, col := range b.columns() {
			c, ok := b.cells[cellKey{k.rtt, k.op, col.name}]
			if !ok || len(c.runs) == 0 {
				fmt.Fprintf(w, " – |")
				continue
			}
			if c.failed {
				fmt.Fprintf(w, " fail |")
				continue
			}
			var rs []float64
			for _, r := range c.runs {
				rs = append(rs, r.wall.Seconds()/limit.Seconds())
			}
			if len(rs) == 1 {
				fmt.Fprintf(w, " %.2f× |", rs[0])
				continue
			}
			fmt.Fprintf(w, " %.2f× (%.2f–%.2f) |", medianOf(rs), slices.Min(rs), slices.Max(rs))
		}
		fmt.Fprintln(w)
	})
}

// linkLimit is the least time bytes take over a link of rate bytes a
// second with the given RTT: see reportLimit.
func linkLimit(bytes int64, rate float64, rtt time.Duration) time.Duration {
	return time.Duration(float64(bytes)/rate*float64(time.Second)) + limitRTTs*rtt
}

// reportStats writes what the mirror saw per cell (medians over rounds),
// then the totals.
func (b *bench) reportStats(w io.Writer) {
	fmt.Fprintf(w, "\nMirror, per run (median): requests / new connections / peak requests in flight / MB served\n\n")
	fmt.Fprintf(w, "| op | RTT |")
	for _, c := range b.columns() {
		fmt.Fprintf(w, " %s |", c.label)
	}
	fmt.Fprintf(w, "\n| --- | --- |")
	for range b.columns() {
		fmt.Fprintf(w, " ---: |")
	}
	fmt.Fprintln(w)
	b.eachRow(func(k cellKey) {
		fmt.Fprintf(w, "| %s | %s |", opLabel(k.op), ms(k.rtt))
		for _, col := range b.columns() {
			c, ok := b.cells[cellKey{k.rtt, k.op, col.name}]
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
			}
			fmt.Fprintf(w, " %d / %d / %d / %.1f |", medianOf(req), medianOf(conns), medianOf(peak), mb(medianOf(bytes)))
		}
		fmt.Fprintln(w)
	})
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
	for _, c := range b.columns() {
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
func medianOf[T time.Duration | int64 | float64](xs []T) T {
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

// ms formats an RTT.
func ms(d time.Duration) string { return fmt.Sprintf("%g ms", float64(d)/float64(time.Millisecond)) }

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

// fsOf describes the file system that holds dir, from /proc/self/mounts
// where there is one: its type, and whether it has a journal (ext4's
// behaviour after a large removal depends on it, see bench.measure).
func fsOf(dir string) string {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return "an unknown file system"
	}
	best, desc := "", "an unknown file system"
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		mnt := f[1]
		if (dir == mnt || strings.HasPrefix(dir, strings.TrimSuffix(mnt, "/")+"/")) && len(mnt) >= len(best) {
			best, desc = mnt, fmt.Sprintf("%s (%s, mounted at %s)", f[2], f[3], mnt)
			if f[2] == "ext4" {
				if dev := strings.TrimPrefix(f[0], "/dev/"); dev != f[0] {
					if _, err := os.Stat("/proc/fs/jbd2/" + dev + "-8"); err != nil {
						desc = fmt.Sprintf("ext4 without a journal (%s, mounted at %s)", f[3], mnt)
					}
				}
			}
		}
	}
	return desc
}
