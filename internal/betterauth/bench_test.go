package betterauth_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/manacore/mana-core-auth/credits"
	creditsstore "github.com/manacore/mana-core-auth/credits/store"
	"github.com/manacore/mana-core-auth/internal/betterauth"
	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
	"github.com/manacore/mana-core-auth/provider/store"
)

// BenchmarkImport measures the whole import (users with their hashes,
// sessions with refresh tokens, balances, ledger history, usage) of
// IMPORT_BENCH_USERS old users (default 100,000; seedOldBulk says what each
// has) into a fresh target of each backend, and the second, idempotent
// run over the same target. `make bench` runs it once (-benchtime 1x);
// the target is under a minute for 100,000 users.
func BenchmarkImport(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("IMPORT_BENCH_USERS")); err == nil && v > 0 {
		n = v
	}
	from, conn := oldDatabase(b)
	seedOldBulk(b, conn, n)
	for _, d := range databasetest.Dialects() {
		b.Run(fmt.Sprintf("%s/users=%d", d, n), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				target := newTarget(b, d)
				b.StartTimer()
				rep, err := betterauth.Run(b.Context(), from, target, betterauth.Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				for _, kind := range []string{betterauth.KindUsers, betterauth.KindSessions, betterauth.KindBalances} {
					if got := rep.Tally(kind).Imported; got != n {
						b.Fatalf("%s: imported %d, want %d", kind, got, n)
					}
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
		})
		b.Run(fmt.Sprintf("%s/again/users=%d", d, n), func(b *testing.B) {
			b.StopTimer()
			target := newTarget(b, d)
			if _, err := betterauth.Run(b.Context(), from, target, betterauth.Options{}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			for range b.N {
				rep, err := betterauth.Run(b.Context(), from, target, betterauth.Options{})
				if err != nil {
					b.Fatal(err)
				}
				if got := rep.Tally(betterauth.KindUsers); got.Imported != 0 || got.Existing != n {
					b.Fatalf("second run: %+v", got)
				}
			}
		})
	}
}

// newTarget is a fresh, migrated database of dialect d as the import's
// target.
func newTarget(b *testing.B, d database.Dialect) betterauth.Target {
	b.Helper()
	db := databasetest.Open(b, d)
	st, err := store.New(db)
	if err != nil {
		b.Fatal(err)
	}
	_, bs, err := creditsstore.New(db)
	if err != nil {
		b.Fatal(err)
	}
	return betterauth.Target{Store: st, Credits: betterauth.CreditsTarget{Store: bs.(credits.Importer)}}
}
