package storetest

// issue 11, part B (erasure): Detach keeps the ledger balanced.

import (
	"context"
	"testing"

	"github.com/manacore/mana-core-auth/credits"
)

func runDetach(t *testing.T, open func(t *testing.T) credits.Store) {
	ctx := context.Background()
	svc, _ := newService(t, open(t), credits.Config{})
	if _, _, err := svc.Grant(ctx, "gone", 500, "welcome"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := svc.Spend(ctx, credits.SpendInput{UserID: "gone", Amount: 40, AppID: "chat", Description: "reply",
		IdempotencyKey: "k1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Balance(ctx, "kept"); err != nil {
		t.Fatal(err)
	}
	before := len(allTxs(t, svc, "gone"))
	keptBefore, err := svc.Balance(ctx, "kept")
	if err != nil {
		t.Fatal(err)
	}

	n, err := svc.Detach(ctx, "gone", "erased-abc")
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(before) || n < 3 {
		t.Fatalf("detached %d transactions, want %d", n, before)
	}
	if txs := allTxs(t, svc, "gone"); len(txs) != 0 {
		t.Fatalf("transactions still under the user: %+v", txs)
	}
	if u, err := svc.Usage(ctx, "gone"); err != nil || len(u) != 0 {
		t.Fatalf("usage still under the user: %+v %v", u, err)
	}
	moved := allTxs(t, svc, "erased-abc")
	if len(moved) != before {
		t.Fatalf("pseudonym holds %d transactions, want %d", len(moved), before)
	}
	checkPostings(t, moved) // the wallets' postings moved with them
	verifyClean(t, svc)
	if b, err := svc.Balance(ctx, "kept"); err != nil || b != keptBefore {
		t.Fatalf("another user's balance changed: %+v %v", b, err)
	}

	// Idempotent: nothing left to move.
	if n, err := svc.Detach(ctx, "gone", "erased-abc"); err != nil || n != 0 {
		t.Fatalf("second detach: %d, %v", n, err)
	}
	verifyClean(t, svc)
	if _, err := svc.Detach(ctx, "gone", "user:x"); err == nil {
		t.Fatal("a pseudonym with a colon was accepted")
	}
}
