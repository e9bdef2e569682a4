package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestReport feeds recorded `go test -json` events: passing tests stay
// quiet, a failing test's output is shown, and the skips end up as one
// line per reason with their count and packages.
func TestReport(t *testing.T) {
	const stream = `{"Action":"run","Package":"m/a","Test":"TestPG"}
{"Action":"output","Package":"m/a","Test":"TestPG","Output":"=== RUN   TestPG\n"}
{"Action":"output","Package":"m/a","Test":"TestPG","Output":"    helpers_test.go:95: PostgreSQL at 127.0.0.1:5432 unreachable; PostgreSQL tests skipped\n"}
{"Action":"output","Package":"m/a","Test":"TestPG","Output":"--- SKIP: TestPG (0.00s)\n"}
{"Action":"skip","Package":"m/a","Test":"TestPG"}
{"Action":"output","Package":"m/b","Test":"TestBoth/postgres","Output":"    x_test.go:7: PostgreSQL at 127.0.0.1:5432 unreachable; PostgreSQL tests skipped\n"}
{"Action":"skip","Package":"m/b","Test":"TestBoth/postgres"}
{"Action":"output","Package":"m/b","Test":"TestBoth","Output":"--- PASS: TestBoth (0.00s)\n"}
{"Action":"pass","Package":"m/b","Test":"TestBoth"}
{"Action":"output","Package":"m/b","Test":"TestRedis","Output":"    r_test.go:36: skipping: redis unreachable\n"}
{"Action":"skip","Package":"m/b","Test":"TestRedis"}
{"Action":"output","Package":"m/b","Test":"TestOK","Output":"quiet line of a passing test\n"}
{"Action":"pass","Package":"m/b","Test":"TestOK"}
{"Action":"output","Package":"m/b","Test":"TestBad","Output":"=== RUN   TestBad\n"}
{"Action":"output","Package":"m/b","Test":"TestBad","Output":"    bad_test.go:3: want 2, got 3\n"}
{"Action":"fail","Package":"m/b","Test":"TestBad"}
{"Action":"output","Package":"m/b","Test":"TestHang","Output":"panic: test timed out after 1s\n"}
{"Action":"output","Package":"m/b","Output":"PASS\n"}
{"Action":"output","Package":"m/b","Output":"FAIL\tm/b\t0.1s\n"}
{"Action":"fail","Package":"m/b"}
`
	var out bytes.Buffer
	r := newReport(&out)
	if err := r.read(strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	r.summary()
	got := out.String()
	for _, want := range []string{
		"want 2, got 3",
		"panic: test timed out",
		"FAIL\tm/b",
		"SKIP 2 test(s) in m/a, m/b: PostgreSQL at 127.0.0.1:5432 unreachable; PostgreSQL tests skipped",
		"SKIP 1 test(s) in m/b: skipping: redis unreachable",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "quiet line") || strings.Contains(got, "=== RUN") || strings.Contains(got, "PASS\n") || strings.Count(got, "SKIP ") != 2 {
		t.Errorf("report shows what plain go test hides, or too many skip lines:\n%s", got)
	}
	if !r.failed {
		t.Error("a failing test did not fail the report")
	}
}
