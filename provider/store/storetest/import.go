package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

// issue 14: the import of the old service.

func testImportUsers(t *testing.T, s provider.Store) {
	ctx := t.Context()
	// Someone registered here before the import, with an address an old
	// user has in another case.
	must(t, s.CreateUser(ctx, newUser("here")))
	old := func(id, email string) *provider.User {
		u := newUser(id)
		u.Email = email
		return u
	}
	batch := []*provider.User{
		old("old-1", "old-1@example.com"),
		old("old-2", "HERE@example.com"), // the registered user's address
		old("old-3", "Old-3@Example.com"),
		old("old-4", "old-3@example.com"), // the same address in the same batch
	}
	got, err := s.ImportUsers(ctx, batch)
	must(t, err)
	want := []provider.ImportResult{provider.ImportInserted, provider.ImportConflict, provider.ImportInserted, provider.ImportConflict}
	if !slices.Equal(got, want) {
		t.Fatalf("first import = %v, want %v", got, want)
	}
	u, err := s.GetUser(ctx, "old-3")
	must(t, err)
	batch[2].Email = "old-3@example.com" // stored lower-cased
	assertEqual(t, u, batch[2])
	_, err = s.GetUser(ctx, "old-2")
	wantErr(t, "conflicting user", err, provider.ErrNotFound)

	// Again, with one changed: nothing is overwritten.
	batch[0].Name = "Changed"
	got, err = s.ImportUsers(ctx, batch)
	must(t, err)
	want = []provider.ImportResult{provider.ImportExists, provider.ImportConflict, provider.ImportExists, provider.ImportConflict}
	if !slices.Equal(got, want) {
		t.Fatalf("second import = %v, want %v", got, want)
	}
	u, err = s.GetUser(ctx, "old-1")
	must(t, err)
	if u.Name != "User old-1" {
		t.Errorf("a second import overwrote the name: %q", u.Name)
	}
	if got, err := s.ImportUsers(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("empty batch = %v, %v", got, err)
	}
}

func importedSession(id, userID, hash string) *provider.ImportedSession {
	x := newSession(id, userID, at(0))
	x.ExpiresAt = at(7 * 24 * time.Hour)
	return &provider.ImportedSession{Session: *x, TokenHash: hash}
}

func testImportSessions(t *testing.T, s provider.Store) {
	ctx := t.Context()
	must(t, s.CreateUser(ctx, newUser("u1")))
	batch := []*provider.ImportedSession{importedSession("s1", "u1", "h1"), importedSession("s2", "u1", "h2")}
	got, err := s.ImportSessions(ctx, batch)
	must(t, err)
	if want := []provider.ImportResult{provider.ImportInserted, provider.ImportInserted}; !slices.Equal(got, want) {
		t.Fatalf("import = %v, want %v", got, want)
	}
	sess, err := s.GetSession(ctx, "s1", at(time.Hour))
	must(t, err)
	assertEqual(t, sess, &batch[0].Session)

	tok, err := s.ImportedRefreshToken(ctx, "h1", at(time.Hour))
	must(t, err)
	if tok.SessionID != "s1" || !tok.ExpiresAt.Equal(at(7*24*time.Hour)) || tok.UsedAt != nil || tok.RequestID != "" {
		t.Fatalf("imported token = %+v", tok)
	}
	_, err = s.ImportedRefreshToken(ctx, "h1", at(7*24*time.Hour))
	wantErr(t, "expired token", err, provider.ErrNotFound)
	_, err = s.ImportedRefreshToken(ctx, "nope", at(0))
	wantErr(t, "unknown token", err, provider.ErrNotFound)

	// A second run inserts nothing, not even a token under a new hash.
	got, err = s.ImportSessions(ctx, []*provider.ImportedSession{importedSession("s1", "u1", "h1-other")})
	must(t, err)
	if got[0] != provider.ImportExists {
		t.Fatalf("second import = %v, want exists", got)
	}
	_, err = s.ImportedRefreshToken(ctx, "h1-other", at(0))
	wantErr(t, "token of an existing session", err, provider.ErrNotFound)

	// Used once; a second use conflicts and keeps the first family.
	must(t, s.UseImportedRefreshToken(ctx, "h1", "req-1", at(time.Minute)))
	wantErr(t, "second use", s.UseImportedRefreshToken(ctx, "h1", "req-2", at(2*time.Minute)), provider.ErrConflict)
	wantErr(t, "unknown use", s.UseImportedRefreshToken(ctx, "nope", "req-3", at(time.Minute)), provider.ErrNotFound)
	tok, err = s.ImportedRefreshToken(ctx, "h1", at(time.Hour))
	must(t, err)
	if tok.UsedAt == nil || !tok.UsedAt.Equal(at(time.Minute)) || tok.RequestID != "req-1" {
		t.Fatalf("used token = %+v", tok)
	}

	// The sweep removes expired tokens with the other expired rows.
	if _, err := s.DeleteExpired(ctx, at(7*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, err = s.ImportedRefreshToken(ctx, "h2", at(0))
	wantErr(t, "swept token", err, provider.ErrNotFound)
}

// testImportRollback: an import is one transaction of the caller, so a
// dry run that rolls back leaves nothing.
func testImportRollback(t *testing.T, s provider.Store) {
	ctx := t.Context()
	tx, err := s.BeginTx(ctx)
	must(t, err)
	if _, err := s.ImportUsers(tx, []*provider.User{newUser("r1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportSessions(tx, []*provider.ImportedSession{importedSession("rs", "r1", "rh")}); err != nil {
		t.Fatal(err)
	}
	must(t, s.Rollback(tx))
	_, err = s.GetUser(ctx, "r1")
	wantErr(t, "rolled-back user", err, provider.ErrNotFound)
	_, err = s.GetSession(ctx, "rs", at(0))
	wantErr(t, "rolled-back session", err, provider.ErrNotFound)
	_, err = s.ImportedRefreshToken(ctx, "rh", at(0))
	wantErr(t, "rolled-back token", err, provider.ErrNotFound)
}

// testConcurrentUseImportedRefreshToken: of many concurrent exchanges of
// one token exactly one wins.
func testConcurrentUseImportedRefreshToken(t *testing.T, s provider.Store) {
	ctx := t.Context()
	must(t, s.CreateUser(ctx, newUser("u1")))
	if _, err := s.ImportSessions(ctx, []*provider.ImportedSession{importedSession("s1", "u1", "h1")}); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		won, lost int
		others    []error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.UseImportedRefreshToken(ctx, "h1", "req-"+string(rune('a'+i)), at(time.Minute))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, provider.ErrConflict):
				lost++
			default:
				others = append(others, err)
			}
		}()
	}
	wg.Wait()
	if won != 1 || lost != n-1 || len(others) > 0 {
		t.Fatalf("won %d, lost %d, other errors %v", won, lost, others)
	}
}
