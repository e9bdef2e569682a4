package betterauth

// issue 14 (credits import): the credits step on its own, with the set of
// imported users given (the identity step fills it in a real run).

import (
	"context"
	_ "embed"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/credits"
	creditsstore "github.com/manacore/mana-core-auth/credits/store"
	"github.com/manacore/mana-core-auth/internal/betterauth/betterauthtest"
	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
)

// creditsNow is the import's clock: 11:00 in Berlin on 10 March 2026.
var creditsNow = time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)

// scratchOld creates a scratch old database (betterauthtest) and returns
// its URL and a connection for fixtures.
func scratchOld(t testing.TB) (string, *pgx.Conn) { return betterauthtest.OldDatabase(t) }

func exec(t testing.TB, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	betterauthtest.Exec(t, conn, sql, args...)
}

// creditsFixtures: u1 and u2 imported users, u3 not imported (say,
// soft-deleted), u4 imported with a corrupt (negative) balance.
const creditsFixtures = `
INSERT INTO auth.users (id, name, email) VALUES
    ('u1', 'One', 'one@example.com'), ('u2', 'Two', 'two@example.com'),
    ('u3', 'Three', 'three@example.com'), ('u4', 'Four', 'four@example.com');
INSERT INTO credits.packages (id, name, credits, price_euro_cents, active, sort_order, created_at) VALUES
    ('11111111-1111-4111-8111-111111111111', 'Starter', 1000, 900, true, 1, '2025-01-01 12:00:00.123456+00'),
    ('22222222-2222-4222-8222-222222222222', 'Broken', 0, 500, true, 2, '2025-01-01 12:00:00+00'),
    ('33333333-3333-4333-8333-333333333333', 'Old', 500, 500, false, 3, '2025-01-01 12:00:00+00');
INSERT INTO credits.balances (user_id, balance, free_credits_remaining, last_daily_reset_at, total_earned, total_spent) VALUES
    ('u1', 300, 40, '2026-03-10 06:00:00+00', 1190, 850),
    ('u2', 0, 150, '2026-03-09 12:00:00+00', 150, 0),
    ('u3', 100, 100, '2026-03-10 06:00:00+00', 200, 0),
    ('u4', -5, 10, NULL, 0, 5);
INSERT INTO credits.transactions (id, user_id, type, status, amount, balance_before, balance_after, app_id, description,
        metadata, idempotency_key, created_at) VALUES
    ('a0000000-0000-4000-8000-000000000001', 'u1', 'bonus', 'completed', 150, 0, 150, 'system', 'Signup bonus', NULL, NULL, '2025-06-01 10:00:00+00'),
    ('a0000000-0000-4000-8000-000000000002', 'u1', 'bonus', 'completed', 150, 150, 300, 'system', 'Signup bonus', NULL, NULL, '2025-06-01 10:00:01+00'),
    ('a0000000-0000-4000-8000-000000000003', 'u1', 'bonus', 'completed', 5, 300, 305, 'system', 'Daily free credits', NULL, NULL, '2026-03-10 07:00:00+00'),
    ('a0000000-0000-4000-8000-000000000004', 'u1', 'bonus', 'completed', 5, 305, 310, 'system', 'Daily free credits', NULL, NULL, '2026-03-10 07:00:00+00'),
    ('a0000000-0000-4000-8000-000000000005', 'u1', 'usage', 'completed', -10, 310, 300, 'chat', 'reply', '{"model": "x"}', 'k1', '2026-03-10 08:00:00.5+00'),
    ('a0000000-0000-4000-8000-000000000006', 'u1', 'purchase', 'completed', 1000, 300, 1300, 'stripe', 'Bought', NULL, NULL, '2026-01-01 10:00:00+00'),
    ('a0000000-0000-4000-8000-000000000007', 'u1', 'gift', 'completed', 1, 0, 1, 'x', 'odd', NULL, NULL, '2026-01-01 10:00:00+00'),
    ('a0000000-0000-4000-8000-000000000008', 'u1', 'usage', 'failed', -10, 0, 0, 'chat', 'failed', NULL, 'k2', '2026-01-01 10:00:00+00'),
    ('a0000000-0000-4000-8000-000000000009', 'u3', 'usage', 'completed', -10, 0, 0, 'chat', 'gone', NULL, NULL, '2026-01-01 10:00:00+00'),
    ('a0000000-0000-4000-8000-00000000000a', 'u4', 'expiry', 'completed', -20, 0, 0, 'system', 'Expired', NULL, NULL, '2026-01-01 10:00:00+00');
INSERT INTO credits.purchases (id, user_id, package_id, credits, price_euro_cents, stripe_payment_intent_id, status, created_at, completed_at) VALUES
    ('b0000000-0000-4000-8000-000000000001', 'u1', '11111111-1111-4111-8111-111111111111', 1000, 900, 'pi_1', 'completed', '2026-01-01 10:00:00+00', '2026-01-01 10:00:05+00'),
    ('b0000000-0000-4000-8000-000000000002', 'u1', '22222222-2222-4222-8222-222222222222', 0, 500, 'pi_2', 'completed', '2026-01-02 10:00:00+00', NULL),
    ('b0000000-0000-4000-8000-000000000003', 'u1', NULL, 500, 500, NULL, 'pending', '2026-01-03 10:00:00+00', NULL),
    ('b0000000-0000-4000-8000-000000000004', 'u2', '33333333-3333-4333-8333-333333333333', 500, 500, 'pi_4', 'cancelled', '2026-01-04 10:00:00+00', NULL),
    ('b0000000-0000-4000-8000-000000000005', 'u3', '11111111-1111-4111-8111-111111111111', 1000, 900, 'pi_5', 'completed', '2026-01-05 10:00:00+00', NULL);
INSERT INTO credits.usage_stats (id, user_id, app_id, credits_used, date) VALUES
    ('c0000000-0000-4000-8000-000000000001', 'u1', 'chat', 10, '2026-03-09 23:00:00+00'),
    ('c0000000-0000-4000-8000-000000000002', 'u1', 'chat', 7, '2026-03-10 08:00:00+00'),
    ('c0000000-0000-4000-8000-000000000003', 'u1', 'chat', 4, '2026-03-08 23:00:00+00'),
    ('c0000000-0000-4000-8000-000000000004', 'u1', 'todo', 2, '2026-03-09 23:00:00+00'),
    ('c0000000-0000-4000-8000-000000000005', 'u1', 'chat', -3, '2026-03-09 23:00:00+00'),
    ('c0000000-0000-4000-8000-000000000006', 'u3', 'chat', 1, '2026-03-09 23:00:00+00');
`

// creditsTarget is one fresh target database's credits side.
type creditsTarget struct {
	ledger  credits.Store
	billing credits.BillingStore
	svc     *credits.Service
	target  CreditsTarget
}

func newCreditsTarget(t testing.TB, d database.Dialect) creditsTarget {
	t.Helper()
	db := databasetest.Open(t, d)
	ledger, billing, err := creditsstore.New(db)
	if err != nil {
		t.Fatal(err)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := credits.NewService(ledger, credits.Config{Timezone: berlin, Now: func() time.Time { return creditsNow.Add(time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	return creditsTarget{ledger: ledger, billing: billing, svc: svc,
		target: CreditsTarget{Store: ledger.(credits.Importer), Timezone: svc.Config().Timezone}}
}

// runCredits runs the credits step against the old database at dsn with
// users as the imported users.
func runCredits(t testing.TB, dsn string, target CreditsTarget, dryRun bool, users ...string) (*Report, error) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	old, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = old.Rollback(ctx) }()
	im := &importer{old: old, to: Target{Credits: target}, opts: Options{DryRun: dryRun}, now: creditsNow,
		report: NewReport(dryRun), users: map[string]bool{}}
	for _, u := range users {
		im.users[u] = true
	}
	return im.report, im.importCredits(ctx)
}

// ledgerState is everything the ledger holds for the fixture users, read
// from the stores (not the Service, whose Balance may book grants).
type ledgerState struct {
	Balances  map[string]credits.Balance
	Txs       map[string][]credits.Transaction
	Purchases map[string][]credits.Purchase
	Usage     map[string][]credits.UsageStat
	Packages  []credits.Package
}

func readLedger(t testing.TB, c creditsTarget) ledgerState {
	t.Helper()
	ctx := context.Background()
	st := ledgerState{Balances: map[string]credits.Balance{}, Txs: map[string][]credits.Transaction{},
		Purchases: map[string][]credits.Purchase{}, Usage: map[string][]credits.UsageStat{}}
	for _, u := range []string{"u1", "u2", "u3", "u4"} {
		switch b, err := c.ledger.Balance(ctx, u); {
		case err == nil:
			st.Balances[u] = b
		case !errors.Is(err, credits.ErrNotFound):
			t.Fatal(err)
		}
		txs, err := c.ledger.Transactions(ctx, u, 1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		st.Txs[u] = txs
		ps, err := c.billing.Purchases(ctx, u, 1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		st.Purchases[u] = ps
		us, err := c.ledger.Usage(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		st.Usage[u] = us
	}
	ps, err := c.billing.Packages(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	st.Packages = ps
	return st
}

func verifyLedger(t testing.TB, c creditsTarget) {
	t.Helper()
	ms, err := c.svc.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 0 {
		t.Fatalf("Verify: %+v", ms)
	}
}

type tally struct{ imported, existing, skipped int }

func tallies(r *Report) map[string]tally {
	out := map[string]tally{}
	for _, k := range []string{KindPackages, KindBalances, KindTransactions, KindPurchases, KindUsage} {
		t := r.Tally(k)
		s := 0
		for _, n := range t.Skipped {
			s += n
		}
		out[k] = tally{t.Imported, t.Existing, s}
	}
	return out
}

// wantFirst is what the first run of the fixtures counts.
var wantFirst = map[string]tally{
	KindPackages:     {imported: 2, skipped: 1}, // Broken rejected
	KindBalances:     {imported: 2, skipped: 2}, // u3 skipped, u4 rejected
	KindTransactions: {imported: 7, skipped: 3}, // gift rejected, failed skipped, u3 skipped; u4's expiry kept
	KindPurchases:    {imported: 2, skipped: 3}, // Broken's and no package rejected, u3 skipped
	KindUsage:        {imported: 4, skipped: 2}, // negative rejected, u3 skipped
}

func TestImportCredits(t *testing.T) {
	for _, d := range databasetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			dsn, conn := scratchOld(t)
			exec(t, conn, creditsFixtures)
			c := newCreditsTarget(t, d)

			r, err := runCredits(t, dsn, c.target, false, "u1", "u2", "u4")
			if err != nil {
				t.Fatal(err)
			}
			if got := tallies(r); !reflect.DeepEqual(got, wantFirst) {
				t.Errorf("report %+v\nwant %+v", got, wantFirst)
			}
			var rejected []string
			for _, x := range r.Rejected {
				rejected = append(rejected, x.Kind+" "+x.ID)
			}
			wantRejected := []string{
				KindPackages + " 22222222-2222-4222-8222-222222222222",
				KindBalances + " u4",
				KindTransactions + " a0000000-0000-4000-8000-000000000007",
				KindPurchases + " b0000000-0000-4000-8000-000000000002",
				KindPurchases + " b0000000-0000-4000-8000-000000000003",
				KindUsage + " c0000000-0000-4000-8000-000000000005",
			}
			if !slices.Equal(rejected, wantRejected) {
				t.Errorf("rejected %q\nwant %q", rejected, wantRejected)
			}
			if r.Tally(KindBalances).Skipped["user not imported"] != 1 || r.Tally(KindTransactions).Skipped["status failed"] != 1 {
				t.Errorf("skip reasons %+v / %+v", r.Tally(KindBalances).Skipped, r.Tally(KindTransactions).Skipped)
			}

			st := readLedger(t, c)
			// Balances: the old wallets exactly, the signup bonus and
			// today's daily credits marked as granted.
			wantU1 := credits.Balance{UserID: "u1", Paid: 300, Free: 40, TotalEarned: 1190, TotalSpent: 850,
				LastDailyGrant: "2026-03-10", SignupGranted: true}
			if st.Balances["u1"] != wantU1 {
				t.Errorf("u1 balance %+v\nwant %+v", st.Balances["u1"], wantU1)
			}
			if b := st.Balances["u2"]; b.Free != 150 || b.Paid != 0 || !b.SignupGranted || b.LastDailyGrant != "2026-03-09" {
				t.Errorf("u2 balance %+v", b)
			}
			if _, ok := st.Balances["u3"]; ok {
				t.Error("u3 (not imported) has a balance")
			}
			if _, ok := st.Balances["u4"]; ok {
				t.Error("u4 (negative balance) has a balance")
			}
			verifyLedger(t, c)

			// Transactions: the opening first (newest), then the history
			// newest first, with ids, types, amounts, keys and metadata.
			txs := st.Txs["u1"]
			var got []string
			for _, tx := range txs {
				got = append(got, string(tx.Type)+" "+tx.Description)
			}
			want := []string{"opening Balance carried over from the previous Mana service", "usage reply",
				"bonus Daily free credits", "bonus Daily free credits", "purchase Bought", "bonus Signup bonus", "bonus Signup bonus"}
			if !slices.Equal(got, want) {
				t.Fatalf("u1 transactions %q\nwant %q", got, want)
			}
			open := txs[0]
			if open.Amount != 340 || !open.CreatedAt.Equal(creditsNow) || len(open.Postings) != 3 {
				t.Errorf("opening %+v", open)
			}
			for _, tx := range txs[1:] {
				if len(tx.Postings) != 0 {
					t.Errorf("history %s has postings %+v", tx.ID, tx.Postings)
				}
			}
			use := txs[1]
			if use.ID != "a0000000-0000-4000-8000-000000000005" || use.Amount != -10 || use.AppID != "chat" ||
				use.IdempotencyKey != "k1" || string(use.Metadata) != `{"model": "x"}` ||
				!use.CreatedAt.Equal(time.Date(2026, 3, 10, 8, 0, 0, 500e6, time.UTC)) {
				t.Errorf("usage row %+v", use)
			}
			if tx, err := c.svc.TransactionByKey(ctx, "u1", "k1"); err != nil || tx.ID != use.ID {
				t.Errorf("TransactionByKey = %+v, %v", tx, err)
			}
			if n := len(st.Txs["u2"]); n != 1 || st.Txs["u2"][0].Type != credits.TypeOpening || st.Txs["u2"][0].Amount != 150 {
				t.Errorf("u2 transactions %+v", st.Txs["u2"])
			}
			if n := len(st.Txs["u4"]); n != 1 || st.Txs["u4"][0].Type != credits.TypeExpiry {
				t.Errorf("u4 transactions %+v", st.Txs["u4"])
			}
			if len(st.Txs["u3"]) != 0 || len(st.Purchases["u3"]) != 0 || len(st.Usage["u3"]) != 0 {
				t.Error("u3 (not imported) has credits")
			}

			// Packages, with their ids, next to the default ones.
			p, err := c.billing.Package(ctx, "11111111-1111-4111-8111-111111111111")
			if err != nil || p.Name != "Starter" || p.Credits != 1000 || p.PriceCents != 900 || p.Currency != "eur" ||
				!p.Active || p.SortOrder != 1 || !p.CreatedAt.Equal(time.Date(2025, 1, 1, 12, 0, 0, 123e6, time.UTC)) {
				t.Errorf("package %+v, %v", p, err)
			}
			if p, err := c.billing.Package(ctx, "33333333-3333-4333-8333-333333333333"); err != nil || p.Active {
				t.Errorf("inactive package %+v, %v", p, err)
			}
			if len(st.Packages) != 6 {
				t.Errorf("%d packages, want the 4 defaults and 2 imported", len(st.Packages))
			}

			// Purchases.
			if ps := st.Purchases["u1"]; len(ps) != 1 || ps[0].ID != "b0000000-0000-4000-8000-000000000001" ||
				ps[0].Status != credits.PurchaseSucceeded || ps[0].StripePaymentIntentID != "pi_1" || ps[0].Credits != 1000 ||
				ps[0].AmountCents != 900 || !ps[0].CompletedAt.Equal(time.Date(2026, 1, 1, 10, 0, 5, 0, time.UTC)) {
				t.Errorf("u1 purchases %+v", ps)
			}
			if ps := st.Purchases["u2"]; len(ps) != 1 || ps[0].Status != credits.PurchaseFailed {
				t.Errorf("u2 purchases %+v", ps)
			}
			if p, err := c.billing.PurchaseByPaymentIntent(ctx, "pi_1"); err != nil || p.UserID != "u1" {
				t.Errorf("PurchaseByPaymentIntent = %+v, %v", p, err)
			}

			// Usage, per Berlin day: 23:00 UTC on the 9th is the 10th.
			wantUsage := []credits.UsageStat{
				{UserID: "u1", AppID: "chat", Day: "2026-03-10", CreditsUsed: 17, Uses: 2},
				{UserID: "u1", AppID: "todo", Day: "2026-03-10", CreditsUsed: 2, Uses: 1},
				{UserID: "u1", AppID: "chat", Day: "2026-03-09", CreditsUsed: 4, Uses: 1},
			}
			if !slices.Equal(st.Usage["u1"], wantUsage) {
				t.Errorf("u1 usage %+v\nwant %+v", st.Usage["u1"], wantUsage)
			}

			// A second run changes nothing and finds everything there.
			r2, err := runCredits(t, dsn, c.target, false, "u1", "u2", "u4")
			if err != nil {
				t.Fatal(err)
			}
			for kind, w := range wantFirst {
				if g := tallies(r2)[kind]; g.imported != 0 || g.existing != w.imported || g.skipped != w.skipped {
					t.Errorf("second run %s: %+v, want %d existing", kind, g, w.imported)
				}
			}
			if st2 := readLedger(t, c); !reflect.DeepEqual(st2, st) {
				t.Errorf("the second run changed the ledger:\n%+v\n%+v", st2, st)
			}

			// The Service goes on from the imported balances: no signup
			// bonus again, no second daily grant today for u1; u2's last
			// grant was yesterday, so u2 gets today's.
			b, err := c.svc.Balance(ctx, "u1")
			if err != nil || b.Free != 40 || b.Paid != 300 {
				t.Errorf("Service.Balance(u1) = %+v, %v", b, err)
			}
			b, err = c.svc.Balance(ctx, "u2")
			if err != nil || b.Free != 155 || b.Paid != 0 || b.LastDailyGrant != "2026-03-10" {
				t.Errorf("Service.Balance(u2) = %+v, %v", b, err)
			}
			for _, u := range []string{"u1", "u2"} {
				txs, err := c.svc.Transactions(ctx, u, 100, 0)
				if err != nil {
					t.Fatal(err)
				}
				for _, tx := range txs {
					if tx.Type == credits.TypeSignupBonus {
						t.Errorf("%s got the signup bonus again: %+v", u, tx)
					}
				}
			}
			if _, after, _, err := c.svc.Spend(ctx, credits.SpendInput{UserID: "u1", Amount: 50, AppID: "chat",
				Description: "after"}); err != nil || after.Free != 0 || after.Paid != 290 {
				t.Errorf("Spend = %+v, %v", after, err)
			}
			verifyLedger(t, c)
		})
	}
}

func TestImportCreditsDryRun(t *testing.T) {
	for _, d := range databasetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			dsn, conn := scratchOld(t)
			exec(t, conn, creditsFixtures)
			c := newCreditsTarget(t, d)
			before := readLedger(t, c)
			r, err := runCredits(t, dsn, c.target, true, "u1", "u2", "u4")
			if err != nil {
				t.Fatal(err)
			}
			if got := tallies(r); !reflect.DeepEqual(got, wantFirst) {
				t.Errorf("dry run report %+v\nwant %+v", got, wantFirst)
			}
			if after := readLedger(t, c); !reflect.DeepEqual(after, before) {
				t.Errorf("the dry run wrote:\n%+v", after)
			}
			// The real run after it imports everything.
			r, err = runCredits(t, dsn, c.target, false, "u1", "u2", "u4")
			if err != nil || !reflect.DeepEqual(tallies(r), wantFirst) {
				t.Errorf("run after the dry run: %+v, %v", tallies(r), err)
			}
		})
	}
}

// A database failure halfway (here: a table missing in the old database)
// is an error, and nothing of the credits step is written.
func TestImportCreditsFailureWritesNothing(t *testing.T) {
	for _, d := range databasetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			dsn, conn := scratchOld(t)
			exec(t, conn, creditsFixtures)
			exec(t, conn, `DROP TABLE credits.usage_stats`)
			c := newCreditsTarget(t, d)
			before := readLedger(t, c)
			if _, err := runCredits(t, dsn, c.target, false, "u1", "u2", "u4"); err == nil {
				t.Fatal("import without credits.usage_stats succeeded")
			}
			if after := readLedger(t, c); !reflect.DeepEqual(after, before) {
				t.Errorf("the failed import wrote:\n%+v", after)
			}
		})
	}
}

// 20,000 users with a balance, three transactions and a usage row each;
// the number is in the log (the whole command's 100,000-user measurement
// uses seedOldBulk in bulk_test.go).
func TestImportCreditsBulk(t *testing.T) {
	if testing.Short() {
		t.Skip("bulk import: -short")
	}
	const n = 20000
	for _, d := range databasetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			dsn, conn := scratchOld(t)
			SeedOldBulk(t, conn, n)
			c := newCreditsTarget(t, d)
			users := make([]string, n)
			for i := range users {
				users[i] = "u" + strconv.Itoa(i+1)
			}
			start := time.Now()
			r, err := runCredits(t, dsn, c.target, false, users...)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: credits of %d users in %v", d, n, time.Since(start))
			if g := r.Tally(KindBalances); g.Imported != n {
				t.Errorf("balances %+v", g)
			}
			if g := r.Tally(KindTransactions); g.Imported != 3*n {
				t.Errorf("transactions %+v", g)
			}
			verifyLedger(t, c)
			start = time.Now()
			r, err = runCredits(t, dsn, c.target, false, users...)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: second run in %v", d, time.Since(start))
			if g := r.Tally(KindTransactions); g.Imported != 0 || g.Existing != 3*n {
				t.Errorf("second run transactions %+v", g)
			}
		})
	}
}
