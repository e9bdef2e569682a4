package storetest

// issue 11, part B (erasure): EraseUserData and the erasure queue.

import (
	"fmt"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

// seedPerson gives user id something in every table EraseUserData
// clears: a session on a device, a token family with a grace entry, a
// consent, a TOTP enrolment, one-time tokens and events with IP, user
// agent and email.
func seedPerson(t *testing.T, s provider.Store, id string) {
	t.Helper()
	ctx := t.Context()
	u := newUser(id)
	u.Picture = "https://img.example.com/" + id + ".png" // issue 12: erasure clears it
	must(t, s.CreateUser(ctx, u))
	must(t, s.CreateSession(ctx, newSession("sess-"+id, id, at(0))))
	for _, kind := range []string{provider.KindAccessToken, provider.KindRefreshToken} {
		g := newGrant(kind, kind+"-"+id, "req-"+id)
		g.Subject, g.SessionID = id, "sess-"+id
		must(t, s.CreateGrant(ctx, g))
	}
	must(t, s.PutGrace(ctx, &provider.GraceEntry{Signature: provider.KindRefreshToken + "-" + id, RequestID: "req-" + id,
		Payload: []byte("sealed"), ExpiresAt: at(time.Hour)}))
	must(t, s.SaveConsent(ctx, &provider.Consent{UserID: id, ClientID: "app", Scopes: []string{"openid"}, GrantedAt: at(0)}))
	must(t, s.PutTOTP(ctx, newTOTP(id)))
	must(t, s.CreateToken(ctx, newToken("verify-"+id, provider.PurposeVerifyEmail, id)))
	must(t, s.CreateToken(ctx, newToken("reset-"+id, provider.PurposeResetPassword, id)))
	e := newEvent("ev1-"+id, id, at(time.Second))
	e.Detail["email"] = id + "@example.com"
	must(t, s.AddEvent(ctx, e))
	must(t, s.AddEvent(ctx, newEvent("ev2-"+id, id, at(2*time.Second))))
}

// checkPersonIntact asserts seedPerson's data is all there.
func checkPersonIntact(t *testing.T, s provider.Store, id string) {
	t.Helper()
	ctx := t.Context()
	u, err := s.GetUser(ctx, id)
	must(t, err)
	if u.Email != id+"@example.com" || u.Name == "" || u.Picture == "" || u.PasswordHash == "" || u.DeletedAt != nil {
		t.Errorf("user %s changed: %+v", id, u)
	}
	if ss, err := s.ListSessions(ctx, id, at(0)); err != nil || len(ss) != 1 {
		t.Errorf("sessions of %s: %d, %v", id, len(ss), err)
	}
	for _, kind := range []string{provider.KindAccessToken, provider.KindRefreshToken} {
		_, err := s.GetGrant(ctx, kind, kind+"-"+id)
		must(t, err)
	}
	_, err = s.GetGrace(ctx, provider.KindRefreshToken+"-"+id, at(0))
	must(t, err)
	_, err = s.GetConsent(ctx, id, "app")
	must(t, err)
	_, err = s.GetTOTP(ctx, id)
	must(t, err)
	es, err := s.ListEvents(ctx, id, 10)
	must(t, err)
	if len(es) != 2 || es[1].IP == "" || es[1].Detail["email"] == "" {
		t.Errorf("events of %s changed: %+v", id, es)
	}
}

func testEraseUserData(t *testing.T, s provider.Store) {
	ctx := t.Context()
	seedPerson(t, s, "gone")
	seedPerson(t, s, "kept")
	tomb := provider.Tombstone{Email: "erased-gone@erased.invalid", DeletedAt: at(time.Hour)}
	c, err := s.EraseUserData(ctx, "gone", tomb)
	must(t, err)
	want := provider.ErasedCounts{Sessions: 1, Devices: 1, Tokens: 2, Consents: 1, Accounts: 1, TwoFactor: 1,
		VerificationTokens: 2, Events: 2}
	if c != want {
		t.Errorf("counts %+v, want %+v", c, want)
	}

	// Every table, read back.
	u, err := s.GetUser(ctx, "gone")
	must(t, err)
	if u.Email != tomb.Email || u.Name != "" || u.Picture != "" || u.PasswordHash != "" || u.EmailVerified || u.DeletedAt == nil ||
		!u.DeletedAt.Equal(tomb.DeletedAt) {
		t.Errorf("tombstone %+v", u)
	}
	_, err = s.GetUserByEmail(ctx, "gone@example.com")
	wantErr(t, "old address", err, provider.ErrNotFound)
	if ss, err := s.ListSessions(ctx, "gone", at(0)); err != nil || len(ss) != 0 {
		t.Errorf("sessions left: %d, %v", len(ss), err)
	}
	_, err = s.GetSession(ctx, "sess-gone", at(0))
	wantErr(t, "session", err, provider.ErrNotFound)
	for _, kind := range []string{provider.KindAccessToken, provider.KindRefreshToken} {
		_, err := s.GetGrant(ctx, kind, kind+"-gone")
		wantErr(t, kind, err, provider.ErrNotFound)
	}
	_, err = s.GetGrace(ctx, provider.KindRefreshToken+"-gone", at(0))
	wantErr(t, "grace", err, provider.ErrNotFound)
	_, err = s.GetConsent(ctx, "gone", "app")
	wantErr(t, "consent", err, provider.ErrNotFound)
	_, err = s.GetTOTP(ctx, "gone")
	wantErr(t, "totp", err, provider.ErrNotFound)
	for _, tok := range []struct{ hash, purpose string }{{"verify-gone", provider.PurposeVerifyEmail}, {"reset-gone", provider.PurposeResetPassword}} {
		_, err := s.ConsumeToken(ctx, tok.purpose, tok.hash, at(0))
		wantErr(t, tok.purpose, err, provider.ErrNotFound)
	}
	es, err := s.ListEvents(ctx, "gone", 10)
	must(t, err)
	if len(es) != 2 {
		t.Fatalf("events: %d, want 2 kept (pseudonymised)", len(es))
	}
	for _, e := range es {
		if e.IP != "" || e.UserAgent != "" || e.Detail["email"] != "" || e.Detail["client_id"] != "app" {
			t.Errorf("event %s not pseudonymised as expected: %+v", e.ID, e)
		}
	}

	// The address is free again; the other person is untouched.
	again := newUser("again")
	again.Email = "gone@example.com"
	must(t, s.CreateUser(ctx, again))
	checkPersonIntact(t, s, "kept")

	_, err = s.EraseUserData(ctx, "nobody", tomb)
	wantErr(t, "unknown user", err, provider.ErrNotFound)
}

func testEraseRollback(t *testing.T, s provider.Store) {
	seedPerson(t, s, "gone")
	tx, err := s.BeginTx(t.Context())
	must(t, err)
	_, err = s.EraseUserData(tx, "gone", provider.Tombstone{Email: "erased-gone@erased.invalid", DeletedAt: at(time.Hour)})
	must(t, err)
	must(t, s.CreateErasure(tx, &provider.ErasureJob{ID: "er-1", Subject: "h", RequestedBy: "self", RequestedAt: at(0)}))
	must(t, s.Rollback(tx))
	checkPersonIntact(t, s, "gone")
	_, err = s.GetErasure(t.Context(), "er-1")
	wantErr(t, "rolled back erasure", err, provider.ErrNotFound)
}

func newErasure(id string, backends ...string) *provider.ErasureJob {
	done := at(0)
	j := &provider.ErasureJob{ID: id, Subject: "subject-" + id, RequestedBy: "admin-1", RequestedAt: at(0), AuthDeleted: 7, AuthAt: &done}
	for _, b := range backends {
		j.Parts = append(j.Parts, &provider.ErasurePart{ErasureID: id, BackendID: b, BackendName: "App " + b, UserID: "user-" + id,
			Status: provider.ErasurePending, LastError: "Backend offline", NextAttemptAt: at(0)})
	}
	return j
}

func testErasureQueue(t *testing.T, s provider.Store) {
	ctx := t.Context()
	j := newErasure("er-1", "chat", "todo")
	j.Parts = append(j.Parts, &provider.ErasurePart{ErasureID: "er-1", BackendID: "calendar", BackendName: "Calendar",
		Status: provider.ErasureDone, DeletedCount: 4, NextAttemptAt: at(0), DoneAt: ptr(at(0))})
	must(t, s.CreateErasure(ctx, j))
	wantErr(t, "duplicate", s.CreateErasure(ctx, newErasure("er-1")), provider.ErrAlreadyExists)

	got, err := s.GetErasure(ctx, "er-1")
	must(t, err)
	if got.Subject != "subject-er-1" || got.AuthDeleted != 7 || got.AuthAt == nil || got.CompletedAt != nil || len(got.Parts) != 3 ||
		got.Parts[0].BackendID != "calendar" || got.Parts[0].Status != provider.ErasureDone || got.Parts[0].DeletedCount != 4 {
		t.Fatalf("erasure %+v parts %+v", got, got.Parts)
	}
	pending, err := s.PendingErasureParts(ctx, "user-er-1")
	must(t, err)
	if len(pending) != 2 || pending[0].BackendID != "chat" || pending[1].BackendID != "todo" {
		t.Fatalf("pending %+v", pending)
	}

	// A claim leases: a second claim within the lease gets nothing.
	claimed, err := s.ClaimErasureParts(ctx, at(time.Second), 10, 20*time.Second)
	must(t, err)
	if len(claimed) != 2 || claimed[0].LeaseUntil == nil || !claimed[0].LeaseUntil.Equal(at(21*time.Second)) || claimed[0].UserID != "user-er-1" {
		t.Fatalf("claimed %+v", claimed)
	}
	if again, err := s.ClaimErasureParts(ctx, at(2*time.Second), 10, 20*time.Second); err != nil || len(again) != 0 {
		t.Fatalf("claimed within the lease: %d, %v", len(again), err)
	}
	// A killed worker's lease runs out and the part comes back.
	if again, err := s.ClaimErasureParts(ctx, at(22*time.Second), 1, 20*time.Second); err != nil || len(again) != 1 {
		t.Fatalf("claim after the lease: %d, %v", len(again), err)
	}

	must(t, s.RetryErasurePart(ctx, "er-1", "chat", at(time.Minute), "backend error (HTTP 500)"))
	if again, err := s.ClaimErasureParts(ctx, at(59*time.Second), 10, time.Second); err != nil || len(again) != 1 || again[0].BackendID != "todo" {
		t.Fatalf("retried part due early: %+v, %v", again, err)
	}
	got, err = s.GetErasure(ctx, "er-1")
	must(t, err)
	if p := got.Parts[1]; p.BackendID != "chat" || p.Attempts != 1 || p.LastError != "backend error (HTTP 500)" || p.LeaseUntil != nil ||
		!p.NextAttemptAt.Equal(at(time.Minute)) {
		t.Fatalf("retried part %+v", p)
	}

	done, err := s.CompleteErasurePart(ctx, "er-1", "chat", 12, at(2*time.Minute))
	must(t, err)
	if done {
		t.Fatal("completed with todo still pending")
	}
	_, err = s.CompleteErasurePart(ctx, "er-1", "chat", 12, at(2*time.Minute))
	wantErr(t, "complete twice", err, provider.ErrNotFound)
	wantErr(t, "retry a done part", s.RetryErasurePart(ctx, "er-1", "chat", at(0), "x"), provider.ErrNotFound)
	done, err = s.CompleteErasurePart(ctx, "er-1", "todo", 0, at(3*time.Minute))
	must(t, err)
	if !done {
		t.Fatal("the last part did not complete the erasure")
	}
	got, err = s.GetErasure(ctx, "er-1")
	must(t, err)
	if got.CompletedAt == nil || !got.CompletedAt.Equal(at(3*time.Minute)) {
		t.Fatalf("completed at %v", got.CompletedAt)
	}
	for _, p := range got.Parts {
		if p.Status != provider.ErasureDone || p.UserID != "" || p.DoneAt == nil {
			t.Errorf("part %+v still names the user or is not done", p)
		}
	}
	if pending, err := s.PendingErasureParts(ctx, "user-er-1"); err != nil || len(pending) != 0 {
		t.Fatalf("pending after completion: %+v, %v", pending, err)
	}
	if c, err := s.ClaimErasureParts(ctx, at(time.Hour), 0, time.Second); err != nil || c != nil {
		t.Fatalf("limit 0: %v, %v", c, err)
	}

	must(t, s.CreateErasure(ctx, &provider.ErasureJob{ID: "er-0", Subject: "subject-er-1", RequestedBy: "self", RequestedAt: at(-time.Hour)}))
	list, err := s.ListErasures(ctx, "subject-er-1")
	must(t, err)
	if len(list) != 2 || list[0].ID != "er-1" || list[1].ID != "er-0" || len(list[0].Parts) != 3 || list[1].AuthAt != nil {
		t.Fatalf("list %+v", list)
	}
	_, err = s.GetErasure(ctx, "nope")
	wantErr(t, "unknown erasure", err, provider.ErrNotFound)
}

func testConcurrentClaimErasureParts(t *testing.T, s provider.Store) {
	ctx := t.Context()
	const jobs, per, claimers = 12, 4, 8
	for i := range jobs {
		var bs []string
		for k := range per {
			bs = append(bs, fmt.Sprintf("app%d", k))
		}
		must(t, s.CreateErasure(ctx, newErasure(fmt.Sprintf("er-%02d", i), bs...)))
	}
	claimEachOnce(t, jobs*per, claimers, func() ([]string, error) {
		batch, err := s.ClaimErasureParts(ctx, at(time.Second), 3, time.Minute)
		ids := make([]string, len(batch))
		for i, p := range batch {
			ids[i] = p.ErasureID + "/" + p.BackendID
		}
		return ids, err
	})
}

// testConcurrentCompleteErasure: two workers finishing the last two parts
// of one job at once; exactly one of them completes it.
func testConcurrentCompleteErasure(t *testing.T, s provider.Store) {
	ctx := t.Context()
	for i := range 10 {
		id := fmt.Sprintf("er-%d", i)
		must(t, s.CreateErasure(ctx, newErasure(id, "a", "b")))
		var dones [2]bool
		errs := parallel(2, func(k int) error {
			var err error
			dones[k], err = s.CompleteErasurePart(ctx, id, []string{"a", "b"}[k], 1, at(time.Minute))
			return err
		})
		for _, err := range errs {
			must(t, err)
		}
		if dones[0] == dones[1] {
			t.Fatalf("%s: completions %v, want exactly one", id, dones)
		}
		got, err := s.GetErasure(ctx, id)
		must(t, err)
		if got.CompletedAt == nil {
			t.Fatalf("%s not completed", id)
		}
	}
}
