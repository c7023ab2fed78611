// Package bench measures crmsync on the machine it runs on: end-to-end
// throughput, the SharpSpring sink against SharpSpring's rate ceiling,
// webhook-to-upsert latency, peak memory of a large backfill and the size of
// the state database. Each measurement is one function that builds what it
// needs (temporary directory, simulators, an in-process instance or a child
// process) and tears it down again; `crmsync bench` runs them and prints the
// table.
//
// Figures depend on the machine and on whatever else runs on it: compare
// runs on one machine, and read medians rather than single runs.
package bench

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Verdict says whether a measurement met its target.
type Verdict int

// Verdicts.
const (
	NoTarget Verdict = iota // the measurement has no target
	Met
	Missed
	Failed // the measurement could not be taken
)

func (v Verdict) String() string {
	switch v {
	case Met:
		return "yes"
	case Missed:
		return "NO"
	case Failed:
		return "error"
	}
	return "—"
}

func verdict(ok bool) Verdict {
	if ok {
		return Met
	}
	return Missed
}

// Row is one line of the table.
type Row struct {
	Name        string // what --only selects
	Measurement string
	Result      string
	Target      string
	Met         Verdict
	Notes       string
}

// Machine describes where the figures were taken: OS/architecture, CPUs and
// Go version.
func Machine() string {
	return fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
}

// WriteTable prints rows as a Markdown table, headed by the machine line.
func WriteTable(w io.Writer, rows []Row) {
	fmt.Fprintf(w, "crmsync bench on %s, %s\n\n", Machine(), time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintln(w, "| measurement | result | target | met? | notes |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	cell := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", cell(r.Measurement), cell(r.Result), cell(r.Target), r.Met, cell(r.Notes))
	}
}

// median of xs (0 for none); xs is not changed.
func median(xs []float64) float64 {
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

// percentile of sorted durations, nearest rank (p in 0..100).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func joinFloats(xs []float64, format string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(parts, ", ")
}

// thousands formats n with thousands separators.
func thousands(n float64) string {
	s := fmt.Sprintf("%.0f", n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

const mib = 1 << 20

// positiveOr returns v, or def when v is not positive: a setting left at
// zero (or set below it) takes its default.
func positiveOr[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// quietIfNil returns say, or a reporter that says nothing when say is nil.
func quietIfNil(say func(format string, args ...any)) func(format string, args ...any) {
	if say == nil {
		return func(string, ...any) {}
	}
	return say
}
