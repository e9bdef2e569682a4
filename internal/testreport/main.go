// Command testreport runs `go test -json` with the arguments it is given,
// prints what plain `go test` would (each package's result, and the output
// of failing tests), and ends with one line per group of skipped tests and
// why: without PostgreSQL, Redis, stripe-mock or Chromium, `make test`
// says what it did not test instead of hiding it in -v output.
//
//	go run ./internal/testreport -count=1 ./...
//
// Its exit status is go test's.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
)

func main() {
	goCmd := os.Getenv("GO") // the Makefile's $(GO)
	if goCmd == "" {
		goCmd = "go"
	}
	cmd := exec.Command(goCmd, append([]string{"test", "-json"}, os.Args[1:]...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	r := newReport(os.Stdout)
	if err := r.read(out); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
	}
	r.summary()
	if err := cmd.Wait(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			os.Exit(exit.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if r.failed {
		os.Exit(1)
	}
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

type report struct {
	w io.Writer
	// output holds each running test's lines until it ends: printed if it
	// fails, searched for the reason if it skips.
	output map[string][]string
	skips  map[string]*skipGroup
	failed bool
}

type skipGroup struct {
	tests    int
	packages []string
}

func newReport(w io.Writer) *report {
	return &report{w: w, output: map[string][]string{}, skips: map[string]*skipGroup{}}
}

func (r *report) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// Not an event (a build tool's message): pass it on.
			fmt.Fprintln(r.w, sc.Text())
			continue
		}
		r.event(e)
	}
	return sc.Err()
}

// plainLine is package-level output `go test` prints without -v.
func plainLine(s string) bool {
	return s != "PASS\n" && !strings.HasPrefix(s, "=== ") && !strings.HasPrefix(s, "testing: warning: no tests to run")
}

func (r *report) event(e event) {
	key := e.Package + " " + e.Test
	switch {
	case e.Action == "build-output":
		fmt.Fprint(r.w, e.Output)
	case e.Action == "output" && e.Test == "":
		if plainLine(e.Output) {
			fmt.Fprint(r.w, e.Output)
		}
	case e.Action == "output":
		// Plain go test shows a failing test's own lines, not the
		// runner's "=== RUN" bookkeeping.
		if !strings.HasPrefix(e.Output, "=== ") {
			r.output[key] = append(r.output[key], e.Output)
		}
	case e.Action == "fail" && e.Test != "":
		r.failed = true
		fmt.Fprint(r.w, strings.Join(r.output[key], ""))
		delete(r.output, key)
	case e.Action == "fail" || e.Action == "build-fail":
		r.failed = true
		// A crashed or timed-out test binary ends tests that never
		// reported: their output is the only clue.
		for _, k := range slices.Sorted(maps.Keys(r.output)) {
			if strings.HasPrefix(k, e.Package+" ") {
				fmt.Fprint(r.w, strings.Join(r.output[k], ""))
				delete(r.output, k)
			}
		}
	case e.Action == "skip" && e.Test != "":
		r.skip(e.Package, e.Test, r.output[key])
		delete(r.output, key)
	case e.Action == "pass" && e.Test != "":
		delete(r.output, key)
	}
}

// location is the "file_test.go:12: " prefix testing puts before t.Skip's
// message.
var location = regexp.MustCompile(`^\s*[\w.-]+\.go:\d+: `)

// skip records a skipped test under its reason. A subtest skipped by its
// parent's reason is counted once, under the parent.
func (r *report) skip(pkg, test string, lines []string) {
	reason := ""
	for _, l := range lines {
		if location.MatchString(l) {
			reason = strings.TrimSpace(location.ReplaceAllString(l, ""))
		}
	}
	if reason == "" {
		return // skipped because its subtests were; they carry the reason
	}
	g := r.skips[reason]
	if g == nil {
		g = &skipGroup{}
		r.skips[reason] = g
	}
	g.tests++
	short := strings.TrimPrefix(pkg, "github.com/manacore/mana-core-auth/")
	if !slices.Contains(g.packages, short) {
		g.packages = append(g.packages, short)
	}
}

func (r *report) summary() {
	if len(r.skips) == 0 {
		return
	}
	reasons := make([]string, 0, len(r.skips))
	for k := range r.skips {
		reasons = append(reasons, k)
	}
	slices.Sort(reasons)
	fmt.Fprintln(r.w, "")
	fmt.Fprintln(r.w, "Skipped (not tested on this machine):")
	for _, k := range reasons {
		g := r.skips[k]
		slices.Sort(g.packages)
		pkgs := strings.Join(g.packages, ", ")
		if len(g.packages) > 3 {
			pkgs = strings.Join(g.packages[:3], ", ") + fmt.Sprintf(" and %d more", len(g.packages)-3)
		}
		fmt.Fprintf(r.w, "  SKIP %d test(s) in %s: %s\n", g.tests, pkgs, k)
	}
}
