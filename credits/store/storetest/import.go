package storetest

// issue 14 (credits import): the bulk writes of the import.

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/credits"
)

func importer(t *testing.T, s credits.Store) credits.Importer {
	t.Helper()
	im, ok := s.(credits.Importer)
	if !ok {
		t.Fatalf("%T does not implement credits.Importer", s)
	}
	return im
}

func runImport(t *testing.T, open func(t *testing.T) credits.Store) {
	ctx := context.Background()
	s := open(t)
	svc, clock := newService(t, s, credits.Config{})
	bs, im := billingStore(t, s), importer(t, s)
	at := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	pkg := credits.Package{ID: "0b5c6a4e-1111-4c1e-9a9a-000000000001", Name: "Starter", Credits: 1000, PriceCents: 900,
		Currency: "eur", Active: true, SortOrder: 5, CreatedAt: at.Add(-48 * time.Hour)}
	bal := credits.Balance{UserID: "u1", Paid: 300, Free: 40, TotalEarned: 1190, TotalSpent: 850,
		LastDailyGrant: "2026-01-15", SignupGranted: true}
	opening := credits.Transaction{ID: "open-u1", UserID: "u1", Type: credits.TypeOpening, Amount: 340,
		Description: "Balance carried over", CreatedAt: at,
		Postings: []credits.Posting{{Account: credits.AccountImport, Amount: -340},
			{Account: credits.FreeAccount("u1"), Amount: 40}, {Account: credits.PaidAccount("u1"), Amount: 300}}}
	history := credits.Transaction{ID: "hist-1", UserID: "u1", Type: credits.TypeUsage, Amount: -10, AppID: "chat",
		Description: "reply", IdempotencyKey: "k1", Metadata: []byte(`{"model": "x"}`), CreatedAt: at.Add(-time.Hour)}
	bonus := credits.Transaction{ID: "hist-2", UserID: "u1", Type: credits.TypeBonus, Amount: 150,
		Description: "Signup bonus", AppID: "system", CreatedAt: at.Add(-2 * time.Hour)}
	purchase := credits.Purchase{ID: "pur-1", UserID: "u1", PackageID: pkg.ID, Credits: 1000, AmountCents: 900, Currency: "eur",
		Status: credits.PurchaseSucceeded, StripePaymentIntentID: "pi_old_1", CreatedAt: at.Add(-3 * time.Hour),
		CompletedAt: at.Add(-3 * time.Hour)}
	usage := credits.UsageStat{UserID: "u1", AppID: "chat", Day: "2026-01-14", CreditsUsed: 30, Uses: 3}

	// everything adds the fixtures and returns what each Add reported.
	everything := func(tx credits.ImportTx) ([][]bool, error) {
		var out [][]bool
		for _, add := range []func() ([]bool, error){
			func() ([]bool, error) { return tx.AddPackages(ctx, []credits.Package{pkg}) },
			func() ([]bool, error) { return tx.AddBalances(ctx, []credits.Balance{bal}, at) },
			func() ([]bool, error) {
				return tx.AddTransactions(ctx, []credits.Transaction{opening, history, bonus})
			},
			func() ([]bool, error) { return tx.AddPurchases(ctx, []credits.Purchase{purchase}) },
			func() ([]bool, error) { return tx.AddUsage(ctx, []credits.UsageStat{usage}) },
		} {
			ok, err := add()
			if err != nil {
				return nil, err
			}
			out = append(out, ok)
		}
		return out, nil
	}
	all := func(want bool) [][]bool {
		return [][]bool{{want}, {want}, {want, want, want}, {want}, {want}}
	}

	// A dry run sees its writes and leaves nothing behind.
	err := im.Import(ctx, false, func(tx credits.ImportTx) error {
		got, err := everything(tx)
		if err != nil {
			return err
		}
		if !slices.EqualFunc(got, all(true), slices.Equal) {
			t.Errorf("dry run inserted %v", got)
		}
		ids, err := tx.PackageIDs(ctx)
		if err != nil {
			return err
		}
		if !ids[pkg.ID] {
			t.Errorf("PackageIDs in the transaction %v, want %s", ids, pkg.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Balance(ctx, "u1"); !errors.Is(err, credits.ErrNotFound) {
		t.Fatalf("balance after a dry run: %v, want not found", err)
	}
	if _, err := bs.Package(ctx, pkg.ID); !errors.Is(err, credits.ErrNotFound) {
		t.Fatalf("package after a dry run: %v, want not found", err)
	}

	// An error from fn rolls back too.
	boom := errors.New("boom")
	if err := im.Import(ctx, true, func(tx credits.ImportTx) error {
		if _, err := everything(tx); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("Import = %v, want %v", err, boom)
	}
	if _, err := s.Balance(ctx, "u1"); !errors.Is(err, credits.ErrNotFound) {
		t.Fatalf("balance after a failed import: %v, want not found", err)
	}

	if err := im.Import(ctx, true, func(tx credits.ImportTx) error {
		got, err := everything(tx)
		if err == nil && !slices.EqualFunc(got, all(true), slices.Equal) {
			t.Errorf("import inserted %v", got)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}

	// What was written is what the Service and the billing store read.
	b, err := s.Balance(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if want := bal; b != want {
		t.Fatalf("balance %+v, want %+v", b, want)
	}
	clock.Set(at)
	if b, err := svc.Balance(ctx, "u1"); err != nil || b.Free != 40 || b.Paid != 300 {
		t.Fatalf("Service.Balance = %+v, %v: granted something again", b, err)
	}
	txs := allTxs(t, svc, "u1")
	if len(txs) != 3 || txs[0].ID != opening.ID || txs[1].ID != history.ID || txs[2].ID != bonus.ID {
		t.Fatalf("transactions %+v", txs)
	}
	if !slices.Equal(txs[0].Postings, opening.Postings) || len(txs[1].Postings) != 0 {
		t.Fatalf("postings %+v / %+v", txs[0].Postings, txs[1].Postings)
	}
	if h := txs[1]; h.Amount != -10 || h.AppID != "chat" || h.Description != "reply" || h.IdempotencyKey != "k1" ||
		!h.CreatedAt.Equal(history.CreatedAt) || string(h.Metadata) != `{"model": "x"}` || h.Type != credits.TypeUsage {
		t.Fatalf("history %+v", h)
	}
	if got, err := svc.TransactionByKey(ctx, "u1", "k1"); err != nil || got.ID != history.ID {
		t.Fatalf("TransactionByKey = %+v, %v", got, err)
	}
	if got, err := bs.Package(ctx, pkg.ID); err != nil || got.Name != "Starter" || got.Credits != 1000 ||
		got.PriceCents != 900 || !got.Active || got.SortOrder != 5 || !got.CreatedAt.Equal(pkg.CreatedAt) {
		t.Fatalf("Package = %+v, %v", got, err)
	}
	if got, err := bs.PurchaseByPaymentIntent(ctx, "pi_old_1"); err != nil || got.ID != purchase.ID ||
		got.Status != credits.PurchaseSucceeded || got.PackageID != pkg.ID || !got.CompletedAt.Equal(purchase.CompletedAt) {
		t.Fatalf("PurchaseByPaymentIntent = %+v, %v", got, err)
	}
	if us, err := svc.Usage(ctx, "u1"); err != nil || len(us) != 1 || us[0] != usage {
		t.Fatalf("Usage = %+v, %v", us, err)
	}
	verifyClean(t, svc)

	// Again: nothing is inserted, also not under another id with a taken
	// idempotency key or Stripe id.
	if err := im.Import(ctx, true, func(tx credits.ImportTx) error {
		got, err := everything(tx)
		if err != nil {
			return err
		}
		if !slices.EqualFunc(got, all(false), slices.Equal) {
			t.Errorf("second import inserted %v", got)
		}
		again := history
		again.ID = "hist-other"
		if ok, err := tx.AddTransactions(ctx, []credits.Transaction{again}); err != nil || ok[0] {
			t.Errorf("AddTransactions with a taken key = %v, %v", ok, err)
		}
		p := purchase
		p.ID = "pur-other"
		if ok, err := tx.AddPurchases(ctx, []credits.Purchase{p}); err != nil || ok[0] {
			t.Errorf("AddPurchases with a taken payment intent = %v, %v", ok, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := allTxs(t, svc, "u1"); len(got) != 3 {
		t.Fatalf("%d transactions after the second import", len(got))
	}

	// The imported balance books like any other: free first, then paid.
	if _, after, _, err := svc.Spend(ctx, credits.SpendInput{UserID: "u1", Amount: 50, AppID: "chat", Description: "d"}); err != nil ||
		after.Free != 0 || after.Paid != 290 {
		t.Fatalf("Spend = %+v, %v", after, err)
	}
	verifyClean(t, svc)

	// Many rows go in several statements.
	const n = 12000
	many := make([]credits.UsageStat, n)
	for i := range many {
		many[i] = credits.UsageStat{UserID: "bulk", AppID: "chat", Day: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).
			AddDate(0, 0, i).Format(time.DateOnly), CreditsUsed: 1, Uses: 1}
	}
	if err := im.Import(ctx, true, func(tx credits.ImportTx) error {
		ok, err := tx.AddUsage(ctx, many[:n/2])
		if err == nil && slices.Contains(ok, false) {
			t.Error("bulk: a row was not inserted")
		}
		ok, err = tx.AddUsage(ctx, many)
		if err == nil && (slices.Contains(ok[:n/2], true) || slices.Contains(ok[n/2:], false)) {
			t.Error("bulk: inserted flags wrong on the second half")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if us, err := svc.Usage(ctx, "bulk"); err != nil || len(us) != n {
		t.Fatalf("bulk usage: %d rows, %v", len(us), err)
	}
}
