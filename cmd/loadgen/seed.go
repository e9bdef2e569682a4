package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/provider/account"
)

// Sizes of the -data big seed: a provider a year into production, with the
// grants the expiry sweep has not removed yet.
const (
	bigUsers    = 100_000
	bigSessions = 100_000 // one live browser session per user
	bigGrants   = 1_000_000
)

// seedSessionID names the i-th seeded session (the session scenario seals
// cookies for them): 43 characters like the server's own ids (32 random
// bytes, base64url), so the index holds keys as wide as real ones.
func seedSessionID(i int) string { return fmt.Sprintf("seed-session-%030d", i) }

// seedData fills the run's database, already migrated, with users (each
// with a live session, up to sessions) and grants stored grants, in bulk SQL
// (generate_series, one statement per table) so it takes seconds, not the
// hours the API would. The rows are as wide as real ones and mixed like a
// live provider's: four rows per family (access, refresh, code, oidc or
// pkce), about a third expired, a quarter of the rest revoked or rotated,
// subjects and sessions spread over all users. Every seeded user has the
// load generator user's password, so a flood of logins can use many
// accounts.
func seedData(ctx context.Context, dsn string, users, sessions, grants int, stderr io.Writer) error {
	start := time.Now()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("seed: connect: %w", err)
	}
	defer conn.Close(ctx)
	// One real argon2id hash for everyone: the column is as wide as a
	// real one and a login with userPassword succeeds.
	hash, err := account.NewHasher(account.DefaultParams, 1).Hash(ctx, userPassword)
	if err != nil {
		return fmt.Errorf("seed: hash: %w", err)
	}
	if stderr == nil {
		stderr = io.Discard
	}
	steps := []struct {
		what string
		n    int
		sql  string
		args []any
	}{
		{"users", users, `INSERT INTO auth.users (id, email, email_verified, name, role, password_hash, created_at, updated_at)
			SELECT 'seed-user-' || lpad(i::text, 6, '0'), 'seed' || i || '@example.com', true,
				'Seed User ' || i, 'user', $1,
				now() - (i % 365) * interval '1 day', now() - (i % 30) * interval '1 day'
			FROM generate_series(1, $2::int) i
			ON CONFLICT DO NOTHING`, []any{hash, users}},
		{"sessions", sessions, `INSERT INTO auth.sessions (id, user_id, created_at, last_seen_at, expires_at, auth_time,
				ip, user_agent, device_id, device_name, auth_methods, remember_me)
			SELECT 'seed-session-' || lpad(i::text, 30, '0'), 'seed-user-' || lpad((1 + (i - 1) % $2::int)::text, 6, '0'),
				now() - interval '1 day', now() - (i % 3600) * interval '1 second', now() + interval '6 days',
				now() - interval '1 day', '198.51.100.' || (i % 250),
				'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
				md5('device' || i), 'Chrome on Linux', '{pwd}', i % 3 = 0
			FROM generate_series(1, $1::int) i
			ON CONFLICT DO NOTHING`, []any{sessions, users}},
		// f is the family (request id), k the row in it. Access tokens
		// carry an 86-character signature like an Ed25519 JWT's, the rest
		// 43 like fosite's HMAC ones; data is as wide as a stored request.
		{"grants", grants, `INSERT INTO auth.grants (kind, signature, request_id, client_id, subject, session_id,
				active, rotated_at, requested_at, expires_at, data, paired_signature)
			SELECT (ARRAY['access', 'refresh', 'code', CASE WHEN f % 2 = 0 THEN 'oidc' ELSE 'pkce' END])[k + 1],
				CASE WHEN k = 0 THEN md5('a' || i) || md5('b' || i) || left(md5('c' || i), 22)
					ELSE left(md5('s' || i) || md5('t' || i), 43) END,
				'seed-request-' || f, 'loadgen',
				'seed-user-' || lpad((1 + f % $2::int)::text, 6, '0'),
				CASE WHEN f % 5 = 0 THEN '' ELSE 'seed-session-' || lpad((1 + f % $3::int)::text, 30, '0') END,
				NOT (f % 4 = 1 OR k = 2),
				CASE WHEN k = 1 AND f % 4 = 1 THEN now() - interval '1 hour' END,
				now() - (f % 720) * interval '1 hour',
				CASE WHEN f % 3 = 0 THEN now() - (f % 100) * interval '1 minute'
					ELSE now() + (f % 10000) * interval '1 minute' END,
				convert_to(repeat(md5(i::text), 18), 'UTF8'),
				CASE WHEN k = 1 THEN md5('a' || (i - 1)) || md5('b' || (i - 1)) || left(md5('c' || (i - 1)), 22) ELSE '' END
			FROM generate_series(0, $1::int - 1) i, LATERAL (SELECT i / 4 AS f, i % 4 AS k) fk`,
			[]any{grants, users, max(sessions, 1)}},
	}
	for _, st := range steps {
		if st.n == 0 {
			continue
		}
		t0 := time.Now()
		tag, err := conn.Exec(ctx, st.sql, st.args...)
		if err != nil {
			return fmt.Errorf("seed %s: %w", st.what, err)
		}
		fmt.Fprintf(stderr, "  seeded %d %s in %s\n", tag.RowsAffected(), st.what, time.Since(t0).Round(100*time.Millisecond))
	}
	// Fresh statistics, as autovacuum would have them on a live database.
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE auth.users, auth.sessions, auth.grants"); err != nil {
		return fmt.Errorf("seed: vacuum analyze: %w", err)
	}
	fmt.Fprintf(stderr, "  seed done in %s\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}
