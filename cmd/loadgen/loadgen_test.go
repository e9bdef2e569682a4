package main

import (
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single", []time.Duration{7}, 99, 7},
		{"p50 of 100", hundred, 50, 50 * time.Millisecond},
		{"p99 of 100", hundred, 99, 99 * time.Millisecond},
		{"p100 of 100", hundred, 100, 100 * time.Millisecond},
		{"p50 of 3 is the middle", []time.Duration{1, 2, 3}, 50, 2},
		{"p99 of 3 is the maximum", []time.Duration{1, 2, 3}, 99, 3},
		{"tiny p is the minimum", []time.Duration{1, 2, 3}, 0.001, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.sorted, tc.p); got != tc.want {
				t.Errorf("percentile(%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}

func TestFormatting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ got, want string }{
		{fmtRate(0), "0"},
		{fmtRate(999.4), "999"},
		{fmtRate(1234.5), "1,235"},
		{fmtRate(1234567), "1,234,567"},
		{fmtDuration(850 * time.Microsecond), "850 µs"},
		{fmtDuration(12345 * time.Microsecond), "12.35 ms"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	t.Parallel()
	// A command name with spaces and a ')' must not shift the fields.
	stat := "4242 (post gres) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 1 0 123 456 789"
	if got, want := parseStatCPU(stat), 3250*time.Millisecond; got != want {
		t.Errorf("parseStatCPU = %v, want %v", got, want)
	}
}

func TestWriteTable(t *testing.T) {
	t.Parallel()
	results := []result{
		{Name: "jwks", Workers: 4, Target: 100, OK: 300, Elapsed: 2 * time.Second,
			Latencies: []time.Duration{3 * time.Millisecond, 1 * time.Millisecond, 2 * time.Millisecond},
			ServerCPU: 150 * time.Millisecond, DBCPU: 0},
		{Name: "refresh", Workers: 4, Target: 1000, OK: 10, Failed: 1, Elapsed: time.Second,
			Latencies: []time.Duration{time.Millisecond}},
		{Name: "login_flood", Workers: 256, OK: 4, Rejected: 7, Elapsed: time.Second,
			Latencies: []time.Duration{time.Second}, RSS: 80 << 20, PeakRSS: 120 << 20},
	}
	var b strings.Builder
	writeTable(&b, results, 70<<20, 64<<20)
	got := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := []string{
		"| Scenario | Workers | Requests/s | Target | p50 | p99 | OK | Failed | 503 | Server CPU/op | DB CPU/op | RSS after | peak RSS | |",
		"|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
		"| jwks | 4 | 150 | ≥ 100 | 2.00 ms | 3.00 ms | 300 | 0 | 0 | 500 µs | 0 µs | – | – | ✅ |",
		"| refresh | 4 | 10 | ≥ 1,000 | 1.00 ms | 1.00 ms | 10 | 1 | 0 | 0 µs | 0 µs | – | – | ❌ missed |",
		"| login_flood | 256 | 4 | – | 1000.00 ms | 1000.00 ms | 4 | 0 | 7 | 0 µs | 0 µs | 80.0 MiB | 120.0 MiB |  |",
		"| idle RSS | | 70.0 MiB | ≤ 64 MiB | | | | | | | | | | ❌ missed |",
	}
	if len(got) != len(want) {
		t.Fatalf("table has %d lines, want %d:\n%s", len(got), len(want), b.String())
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

func TestWriteTableP99Target(t *testing.T) {
	t.Parallel()
	lat := func(ms ...int) []time.Duration {
		out := make([]time.Duration, len(ms))
		for i, m := range ms {
			out[i] = time.Duration(m) * time.Millisecond
		}
		return out
	}
	results := []result{
		{Name: "spend_distinct", Workers: 32, Target: 1000, P99Target: 50 * time.Millisecond, OK: 2000,
			Elapsed: time.Second, Latencies: lat(10, 20, 40)},
		{Name: "spend_shared", Workers: 32, Target: 1000, P99Target: 50 * time.Millisecond, OK: 2000,
			Elapsed: time.Second, Latencies: lat(10, 20, 51)},
	}
	var b strings.Builder
	writeTable(&b, results, 0, 64<<20)
	got := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := []string{
		"| spend_distinct | 32 | 2,000 | ≥ 1,000 | 20.00 ms | 40.00 ms (≤ 50.00 ms) | 2000 | 0 | 0 | 0 µs | 0 µs | – | – | ✅ |",
		"| spend_shared | 32 | 2,000 | ≥ 1,000 | 20.00 ms | 51.00 ms (≤ 50.00 ms) | 2000 | 0 | 0 | 0 µs | 0 µs | – | – | ❌ missed |",
	}
	if len(got) != 4 {
		t.Fatalf("table has %d lines, want 4:\n%s", len(got), b.String())
	}
	for i, w := range want {
		if got[i+2] != w {
			t.Errorf("line %d:\n got %s\nwant %s", i+2, got[i+2], w)
		}
	}
}

func TestLedgerVerdict(t *testing.T) {
	t.Parallel()
	if got := ledgerVerdict(true, "credits ledger verified: every balance matches its postings"); got != "OK ✅" {
		t.Errorf("ok verdict = %q", got)
	}
	out := "MISMATCH user u1: paid cached 5, ledger 4\nMISMATCH transaction t1 (user u2): postings sum 1, want 0\ncredits ledger: 2 mismatch(es)\n"
	want := "❌ mismatch: MISMATCH user u1: paid cached 5, ledger 4; MISMATCH transaction t1 (user u2): postings sum 1, want 0"
	if got := ledgerVerdict(false, out); got != want {
		t.Errorf("mismatch verdict:\n got %s\nwant %s", got, want)
	}
}

func TestSpendScenariosInDefaultSet(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"spend_distinct", "spend_shared"} {
		found := false
		for _, sc := range scenarios {
			if sc.Name == name {
				found = true
				if sc.Target != 1000 || sc.P99 != 50*time.Millisecond {
					t.Errorf("%s: target %v/s p99 %v, want 1000/s and 50ms", name, sc.Target, sc.P99)
				}
			}
		}
		if !found {
			t.Errorf("%s missing from the default scenarios", name)
		}
	}
}
