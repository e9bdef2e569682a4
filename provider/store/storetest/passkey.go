package storetest

// issue 15 (passkeys): passkeys and WebAuthn ceremony challenges.

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

func newPasskey(id, userID string, created time.Time) *provider.Passkey {
	return &provider.Passkey{
		ID: id, UserID: userID, CredentialID: []byte("cred-" + id), PublicKey: []byte{0xa5, 0x01, 0x02, 0x03, 0x26},
		AttestationType: "packed", AAGUID: bytes.Repeat([]byte{0xad}, 16), Transports: []string{"internal", "hybrid"},
		SignCount: 7, BackupEligible: true, BackupState: true, Name: "Passkey " + id, CreatedAt: created,
	}
}

func testPasskeyCRUD(t *testing.T, s provider.Store) {
	ctx := t.Context()
	a := newPasskey("pk-a", "u1", at(time.Second))
	b := newPasskey("pk-b", "u1", at(0)) // older: listed first
	b.AAGUID, b.Transports, b.SignCount, b.BackupEligible, b.BackupState = nil, nil, 0, false, false
	b.AttestationType = "none"
	other := newPasskey("pk-c", "u2", at(0))
	for _, p := range []*provider.Passkey{a, b, other} {
		must(t, s.CreatePasskey(ctx, p))
	}

	got, err := s.ListPasskeys(ctx, "u1")
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("ListPasskeys(u1) = %d passkeys, want 2", len(got))
	}
	assertEqual(t, got[0], b) // empty lists and AAGUID come back nil
	assertEqual(t, got[1], a)
	if got, err := s.ListPasskeys(ctx, "nobody"); err != nil || len(got) != 0 {
		t.Errorf("ListPasskeys(nobody) = %v, %v", got, err)
	}

	p, err := s.PasskeyByCredentialID(ctx, []byte("cred-pk-a"))
	must(t, err)
	assertEqual(t, p, a)
	_, err = s.PasskeyByCredentialID(ctx, []byte("cred-unknown"))
	wantErr(t, "PasskeyByCredentialID(unknown)", err, provider.ErrNotFound)

	// The credential id is unique across users, and so is our id.
	dup := newPasskey("pk-d", "u2", at(0))
	dup.CredentialID = a.CredentialID
	wantErr(t, "CreatePasskey(taken credential id)", s.CreatePasskey(ctx, dup), provider.ErrAlreadyExists)
	dup = newPasskey("pk-a", "u2", at(0))
	dup.CredentialID = []byte("fresh")
	wantErr(t, "CreatePasskey(taken id)", s.CreatePasskey(ctx, dup), provider.ErrAlreadyExists)

	// UsePasskey only from the count the caller saw.
	must(t, s.UsePasskey(ctx, "pk-a", 7, 8, false, at(time.Minute)))
	p, err = s.PasskeyByCredentialID(ctx, a.CredentialID)
	must(t, err)
	if p.SignCount != 8 || p.BackupState || p.LastUsedAt == nil || !p.LastUsedAt.Equal(at(time.Minute)) {
		t.Errorf("after UsePasskey: count %d, backup state %v, last used %v", p.SignCount, p.BackupState, p.LastUsedAt)
	}
	wantErr(t, "UsePasskey(stale count)", s.UsePasskey(ctx, "pk-a", 7, 9, true, at(2*time.Minute)), provider.ErrConflict)
	wantErr(t, "UsePasskey(unknown)", s.UsePasskey(ctx, "pk-x", 0, 1, true, at(0)), provider.ErrNotFound)
	// The full uint32 range round-trips.
	must(t, s.UsePasskey(ctx, "pk-a", 8, 1<<32-1, true, at(3*time.Minute)))
	p, err = s.PasskeyByCredentialID(ctx, a.CredentialID)
	must(t, err)
	if p.SignCount != 1<<32-1 || !p.BackupState {
		t.Errorf("count %d, backup state %v, want max uint32, true", p.SignCount, p.BackupState)
	}

	// Rename and delete act on the user's own passkeys only.
	wantErr(t, "RenamePasskey(other user's)", s.RenamePasskey(ctx, "u2", "pk-a", "mine now"), provider.ErrNotFound)
	wantErr(t, "DeletePasskey(other user's)", s.DeletePasskey(ctx, "u2", "pk-a"), provider.ErrNotFound)
	must(t, s.RenamePasskey(ctx, "u1", "pk-a", "Laptop"))
	p, err = s.PasskeyByCredentialID(ctx, a.CredentialID)
	must(t, err)
	if p.Name != "Laptop" || p.UserID != "u1" {
		t.Errorf("after rename: %q of %q", p.Name, p.UserID)
	}
	must(t, s.DeletePasskey(ctx, "u1", "pk-a"))
	wantErr(t, "DeletePasskey(again)", s.DeletePasskey(ctx, "u1", "pk-a"), provider.ErrNotFound)
	wantErr(t, "RenamePasskey(deleted)", s.RenamePasskey(ctx, "u1", "pk-a", "x"), provider.ErrNotFound)
	_, err = s.PasskeyByCredentialID(ctx, a.CredentialID)
	wantErr(t, "PasskeyByCredentialID(deleted)", err, provider.ErrNotFound)
	if got, err := s.ListPasskeys(ctx, "u2"); err != nil || len(got) != 1 || got[0].ID != "pk-c" {
		t.Errorf("u2's passkeys changed: %v, %v", got, err)
	}
	// A deleted credential id can be registered again.
	must(t, s.CreatePasskey(ctx, newPasskey("pk-a2", "u1", at(0))))
	dup = newPasskey("pk-e", "u1", at(0))
	dup.CredentialID = a.CredentialID
	must(t, s.CreatePasskey(ctx, dup))
}

func testConcurrentUsePasskey(t *testing.T, s provider.Store) {
	ctx := t.Context()
	must(t, s.CreatePasskey(ctx, newPasskey("hot", "u1", at(0))))
	errs := parallel(workers, func(i int) error {
		return s.UsePasskey(ctx, "hot", 7, uint32(8+i), true, at(time.Duration(i)*time.Millisecond))
	})
	checkOneWinner(t, "UsePasskey", errs, provider.ErrConflict)
	p, err := s.PasskeyByCredentialID(ctx, []byte("cred-hot"))
	must(t, err)
	if p.SignCount < 8 || p.SignCount >= 8+workers {
		t.Errorf("count %d after the race", p.SignCount)
	}
}

func newChallenge(id, kind string, expires time.Time) *provider.WebAuthnChallenge {
	return &provider.WebAuthnChallenge{ID: id, Kind: kind, UserID: "u1", Data: []byte(`{"challenge":"` + id + `"}`), ExpiresAt: expires}
}

func testWebAuthnChallenges(t *testing.T, s provider.Store) {
	ctx := t.Context()
	c := newChallenge("ch1", "register", at(5*time.Minute))
	must(t, s.PutChallenge(ctx, c))
	wantErr(t, "PutChallenge(taken id)", s.PutChallenge(ctx, newChallenge("ch1", "login", at(time.Hour))), provider.ErrAlreadyExists)
	d := newChallenge("ch2", "login", at(5*time.Minute))
	d.UserID = "" // a discoverable sign-in
	must(t, s.PutChallenge(ctx, d))

	// Another kind does not take it, nor does it use it up.
	_, err := s.TakeChallenge(ctx, "ch1", "login", at(0))
	wantErr(t, "TakeChallenge(other kind)", err, provider.ErrNotFound)
	// Expired at ExpiresAt.
	_, err = s.TakeChallenge(ctx, "ch1", "register", at(5*time.Minute))
	wantErr(t, "TakeChallenge(expired)", err, provider.ErrNotFound)
	_, err = s.TakeChallenge(ctx, "nope", "register", at(0))
	wantErr(t, "TakeChallenge(unknown)", err, provider.ErrNotFound)

	got, err := s.TakeChallenge(ctx, "ch1", "register", at(5*time.Minute-time.Millisecond))
	must(t, err)
	assertEqual(t, got, c)
	_, err = s.TakeChallenge(ctx, "ch1", "register", at(0))
	wantErr(t, "TakeChallenge(used)", err, provider.ErrNotFound)

	got, err = s.TakeChallenge(ctx, "ch2", "login", at(0))
	must(t, err)
	assertEqual(t, got, d)
}

func testConcurrentTakeChallenge(t *testing.T, s provider.Store) {
	ctx := t.Context()
	must(t, s.PutChallenge(ctx, newChallenge("hot", "login", at(time.Minute))))
	errs := parallel(workers, func(int) error {
		c, err := s.TakeChallenge(ctx, "hot", "login", at(0))
		if err == nil && c.ID != "hot" {
			return fmt.Errorf("took challenge %q", c.ID)
		}
		return err
	})
	checkOneWinner(t, "TakeChallenge", errs, provider.ErrNotFound)
}

func testDeleteExpiredChallenges(t *testing.T, s provider.Store) {
	ctx := t.Context()
	cutoff := at(time.Hour)
	must(t, s.PutChallenge(ctx, newChallenge("gone", "login", cutoff)))
	must(t, s.PutChallenge(ctx, newChallenge("live", "login", cutoff.Add(time.Millisecond))))
	_, err := s.DeleteExpired(ctx, cutoff)
	must(t, err)
	// Taken with an early "now", so only deletion can hide a challenge.
	_, err = s.TakeChallenge(ctx, "gone", "login", at(0))
	wantErr(t, "TakeChallenge(expired and swept)", err, provider.ErrNotFound)
	_, err = s.TakeChallenge(ctx, "live", "login", at(0))
	must(t, err)
}

func testErasePasskeys(t *testing.T, s provider.Store) {
	ctx := t.Context()
	for _, id := range []string{"gone", "kept"} {
		must(t, s.CreateUser(ctx, newUser(id)))
		must(t, s.CreatePasskey(ctx, newPasskey(id+"-1", id, at(0))))
		must(t, s.CreatePasskey(ctx, newPasskey(id+"-2", id, at(time.Second))))
	}
	c, err := s.EraseUserData(ctx, "gone", provider.Tombstone{Email: "erased-gone@erased.invalid", DeletedAt: at(time.Hour)})
	must(t, err)
	if c.Passkeys != 2 {
		t.Errorf("erased %d passkeys, want 2", c.Passkeys)
	}
	if got, err := s.ListPasskeys(ctx, "gone"); err != nil || len(got) != 0 {
		t.Errorf("passkeys left after erasure: %d, %v", len(got), err)
	}
	_, err = s.PasskeyByCredentialID(ctx, []byte("cred-gone-1"))
	wantErr(t, "PasskeyByCredentialID(erased)", err, provider.ErrNotFound)
	if got, err := s.ListPasskeys(ctx, "kept"); err != nil || len(got) != 2 {
		t.Errorf("other user's passkeys: %d, %v", len(got), err)
	}
}
