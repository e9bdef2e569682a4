package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

// The provider.AccountStore part of the suite: one-time tokens, security
// events, TOTP enrolments and DeleteUserSessions.

func newToken(hash, purpose, userID string) *provider.OneTimeToken {
	return &provider.OneTimeToken{
		Hash: hash, Purpose: purpose, UserID: userID, RedirectTo: "https://chat.mana.how",
		CreatedAt: at(0), ExpiresAt: at(time.Hour),
	}
}

func newEvent(id, userID string, created time.Time) *provider.SecurityEvent {
	return &provider.SecurityEvent{
		ID: id, UserID: userID, Type: provider.EventLoginSuccess, IP: "203.0.113.7",
		UserAgent: "Mozilla/5.0", Detail: map[string]string{"client_id": "app", "session": "abcd"},
		CreatedAt: created,
	}
}

func newTOTP(userID string) *provider.TOTP {
	secret := make([]byte, 256)
	for i := range secret {
		secret[i] = byte(i)
	}
	return &provider.TOTP{
		UserID: userID, SecretEnc: secret, LastStep: 0,
		RecoveryHashes: []string{"rc-1", "rc-2", "rc-3"}, CreatedAt: at(0),
	}
}

func testTokenCRUD(t *testing.T, s provider.Store) {
	ctx := t.Context()
	x := newToken("h1", provider.PurposeVerifyEmail, "u1")
	must(t, s.CreateToken(ctx, x))
	wantErr(t, "CreateToken(same hash)", s.CreateToken(ctx, newToken("h1", provider.PurposeResetPassword, "u2")), provider.ErrAlreadyExists)

	// Another purpose neither finds nor consumes it.
	_, err := s.ConsumeToken(ctx, provider.PurposeResetPassword, "h1", at(0))
	wantErr(t, "ConsumeToken(wrong purpose)", err, provider.ErrNotFound)
	_, err = s.ConsumeToken(ctx, provider.PurposeVerifyEmail, "nope", at(0))
	wantErr(t, "ConsumeToken(unknown)", err, provider.ErrNotFound)

	// ExpiresAt <= now is expired, to the millisecond, and an expired
	// consume leaves the token in place.
	_, err = s.ConsumeToken(ctx, provider.PurposeVerifyEmail, "h1", x.ExpiresAt)
	wantErr(t, "ConsumeToken(now == expiry)", err, provider.ErrNotFound)
	_, err = s.ConsumeToken(ctx, provider.PurposeVerifyEmail, "h1", x.ExpiresAt.Add(time.Hour))
	wantErr(t, "ConsumeToken(expired)", err, provider.ErrNotFound)

	got, err := s.ConsumeToken(ctx, provider.PurposeVerifyEmail, "h1", x.ExpiresAt.Add(-time.Millisecond))
	must(t, err)
	assertEqual(t, got, x)
	_, err = s.ConsumeToken(ctx, provider.PurposeVerifyEmail, "h1", at(0))
	wantErr(t, "ConsumeToken(used)", err, provider.ErrNotFound)
	// A used hash is free again (hashes of fresh random tokens never collide,
	// but the store must not keep tombstones).
	must(t, s.CreateToken(ctx, newToken("h1", provider.PurposeVerifyEmail, "u1")))

	// An empty RedirectTo round-trips.
	bare := newToken("bare", provider.PurposeLogin2FA, "u1")
	bare.RedirectTo = ""
	must(t, s.CreateToken(ctx, bare))
	got, err = s.ConsumeToken(ctx, provider.PurposeLogin2FA, "bare", at(0))
	must(t, err)
	assertEqual(t, got, bare)
}

func testDeleteUserTokens(t *testing.T, s provider.Store) {
	ctx := t.Context()
	for _, x := range []*provider.OneTimeToken{
		newToken("u1-reset-a", provider.PurposeResetPassword, "u1"),
		newToken("u1-reset-b", provider.PurposeResetPassword, "u1"),
		newToken("u1-verify", provider.PurposeVerifyEmail, "u1"),
		newToken("u2-reset", provider.PurposeResetPassword, "u2"),
	} {
		must(t, s.CreateToken(ctx, x))
	}
	must(t, s.DeleteUserTokens(ctx, "u1", provider.PurposeResetPassword))
	must(t, s.DeleteUserTokens(ctx, "u1", provider.PurposeResetPassword)) // nothing left: no error
	must(t, s.DeleteUserTokens(ctx, "nobody", provider.PurposeLogin2FA))

	for _, tc := range []struct {
		hash, purpose string
		exists        bool
	}{
		{"u1-reset-a", provider.PurposeResetPassword, false},
		{"u1-reset-b", provider.PurposeResetPassword, false},
		{"u1-verify", provider.PurposeVerifyEmail, true},
		{"u2-reset", provider.PurposeResetPassword, true},
	} {
		_, err := s.ConsumeToken(ctx, tc.purpose, tc.hash, at(0))
		if tc.exists {
			must(t, err)
		} else {
			wantErr(t, "ConsumeToken("+tc.hash+")", err, provider.ErrNotFound)
		}
	}
}

func testEvents(t *testing.T, s provider.Store) {
	ctx := t.Context()
	evil := map[string]string{
		"reason":           `'; DROP TABLE security_events; --`,
		`" OR 1=1 --`:      `\'\\%_*?[]{}$1 ?1 :name @p`,
		"json":             `{"a":["b"],"c":null}`,
		"Grüße, 東京":        "Ωμέγα, 🔐",
		"tab\tnew\nline\r": "",
		"":                 "empty key",
	}
	oldest := newEvent("e-oldest", "u1", at(-time.Hour))
	middle := newEvent("e-middle", "u1", at(0))
	middle.Type, middle.Detail = provider.EventLoginFailure, evil
	middle.IP, middle.UserAgent = "2001:db8::1", `Mozilla/5.0 "quoted" 'single' ; -- 🔐`
	newest := newEvent("e-newest", "u1", at(time.Minute))
	newest.Detail = nil
	empty := newEvent("e-empty", "u1", at(30*time.Second))
	empty.Detail = map[string]string{} // comes back nil
	other := newEvent("e-other", "u2", at(time.Hour))
	unknown := newEvent("e-unknown", "", at(2*time.Hour)) // failed login for a foreign email
	for _, e := range []*provider.SecurityEvent{middle, other, newest, oldest, unknown, empty} {
		must(t, s.AddEvent(ctx, e))
	}
	wantErr(t, "AddEvent(same id)", s.AddEvent(ctx, newEvent("e-middle", "u3", at(0))), provider.ErrAlreadyExists)

	got, err := s.ListEvents(ctx, "u1", 10)
	must(t, err)
	empty.Detail = nil
	want := []*provider.SecurityEvent{newest, empty, middle, oldest}
	if len(got) != len(want) {
		t.Fatalf("ListEvents returned %d events, want %d", len(got), len(want))
	}
	for i := range want {
		assertEqual(t, got[i], want[i])
	}

	got, err = s.ListEvents(ctx, "u1", 2)
	must(t, err)
	if len(got) != 2 || got[0].ID != "e-newest" || got[1].ID != "e-empty" {
		t.Fatalf("ListEvents(limit 2) = %v, want the 2 newest", eventIDs(got))
	}
	for _, limit := range []int{0, -1} {
		got, err = s.ListEvents(ctx, "u1", limit)
		must(t, err)
		if len(got) != 0 {
			t.Fatalf("ListEvents(limit %d) = %v, want none", limit, eventIDs(got))
		}
	}
	got, err = s.ListEvents(ctx, "", 10)
	must(t, err)
	if len(got) != 1 {
		t.Fatalf(`ListEvents("") = %v, want the event without a user`, eventIDs(got))
	}
	assertEqual(t, got[0], unknown)
	got, err = s.ListEvents(ctx, "nobody", 10)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("ListEvents(unknown user) = %v, want none", eventIDs(got))
	}
}

func eventIDs(es []*provider.SecurityEvent) []string {
	var ids []string
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

func testTOTP(t *testing.T, s provider.Store) {
	ctx := t.Context()
	_, err := s.GetTOTP(ctx, "u1")
	wantErr(t, "GetTOTP(none)", err, provider.ErrNotFound)

	x := newTOTP("u1")
	must(t, s.PutTOTP(ctx, x))
	must(t, s.PutTOTP(ctx, newTOTP("u2")))
	got, err := s.GetTOTP(ctx, "u1")
	must(t, err)
	assertEqual(t, got, x)

	// Replacing overwrites every field: enrolment confirmed with new codes.
	x.SecretEnc, x.Enabled, x.LastStep = []byte("sealed-secret"), true, 58_000_000
	x.RecoveryHashes, x.CreatedAt, x.EnabledAt = []string{"new-1", "new-2"}, at(time.Minute), ptr(at(2*time.Minute))
	must(t, s.PutTOTP(ctx, x))
	got, err = s.GetTOTP(ctx, "u1")
	must(t, err)
	assertEqual(t, got, x)

	// And back: a restarted enrolment clears EnabledAt and the codes.
	x.Enabled, x.EnabledAt, x.RecoveryHashes, x.LastStep = false, nil, []string{}, 0
	must(t, s.PutTOTP(ctx, x))
	got, err = s.GetTOTP(ctx, "u1")
	must(t, err)
	x.RecoveryHashes = nil // empty comes back nil
	assertEqual(t, got, x)

	must(t, s.DeleteTOTP(ctx, "u1"))
	_, err = s.GetTOTP(ctx, "u1")
	wantErr(t, "GetTOTP(deleted)", err, provider.ErrNotFound)
	wantErr(t, "DeleteTOTP(deleted)", s.DeleteTOTP(ctx, "u1"), provider.ErrNotFound)
	_, err = s.GetTOTP(ctx, "u2")
	must(t, err)
}

func testAdvanceTOTPStep(t *testing.T, s provider.Store) {
	ctx := t.Context()
	x := newTOTP("u1")
	x.Enabled, x.EnabledAt, x.LastStep = true, ptr(at(0)), 1000
	must(t, s.PutTOTP(ctx, x))

	must(t, s.AdvanceTOTPStep(ctx, "u1", 1001))
	must(t, s.AdvanceTOTPStep(ctx, "u1", 1005)) // steps may be skipped
	for _, step := range []int64{1005, 1004, 0, -1} {
		err := s.AdvanceTOTPStep(ctx, "u1", step)
		wantErr(t, fmt.Sprintf("AdvanceTOTPStep(%d after 1005)", step), err, provider.ErrConflict)
		if errors.Is(err, provider.ErrNotFound) {
			t.Fatalf("AdvanceTOTPStep(replay) also matches ErrNotFound: %v", err)
		}
	}
	got, err := s.GetTOTP(ctx, "u1")
	must(t, err)
	x.LastStep = 1005
	assertEqual(t, got, x) // nothing else changed

	err = s.AdvanceTOTPStep(ctx, "nobody", 1)
	wantErr(t, "AdvanceTOTPStep(no enrolment)", err, provider.ErrNotFound)
	if errors.Is(err, provider.ErrConflict) {
		t.Fatalf("AdvanceTOTPStep(no enrolment) also matches ErrConflict: %v", err)
	}
}

func testUseRecoveryCode(t *testing.T, s provider.Store) {
	ctx := t.Context()
	x := newTOTP("u1")
	must(t, s.PutTOTP(ctx, x))
	must(t, s.PutTOTP(ctx, newTOTP("u2"))) // same codes, other user

	must(t, s.UseRecoveryCode(ctx, "u1", "rc-2"))
	wantErr(t, "UseRecoveryCode(used)", s.UseRecoveryCode(ctx, "u1", "rc-2"), provider.ErrNotFound)
	wantErr(t, "UseRecoveryCode(unknown code)", s.UseRecoveryCode(ctx, "u1", "rc-9"), provider.ErrNotFound)
	wantErr(t, "UseRecoveryCode(no enrolment)", s.UseRecoveryCode(ctx, "nobody", "rc-1"), provider.ErrNotFound)
	got, err := s.GetTOTP(ctx, "u1")
	must(t, err)
	x.RecoveryHashes = []string{"rc-1", "rc-3"} // order kept
	assertEqual(t, got, x)

	must(t, s.UseRecoveryCode(ctx, "u1", "rc-1"))
	must(t, s.UseRecoveryCode(ctx, "u1", "rc-3"))
	got, err = s.GetTOTP(ctx, "u1")
	must(t, err)
	if got.RecoveryHashes != nil {
		t.Fatalf("RecoveryHashes after using all = %#v, want nil", got.RecoveryHashes)
	}
	wantErr(t, "UseRecoveryCode(none left)", s.UseRecoveryCode(ctx, "u1", "rc-1"), provider.ErrNotFound)

	got, err = s.GetTOTP(ctx, "u2")
	must(t, err)
	if !slices.Equal(got.RecoveryHashes, []string{"rc-1", "rc-2", "rc-3"}) {
		t.Fatalf("other user's codes changed: %v", got.RecoveryHashes)
	}
}

func testDeleteUserSessions(t *testing.T, s provider.Store) {
	ctx := t.Context()
	expired := newSession("u1-d-expired", "u1", at(-3*time.Hour))
	for _, x := range []*provider.Session{
		newSession("u1-a", "u1", at(0)),
		newSession("u1-b-current", "u1", at(time.Minute)),
		newSession("u1-c", "u1", at(2*time.Minute)),
		expired,
		newSession("u2-a", "u2", at(0)),
	} {
		must(t, s.CreateSession(ctx, x))
	}

	ids, err := s.DeleteUserSessions(ctx, "u1", "u1-b-current")
	must(t, err)
	if want := []string{"u1-a", "u1-c", "u1-d-expired"}; !slices.Equal(ids, want) {
		t.Fatalf("DeleteUserSessions = %v, want %v", ids, want)
	}
	// Query with an early "now" so only deletion can hide a session.
	live, err := s.ListSessions(ctx, "u1", at(-4*time.Hour))
	must(t, err)
	if len(live) != 1 || live[0].ID != "u1-b-current" {
		t.Fatalf("sessions left = %v, want only the kept one", live)
	}
	_, err = s.GetSession(ctx, "u2-a", at(0))
	must(t, err)

	ids, err = s.DeleteUserSessions(ctx, "u1", "")
	must(t, err)
	if !slices.Equal(ids, []string{"u1-b-current"}) {
		t.Fatalf(`DeleteUserSessions(except "") = %v, want the last one`, ids)
	}
	ids, err = s.DeleteUserSessions(ctx, "u1", "")
	must(t, err)
	if ids != nil {
		t.Fatalf("DeleteUserSessions(none left) = %#v, want nil", ids)
	}
	// exceptID of another user's session protects nothing of this one and
	// does not touch that user.
	must(t, s.CreateSession(ctx, newSession("u1-e", "u1", at(0))))
	ids, err = s.DeleteUserSessions(ctx, "u1", "u2-a")
	must(t, err)
	if !slices.Equal(ids, []string{"u1-e"}) {
		t.Fatalf("DeleteUserSessions(except other's) = %v", ids)
	}
	_, err = s.GetSession(ctx, "u2-a", at(0))
	must(t, err)
}

// Every AccountStore method joins a caller's transaction: a rollback
// discards all of it, and reads inside see the transaction's writes.
func testAccountTxRollback(t *testing.T, s provider.Store) {
	ctx := t.Context()
	must(t, s.CreateToken(ctx, newToken("pre", provider.PurposeResetPassword, "u1")))
	must(t, s.CreateToken(ctx, newToken("pre-verify", provider.PurposeVerifyEmail, "u1")))
	pre := newTOTP("u1")
	pre.Enabled, pre.LastStep = true, 100
	must(t, s.PutTOTP(ctx, pre))
	must(t, s.PutTOTP(ctx, newTOTP("u2")))
	must(t, s.CreateSession(ctx, newSession("s1", "u1", at(0))))
	must(t, s.CreateSession(ctx, newSession("s2", "u1", at(0))))

	tx, err := s.BeginTx(ctx)
	must(t, err)
	must(t, s.CreateToken(tx, newToken("new", provider.PurposeVerifyEmail, "u1")))
	must(t, second(s.ConsumeToken(tx, provider.PurposeResetPassword, "pre", at(0))))
	must(t, s.DeleteUserTokens(tx, "u1", provider.PurposeVerifyEmail))
	must(t, s.AddEvent(tx, newEvent("ev", "u1", at(0))))
	must(t, s.AdvanceTOTPStep(tx, "u1", 101))
	must(t, s.UseRecoveryCode(tx, "u1", "rc-1"))
	changed := newTOTP("u3")
	must(t, s.PutTOTP(tx, changed))
	must(t, s.DeleteTOTP(tx, "u2"))
	ids, err := s.DeleteUserSessions(tx, "u1", "s2")
	must(t, err)
	if !slices.Equal(ids, []string{"s1"}) {
		t.Fatalf("DeleteUserSessions in tx = %v", ids)
	}

	// The transaction sees its own writes.
	got, err := s.GetTOTP(tx, "u1")
	must(t, err)
	if got.LastStep != 101 || !slices.Equal(got.RecoveryHashes, []string{"rc-2", "rc-3"}) {
		t.Fatalf("GetTOTP in tx = %+v, want step 101 and rc-1 used", got)
	}
	events, err := s.ListEvents(tx, "u1", 10)
	must(t, err)
	if len(events) != 1 {
		t.Fatalf("ListEvents in tx = %v, want the new event", eventIDs(events))
	}
	_, err = s.GetTOTP(tx, "u2")
	wantErr(t, "GetTOTP(deleted in tx)", err, provider.ErrNotFound)
	_, err = s.ConsumeToken(tx, provider.PurposeResetPassword, "pre", at(0))
	wantErr(t, "ConsumeToken(consumed in tx)", err, provider.ErrNotFound)

	must(t, s.Rollback(tx))

	_, err = s.ConsumeToken(ctx, provider.PurposeVerifyEmail, "new", at(0))
	wantErr(t, "ConsumeToken(created in rolled-back tx)", err, provider.ErrNotFound)
	must(t, second(s.ConsumeToken(ctx, provider.PurposeResetPassword, "pre", at(0))))
	must(t, second(s.ConsumeToken(ctx, provider.PurposeVerifyEmail, "pre-verify", at(0))))
	events, err = s.ListEvents(ctx, "u1", 10)
	must(t, err)
	if len(events) != 0 {
		t.Fatalf("ListEvents after rollback = %v, want none", eventIDs(events))
	}
	got, err = s.GetTOTP(ctx, "u1")
	must(t, err)
	assertEqual(t, got, pre)
	_, err = s.GetTOTP(ctx, "u2")
	must(t, err)
	_, err = s.GetTOTP(ctx, "u3")
	wantErr(t, "GetTOTP(put in rolled-back tx)", err, provider.ErrNotFound)
	for _, id := range []string{"s1", "s2"} {
		_, err := s.GetSession(ctx, id, at(0))
		must(t, err)
	}
	// The store is usable afterwards (the write connection came back).
	must(t, s.AdvanceTOTPStep(ctx, "u1", 101))
}

// The AccountStore sentinels inside a transaction fail that call only (on
// PostgreSQL a raised error would abort the whole transaction), and the
// transaction commits what it did.
func testAccountTxContinuesAfterError(t *testing.T, s provider.Store) {
	ctx := t.Context()
	must(t, s.CreateToken(ctx, newToken("taken", provider.PurposeVerifyEmail, "u1")))
	must(t, s.AddEvent(ctx, newEvent("taken", "u1", at(0))))
	x := newTOTP("u1")
	x.LastStep = 10
	must(t, s.PutTOTP(ctx, x))

	tx, err := s.BeginTx(ctx)
	must(t, err)
	defer s.Rollback(tx) //nolint:errcheck // a no-op after Commit
	must(t, s.AddEvent(tx, newEvent("before", "u1", at(time.Second))))
	for _, tc := range []struct {
		what     string
		err      error
		sentinel error
	}{
		{"CreateToken(taken)", s.CreateToken(tx, newToken("taken", provider.PurposeLogin2FA, "u2")), provider.ErrAlreadyExists},
		{"ConsumeToken(unknown)", second(s.ConsumeToken(tx, provider.PurposeVerifyEmail, "nope", at(0))), provider.ErrNotFound},
		{"ConsumeToken(expired)", second(s.ConsumeToken(tx, provider.PurposeVerifyEmail, "taken", at(2*time.Hour))), provider.ErrNotFound},
		{"AddEvent(taken)", s.AddEvent(tx, newEvent("taken", "u1", at(0))), provider.ErrAlreadyExists},
		{"GetTOTP(none)", second(s.GetTOTP(tx, "nobody")), provider.ErrNotFound},
		{"DeleteTOTP(none)", s.DeleteTOTP(tx, "nobody"), provider.ErrNotFound},
		{"AdvanceTOTPStep(replay)", s.AdvanceTOTPStep(tx, "u1", 10), provider.ErrConflict},
		{"AdvanceTOTPStep(none)", s.AdvanceTOTPStep(tx, "nobody", 10), provider.ErrNotFound},
		{"UseRecoveryCode(unknown)", s.UseRecoveryCode(tx, "u1", "nope"), provider.ErrNotFound},
		{"UseRecoveryCode(none)", s.UseRecoveryCode(tx, "nobody", "rc-1"), provider.ErrNotFound},
	} {
		wantErr(t, tc.what, tc.err, tc.sentinel)
	}
	must(t, s.AdvanceTOTPStep(tx, "u1", 11))
	must(t, s.UseRecoveryCode(tx, "u1", "rc-1"))
	must(t, s.AddEvent(tx, newEvent("after", "u1", at(2*time.Second))))
	must(t, s.Commit(tx))

	got, err := s.GetTOTP(ctx, "u1")
	must(t, err)
	if got.LastStep != 11 || !slices.Equal(got.RecoveryHashes, []string{"rc-2", "rc-3"}) {
		t.Fatalf("GetTOTP after commit = %+v", got)
	}
	events, err := s.ListEvents(ctx, "u1", 10)
	must(t, err)
	if ids := eventIDs(events); !slices.Equal(ids, []string{"after", "before", "taken"}) {
		t.Fatalf("ListEvents after commit = %v", ids)
	}
	must(t, second(s.ConsumeToken(ctx, provider.PurposeVerifyEmail, "taken", at(0))))
}

func testConcurrentConsumeToken(t *testing.T, s provider.Store) {
	ctx := t.Context()
	must(t, s.CreateToken(ctx, newToken("hot", provider.PurposeResetPassword, "u1")))
	errs := parallel(workers, func(int) error {
		x, err := s.ConsumeToken(ctx, provider.PurposeResetPassword, "hot", at(0))
		if err == nil && x.UserID != "u1" {
			return fmt.Errorf("consumed token of user %q", x.UserID)
		}
		return err
	})
	checkOneWinner(t, "ConsumeToken", errs, provider.ErrNotFound)
}

func testConcurrentRecoveryCode(t *testing.T, s provider.Store) {
	ctx := t.Context()
	x := newTOTP("u1")
	x.RecoveryHashes = nil
	for i := range workers {
		x.RecoveryHashes = append(x.RecoveryHashes, fmt.Sprintf("rc-%02d", i))
	}
	must(t, s.PutTOTP(ctx, x))

	// One code, many users of it: exactly one gets in.
	errs := parallel(workers, func(int) error { return s.UseRecoveryCode(ctx, "u1", "rc-00") })
	checkOneWinner(t, "UseRecoveryCode(same code)", errs, provider.ErrNotFound)

	// Different codes at once: each removes its own and no removal is lost
	// (a read-modify-write without the write lock would resurrect codes).
	for i, err := range parallel(workers-1, func(i int) error {
		return s.UseRecoveryCode(ctx, "u1", fmt.Sprintf("rc-%02d", i+1))
	}) {
		if err != nil {
			t.Errorf("UseRecoveryCode(rc-%02d): %v", i+1, err)
		}
	}
	got, err := s.GetTOTP(ctx, "u1")
	must(t, err)
	if got.RecoveryHashes != nil {
		t.Fatalf("codes left after using every one = %v", got.RecoveryHashes)
	}
}

func testConcurrentAdvanceTOTP(t *testing.T, s provider.Store) {
	ctx := t.Context()
	must(t, s.PutTOTP(ctx, newTOTP("u1")))

	// One observed code replayed at once: exactly one is accepted.
	errs := parallel(workers, func(int) error { return s.AdvanceTOTPStep(ctx, "u1", 500) })
	checkOneWinner(t, "AdvanceTOTPStep(same step)", errs, provider.ErrConflict)

	// Different steps at once: the last step only ever moves forward.
	for i, err := range parallel(workers, func(i int) error { return s.AdvanceTOTPStep(ctx, "u1", int64(501+i)) }) {
		if err != nil && !errors.Is(err, provider.ErrConflict) {
			t.Errorf("AdvanceTOTPStep(%d): %v, want nil or ErrConflict", 501+i, err)
		}
	}
	got, err := s.GetTOTP(ctx, "u1")
	must(t, err)
	if want := int64(500 + workers); got.LastStep != want {
		t.Fatalf("LastStep = %d, want %d (the highest step)", got.LastStep, want)
	}
}

// checkOneWinner wants exactly one nil error and loser for all the others.
func checkOneWinner(t *testing.T, what string, errs []error, loser error) {
	t.Helper()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, loser):
		default:
			t.Errorf("%s: %v, want nil or %v", what, err, loser)
		}
	}
	if won != 1 {
		t.Fatalf("%s: %d of %d concurrent calls succeeded, want exactly 1", what, won, len(errs))
	}
}

// testAccountTimezones is testTimezones for the AccountStore types.
func testAccountTimezones(t *testing.T, s provider.Store) {
	ctx := t.Context()
	east := time.FixedZone("UTC+05:30", 5*3600+30*60)
	west := time.FixedZone("UTC-08", -8*3600)
	local := func(d time.Duration, loc *time.Location) time.Time { return at(d).In(loc) }

	x := newToken("tz", provider.PurposeLogin2FA, "tz")
	x.CreatedAt, x.ExpiresAt = local(0, east), local(5*time.Minute, west)
	must(t, s.CreateToken(ctx, x))
	_, err := s.ConsumeToken(ctx, provider.PurposeLogin2FA, "tz", local(5*time.Minute, east))
	wantErr(t, "ConsumeToken(expired, other zone)", err, provider.ErrNotFound)
	got, err := s.ConsumeToken(ctx, provider.PurposeLogin2FA, "tz", local(time.Minute, time.FixedZone("UTC+14", 14*3600)))
	must(t, err)
	assertEqual(t, got, x)

	e := newEvent("tz", "tz", local(0, west))
	must(t, s.AddEvent(ctx, e))
	events, err := s.ListEvents(ctx, "tz", 1)
	must(t, err)
	assertEqual(t, events[0], e)

	tp := newTOTP("tz")
	tp.CreatedAt, tp.EnabledAt = local(0, east), ptr(local(time.Minute, west))
	must(t, s.PutTOTP(ctx, tp))
	gotTP, err := s.GetTOTP(ctx, "tz")
	must(t, err)
	assertEqual(t, gotTP, tp)

	// Sub-millisecond input comes back truncated, as everywhere.
	fine := newToken("fine", provider.PurposeVerifyEmail, "tz")
	fine.CreatedAt = t0.Add(123*time.Millisecond + 456*time.Microsecond)
	must(t, s.CreateToken(ctx, fine))
	got, err = s.ConsumeToken(ctx, provider.PurposeVerifyEmail, "fine", at(0))
	must(t, err)
	if want := fine.CreatedAt.Truncate(time.Millisecond); !got.CreatedAt.Equal(want) {
		t.Fatalf("CreatedAt = %v, want %v", got.CreatedAt, want)
	}
}

// testAccountSQLMetacharacters is testSQLMetacharacters for the keys and
// lists of the AccountStore tables.
func testAccountSQLMetacharacters(t *testing.T, s provider.Store) {
	ctx := t.Context()
	for i, v := range []string{
		`'; DROP TABLE totp; --`,
		`\'\\%_*?[]{}$1 ?1 :name @p`,
		`{"a":["b"],"c":null}`,
		`Grüße, 東京, Ωμέγα, 🔐`,
	} {
		id := fmt.Sprintf("%d%s", i, v)
		x := &provider.OneTimeToken{Hash: id, Purpose: v, UserID: id, RedirectTo: v, CreatedAt: at(0), ExpiresAt: at(time.Hour)}
		must(t, s.CreateToken(ctx, x))
		got, err := s.ConsumeToken(ctx, v, id, at(0))
		must(t, err)
		assertEqual(t, got, x)

		tp := &provider.TOTP{UserID: id, SecretEnc: []byte(v), RecoveryHashes: []string{v, id, ""}, CreatedAt: at(0)}
		must(t, s.PutTOTP(ctx, tp))
		gotTP, err := s.GetTOTP(ctx, id)
		must(t, err)
		assertEqual(t, gotTP, tp)
		must(t, s.UseRecoveryCode(ctx, id, v))
		must(t, s.UseRecoveryCode(ctx, id, ""))
		gotTP, err = s.GetTOTP(ctx, id)
		must(t, err)
		if !slices.Equal(gotTP.RecoveryHashes, []string{id}) {
			t.Fatalf("RecoveryHashes = %q, want [%q]", gotTP.RecoveryHashes, id)
		}

		e := &provider.SecurityEvent{ID: id, UserID: id, Type: v, IP: v, UserAgent: v,
			Detail: map[string]string{v: v}, CreatedAt: at(0)}
		must(t, s.AddEvent(ctx, e))
		events, err := s.ListEvents(ctx, id, 5)
		must(t, err)
		if len(events) != 1 {
			t.Fatalf("ListEvents = %v, want 1 event", eventIDs(events))
		}
		assertEqual(t, events[0], e)
	}
}
