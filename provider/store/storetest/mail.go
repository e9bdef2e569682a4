package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

// The provider.MailQueue part of the suite: the durable mail outbox.

func newMailJob(id string, created time.Time) *provider.MailJob {
	return &provider.MailJob{ID: id, Kind: "reset_password", Payload: []byte("sealed:" + id),
		NextAttemptAt: created, CreatedAt: created}
}

func mailJobIDs(jobs []*provider.MailJob) []string {
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	return ids
}

func claimMailIDs(t *testing.T, s provider.Store, now time.Time, limit int) []string {
	t.Helper()
	jobs, err := s.ClaimMailJobs(t.Context(), now, limit, time.Minute)
	must(t, err)
	return mailJobIDs(jobs)
}

// Jobs due at the same instant come out in enqueue order, whatever their
// ids; earlier-due jobs first; jobs not yet due stay.
func testMailEnqueueClaim(t *testing.T, s provider.Store) {
	ctx := t.Context()
	// Enqueued z, a, m at the same instant: the claim keeps that order.
	z, a, m := newMailJob("z", at(0)), newMailJob("a", at(0)), newMailJob("m", at(0))
	m.Attempts, m.LastError, m.Kind = 2, "421 try later", "message"
	early := newMailJob("early", at(-time.Minute))
	later := newMailJob("later", at(0))
	later.NextAttemptAt = at(time.Second)
	for _, j := range []*provider.MailJob{z, a, later, m, early} {
		must(t, s.EnqueueMail(ctx, j))
	}
	wantErr(t, "EnqueueMail(taken id)", s.EnqueueMail(ctx, newMailJob("a", at(0))), provider.ErrAlreadyExists)
	for _, limit := range []int{0, -1} {
		if ids := claimMailIDs(t, s, at(0), limit); len(ids) != 0 {
			t.Fatalf("ClaimMailJobs(limit %d) = %v, want none", limit, ids)
		}
	}
	if ids := claimMailIDs(t, s, at(0), 2); !slices.Equal(ids, []string{"early", "z"}) {
		t.Fatalf("ClaimMailJobs(limit 2) = %v, want [early z]", ids)
	}
	got, err := s.ClaimMailJobs(ctx, at(0), 10, 10*time.Second)
	must(t, err)
	want := []*provider.MailJob{a, m}
	if ids := mailJobIDs(got); !slices.Equal(ids, []string{"a", "m"}) {
		t.Fatalf("ClaimMailJobs = %v, want [a m]", ids)
	}
	for i, w := range want {
		w.NextAttemptAt = at(10 * time.Second) // the lease
		assertEqual(t, got[i], w)
	}
	if ids := claimMailIDs(t, s, at(time.Second-time.Millisecond), 10); len(ids) != 0 {
		t.Fatalf("ClaimMailJobs(before due) = %v, want none", ids)
	}
	if ids := claimMailIDs(t, s, at(time.Second), 10); !slices.Equal(ids, []string{"later"}) {
		t.Fatalf("ClaimMailJobs(at due) = %v, want [later]", ids)
	}
}

// A claimed job comes back once its lease ends (the worker died), and
// sooner never.
func testMailLease(t *testing.T, s provider.Store) {
	ctx := t.Context()
	must(t, s.EnqueueMail(ctx, newMailJob("j1", at(0))))
	if ids := claimMailIDs(t, s, at(0), 5); !slices.Equal(ids, []string{"j1"}) {
		t.Fatalf("first claim = %v, want j1", ids)
	}
	for _, now := range []time.Time{at(0), at(time.Minute - time.Millisecond)} {
		if ids := claimMailIDs(t, s, now, 5); len(ids) != 0 {
			t.Fatalf("ClaimMailJobs(%v, within lease) = %v, want none", now, ids)
		}
	}
	if ids := claimMailIDs(t, s, at(time.Minute), 5); !slices.Equal(ids, []string{"j1"}) {
		t.Fatalf("ClaimMailJobs(lease over) = %v, want j1", ids)
	}
}

func testMailUpdateCompleteRetry(t *testing.T, s provider.Store) {
	ctx := t.Context()
	j := newMailJob("j1", at(0))
	must(t, s.EnqueueMail(ctx, j))
	must(t, s.EnqueueMail(ctx, newMailJob("j2", at(0))))

	must(t, s.UpdateMailJob(ctx, "j1", "message", []byte{0, 1, 2, 0xff}))
	must(t, s.RetryMailJob(ctx, "j1", at(2*time.Second), "451 busy"))
	must(t, s.RetryMailJob(ctx, "j1", at(4*time.Second), `dial tcp: connection refused "quoted"`))
	if ids := claimMailIDs(t, s, at(4*time.Second-time.Millisecond), 5); !slices.Equal(ids, []string{"j2"}) {
		t.Fatalf("ClaimMailJobs(before retry due) = %v, want only j2", ids)
	}
	got, err := s.ClaimMailJobs(ctx, at(4*time.Second), 5, time.Minute)
	must(t, err)
	if len(got) != 1 {
		t.Fatalf("ClaimMailJobs(retry due) = %v, want j1", mailJobIDs(got))
	}
	j.Kind, j.Payload, j.Attempts = "message", []byte{0, 1, 2, 0xff}, 2
	j.LastError, j.NextAttemptAt = `dial tcp: connection refused "quoted"`, at(4*time.Second+time.Minute)
	assertEqual(t, got[0], j)

	must(t, s.CompleteMailJob(ctx, "j1"))
	wantErr(t, "CompleteMailJob(completed)", s.CompleteMailJob(ctx, "j1"), provider.ErrNotFound)
	wantErr(t, "RetryMailJob(completed)", s.RetryMailJob(ctx, "j1", at(0), "x"), provider.ErrNotFound)
	wantErr(t, "UpdateMailJob(completed)", s.UpdateMailJob(ctx, "j1", "message", []byte("x")), provider.ErrNotFound)
	wantErr(t, "CompleteMailJob(unknown)", s.CompleteMailJob(ctx, "nope"), provider.ErrNotFound)
	if ids := claimMailIDs(t, s, at(time.Hour), 5); !slices.Equal(ids, []string{"j2"}) {
		t.Fatalf("ClaimMailJobs after complete = %v, want only j2", ids)
	}
}

// Every MailQueue method joins a caller's transaction: a resolution that
// rolls back leaves the request as it was.
func testMailTxRollback(t *testing.T, s provider.Store) {
	ctx := t.Context()
	pre := newMailJob("pre", at(0))
	must(t, s.EnqueueMail(ctx, pre))
	must(t, s.EnqueueMail(ctx, newMailJob("done", at(0))))

	tx, err := s.BeginTx(ctx)
	must(t, err)
	must(t, s.EnqueueMail(tx, newMailJob("new", at(0))))
	claimed, err := s.ClaimMailJobs(tx, at(0), 10, time.Minute)
	must(t, err)
	if ids := mailJobIDs(claimed); !slices.Equal(ids, []string{"pre", "done", "new"}) {
		t.Fatalf("ClaimMailJobs in tx = %v, want all three", ids)
	}
	must(t, s.UpdateMailJob(tx, "pre", "message", []byte("other")))
	must(t, s.RetryMailJob(tx, "pre", at(time.Hour), "boom"))
	must(t, s.CompleteMailJob(tx, "done"))
	must(t, s.Rollback(tx))

	got, err := s.ClaimMailJobs(ctx, at(0), 10, time.Minute)
	must(t, err)
	if ids := mailJobIDs(got); !slices.Equal(ids, []string{"pre", "done"}) {
		t.Fatalf("ClaimMailJobs after rollback = %v, want pre and done", ids)
	}
	pre.NextAttemptAt = at(time.Minute)
	assertEqual(t, got[0], pre)
}

// Replicas claim at the same instant: no job is handed out twice, and
// none is lost.
func testConcurrentClaimMailJobs(t *testing.T, s provider.Store) {
	ctx := t.Context()
	const n, claimers = 60, 10
	for i := range n {
		must(t, s.EnqueueMail(ctx, newMailJob(fmt.Sprintf("job-%02d", i), at(0))))
	}
	claimEachOnce(t, n, claimers, func() ([]string, error) {
		batch, err := s.ClaimMailJobs(ctx, at(time.Second), 3, time.Minute)
		ids := make([]string, len(batch))
		for i, j := range batch {
			ids[i] = j.ID
		}
		return ids, err
	})
}

// testMailSQLMetacharacters round-trips hostile strings and binary
// payloads, with times in another zone.
func testMailSQLMetacharacters(t *testing.T, s provider.Store) {
	ctx := t.Context()
	east := time.FixedZone("UTC+05:30", 5*3600+30*60)
	for i, v := range []string{
		`'; DROP TABLE mail_jobs; --`,
		`\'\\%_*?[]{}$1 ?1 :name @p`,
		`Grüße, 東京, 🔐`,
		"tab\tnew\nline\r",
	} {
		id := fmt.Sprintf("%d%s", i, v)
		j := &provider.MailJob{ID: id, Kind: v, Payload: []byte(v + "\x00\xff"), Attempts: i,
			NextAttemptAt: at(0).In(east), CreatedAt: at(time.Duration(i) * time.Second).In(east), LastError: v}
		must(t, s.EnqueueMail(ctx, j))
		got, err := s.ClaimMailJobs(ctx, at(0), 10, time.Minute)
		must(t, err)
		if len(got) != 1 {
			t.Fatalf("ClaimMailJobs = %v, want [%q]", mailJobIDs(got), id)
		}
		j.NextAttemptAt = at(time.Minute)
		assertEqual(t, got[0], j)
		must(t, s.CompleteMailJob(ctx, id))
	}
}
