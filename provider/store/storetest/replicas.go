package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

// Store methods several replicas rely on to share background work.

// testInsertKeyIfDue: a rotation inserts only when no key of the
// algorithm is newer than since; other algorithms do not count.
func testInsertKeyIfDue(t *testing.T, s provider.Store) {
	ctx := t.Context()
	key := func(id, alg string, created time.Time) *provider.Key {
		return &provider.Key{ID: id, Alg: alg, PublicJWK: []byte(`{}`), PrivateEnc: []byte{1}, CreatedAt: created, ActiveAt: created}
	}
	ok, err := s.InsertKeyIfDue(ctx, key("e1", provider.AlgEdDSA, at(0)), at(-time.Hour))
	must(t, err)
	if !ok {
		t.Fatal("InsertKeyIfDue on an empty store did not insert")
	}
	// e1 (at 0) is newer than since = at(-1ms): not due.
	ok, err = s.InsertKeyIfDue(ctx, key("e2", provider.AlgEdDSA, at(time.Hour)), at(-time.Millisecond))
	must(t, err)
	if ok {
		t.Fatal("InsertKeyIfDue inserted although a newer key of the alg exists")
	}
	// Created exactly at since is not newer: due.
	ok, err = s.InsertKeyIfDue(ctx, key("e3", provider.AlgEdDSA, at(time.Hour)), at(0))
	must(t, err)
	if !ok {
		t.Fatal("InsertKeyIfDue did not insert when the newest key was created exactly at since")
	}
	// An RS256 key is due whatever the EdDSA keys are.
	ok, err = s.InsertKeyIfDue(ctx, key("r1", provider.AlgRS256, at(time.Hour)), at(30*time.Minute))
	must(t, err)
	if !ok {
		t.Fatal("InsertKeyIfDue counted keys of another alg")
	}
	list, err := s.ListKeys(ctx)
	must(t, err)
	var ids []string
	for _, k := range list {
		ids = append(ids, k.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"e1", "e3", "r1"}) {
		t.Fatalf("keys = %v, want e1 e3 r1", ids)
	}
}

// testConcurrentInsertKeyIfDue: replicas rotating on the same schedule
// at once leave exactly one new key.
func testConcurrentInsertKeyIfDue(t *testing.T, s provider.Store) {
	ctx := t.Context()
	must(t, s.InsertKey(ctx, &provider.Key{ID: "old", Alg: provider.AlgEdDSA, PublicJWK: []byte(`{}`), PrivateEnc: []byte{1},
		CreatedAt: at(-90 * 24 * time.Hour), ActiveAt: at(-90 * 24 * time.Hour)}))
	var inserted [workers]bool
	errs := parallel(workers, func(i int) error {
		k := &provider.Key{ID: fmt.Sprintf("new-%02d", i), Alg: provider.AlgEdDSA, PublicJWK: []byte(`{}`), PrivateEnc: []byte{1},
			CreatedAt: at(time.Duration(i) * time.Millisecond), ActiveAt: at(time.Hour)}
		ok, err := s.InsertKeyIfDue(ctx, k, at(-time.Hour))
		inserted[i] = ok
		return err
	})
	n := 0
	for i, err := range errs {
		if err != nil && !errors.Is(err, provider.ErrConflict) {
			t.Errorf("InsertKeyIfDue #%d: %v", i, err)
		}
		if inserted[i] {
			n++
		}
	}
	list, err := s.ListKeys(ctx)
	must(t, err)
	if n != 1 || len(list) != 2 {
		t.Fatalf("%d of %d concurrent InsertKeyIfDue inserted, %d keys stored; want exactly 1 and 2", n, workers, len(list))
	}
}

// testReleaseLogoutJob: a job handed back is due at once; a release
// with a stale lease (claimed again since, or rescheduled) does nothing.
func testReleaseLogoutJob(t *testing.T, s provider.Store) {
	ctx := t.Context()
	must(t, s.EnqueueLogouts(ctx, []*provider.LogoutJob{newLogoutJob("j1", "chat", at(0))}))
	lease := time.Minute
	got, err := s.ClaimLogoutJobs(ctx, at(0), 5, lease)
	must(t, err)
	if len(got) != 1 {
		t.Fatalf("claim = %v, want j1", logoutJobIDs(got))
	}
	must(t, s.ReleaseLogoutJob(ctx, "j1", got[0].NextAttemptAt, at(time.Second)))
	// Due at once, long before the lease would have ended.
	again, err := s.ClaimLogoutJobs(ctx, at(time.Second), 5, lease)
	must(t, err)
	if len(again) != 1 || again[0].Attempts != 0 {
		t.Fatalf("claim after release = %+v, want j1 with no failed attempt", again)
	}
	// The first claim's lease is stale now: releasing with it changes nothing.
	wantErr(t, "ReleaseLogoutJob(stale lease)", s.ReleaseLogoutJob(ctx, "j1", got[0].NextAttemptAt, at(2*time.Second)), provider.ErrNotFound)
	if ids := claimIDs(t, s, at(2*time.Second), 5); len(ids) != 0 {
		t.Fatalf("a stale release made j1 due: %v", ids)
	}
	wantErr(t, "ReleaseLogoutJob(unknown)", s.ReleaseLogoutJob(ctx, "nope", at(0), at(0)), provider.ErrNotFound)
}

// testClaimLogoutJobsLimit: however many jobs are due, one claim leases
// at most limit of them (ClaimLogoutJobs must not evaluate its pick
// twice), and concurrent claims split them.
func testClaimLogoutJobsLimit(t *testing.T, s provider.Store) {
	ctx := t.Context()
	var jobs []*provider.LogoutJob
	for i := range 60 {
		jobs = append(jobs, newLogoutJob(fmt.Sprintf("j%02d", i), "chat", at(time.Duration(i%3)*time.Millisecond)))
	}
	must(t, s.EnqueueLogouts(ctx, jobs))
	got := make([][]*provider.LogoutJob, 6)
	errs := parallel(len(got), func(i int) error {
		var err error
		got[i], err = s.ClaimLogoutJobs(ctx, at(time.Second), 7, time.Minute)
		return err
	})
	seen := map[string]bool{}
	for i, err := range errs {
		if err != nil && !errors.Is(err, provider.ErrConflict) {
			t.Fatalf("claim #%d: %v", i, err)
		}
		if len(got[i]) > 7 {
			t.Errorf("claim #%d leased %d jobs, limit 7", i, len(got[i]))
		}
		for _, j := range got[i] {
			if seen[j.ID] {
				t.Errorf("job %s claimed twice", j.ID)
			}
			seen[j.ID] = true
		}
	}
	// Whatever the concurrent claims left is still due, and no claim took
	// more than it returned.
	rest := claimIDs(t, s, at(time.Second), 100)
	if len(seen)+len(rest) != len(jobs) {
		t.Fatalf("claimed %d, still due %d, of %d jobs", len(seen), len(rest), len(jobs))
	}
}

// testConcurrentDeleteExpired: janitors of several replicas at once
// delete each expired grant once and fail none.
func testConcurrentDeleteExpired(t *testing.T, s provider.Store) {
	ctx := t.Context()
	for i := range 30 {
		g := newGrant(provider.KindAccessToken, fmt.Sprintf("gone-%02d", i), fmt.Sprintf("req-%02d", i))
		g.ExpiresAt = at(-time.Hour)
		must(t, s.CreateGrant(ctx, g))
	}
	counts := make([]int, 6)
	errs := parallel(len(counts), func(i int) error {
		var err error
		counts[i], err = s.DeleteExpired(ctx, at(0))
		return err
	})
	total := 0
	for i, err := range errs {
		if err != nil && !errors.Is(err, provider.ErrConflict) {
			t.Errorf("DeleteExpired #%d: %v", i, err)
		}
		total += counts[i]
	}
	if n, err := s.DeleteExpired(ctx, at(0)); err != nil || total+n != 30 {
		t.Fatalf("concurrent DeleteExpired removed %d, a later one %d (%v); want 30 in all", total, n, err)
	}
}

// testReleaseMailJob: as testReleaseLogoutJob, for the mail outbox.
func testReleaseMailJob(t *testing.T, s provider.Store) {
	ctx := t.Context()
	must(t, s.EnqueueMail(ctx, newMailJob("j1", at(0))))
	got, err := s.ClaimMailJobs(ctx, at(0), 5, time.Minute)
	must(t, err)
	if len(got) != 1 {
		t.Fatalf("claim = %d jobs, want j1", len(got))
	}
	must(t, s.ReleaseMailJob(ctx, "j1", got[0].NextAttemptAt, at(time.Second)))
	if ids := claimMailIDs(t, s, at(time.Second), 5); !slices.Equal(ids, []string{"j1"}) {
		t.Fatalf("claim after release = %v, want j1", ids)
	}
	wantErr(t, "ReleaseMailJob(stale lease)", s.ReleaseMailJob(ctx, "j1", got[0].NextAttemptAt, at(2*time.Second)), provider.ErrNotFound)
	if ids := claimMailIDs(t, s, at(2*time.Second), 5); len(ids) != 0 {
		t.Fatalf("a stale release made j1 due: %v", ids)
	}
}

// testReleaseErasurePart: a released part is claimable at once; a
// release with a stale lease does nothing.
func testReleaseErasurePart(t *testing.T, s provider.Store) {
	ctx := t.Context()
	must(t, s.CreateErasure(ctx, newErasure("er-1", "chat")))
	claimed, err := s.ClaimErasureParts(ctx, at(time.Second), 10, 20*time.Second)
	must(t, err)
	if len(claimed) != 1 || claimed[0].LeaseUntil == nil {
		t.Fatalf("claimed %+v", claimed)
	}
	must(t, s.ReleaseErasurePart(ctx, "er-1", "chat", *claimed[0].LeaseUntil))
	again, err := s.ClaimErasureParts(ctx, at(2*time.Second), 10, 20*time.Second)
	must(t, err)
	if len(again) != 1 || again[0].Attempts != 0 {
		t.Fatalf("claim after release = %+v, want the part, no failed attempt", again)
	}
	wantErr(t, "ReleaseErasurePart(stale lease)", s.ReleaseErasurePart(ctx, "er-1", "chat", *claimed[0].LeaseUntil), provider.ErrNotFound)
	if c, err := s.ClaimErasureParts(ctx, at(3*time.Second), 10, 20*time.Second); err != nil || len(c) != 0 {
		t.Fatalf("a stale release made the part claimable: %d, %v", len(c), err)
	}
}
