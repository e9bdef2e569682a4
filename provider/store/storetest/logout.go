package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

// The provider.LogoutQueue part of the suite: the back-channel logout
// queue and SessionClients.

func newLogoutJob(id, clientID string, created time.Time) *provider.LogoutJob {
	return &provider.LogoutJob{
		ID: id, ClientID: clientID, URI: "https://" + clientID + ".mana.how/backchannel",
		SessionID: "sess-1", Subject: "user-1", NextAttemptAt: created, CreatedAt: created,
	}
}

func logoutJobIDs(jobs []*provider.LogoutJob) []string {
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	return ids
}

// claimIDs claims with a fixed lease and returns the ids it got.
func claimIDs(t *testing.T, s provider.Store, now time.Time, limit int) []string {
	t.Helper()
	jobs, err := s.ClaimLogoutJobs(t.Context(), now, limit, time.Minute)
	must(t, err)
	return logoutJobIDs(jobs)
}

func testLogoutEnqueueClaim(t *testing.T, s provider.Store) {
	ctx := t.Context()
	must(t, s.EnqueueLogouts(ctx, nil)) // nothing to do
	// Created out of order; the claim returns them by CreatedAt, then ID.
	b := newLogoutJob("job-b", "todo", at(-time.Minute))
	a := newLogoutJob("job-a", "chat", at(0))
	c := newLogoutJob("job-c", "chat", at(0))
	c.Attempts, c.LastError = 3, "HTTP 503"
	later := newLogoutJob("job-later", "chat", at(-2*time.Minute))
	later.NextAttemptAt = at(time.Second) // retried with backoff: not due yet
	must(t, s.EnqueueLogouts(ctx, []*provider.LogoutJob{a, later, c}))
	must(t, s.EnqueueLogouts(ctx, []*provider.LogoutJob{b}))

	for _, limit := range []int{0, -1} {
		if ids := claimIDs(t, s, at(0), limit); len(ids) != 0 {
			t.Fatalf("ClaimLogoutJobs(limit %d) = %v, want none", limit, ids)
		}
	}

	got, err := s.ClaimLogoutJobs(ctx, at(0), 10, 10*time.Second)
	must(t, err)
	want := []*provider.LogoutJob{b, a, c}
	if len(got) != len(want) {
		t.Fatalf("ClaimLogoutJobs = %v, want %v", logoutJobIDs(got), logoutJobIDs(want))
	}
	for i, w := range want {
		w.NextAttemptAt = at(10 * time.Second) // the lease
		assertEqual(t, got[i], w)
	}

	// The job not due then is due once its time comes, ExpiresAt-style to
	// the millisecond; a limit takes the longest-due job first.
	if ids := claimIDs(t, s, at(time.Second-time.Millisecond), 10); len(ids) != 0 {
		t.Fatalf("ClaimLogoutJobs(before due) = %v, want none", ids)
	}
	must(t, s.EnqueueLogouts(ctx, []*provider.LogoutJob{newLogoutJob("job-z", "chat", at(-time.Hour))}))
	if ids := claimIDs(t, s, at(time.Second), 1); !slices.Equal(ids, []string{"job-z"}) {
		t.Fatalf("ClaimLogoutJobs(limit 1) = %v, want the longest-due job", ids)
	}
	if ids := claimIDs(t, s, at(time.Second), 10); !slices.Equal(ids, []string{"job-later"}) {
		t.Fatalf("ClaimLogoutJobs(at due) = %v, want job-later", ids)
	}
}

// A claimed job is not claimed again before its lease ends, and is again
// from then on (the replica that held it died).
func testLogoutLease(t *testing.T, s provider.Store) {
	ctx := t.Context()
	must(t, s.EnqueueLogouts(ctx, []*provider.LogoutJob{newLogoutJob("j1", "chat", at(0))}))
	lease := 30 * time.Second
	got, err := s.ClaimLogoutJobs(ctx, at(0), 5, lease)
	must(t, err)
	if len(got) != 1 || !got[0].NextAttemptAt.Equal(at(lease)) {
		t.Fatalf("first claim = %+v, want j1 leased until %v", got, at(lease))
	}
	for _, now := range []time.Time{at(0), at(time.Second), at(lease - time.Millisecond)} {
		if ids := claimIDs(t, s, now, 5); len(ids) != 0 {
			t.Fatalf("ClaimLogoutJobs(%v, within lease) = %v, want none", now, ids)
		}
	}
	if ids := claimIDs(t, s, at(lease), 5); !slices.Equal(ids, []string{"j1"}) {
		t.Fatalf("ClaimLogoutJobs(lease over) = %v, want j1", ids)
	}
}

func testLogoutCompleteRetry(t *testing.T, s provider.Store) {
	ctx := t.Context()
	j := newLogoutJob("j1", "chat", at(0))
	must(t, s.EnqueueLogouts(ctx, []*provider.LogoutJob{j, newLogoutJob("j2", "todo", at(0))}))

	must(t, s.RetryLogoutJob(ctx, "j1", at(2*time.Second), "POST: HTTP 500"))
	must(t, s.RetryLogoutJob(ctx, "j1", at(4*time.Second), `dial tcp: connection refused "quoted"`))
	if ids := claimIDs(t, s, at(4*time.Second-time.Millisecond), 5); !slices.Equal(ids, []string{"j2"}) {
		t.Fatalf("ClaimLogoutJobs(before retry due) = %v, want only j2", ids)
	}
	got, err := s.ClaimLogoutJobs(ctx, at(4*time.Second), 5, time.Minute)
	must(t, err)
	if len(got) != 1 {
		t.Fatalf("ClaimLogoutJobs(retry due) = %v, want j1", logoutJobIDs(got))
	}
	j.Attempts, j.LastError, j.NextAttemptAt = 2, `dial tcp: connection refused "quoted"`, at(4*time.Second+time.Minute)
	assertEqual(t, got[0], j)

	must(t, s.CompleteLogoutJob(ctx, "j1"))
	wantErr(t, "CompleteLogoutJob(completed)", s.CompleteLogoutJob(ctx, "j1"), provider.ErrNotFound)
	wantErr(t, "RetryLogoutJob(completed)", s.RetryLogoutJob(ctx, "j1", at(0), "x"), provider.ErrNotFound)
	wantErr(t, "CompleteLogoutJob(unknown)", s.CompleteLogoutJob(ctx, "nope"), provider.ErrNotFound)
	wantErr(t, "RetryLogoutJob(unknown)", s.RetryLogoutJob(ctx, "nope", at(0), "x"), provider.ErrNotFound)
	if ids := claimIDs(t, s, at(time.Hour), 5); !slices.Equal(ids, []string{"j2"}) {
		t.Fatalf("ClaimLogoutJobs after complete = %v, want only j2", ids)
	}
}

// EnqueueLogouts is all or nothing, and a taken id fails only that call.
func testLogoutEnqueueAtomic(t *testing.T, s provider.Store) {
	ctx := t.Context()
	must(t, s.EnqueueLogouts(ctx, []*provider.LogoutJob{newLogoutJob("taken", "chat", at(0))}))
	for _, tc := range []struct {
		name string
		jobs []*provider.LogoutJob
	}{
		{"TakenID", []*provider.LogoutJob{newLogoutJob("new-1", "chat", at(0)), newLogoutJob("taken", "todo", at(0))}},
		{"DuplicateInBatch", []*provider.LogoutJob{newLogoutJob("new-2", "chat", at(0)), newLogoutJob("new-2", "todo", at(0))}},
		{"LargeBatch", largeBatch("big-", 1200, "taken")},
	} {
		wantErr(t, "EnqueueLogouts("+tc.name+")", s.EnqueueLogouts(ctx, tc.jobs), provider.ErrAlreadyExists)
	}
	if ids := claimIDs(t, s, at(0), 5000); !slices.Equal(ids, []string{"taken"}) {
		t.Fatalf("jobs after failed batches = %d (%v...), want only the first one", len(ids), ids[:min(len(ids), 3)])
	}

	// A large batch without a clash goes in whole (SQLite splits it).
	must(t, s.EnqueueLogouts(ctx, largeBatch("big-", 1200, "")))
	if ids := claimIDs(t, s, at(time.Hour), 5000); len(ids) != 1201 {
		t.Fatalf("ClaimLogoutJobs after large batch = %d jobs, want 1201", len(ids))
	}

	// Inside a transaction a failed batch leaves the transaction usable.
	tx, err := s.BeginTx(ctx)
	must(t, err)
	defer s.Rollback(tx) //nolint:errcheck // a no-op after Commit
	must(t, s.EnqueueLogouts(tx, []*provider.LogoutJob{newLogoutJob("tx-1", "chat", at(0))}))
	wantErr(t, "EnqueueLogouts(taken, in tx)", s.EnqueueLogouts(tx,
		[]*provider.LogoutJob{newLogoutJob("tx-2", "chat", at(0)), newLogoutJob("taken", "chat", at(0))}),
		provider.ErrAlreadyExists)
	wantErr(t, "EnqueueLogouts(large, taken, in tx)", s.EnqueueLogouts(tx, largeBatch("tx-big-", 600, "tx-1")),
		provider.ErrAlreadyExists)
	must(t, s.EnqueueLogouts(tx, []*provider.LogoutJob{newLogoutJob("tx-3", "chat", at(0))}))
	must(t, s.Commit(tx))
	// Everything else is still leased from the claim above.
	if ids := claimIDs(t, s, at(time.Hour), 5000); !slices.Equal(ids, []string{"tx-1", "tx-3"}) {
		t.Fatalf("jobs after tx = %d (%v...), want tx-1 and tx-3", len(ids), ids[:min(len(ids), 3)])
	}
}

// largeBatch returns n jobs named prefix0000...; a non-empty clash is
// appended as the last job.
func largeBatch(prefix string, n int, clash string) []*provider.LogoutJob {
	jobs := make([]*provider.LogoutJob, 0, n+1)
	for i := range n {
		jobs = append(jobs, newLogoutJob(fmt.Sprintf("%s%04d", prefix, i), "chat", at(time.Duration(i)*time.Millisecond)))
	}
	if clash != "" {
		jobs = append(jobs, newLogoutJob(clash, "chat", at(0)))
	}
	return jobs
}

// Every LogoutQueue method joins a caller's transaction.
func testLogoutTxRollback(t *testing.T, s provider.Store) {
	ctx := t.Context()
	pre := newLogoutJob("pre", "chat", at(0))
	must(t, s.EnqueueLogouts(ctx, []*provider.LogoutJob{pre, newLogoutJob("done", "todo", at(0))}))

	tx, err := s.BeginTx(ctx)
	must(t, err)
	must(t, s.EnqueueLogouts(tx, []*provider.LogoutJob{newLogoutJob("new", "chat", at(0))}))
	claimed, err := s.ClaimLogoutJobs(tx, at(0), 10, time.Minute)
	must(t, err)
	if ids := logoutJobIDs(claimed); !slices.Equal(ids, []string{"done", "new", "pre"}) {
		t.Fatalf("ClaimLogoutJobs in tx = %v, want all three", ids)
	}
	must(t, s.RetryLogoutJob(tx, "pre", at(time.Hour), "boom"))
	must(t, s.CompleteLogoutJob(tx, "done"))
	must(t, s.Rollback(tx))

	got, err := s.ClaimLogoutJobs(ctx, at(0), 10, time.Minute)
	must(t, err)
	if ids := logoutJobIDs(got); !slices.Equal(ids, []string{"done", "pre"}) {
		t.Fatalf("ClaimLogoutJobs after rollback = %v, want done and pre", ids)
	}
	pre.NextAttemptAt = at(time.Minute)
	assertEqual(t, got[1], pre)
}

func testSessionClients(t *testing.T, s provider.Store) {
	ctx := t.Context()
	for _, g := range []struct {
		kind, sig, client, session string
		active                     bool
	}{
		{provider.KindAccessToken, "a1", "chat", "s1", true},
		{provider.KindRefreshToken, "a2", "chat", "s1", true},
		{provider.KindOIDC, "a3", "chat", "s1", false},
		{provider.KindRefreshToken, "b1", "todo", "s1", false}, // revoked: still a client of the session
		{provider.KindAccessToken, "c1", "admin", "s2", true},
		{provider.KindAccessToken, "d1", "machine", "", true}, // client_credentials: no session
	} {
		x := newGrant(g.kind, g.sig, "req-"+g.sig)
		x.ClientID, x.SessionID, x.Active = g.client, g.session, g.active
		must(t, s.CreateGrant(ctx, x))
	}
	_, err := s.RevokeSession(ctx, "s1")
	must(t, err)

	for _, tc := range []struct {
		session string
		want    []string
	}{
		{"s1", []string{"chat", "todo"}},
		{"s2", []string{"admin"}},
		{"", nil},
		{"unknown", nil},
	} {
		got, err := s.SessionClients(ctx, tc.session)
		must(t, err)
		if !slices.Equal(got, tc.want) {
			t.Errorf("SessionClients(%q) = %v, want %v", tc.session, got, tc.want)
		}
	}
}

// Replicas claim at the same instant: no job is handed out twice, and
// none is lost.
func testConcurrentClaimLogoutJobs(t *testing.T, s provider.Store) {
	ctx := t.Context()
	const n, claimers = 60, 10
	jobs := make([]*provider.LogoutJob, n)
	for i := range jobs {
		jobs[i] = newLogoutJob(fmt.Sprintf("job-%02d", i), "chat", at(time.Duration(i)*time.Millisecond))
	}
	must(t, s.EnqueueLogouts(ctx, jobs))

	claimEachOnce(t, n, claimers, func() ([]string, error) {
		batch, err := s.ClaimLogoutJobs(ctx, at(time.Second), 3, time.Minute)
		ids := make([]string, len(batch))
		for i, j := range batch {
			ids[i] = j.ID
		}
		return ids, err
	})
}

// claimEachOnce runs claimers that call claim (which returns the ids of
// the jobs it claimed) until the queue is empty, and checks that each of
// the n queued jobs was claimed exactly once.
func claimEachOnce(t *testing.T, n, claimers int, claim func() ([]string, error)) {
	t.Helper()
	var (
		mu  sync.Mutex
		got = map[string]int{}
	)
	errs := parallel(claimers, func(int) error {
		for {
			ids, err := claim()
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				return nil
			}
			mu.Lock()
			for _, id := range ids {
				got[id]++
			}
			mu.Unlock()
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("claimer %d: %v", i, err)
		}
	}
	for id, times := range got {
		if times != 1 {
			t.Errorf("job %s claimed %d times", id, times)
		}
	}
	if len(got) != n {
		t.Fatalf("%d of %d jobs claimed", len(got), n)
	}
}

// testLogoutSQLMetacharacters round-trips hostile strings through every
// LogoutJob field and SessionClients, with times in other zones.
func testLogoutSQLMetacharacters(t *testing.T, s provider.Store) {
	ctx := t.Context()
	east := time.FixedZone("UTC+05:30", 5*3600+30*60)
	for i, v := range []string{
		`'; DROP TABLE logout_jobs; --`,
		`" OR 1=1 --`,
		`\'\\%_*?[]{}$1 ?1 :name @p`,
		`{"a":["b"],"c":null}`,
		`Grüße, 東京, Ωμέγα, 🔐`,
		"tab\tnew\nline\r",
	} {
		id := fmt.Sprintf("%d%s", i, v)
		j := &provider.LogoutJob{ID: id, ClientID: v, URI: v, SessionID: v, Subject: v, Attempts: i,
			NextAttemptAt: at(0).In(east), CreatedAt: at(time.Duration(i) * time.Second).In(east), LastError: v}
		must(t, s.EnqueueLogouts(ctx, []*provider.LogoutJob{j}))
		got, err := s.ClaimLogoutJobs(ctx, at(0), 10, time.Minute)
		must(t, err)
		if len(got) != 1 {
			t.Fatalf("ClaimLogoutJobs = %v, want [%q]", logoutJobIDs(got), id)
		}
		j.NextAttemptAt = at(time.Minute)
		assertEqual(t, got[0], j)
		must(t, s.RetryLogoutJob(ctx, id, at(time.Hour), v+v))
		must(t, s.CompleteLogoutJob(ctx, id))

		g := newGrant(provider.KindAccessToken, id, id)
		g.ClientID, g.SessionID = v, id
		must(t, s.CreateGrant(ctx, g))
		clients, err := s.SessionClients(ctx, id)
		must(t, err)
		if !slices.Equal(clients, []string{v}) {
			t.Fatalf("SessionClients = %q, want [%q]", clients, v)
		}
	}
}

// testClaimLeasesOnlyLimit: a claim leases exactly the jobs it returns.
// A plan that rescans a LIMITed, locking subquery per joined row would
// lease more rows than it returns, and those would sit unsent until
// their lease ran out.
func testClaimLeasesOnlyLimit(t *testing.T, s provider.Store) {
	ctx := t.Context()
	const n = 60
	for i := range n {
		must(t, s.EnqueueLogouts(ctx, []*provider.LogoutJob{newLogoutJob(fmt.Sprintf("lj-%02d", i), "chat", at(0))}))
		must(t, s.EnqueueMail(ctx, newMailJob(fmt.Sprintf("mj-%02d", i), at(0))))
	}
	for _, q := range []struct {
		name  string
		claim func(limit int) (int, error)
	}{
		{"logout", func(limit int) (int, error) {
			jobs, err := s.ClaimLogoutJobs(ctx, at(time.Second), limit, time.Minute)
			return len(jobs), err
		}},
		{"mail", func(limit int) (int, error) {
			jobs, err := s.ClaimMailJobs(ctx, at(time.Second), limit, time.Minute)
			return len(jobs), err
		}},
	} {
		got, err := q.claim(3)
		must(t, err)
		rest, err := q.claim(n)
		must(t, err)
		if got != 3 || rest != n-3 {
			t.Errorf("%s: claimed %d with limit 3, then %d of the remaining %d", q.name, got, rest, n-3)
		}
	}
}
