// Package storetest is the conformance suite every credits.Store runs,
// through the credits.Service: the ledger rules, idempotency and the
// concurrency guarantees.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/credits"
)

// Clock is a settable clock for Config.Now.
type Clock struct{ t atomic.Pointer[time.Time] }

// Set sets the time.
func (c *Clock) Set(t time.Time) { c.t.Store(&t) }

// Now returns the time set last.
func (c *Clock) Now() time.Time { return *c.t.Load() }

func newService(t *testing.T, s credits.Store, cfg credits.Config) (*credits.Service, *Clock) {
	t.Helper()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	clock := &Clock{}
	// 23:30 in Berlin (CET, UTC+1).
	clock.Set(time.Date(2026, 1, 15, 22, 30, 0, 0, time.UTC))
	if cfg.Timezone == nil {
		cfg.Timezone = berlin
	}
	cfg.Now = clock.Now
	svc, err := credits.NewService(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc, clock
}

func verifyClean(t *testing.T, svc *credits.Service) {
	t.Helper()
	ms, err := svc.Verify(context.Background())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if len(ms) != 0 {
		t.Fatalf("Verify found mismatches: %+v", ms)
	}
}

func checkPostings(t *testing.T, txs []credits.Transaction) {
	t.Helper()
	for _, tx := range txs {
		var sum, user int64
		for _, p := range tx.Postings {
			sum += p.Amount
			if p.Account == credits.FreeAccount(tx.UserID) || p.Account == credits.PaidAccount(tx.UserID) {
				user += p.Amount
			}
		}
		if sum != 0 {
			t.Errorf("tx %s (%s): postings sum to %d: %+v", tx.ID, tx.Type, sum, tx.Postings)
		}
		if user != tx.Amount {
			t.Errorf("tx %s (%s): amount %d but user postings %d", tx.ID, tx.Type, tx.Amount, user)
		}
	}
}

func allTxs(t *testing.T, svc *credits.Service, user string) []credits.Transaction {
	t.Helper()
	var out []credits.Transaction
	for off := 0; ; off += credits.MaxLimit {
		page, err := svc.Transactions(context.Background(), user, credits.MaxLimit, off)
		if err != nil {
			t.Fatalf("Transactions: %v", err)
		}
		out = append(out, page...)
		if len(page) < credits.MaxLimit {
			return out
		}
	}
}

func countType(txs []credits.Transaction, typ credits.Type) int {
	n := 0
	for _, tx := range txs {
		if tx.Type == typ {
			n++
		}
	}
	return n
}

// Run runs the suite; open returns a fresh, migrated, empty store.
func Run(t *testing.T, open func(t *testing.T) credits.Store) {
	ctx := context.Background()

	t.Run("Billing", func(t *testing.T) { runBilling(t, open) })
	t.Run("Input", func(t *testing.T) { runInput(t, open) })
	// issue 11, part B (erasure).
	t.Run("Detach", func(t *testing.T) { runDetach(t, open) })
	// issue 14 (credits import).
	t.Run("Import", func(t *testing.T) { runImport(t, open) })

	t.Run("SignupBonusOnce", func(t *testing.T) {
		svc, _ := newService(t, open(t), credits.Config{})
		for range 3 {
			b, err := svc.Balance(ctx, "u1")
			if err != nil {
				t.Fatal(err)
			}
			if b.Free != 155 || b.Paid != 0 || !b.SignupGranted || b.TotalEarned != 155 || b.LastDailyGrant != "2026-01-15" {
				t.Fatalf("balance %+v", b)
			}
		}
		txs := allTxs(t, svc, "u1")
		if countType(txs, credits.TypeSignupBonus) != 1 || countType(txs, credits.TypeDailyFree) != 1 || len(txs) != 2 {
			t.Fatalf("transactions %+v", txs)
		}
		checkPostings(t, txs)
		verifyClean(t, svc)
	})

	t.Run("DailyGrantAcrossMidnightBerlin", func(t *testing.T) {
		svc, clock := newService(t, open(t), credits.Config{})
		b, err := svc.Balance(ctx, "u1")
		if err != nil || b.Free != 155 {
			t.Fatalf("%+v %v", b, err)
		}
		clock.Set(time.Date(2026, 1, 15, 22, 59, 0, 0, time.UTC)) // 23:59 Berlin, same day
		if b, _ = svc.Balance(ctx, "u1"); b.Free != 155 {
			t.Fatalf("same day: %+v", b)
		}
		clock.Set(time.Date(2026, 1, 15, 23, 1, 0, 0, time.UTC)) // 00:01 Berlin, next day (still the 15th in UTC)
		for range 3 {
			if b, _ = svc.Balance(ctx, "u1"); b.Free != 160 || b.LastDailyGrant != "2026-01-16" {
				t.Fatalf("next day: %+v", b)
			}
		}
		clock.Set(time.Date(2026, 1, 16, 22, 59, 0, 0, time.UTC)) // 23:59 Berlin on the 16th
		if b, _ = svc.Balance(ctx, "u1"); b.Free != 160 {
			t.Fatalf("16th later: %+v", b)
		}
		txs := allTxs(t, svc, "u1")
		if countType(txs, credits.TypeDailyFree) != 2 {
			t.Fatalf("want 2 daily grants: %+v", txs)
		}
		checkPostings(t, txs)
		verifyClean(t, svc)
	})

	t.Run("FreeCap", func(t *testing.T) {
		svc, clock := newService(t, open(t), credits.Config{FreeCap: 157})
		b, _ := svc.Balance(ctx, "u1")
		if b.Free != 155 {
			t.Fatalf("%+v", b)
		}
		clock.Set(time.Date(2026, 1, 16, 12, 0, 0, 0, time.UTC))
		if b, _ = svc.Balance(ctx, "u1"); b.Free != 157 {
			t.Fatalf("capped: %+v", b)
		}
		clock.Set(time.Date(2026, 1, 17, 12, 0, 0, 0, time.UTC))
		if b, _ = svc.Balance(ctx, "u1"); b.Free != 157 || b.LastDailyGrant != "2026-01-17" {
			t.Fatalf("at cap: %+v", b)
		}
		checkPostings(t, allTxs(t, svc, "u1"))
		verifyClean(t, svc)
	})

	t.Run("SpendFreeFirstAndOverdraw", func(t *testing.T) {
		svc, _ := newService(t, open(t), credits.Config{})
		if _, _, err := svc.Grant(ctx, "u1", 100, "support"); err != nil {
			t.Fatal(err)
		}
		tx, b, replay, err := svc.Spend(ctx, credits.SpendInput{UserID: "u1", Amount: 150, AppID: "chat", Description: "gen"})
		if err != nil || replay {
			t.Fatal(err, replay)
		}
		if b.Free != 5 || b.Paid != 100 || b.TotalSpent != 150 || tx.Amount != -150 || tx.Type != credits.TypeUsage {
			t.Fatalf("after first spend %+v %+v", b, tx)
		}
		_, b, _, err = svc.Spend(ctx, credits.SpendInput{UserID: "u1", Amount: 50, AppID: "chat"})
		if err != nil || b.Free != 0 || b.Paid != 55 {
			t.Fatalf("after second spend %+v %v", b, err)
		}
		if _, _, _, err = svc.Spend(ctx, credits.SpendInput{UserID: "u1", Amount: 56, AppID: "chat"}); !errors.Is(err, credits.ErrInsufficientCredits) {
			t.Fatalf("overdraw: %v", err)
		}
		for _, n := range []int64{0, -1} {
			if _, _, _, err = svc.Spend(ctx, credits.SpendInput{UserID: "u1", Amount: n}); !errors.Is(err, credits.ErrInvalidAmount) {
				t.Fatalf("amount %d: %v", n, err)
			}
		}
		if b, _ = svc.Balance(ctx, "u1"); b.Available() != 55 {
			t.Fatalf("balance %+v", b)
		}
		txs := allTxs(t, svc, "u1")
		if len(txs) != 5 || txs[0].Amount != -50 || txs[1].Amount != -150 {
			t.Fatalf("newest first: %+v", txs)
		}
		checkPostings(t, txs)
		stats, err := svc.Usage(ctx, "u1")
		if err != nil || len(stats) != 1 || stats[0].CreditsUsed != 200 || stats[0].Uses != 2 || stats[0].AppID != "chat" || stats[0].Day != "2026-01-15" {
			t.Fatalf("usage %+v %v", stats, err)
		}
		if _, _, err = svc.Grant(ctx, "u1", -100, "too much"); !errors.Is(err, credits.ErrInsufficientCredits) {
			t.Fatalf("negative grant: %v", err)
		}
		verifyClean(t, svc)
	})

	t.Run("TransactionRoundTripAndPaging", func(t *testing.T) {
		svc, clock := newService(t, open(t), credits.Config{})
		meta := []byte(`{"z":1,"a":[true]}`)
		tx, _, _, err := svc.Spend(ctx, credits.SpendInput{UserID: "u1", Amount: 3, AppID: "img", Description: "d", IdempotencyKey: "k", Metadata: meta})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 7 {
			clock.Set(clock.Now().Add(time.Second))
			if _, _, _, err := svc.Spend(ctx, credits.SpendInput{UserID: "u1", Amount: 1, AppID: "img", Description: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		all := allTxs(t, svc, "u1")
		if len(all) != 10 {
			t.Fatalf("got %d", len(all))
		}
		got := all[7]
		if got.ID != tx.ID || string(got.Metadata) != string(meta) || got.IdempotencyKey != "k" || got.AppID != "img" ||
			got.Description != "d" || !got.CreatedAt.Equal(tx.CreatedAt) || got.CreatedAt.Location() != time.UTC {
			t.Fatalf("round trip: got %+v want %+v", got, tx)
		}
		page, err := svc.Transactions(ctx, "u1", 3, 2)
		if err != nil || len(page) != 3 || page[0].ID != all[2].ID || page[2].ID != all[4].ID {
			t.Fatalf("page %+v %v", page, err)
		}
		if other, _ := svc.Transactions(ctx, "u2", 0, 0); len(other) != 0 {
			t.Fatalf("other user sees %+v", other)
		}
	})

	t.Run("IdempotencyScopedToUser", func(t *testing.T) {
		svc, _ := newService(t, open(t), credits.Config{})
		in := credits.SpendInput{UserID: "u1", Amount: 10, AppID: "chat", IdempotencyKey: "key-1"}
		tx1, b1, replay, err := svc.Spend(ctx, in)
		if err != nil || replay {
			t.Fatal(err, replay)
		}
		tx2, b2, replay, err := svc.Spend(ctx, in)
		if err != nil || !replay || tx2.ID != tx1.ID || b2.Available() != b1.Available() {
			t.Fatalf("replay: %+v %+v %v %v", tx2, b2, replay, err)
		}
		in.UserID = "u2"
		tx3, b3, replay, err := svc.Spend(ctx, in)
		if err != nil || replay || tx3.ID == tx1.ID || tx3.UserID != "u2" || b3.Available() != 145 {
			t.Fatalf("other user: %+v %+v %v %v", tx3, b3, replay, err)
		}
		if n := countType(allTxs(t, svc, "u1"), credits.TypeUsage); n != 1 {
			t.Fatalf("u1 has %d usage transactions", n)
		}
		for user, want := range map[string]string{"u1": tx1.ID, "u2": tx3.ID} {
			got, err := svc.TransactionByKey(ctx, user, "key-1")
			if err != nil || got.ID != want || got.UserID != user || len(got.Postings) == 0 {
				t.Fatalf("%s by key: %+v, %v", user, got, err)
			}
		}
		for user, key := range map[string]string{"u1": "key-2", "u3": "key-1", "u2": ""} {
			if got, err := svc.TransactionByKey(ctx, user, key); !errors.Is(err, credits.ErrNotFound) {
				t.Fatalf("%s by key %q: %+v, %v", user, key, got, err)
			}
		}
		verifyClean(t, svc)
	})

	t.Run("ConcurrentSpendsNeverOverdraw", func(t *testing.T) {
		svc, _ := newService(t, open(t), credits.Config{DailyFree: -1})
		if b, err := svc.Balance(ctx, "u1"); err != nil || b.Available() != 150 {
			t.Fatalf("%+v %v", b, err)
		}
		var ok, insufficient, other atomic.Int64
		jobs := make(chan int)
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for range jobs {
					_, _, _, err := svc.Spend(ctx, credits.SpendInput{UserID: "u1", Amount: 1, AppID: "chat"})
					switch {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, credits.ErrInsufficientCredits):
						insufficient.Add(1)
					default:
						other.Add(1)
						t.Error(err)
					}
				}
			})
		}
		for i := range 200 {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		if ok.Load() != 150 || insufficient.Load() != 50 || other.Load() != 0 {
			t.Fatalf("ok %d, insufficient %d, other %d", ok.Load(), insufficient.Load(), other.Load())
		}
		b, _ := svc.Balance(ctx, "u1")
		if b.Available() != 0 || b.TotalSpent != 150 {
			t.Fatalf("balance %+v", b)
		}
		checkPostings(t, allTxs(t, svc, "u1"))
		verifyClean(t, svc)
	})

	t.Run("ConcurrentSameIdempotencyKey", func(t *testing.T) {
		svc, _ := newService(t, open(t), credits.Config{})
		var wg sync.WaitGroup
		ids := make([]string, 20)
		var fresh atomic.Int64
		for i := range 20 {
			wg.Go(func() {
				tx, _, replay, err := svc.Spend(ctx, credits.SpendInput{UserID: "u1", Amount: 7, AppID: "chat", IdempotencyKey: "same"})
				if err != nil {
					t.Error(err)
					return
				}
				if !replay {
					fresh.Add(1)
				}
				ids[i] = tx.ID
			})
		}
		wg.Wait()
		if fresh.Load() != 1 {
			t.Fatalf("%d non-replays", fresh.Load())
		}
		for _, id := range ids {
			if id != ids[0] {
				t.Fatalf("different transactions: %v", ids)
			}
		}
		b, _ := svc.Balance(ctx, "u1")
		if b.Available() != 148 || countType(allTxs(t, svc, "u1"), credits.TypeUsage) != 1 {
			t.Fatalf("balance %+v", b)
		}
		verifyClean(t, svc)
	})

	t.Run("ConcurrentFirstReadsOfNewDay", func(t *testing.T) {
		svc, clock := newService(t, open(t), credits.Config{})
		var wg sync.WaitGroup
		for range 16 { // concurrent first reads of a new user: one signup, one daily
			wg.Go(func() {
				if _, err := svc.Balance(ctx, "u1"); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		clock.Set(time.Date(2026, 1, 16, 6, 0, 0, 0, time.UTC))
		for i := range 32 {
			wg.Go(func() {
				var err error
				if i%2 == 0 {
					_, err = svc.Balance(ctx, "u1")
				} else {
					_, _, _, err = svc.Spend(ctx, credits.SpendInput{UserID: "u1", Amount: 1, AppID: "chat"})
				}
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		txs := allTxs(t, svc, "u1")
		if countType(txs, credits.TypeSignupBonus) != 1 || countType(txs, credits.TypeDailyFree) != 2 {
			t.Fatalf("grants: %+v", txs)
		}
		b, _ := svc.Balance(ctx, "u1")
		if b.Available() != 150+5+5-16 {
			t.Fatalf("balance %+v", b)
		}
		checkPostings(t, txs)
		verifyClean(t, svc)
	})
}
