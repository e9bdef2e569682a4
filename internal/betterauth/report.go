package betterauth

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// The kinds of record the import counts, in the order it imports them.
const (
	KindUsers        = "users"
	KindPasswords    = "passwords"
	KindClients      = "clients"
	KindKeys         = "signing keys"
	KindSessions     = "sessions"
	KindPackages     = "credit packages"
	KindBalances     = "credit balances"
	KindTransactions = "credit transactions"
	KindPurchases    = "credit purchases"
	KindUsage        = "credit usage stats"
)

// Report is what an import did (or, in a dry run, would do): per kind how
// many records were imported, were there already from an earlier run, and
// were skipped and why; and every rejected record by id.
type Report struct {
	DryRun bool
	tally  map[string]*Tally
	order  []string
	// Rejected lists the records that failed validation, by id, in the
	// order they were met.
	Rejected []Rejection
	// Changed lists the records imported with a change (an image that is
	// not an https URL left out, an unknown role made "user").
	Changed []Rejection
}

// Tally counts one kind of record.
type Tally struct {
	Imported int
	// Existing were already in the target: imported by an earlier run
	// (the import is idempotent) or, for packages, created there.
	Existing int
	// Skipped counts the records left out on purpose, by reason.
	Skipped map[string]int
}

// Rejection is one record left out because it failed validation.
type Rejection struct {
	Kind, ID, Reason string
}

// NewReport returns an empty report.
func NewReport(dryRun bool) *Report {
	return &Report{DryRun: dryRun, tally: map[string]*Tally{}}
}

// Tally returns the counts of kind (zero when nothing was counted).
func (r *Report) Tally(kind string) Tally {
	if t := r.tally[kind]; t != nil {
		return *t
	}
	return Tally{}
}

func (r *Report) of(kind string) *Tally {
	t := r.tally[kind]
	if t == nil {
		t = &Tally{Skipped: map[string]int{}}
		r.tally[kind] = t
		r.order = append(r.order, kind)
	}
	return t
}

// Imported counts n records of kind written (or, in a dry run, that
// would have been).
func (r *Report) Imported(kind string, n int) { r.of(kind).Imported += n }

// Existing counts n records of kind found already imported.
func (r *Report) Existing(kind string, n int) { r.of(kind).Existing += n }

// Skip counts a record of kind left out on purpose (a soft-deleted user,
// an expired refresh token): expected, so only counted.
func (r *Report) Skip(kind, reason string) { r.of(kind).Skipped[reason]++ }

// Reject records a record of kind that failed validation: counted under
// its reason and listed with its id, so an operator can fix it at the
// source. The import goes on without it.
func (r *Report) Reject(kind, id, reason string) {
	r.Skip(kind, reason)
	r.Rejected = append(r.Rejected, Rejection{Kind: kind, ID: id, Reason: reason})
}

// Change records a record of kind imported with a change, listed with
// its id and what changed.
func (r *Report) Change(kind, id, what string) {
	r.Changed = append(r.Changed, Rejection{Kind: kind, ID: id, Reason: what})
}

// Write prints the summary: a line per kind, the skip reasons under it,
// then every rejected record.
func (r *Report) Write(w io.Writer) {
	verb := "imported"
	if r.DryRun {
		verb = "would import"
	}
	if r.DryRun {
		fmt.Fprintln(w, "dry run: nothing was written")
	}
	for _, kind := range r.order {
		t := r.tally[kind]
		skipped := 0
		for _, n := range t.Skipped {
			skipped += n
		}
		fmt.Fprintf(w, "%-20s %s %d, already present %d, skipped %d\n", kind+":", verb, t.Imported, t.Existing, skipped)
		reasons := make([]string, 0, len(t.Skipped))
		for reason := range t.Skipped {
			reasons = append(reasons, reason)
		}
		sort.Strings(reasons)
		for _, reason := range reasons {
			fmt.Fprintf(w, "%-20s   %6d %s\n", "", t.Skipped[reason], reason)
		}
	}
	list := func(title string, xs []Rejection) {
		if len(xs) == 0 {
			return
		}
		fmt.Fprintf(w, "%s (%d):\n", title, len(xs))
		for _, x := range xs {
			fmt.Fprintf(w, "  %s %s: %s\n", strings.TrimSuffix(x.Kind, "s"), x.ID, x.Reason)
		}
	}
	list("left out", r.Rejected)
	list("imported with a change", r.Changed)
}
