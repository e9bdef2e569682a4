package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/credits"
)

func billingStore(t *testing.T, s credits.Store) credits.BillingStore {
	t.Helper()
	bs, ok := s.(credits.BillingStore)
	if !ok {
		t.Fatalf("%T does not implement credits.BillingStore", s)
	}
	return bs
}

func newPurchase(user, pi, cs string) credits.Purchase {
	return credits.Purchase{
		ID: credits.NewID(), UserID: user, PackageID: "credits-500", Credits: 500, AmountCents: 500,
		Currency: "eur", Status: credits.PurchasePending, StripePaymentIntentID: pi, StripeCheckoutSessionID: cs,
		CreatedAt: time.Now().UTC().Truncate(time.Millisecond),
	}
}

// fulfil is the decider the billing package uses for a successful payment.
func fulfil(svc *credits.Service, pi string) credits.PurchaseDecider {
	return func(p credits.Purchase) (*credits.PurchaseUpdate, error) {
		if p.Status != credits.PurchasePending && p.Status != credits.PurchaseFailed {
			return nil, nil
		}
		p.StripePaymentIntentID = pi
		return &credits.PurchaseUpdate{
			Status: credits.PurchaseSucceeded, CompletedAt: time.Now(), PaymentIntentID: pi,
			Key: "stripe:" + pi, Decide: svc.PurchaseDecider(p, "stripe:"+pi),
		}, nil
	}
}

func runBilling(t *testing.T, open func(t *testing.T) credits.Store) {
	ctx := context.Background()

	t.Run("DefaultPackages", func(t *testing.T) {
		bs := billingStore(t, open(t))
		ps, err := bs.Packages(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		want := []int64{500, 1000, 2500, 5000}
		if len(ps) != len(want) {
			t.Fatalf("packages %+v", ps)
		}
		for i, p := range ps {
			if p.Credits != want[i] || p.PriceCents != want[i] || p.Currency != "eur" || !p.Active || p.Name == "" || p.CreatedAt.IsZero() {
				t.Errorf("package %d: %+v", i, p)
			}
		}
		p, err := bs.Package(ctx, ps[1].ID)
		if err != nil || p != ps[1] {
			t.Fatalf("Package = %+v, %v; want %+v", p, err, ps[1])
		}
		if _, err := bs.Package(ctx, "nope"); !errors.Is(err, credits.ErrNotFound) {
			t.Fatalf("unknown package: %v", err)
		}
	})

	t.Run("CreateDisablePackage", func(t *testing.T) {
		bs := billingStore(t, open(t))
		np := credits.Package{ID: "promo", Name: "Promo", Credits: 300, PriceCents: 250, Active: true, SortOrder: 5}
		if err := bs.CreatePackage(ctx, np); err != nil {
			t.Fatal(err)
		}
		if err := bs.CreatePackage(ctx, np); !errors.Is(err, credits.ErrAlreadyExists) {
			t.Fatalf("duplicate package: %v", err)
		}
		ps, _ := bs.Packages(ctx, true)
		if len(ps) != 5 || ps[0].ID != "promo" || ps[0].Currency != "eur" {
			t.Fatalf("packages %+v", ps)
		}
		if err := bs.DisablePackage(ctx, "promo"); err != nil {
			t.Fatal(err)
		}
		if err := bs.DisablePackage(ctx, "nope"); !errors.Is(err, credits.ErrNotFound) {
			t.Fatalf("disable unknown: %v", err)
		}
		ps, _ = bs.Packages(ctx, true)
		all, _ := bs.Packages(ctx, false)
		if len(ps) != 4 || len(all) != 5 || all[0].Active {
			t.Fatalf("active %+v all %+v", ps, all)
		}
	})

	t.Run("Purchases", func(t *testing.T) {
		bs := billingStore(t, open(t))
		p1 := newPurchase("u1", "pi_1", "")
		p2 := newPurchase("u1", "", "cs_2")
		p2.CreatedAt = p1.CreatedAt.Add(time.Second)
		p3 := newPurchase("u2", "pi_3", "cs_3")
		for _, p := range []credits.Purchase{p1, p2, p3} {
			if err := bs.CreatePurchase(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		dup := newPurchase("u1", "pi_1", "")
		if err := bs.CreatePurchase(ctx, dup); !errors.Is(err, credits.ErrAlreadyExists) {
			t.Fatalf("duplicate payment intent: %v", err)
		}
		if got, err := bs.Purchase(ctx, p1.ID); err != nil || got != p1 {
			t.Fatalf("Purchase = %+v, %v; want %+v", got, err, p1)
		}
		if got, err := bs.PurchaseByPaymentIntent(ctx, "pi_3"); err != nil || got != p3 {
			t.Fatalf("PurchaseByPaymentIntent = %+v, %v", got, err)
		}
		if got, err := bs.PurchaseByCheckoutSession(ctx, "cs_2"); err != nil || got != p2 {
			t.Fatalf("PurchaseByCheckoutSession = %+v, %v", got, err)
		}
		if _, err := bs.PurchaseByPaymentIntent(ctx, "pi_x"); !errors.Is(err, credits.ErrNotFound) {
			t.Fatalf("unknown payment intent: %v", err)
		}
		list, err := bs.Purchases(ctx, "u1", 10, 0)
		if err != nil || len(list) != 2 || list[0].ID != p2.ID || list[1].ID != p1.ID {
			t.Fatalf("Purchases = %+v, %v", list, err)
		}
		if list, _ := bs.Purchases(ctx, "u1", 1, 1); len(list) != 1 || list[0].ID != p1.ID {
			t.Fatalf("Purchases page 2 = %+v", list)
		}
	})

	t.Run("FulfilOnce", func(t *testing.T) {
		s := open(t)
		bs := billingStore(t, s)
		svc, _ := newService(t, s, credits.Config{})
		p := newPurchase("u1", "pi_f", "")
		if err := bs.CreatePurchase(ctx, p); err != nil {
			t.Fatal(err)
		}
		ev := credits.StripeEvent{ID: "evt_1", Type: "payment_intent.succeeded"}
		ref := credits.PurchaseRef{PaymentIntentID: "pi_f"}
		res, err := bs.ApplyStripeEvent(ctx, ev, ref, fulfil(svc, "pi_f"))
		if err != nil || res.Duplicate || res.NotFound || res.Replay {
			t.Fatalf("first apply: %+v, %v", res, err)
		}
		if res.Purchase.Status != credits.PurchaseSucceeded || res.Purchase.CompletedAt.IsZero() ||
			res.Tx.Type != credits.TypePurchase || res.Tx.Amount != 500 || res.Balance.Paid != 500 {
			t.Fatalf("first apply: %+v", res)
		}
		if res, err := bs.ApplyStripeEvent(ctx, ev, ref, fulfil(svc, "pi_f")); err != nil || !res.Duplicate {
			t.Fatalf("same event again: %+v, %v", res, err)
		}
		// Another event for the same payment (checkout.session.completed):
		// the purchase is no longer pending; even forced, the ledger key
		// replays.
		force := func(p credits.Purchase) (*credits.PurchaseUpdate, error) {
			return &credits.PurchaseUpdate{Key: "stripe:pi_f", Decide: svc.PurchaseDecider(p, "stripe:pi_f")}, nil
		}
		res, err = bs.ApplyStripeEvent(ctx, credits.StripeEvent{ID: "evt_2", Type: "x"}, ref, force)
		if err != nil || !res.Replay {
			t.Fatalf("forced second booking: %+v, %v", res, err)
		}
		// Five concurrent deliveries of a new event for a new purchase.
		p2 := newPurchase("u1", "pi_g", "")
		if err := bs.CreatePurchase(ctx, p2); err != nil {
			t.Fatal(err)
		}
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			fresh int
			errs  []error
		)
		for range 5 {
			wg.Go(func() {
				var r credits.EventResult
				var err error
				for range 20 { // ErrConflict is transient
					r, err = bs.ApplyStripeEvent(ctx, credits.StripeEvent{ID: "evt_3", Type: "payment_intent.succeeded"},
						credits.PurchaseRef{PaymentIntentID: "pi_g"}, fulfil(svc, "pi_g"))
					if !errors.Is(err, credits.ErrConflict) {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				} else if !r.Duplicate {
					fresh++
				}
			})
		}
		wg.Wait()
		if len(errs) > 0 || fresh != 1 {
			t.Fatalf("concurrent deliveries: fresh=%d errs=%v", fresh, errs)
		}
		b, err := svc.Balance(ctx, "u1")
		if err != nil || b.Paid != 1000 {
			t.Fatalf("balance %+v, %v", b, err)
		}
		txs := allTxs(t, svc, "u1")
		if countType(txs, credits.TypePurchase) != 2 {
			t.Fatalf("transactions %+v", txs)
		}
		checkPostings(t, txs)
		verifyClean(t, svc)
	})

	t.Run("EventRolledBackOnError", func(t *testing.T) {
		s := open(t)
		bs := billingStore(t, s)
		svc, _ := newService(t, s, credits.Config{})
		p := newPurchase("u1", "pi_e", "")
		if err := bs.CreatePurchase(ctx, p); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		ev := credits.StripeEvent{ID: "evt_e", Type: "payment_intent.succeeded"}
		ref := credits.PurchaseRef{PaymentIntentID: "pi_e"}
		if _, err := bs.ApplyStripeEvent(ctx, ev, ref, func(credits.Purchase) (*credits.PurchaseUpdate, error) {
			return nil, boom
		}); !errors.Is(err, boom) {
			t.Fatalf("decider error: %v", err)
		}
		res, err := bs.ApplyStripeEvent(ctx, ev, ref, fulfil(svc, "pi_e"))
		if err != nil || res.Duplicate || res.Balance.Paid != 500 {
			t.Fatalf("retry after error: %+v, %v", res, err)
		}
		res, err = bs.ApplyStripeEvent(ctx, credits.StripeEvent{ID: "evt_nf", Type: "payment_intent.succeeded"},
			credits.PurchaseRef{PaymentIntentID: "pi_unknown"}, fulfil(svc, "pi_unknown"))
		if err != nil || !res.NotFound {
			t.Fatalf("unknown purchase: %+v, %v", res, err)
		}
		res, err = bs.ApplyStripeEvent(ctx, credits.StripeEvent{ID: "evt_nf", Type: "payment_intent.succeeded"},
			credits.PurchaseRef{PaymentIntentID: "pi_unknown"}, fulfil(svc, "pi_unknown"))
		if err != nil || !res.Duplicate {
			t.Fatalf("unknown purchase, again: %+v, %v", res, err)
		}
	})

	t.Run("CheckoutSetsPaymentIntent", func(t *testing.T) {
		s := open(t)
		bs := billingStore(t, s)
		svc, _ := newService(t, s, credits.Config{})
		p := newPurchase("u1", "", "cs_1")
		if err := bs.CreatePurchase(ctx, p); err != nil {
			t.Fatal(err)
		}
		res, err := bs.ApplyStripeEvent(ctx, credits.StripeEvent{ID: "evt_cs", Type: "checkout.session.completed"},
			credits.PurchaseRef{CheckoutSessionID: "cs_1"}, fulfil(svc, "pi_cs"))
		if err != nil || res.Purchase.StripePaymentIntentID != "pi_cs" || res.Balance.Paid != 500 {
			t.Fatalf("checkout: %+v, %v", res, err)
		}
		got, err := bs.PurchaseByPaymentIntent(ctx, "pi_cs")
		if err != nil || got.ID != p.ID || got.Status != credits.PurchaseSucceeded {
			t.Fatalf("by payment intent: %+v, %v", got, err)
		}
		// The payment_intent.succeeded of the same payment credits nothing.
		res, err = bs.ApplyStripeEvent(ctx, credits.StripeEvent{ID: "evt_pi", Type: "payment_intent.succeeded"},
			credits.PurchaseRef{PaymentIntentID: "pi_cs"}, fulfil(svc, "pi_cs"))
		if err != nil || res.Duplicate || res.Tx.ID != "" {
			t.Fatalf("payment intent after checkout: %+v, %v", res, err)
		}
		if b, _ := svc.Balance(ctx, "u1"); b.Paid != 500 {
			t.Fatalf("balance %+v", b)
		}
		verifyClean(t, svc)
	})

	t.Run("RefundNeverBelowZero", func(t *testing.T) {
		s := open(t)
		bs := billingStore(t, s)
		svc, _ := newService(t, s, credits.Config{})
		p := newPurchase("u1", "pi_r", "")
		if err := bs.CreatePurchase(ctx, p); err != nil {
			t.Fatal(err)
		}
		if _, err := bs.ApplyStripeEvent(ctx, credits.StripeEvent{ID: "evt_r1", Type: "payment_intent.succeeded"},
			credits.PurchaseRef{PaymentIntentID: "pi_r"}, fulfil(svc, "pi_r")); err != nil {
			t.Fatal(err)
		}
		// 155 free + 500 paid; spend 455: free 0, paid 200.
		if _, b, _, err := svc.Spend(ctx, credits.SpendInput{UserID: "u1", Amount: 455, AppID: "app"}); err != nil || b.Paid != 200 {
			t.Fatalf("spend: %+v, %v", b, err)
		}
		refund := func(p credits.Purchase) (*credits.PurchaseUpdate, error) {
			return &credits.PurchaseUpdate{Status: credits.PurchaseRefunded, Key: "stripe-refund:ch_r",
				Decide: svc.RefundDecider(p, credits.TypeRefund, p.Credits, "stripe-refund:ch_r", "Refund ch_r")}, nil
		}
		res, err := bs.ApplyStripeEvent(ctx, credits.StripeEvent{ID: "evt_r2", Type: "charge.refunded"},
			credits.PurchaseRef{PaymentIntentID: "pi_r"}, refund)
		if err != nil || res.Tx.Type != credits.TypeRefund || res.Tx.Amount != -200 || res.Balance.Paid != 0 ||
			res.Purchase.Status != credits.PurchaseRefunded {
			t.Fatalf("refund: %+v, %v", res, err)
		}
		var meta struct {
			PurchaseID        string
			Booked, Shortfall int64
		}
		if err := json.Unmarshal(res.Tx.Metadata, &meta); err != nil || meta.Shortfall != 300 || meta.Booked != 200 || meta.PurchaseID != p.ID {
			t.Fatalf("refund metadata %s", res.Tx.Metadata)
		}
		res, err = bs.ApplyStripeEvent(ctx, credits.StripeEvent{ID: "evt_r3", Type: "charge.refunded"},
			credits.PurchaseRef{PaymentIntentID: "pi_r"}, refund)
		if err != nil || !res.Replay {
			t.Fatalf("refund replay: %+v, %v", res, err)
		}
		txs := allTxs(t, svc, "u1")
		checkPostings(t, txs)
		if n := countType(txs, credits.TypeRefund); n != 1 {
			t.Fatal(fmt.Sprint("refunds: ", n))
		}
		verifyClean(t, svc)
	})
}
