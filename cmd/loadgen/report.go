package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// result is what one scenario run measured.
type result struct {
	Name      string
	Workers   int
	Target    float64       // requests/s the scenario should reach; 0 = none
	P99Target time.Duration // most p99 may be; 0 = none
	OK        int
	Failed    int
	Rejected  int // answered 503 (load shedding); neither OK nor Failed
	Elapsed   time.Duration
	Latencies []time.Duration // one per successful request, any order
	ServerCPU time.Duration   // CPU the manaauth process used meanwhile
	DBCPU     time.Duration   // CPU the PostgreSQL backends of its database used
	RSS       uint64          // server RSS right after the scenario
	PeakRSS   uint64          // server VmHWM right after it: its peak RSS during the scenario
}

// perOp spreads a CPU time over the successful operations.
func (r result) perOp(cpu time.Duration) time.Duration {
	if r.OK == 0 {
		return 0
	}
	return cpu / time.Duration(r.OK)
}

// rate is successes per second of wall time.
func (r result) rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method, so p99 of 100 samples is the 99th value, not an
// interpolation between samples that never happened.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// fmtDuration prints latencies at a precision a reader can compare:
// microseconds below 1 ms, two decimals in milliseconds above.
func fmtDuration(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%d µs", d.Microseconds())
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// fmtRate prints a rate with a thousands separator ("12,345").
func fmtRate(v float64) string {
	n := int64(v + 0.5)
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func fmtMiB(b uint64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

// verdict compares a measured value with its target.
func verdict(ok bool) string {
	if ok {
		return "✅"
	}
	return "❌ missed"
}

// writeTable prints the results and the idle RSS as a Markdown table.
// It sorts each result's latencies in place.
func writeTable(w io.Writer, results []result, idleRSS uint64, rssTarget uint64) {
	fmt.Fprintln(w, "| Scenario | Workers | Requests/s | Target | p50 | p99 | OK | Failed | 503 | Server CPU/op | DB CPU/op | RSS after | peak RSS | |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range results {
		slices.Sort(r.Latencies)
		target, met := "–", ""
		p99 := percentile(r.Latencies, 99)
		p99Cell := fmtDuration(p99)
		if r.Target > 0 {
			target = "≥ " + fmtRate(r.Target)
			ok := r.rate() >= r.Target && r.Failed == 0 && r.Rejected == 0
			if r.P99Target > 0 {
				p99Cell += " (≤ " + fmtDuration(r.P99Target) + ")"
				ok = ok && p99 <= r.P99Target && r.OK > 0
			}
			met = verdict(ok)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %d | %d | %d | %s | %s | %s | %s | %s |\n",
			r.Name, r.Workers, fmtRate(r.rate()), target,
			fmtDuration(percentile(r.Latencies, 50)), p99Cell,
			r.OK, r.Failed, r.Rejected, fmtDuration(r.perOp(r.ServerCPU)), fmtDuration(r.perOp(r.DBCPU)),
			fmtMiB(r.RSS), fmtMiB(r.PeakRSS), met)
	}
	if idleRSS > 0 {
		fmt.Fprintf(w, "| idle RSS | | %.1f MiB | ≤ %d MiB | | | | | | | | | | %s |\n",
			float64(idleRSS)/(1<<20), rssTarget>>20, verdict(idleRSS <= rssTarget))
	}
}

// ledgerVerdict summarises `manaauth credits verify`: OK, or the
// mismatches it listed.
func ledgerVerdict(ok bool, out string) string {
	if ok {
		return "OK ✅"
	}
	var lines []string
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, "MISMATCH") {
			lines = append(lines, strings.TrimSpace(line))
		}
	}
	const show = 5
	more := ""
	if len(lines) > show {
		more = fmt.Sprintf(" … and %d more", len(lines)-show)
		lines = lines[:show]
	}
	return "❌ mismatch: " + strings.Join(lines, "; ") + more
}
