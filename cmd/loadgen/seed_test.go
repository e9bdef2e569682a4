package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	dbpkg "github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/store/postgres"
	"github.com/manacore/mana-core-auth/provider/websession"
)

// TestSeedMatchesSchema runs the bulk seed, small, on a migrated database
// (so a schema change that breaks it fails here, not in `make bench`) and
// checks what the scenarios rely on: the mix of grants, users who can log
// in with the load generator's password, and sealed cookies the server's
// session manager accepts as the seeded sessions.
func TestSeedMatchesSchema(t *testing.T) {
	ctx := t.Context()
	dsn := databasetest.URL(t, dbpkg.Postgres)
	db := databasetest.Connect(t, dsn)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const users, grants = 40, 400
	if err := seedData(ctx, dsn, users, users, grants, nil); err != nil {
		t.Fatal(err)
	}
	// Idempotent for users and sessions (the scenarios' small seed may
	// follow the big one).
	if err := seedData(ctx, dsn, users, users, 0, nil); err != nil {
		t.Fatalf("seeding again: %v", err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var nUsers, nSessions, nGrants, expired, inactive, families, kinds int
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM auth.users), (SELECT count(*) FROM auth.sessions WHERE expires_at > now()),
		count(*), count(*) FILTER (WHERE expires_at < now()), count(*) FILTER (WHERE NOT active),
		count(DISTINCT request_id), count(DISTINCT kind) FROM auth.grants`).Scan(
		&nUsers, &nSessions, &nGrants, &expired, &inactive, &families, &kinds); err != nil {
		t.Fatal(err)
	}
	if nUsers != users || nSessions != users || nGrants != grants || families != grants/4 || kinds != 5 {
		t.Fatalf("seeded %d users, %d live sessions, %d grants in %d families of %d kinds", nUsers, nSessions, nGrants, families, kinds)
	}
	if expired < grants/4 || expired > grants/2 || inactive < grants/4 || inactive > grants/2 {
		t.Errorf("mix: %d of %d grants expired, %d inactive", expired, grants, inactive)
	}

	st := postgres.New(db.Postgres())
	u, err := st.GetUserByEmail(ctx, "seed7@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := account.NewHasher(account.DefaultParams, 1).Verify(ctx, u.PasswordHash, userPassword); err != nil || !u.EmailVerified {
		t.Fatalf("seeded user cannot log in: verified %v, %v", u.EmailVerified, err)
	}

	const secret = "loadgen-secret-key-0123456789abcdef"
	m, err := websession.New(websession.Config{SecretKey: []byte(secret), Now: time.Now}, st)
	if err != nil {
		t.Fatal(err)
	}
	cookies, err := sessionCookies(secret, users)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/account", nil)
	r.AddCookie(cookies[6])
	s, err := m.Current(ctx, r)
	if err != nil || s.ID != seedSessionID(7) {
		t.Fatalf("the server's session manager does not take the sealed cookie: %v %+v", err, s)
	}
}
