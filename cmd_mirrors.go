package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gomodx/gomodx/goenv"
	"github.com/gomodx/gomodx/mirrors"
)

// mirrorConfig holds the flags that choose the mirrors, for every command
// that fetches. Bind it with mirrorFlags and pass it on with apply.
type mirrorConfig struct {
	extra     cli.StringSlice
	noBuiltin bool
}

// mirrorFlags are the flags of mc.
func mirrorFlags(mc *mirrorConfig) []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{
			Name:        "mirror",
			Usage:       "also use this mirror, interchangeable with GOPROXY's first ones (repeatable; GOMODX_MIRRORS is comma-separated)",
			EnvVars:     []string{"GOMODX_MIRRORS"},
			Destination: &mc.extra,
			Action: func(c *cli.Context, list []string) error {
				for _, raw := range list {
					entries, err := goenv.ParseProxy(raw)
					if err == nil && (len(entries) != 1 || entries[0].Keyword()) {
						err = errors.New("not a mirror URL")
					}
					if err != nil {
						fromEnv := func(s string) bool { return slices.Contains(strings.Split(s, ","), raw) }
						return badValue(c, "mirror", "GOMODX_MIRRORS", goenv.Redact(raw), fromEnv, "a mirror's URL, http, https or file ("+err.Error()+")")
					}
				}
				return nil
			},
		},
		&cli.BoolFlag{
			Name:        "no-builtin-mirrors",
			Usage:       "never ask the built-in public mirrors, even when GOPROXY's mirrors cannot serve a file",
			EnvVars:     []string{"GOMODX_NO_BUILTIN_MIRRORS"},
			Destination: &mc.noBuiltin,
		},
	}
}

// apply sets the options of opts that mc decides.
func (mc *mirrorConfig) apply(opts *mirrors.Options) {
	opts.Extra = mc.extra.Value()
	opts.NoBuiltin = mc.noBuiltin
}

// mirrorsCommand is 'gomodx mirrors': probe the mirrors gomodx would use,
// rank them and print what it found.
func mirrorsCommand(cfg *config, cmd func() *command) *cli.Command {
	mc := &cfg.mirrors
	var asJSON bool
	timeout := 3 * time.Second
	return &cli.Command{
		Name:  "mirrors",
		Usage: "probe the mirrors gomodx would use (GOPROXY, --mirror, built-in) and rank them",
		Description: "Each mirror is asked for /sumdb/sum.golang.org/supported, all at once, and the\n" +
			"time of each step is shown. The ranking is saved for the next runs. The exit\n" +
			"status is 0 when at least one mirror answers, 1 otherwise.",
		Flags: append(mirrorFlags(mc),
			&cli.BoolFlag{Name: "json", Usage: "print a JSON array instead of a table", Destination: &asJSON},
			&cli.DurationFlag{Name: "probe-timeout", Value: timeout, Usage: "give each mirror this long to answer", EnvVars: []string{"GOMODX_PROBE_TIMEOUT"}, Destination: &timeout},
			&cli.BoolFlag{Name: "v", Usage: "log every request to stderr", EnvVars: []string{"GOMODX_VERBOSE"}, Destination: &cfg.verbose},
		),
		Action: func(c *cli.Context) error {
			return cmd().mirrors(c.Context, timeout, asJSON)
		},
	}
}

// mirrors probes and prints.
func (c *command) mirrors(ctx context.Context, timeout time.Duration, asJSON bool) error {
	_, env, err := c.goEnv(ctx, "")
	if err != nil {
		return err
	}
	c.cfg.probeTimeout = timeout
	l, err := c.mirrorList(env, nil)
	if err != nil {
		return err
	}
	defer l.Close()
	results := l.Probe(ctx)
	if err := ctx.Err(); err != nil {
		return err
	}

	if len(results) == 0 {
		return fmt.Errorf("GOPROXY=%s names no mirror", goenv.Redact(env.GOPROXY))
	}
	if asJSON {
		err = printProbesJSON(c.stdout, results)
	} else {
		err = printProbes(c.stdout, results)
	}
	if err != nil {
		return err
	}
	for _, r := range results {
		if r.Reachable {
			return nil
		}
	}
	return fmt.Errorf("no mirror is reachable")
}

// printProbes prints a table, one mirror a line, in the order they are
// asked.
func printProbes(w io.Writer, results []mirrors.ProbeResult) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MIRROR\tDNS\tCONNECT\tTLS\tFIRST BYTE\tSTATUS\tRANK\tSUMDB")
	for _, r := range results {
		rank, sumdb := "-", "-"
		if r.Reachable {
			rank = fmt.Sprint(r.Rank)
			sumdb = "no"
			if r.SumDB {
				sumdb = "yes"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			r.Mirror, ms(r.DNS), ms(r.Connect), ms(r.TLS), ms(r.FirstByte), r.Status, rank, sumdb)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var builtin []string
	for _, r := range results {
		if r.Rescue {
			builtin = append(builtin, r.Mirror)
		}
	}
	if len(builtin) > 0 {
		_, err := fmt.Fprintf(w, "\nbuilt-in: %s are asked only when GOPROXY's mirrors cannot serve a file (unreachable, timing out, failing; never after a 404 or 410); --no-builtin-mirrors (GOMODX_NO_BUILTIN_MIRRORS=1) forbids them\n", strings.Join(builtin, ", "))
		return err
	}
	return nil
}

// ms formats a step's time for the table: "-" for a step not taken.
func ms(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Round(time.Millisecond).Milliseconds())
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// probeJSON is one element of 'gomodx mirrors -json': times in
// milliseconds, 0 for a step not taken.
type probeJSON struct {
	URL         string  `json:"url"`
	Group       int     `json:"group"`
	Builtin     bool    `json:"builtin,omitempty"` // asked only when GOPROXY's mirrors cannot serve a file
	Rank        int     `json:"rank"`
	Reachable   bool    `json:"reachable"`
	Status      string  `json:"status"`
	HTTPStatus  int     `json:"httpStatus,omitempty"`
	SumDB       bool    `json:"sumdb"`
	DNSMs       float64 `json:"dnsMs"`
	ConnectMs   float64 `json:"connectMs"`
	TLSMs       float64 `json:"tlsMs"`
	FirstByteMs float64 `json:"firstByteMs"`
	Error       string  `json:"error,omitempty"`
}

func printProbesJSON(w io.Writer, results []mirrors.ProbeResult) error {
	out := make([]probeJSON, 0, len(results))
	msec := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	for _, r := range results {
		p := probeJSON{
			URL: r.Mirror, Group: r.Group, Builtin: r.Rescue, Rank: r.Rank, Reachable: r.Reachable,
			Status: r.Status, HTTPStatus: r.HTTPStatus, SumDB: r.SumDB,
			DNSMs: msec(r.DNS), ConnectMs: msec(r.Connect), TLSMs: msec(r.TLS), FirstByteMs: msec(r.FirstByte),
		}
		if r.Err != nil {
			p.Error, _, _ = strings.Cut(r.Err.Error(), "\n")
		}
		out = append(out, p)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
