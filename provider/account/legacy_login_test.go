package account_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// TestLoginUpgradesBetterAuthHash (issue 14): an account whose stored hash
// came from the old service (Better Auth 1.4.4, testdata/better-auth)
// signs in with its old password; the successful login replaces the hash
// by an argon2id one, a wrong password changes nothing, and the password
// keeps working afterwards.
func TestLoginUpgradesBetterAuthHash(t *testing.T) {
	raw, err := os.ReadFile("testdata/better-auth/hashes.json")
	if err != nil {
		t.Fatal(err)
	}
	var fixtures struct {
		Hashes []struct{ Password, Hash string }
	}
	if err := json.Unmarshal(raw, &fixtures); err != nil || len(fixtures.Hashes) == 0 {
		t.Fatalf("fixtures: %v", err)
	}
	old := fixtures.Hashes[0]
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		f := newFixture(t, b)
		ctx := t.Context()
		u := f.createUser(t, "imported@example.com", "placeholder-password", true)
		u.PasswordHash = old.Hash
		if err := f.store.UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}

		if _, err := f.svc.Authenticate(ctx, u.Email, old.Password+"!"); !errors.Is(err, account.ErrInvalidCredentials) {
			t.Fatalf("wrong password: %v, want ErrInvalidCredentials", err)
		}
		if got, _ := f.store.GetUser(ctx, u.ID); got.PasswordHash != old.Hash {
			t.Fatalf("a failed login changed the stored hash to %q", got.PasswordHash)
		}

		if a, err := f.svc.Authenticate(ctx, u.Email, old.Password); err != nil || a.ID != u.ID {
			t.Fatalf("login with the old password: %v", err)
		}
		got, err := f.store.GetUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(got.PasswordHash, hashPrefix) {
			t.Fatalf("stored hash after the login %q, want argon2id (%s…)", got.PasswordHash, hashPrefix)
		}
		if _, err := f.svc.Authenticate(ctx, u.Email, old.Password); err != nil {
			t.Fatalf("login after the upgrade: %v", err)
		}
		if again, _ := f.store.GetUser(ctx, u.ID); again.PasswordHash != got.PasswordHash {
			t.Error("a current hash was re-hashed again")
		}
	})
}
