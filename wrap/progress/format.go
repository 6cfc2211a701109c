package progress

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// formatBytes renders a size in SI units, as download tools do: "512 B",
// "1.2 kB", "95.2 MB".
func formatBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, suffix := range []string{"kB", "MB", "GB", "TB"} {
		f /= unit
		if f < unit || suffix == "TB" {
			return fmt.Sprintf("%.1f %s", f, suffix)
		}
	}
	panic("unreachable")
}

// formatElapsed renders a wall time for the summary: "0.03s", "4.1s", "2m05s".
func formatElapsed(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
}

// formatClock renders a running time on the bar: "0:03", "12:40", "1:02:03".
func formatClock(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// formatWait renders how long a request has waited: "12s", "2m05s".
func formatWait(d time.Duration) string {
	d = d.Truncate(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d/time.Second))
	}
	return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
}

// plural renders a count with its noun: "1 module", "3 files".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// mirrorName is a mirror's URL as people read it: without "https://" or
// "http://", so "https://proxy.golang.org" is "proxy.golang.org".
func mirrorName(url string) string {
	for _, scheme := range []string{"https://", "http://"} {
		if s, ok := strings.CutPrefix(url, scheme); ok {
			return s
		}
	}
	return url
}

// shortError is the first line of err: the status of an HTTP error without
// the server's explanation, which the final error report shows.
func shortError(err error) string {
	if err == nil {
		return "failed"
	}
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

// truncate cuts s to at most n runes, marking the cut with "…".
func truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
