package store_test

// Issue 11 part A: the admin user search on PostgreSQL with 100,000 users
// must answer in under 50 ms (make bench reports ms/op per case).

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/store/postgres"
)

const searchBenchUsers = 100_000

// seedSearchUsers bulk-loads n users (COPY) and a session for every fifth
// of them, so the last-activity lookup has rows to read. Half the users
// have @example.com addresses: the broad search.
func seedSearchUsers(tb testing.TB, pg *database.PostgresDB, n int) {
	tb.Helper()
	ctx := context.Background()
	first := []string{"Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hans", "Ida", "Jonas", "Ärztin", "Özil"}
	last := []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann"}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	// A real argon2id hash's length, so rows are as wide as in production.
	hash := "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	users := make([][]any, n)
	for i := range n {
		domain := "example.com"
		if i%2 == 1 {
			domain = "mana.how"
		}
		at := base.Add(time.Duration(i) * time.Minute)
		users[i] = []any{fmt.Sprintf("u%06d", i), fmt.Sprintf("person%06d@%s", i, domain), true,
			first[i%len(first)] + " " + last[(i/len(first))%len(last)], provider.RoleUser, hash, false, at, at}
	}
	cols := []string{"id", "email", "email_verified", "name", "role", "password_hash", "disabled", "created_at", "updated_at"}
	if _, err := pg.Pool().CopyFrom(ctx, pgx.Identifier{"auth", "users"}, cols, pgx.CopyFromRows(users)); err != nil {
		tb.Fatalf("copy users: %v", err)
	}
	var sessions [][]any
	for i := 0; i < n; i += 5 {
		at := base.Add(time.Duration(i) * time.Minute)
		sessions = append(sessions, []any{fmt.Sprintf("s%06d", i), fmt.Sprintf("u%06d", i), at, at.Add(time.Hour),
			at.Add(24 * time.Hour), at})
	}
	if _, err := pg.Pool().CopyFrom(ctx, pgx.Identifier{"auth", "sessions"},
		[]string{"id", "user_id", "created_at", "last_seen_at", "expires_at", "auth_time"}, pgx.CopyFromRows(sessions)); err != nil {
		tb.Fatalf("copy sessions: %v", err)
	}
	// What autovacuum does to a table that grew: statistics for the
	// planner and the visibility map for index-only counts.
	if _, err := pg.Pool().Exec(ctx, "VACUUM ANALYZE auth.users, auth.sessions"); err != nil {
		tb.Fatal(err)
	}
}

func BenchmarkSearchUsers(b *testing.B) {
	db := databasetest.Open(b, database.Postgres)
	seedSearchUsers(b, db.Postgres(), searchBenchUsers)
	s := postgres.New(db.Postgres())
	ctx := context.Background()
	// The broad search matches half the users; its last page is the
	// furthest the list can be paged.
	broadTotal := searchBenchUsers / 2
	for _, c := range []struct {
		name      string
		q         provider.UserSearch
		wantTotal int
		wantRows  int
	}{
		{"FirstPage", provider.UserSearch{Limit: 20}, searchBenchUsers, 20},
		{"Selective", provider.UserSearch{Query: "PERSON04242", Limit: 20}, 10, 10},
		{"Broad", provider.UserSearch{Query: "example", Limit: 20}, broadTotal, 20},
		{"BroadLastPage", provider.UserSearch{Query: "example", Limit: 20, Offset: broadTotal - 20}, broadTotal, 20},
		{"NonASCII", provider.UserSearch{Query: "ÄRZTIN", Limit: 20}, searchBenchUsers / 12, 20},
	} {
		b.Run(c.name, func(b *testing.B) {
			rows, total, err := s.SearchUsers(ctx, c.q)
			if err != nil {
				b.Fatal(err)
			}
			if total < c.wantTotal || len(rows) != c.wantRows {
				b.Fatalf("%s: %d rows of %d, want %d of at least %d", c.name, len(rows), total, c.wantRows, c.wantTotal)
			}
			start := time.Now()
			for b.Loop() {
				if _, _, err := s.SearchUsers(ctx, c.q); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/op")
		})
	}
}
