package billing_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/credits/billing"
	"github.com/manacore/mana-core-auth/credits/billing/stripemock"
)

// deliver hands one signed delivery to the webhook.
func deliver(t *testing.T, e env, payload []byte, sig string) {
	t.Helper()
	if err := e.b.HandleWebhook(context.Background(), payload, sig); err != nil {
		t.Fatal(err)
	}
}

type delivery struct {
	payload []byte
	sig     string
}

// chargeRefunded is Stripe's charge.refunded for a charge of the purchase
// with a cumulative amount_refunded of cents.
func chargeRefunded(t *testing.T, evID string, p credits.Purchase, cents int64) delivery {
	payload, sig := event(t, evID, "charge.refunded", map[string]any{
		"id": "ch_" + p.ID, "object": "charge", "payment_intent": p.StripePaymentIntentID,
		"amount": p.AmountCents, "amount_refunded": cents, "refunded": cents >= p.AmountCents,
	}, whsec)
	return delivery{payload, sig}
}

// dispute is a charge.dispute.* event for the purchase's charge.
func dispute(t *testing.T, evID, typ, status string, p credits.Purchase) delivery {
	payload, sig := event(t, evID, typ, map[string]any{
		"id": "dp_" + p.ID, "object": "dispute", "charge": "ch_" + p.ID, "payment_intent": p.StripePaymentIntentID,
		"amount": p.AmountCents, "currency": p.Currency, "status": status,
	}, whsec)
	return delivery{payload, sig}
}

// bought creates and pays a purchase of pkg for user.
func bought(t *testing.T, e env, user, pkg string) credits.Purchase {
	t.Helper()
	p, _, err := e.b.CreatePaymentIntent(context.Background(), user, pkg)
	if err != nil {
		t.Fatal(err)
	}
	payload, sig := piSucceeded(t, "evt_paid_"+p.ID, p.StripePaymentIntentID)
	deliver(t, e, payload, sig)
	return p
}

func purchase(t *testing.T, e env, id string) credits.Purchase {
	t.Helper()
	p, err := e.bs.Purchase(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// takenBack sums what refund and dispute transactions took from user.
func takenBack(t *testing.T, e env, user string) (refunds, disputes int64, n int) {
	t.Helper()
	txs, err := e.svc.Transactions(context.Background(), user, credits.MaxLimit, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tx := range txs {
		switch tx.Type {
		case credits.TypeRefund:
			refunds -= tx.Amount
			n++
		case credits.TypeDispute:
			disputes -= tx.Amount
			n++
		}
	}
	return refunds, disputes, n
}

// TestRefundsAndDisputes: Stripe's cumulative charge.refunded events book
// each refund once, whatever their order, repetition or concurrency, and a
// lost dispute takes back what refunds left. Every user first buys a
// second package of 500 credits, so a booking that took more than the
// disputed or refunded purchase would show (the paid wallet would go below
// 500) instead of being hidden by the never-below-zero rule.
func TestRefundsAndDisputes(t *testing.T) {
	base := stripemock.Start(t)
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			setup := func(t *testing.T) (env, credits.Purchase) {
				e := newEnv(t, be, base)
				bought(t, e, "u1", "credits-500")
				p := bought(t, e, "u1", "credits-1000")
				if n := paid(t, e, "u1"); n != 1500 {
					t.Fatalf("paid after purchases %d", n)
				}
				return e, p
			}

			t.Run("PartialRefundsInOrder", func(t *testing.T) {
				e, p := setup(t)
				steps := []struct {
					cents, paid, refunded int64
					status                credits.PurchaseStatus
				}{
					{100, 1400, 100, credits.PurchaseSucceeded},
					{500, 1000, 500, credits.PurchaseSucceeded},
					{1000, 500, 1000, credits.PurchaseRefunded},
				}
				var all []delivery
				for i, s := range steps {
					d := chargeRefunded(t, fmt.Sprintf("evt_r%d", i), p, s.cents)
					all = append(all, d)
					deliver(t, e, d.payload, d.sig)
					got := purchase(t, e, p.ID)
					if n := paid(t, e, "u1"); n != s.paid || got.RefundedCredits != s.refunded || got.Status != s.status ||
						got.RefundedCents != s.cents {
						t.Fatalf("after a refund to %d cents: paid %d, purchase %+v", s.cents, n, got)
					}
				}
				for _, d := range all { // replayed: nothing more
					deliver(t, e, d.payload, d.sig)
				}
				if n := paid(t, e, "u1"); n != 500 {
					t.Fatalf("paid after replays %d", n)
				}
				if r, _, n := takenBack(t, e, "u1"); r != 1000 || n != 3 {
					t.Fatalf("refunds took %d in %d transactions", r, n)
				}
				verifyClean(t, e)
			})

			t.Run("Reordered", func(t *testing.T) {
				e, p := setup(t)
				for _, c := range []int64{1000, 100, 500} {
					d := chargeRefunded(t, fmt.Sprintf("evt_r%d", c), p, c)
					deliver(t, e, d.payload, d.sig)
					if n := paid(t, e, "u1"); n != 500 {
						t.Fatalf("paid after the %d cents report %d", c, n)
					}
				}
				got := purchase(t, e, p.ID)
				if got.Status != credits.PurchaseRefunded || got.RefundedCredits != 1000 || got.RefundedCents != 1000 {
					t.Fatalf("purchase %+v", got)
				}
				if r, _, n := takenBack(t, e, "u1"); r != 1000 || n != 1 {
					t.Fatalf("refunds took %d in %d transactions", r, n)
				}
				verifyClean(t, e)
			})

			t.Run("Concurrent", func(t *testing.T) {
				e, p := setup(t)
				var ds []delivery
				for _, c := range []int64{100, 500, 1000} {
					ds = append(ds, chargeRefunded(t, fmt.Sprintf("evt_r%d", c), p, c))
				}
				var wg sync.WaitGroup
				errs := make(chan error, 4*len(ds))
				for range 4 { // each event four times, all at once
					for _, d := range ds {
						wg.Go(func() { errs <- e.b.HandleWebhook(context.Background(), d.payload, d.sig) })
					}
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Fatal(err)
					}
				}
				if n := paid(t, e, "u1"); n != 500 {
					t.Fatalf("paid after concurrent refunds %d", n)
				}
				if r, _, _ := takenBack(t, e, "u1"); r != 1000 {
					t.Fatalf("refunds took %d", r)
				}
				if got := purchase(t, e, p.ID); got.Status != credits.PurchaseRefunded || got.RefundedCredits != 1000 {
					t.Fatalf("purchase %+v", got)
				}
				verifyClean(t, e)
			})

			t.Run("RefundOfSpentCredits", func(t *testing.T) {
				e, p := setup(t)
				// 155 free + 1500 paid; spend 1555: 100 paid left.
				if _, b, _, err := e.svc.Spend(context.Background(), credits.SpendInput{UserID: "u1", Amount: 1555, AppID: "app"}); err != nil || b.Paid != 100 {
					t.Fatalf("spend: %+v, %v", b, err)
				}
				d := chargeRefunded(t, "evt_r1", p, 300)
				deliver(t, e, d.payload, d.sig)
				d = chargeRefunded(t, "evt_r2", p, 600)
				deliver(t, e, d.payload, d.sig)
				// 300 requested, 100 booked, 200 shortfall; then 300 more, none there.
				if n := paid(t, e, "u1"); n != 0 {
					t.Fatalf("paid %d", n)
				}
				if got := purchase(t, e, p.ID); got.RefundedCredits != 600 {
					t.Fatalf("purchase %+v", got)
				}
				// A later top-up is not taken for the old shortfall.
				bought(t, e, "u1", "credits-500")
				if n := paid(t, e, "u1"); n != 500 {
					t.Fatalf("paid after a new purchase %d", n)
				}
				verifyClean(t, e)
			})

			t.Run("DisputeLost", func(t *testing.T) {
				e, p := setup(t)
				created := dispute(t, "evt_d1", billing.EventDisputeCreated, "needs_response", p)
				deliver(t, e, created.payload, created.sig)
				got := purchase(t, e, p.ID)
				if n := paid(t, e, "u1"); n != 1500 || got.DisputeStatus != credits.DisputeOpen || got.DisputeID != "dp_"+p.ID {
					t.Fatalf("open dispute froze credits: paid %d, purchase %+v", n, got)
				}
				lost := dispute(t, "evt_d2", billing.EventDisputeClosed, "lost", p)
				deliver(t, e, lost.payload, lost.sig)
				got = purchase(t, e, p.ID)
				if n := paid(t, e, "u1"); n != 500 || got.DisputeStatus != credits.DisputeLost || got.DisputedCredits != 1000 {
					t.Fatalf("lost dispute: paid %d, purchase %+v", n, got)
				}
				// Replays, a late "created" and a refund after it take nothing.
				deliver(t, e, lost.payload, lost.sig)
				deliver(t, e, created.payload, created.sig)
				late := dispute(t, "evt_d3", billing.EventDisputeCreated, "needs_response", p)
				deliver(t, e, late.payload, late.sig)
				r := chargeRefunded(t, "evt_r1", p, 1000)
				deliver(t, e, r.payload, r.sig)
				if n := paid(t, e, "u1"); n != 500 {
					t.Fatalf("paid after replays %d", n)
				}
				if got := purchase(t, e, p.ID); got.DisputeStatus != credits.DisputeLost {
					t.Fatalf("purchase %+v", got)
				}
				if r, d, n := takenBack(t, e, "u1"); r != 0 || d != 1000 || n != 1 {
					t.Fatalf("refunds %d, disputes %d, %d transactions", r, d, n)
				}
				verifyClean(t, e)
			})

			t.Run("DisputeAfterPartialRefund", func(t *testing.T) {
				e, p := setup(t)
				r := chargeRefunded(t, "evt_r1", p, 300)
				deliver(t, e, r.payload, r.sig)
				if n := paid(t, e, "u1"); n != 1200 {
					t.Fatalf("paid after refund %d", n)
				}
				var wg sync.WaitGroup // the dispute's events, each twice, at once
				for range 2 {
					for _, d := range []delivery{
						dispute(t, "evt_d1", billing.EventDisputeCreated, "needs_response", p),
						dispute(t, "evt_d2", billing.EventDisputeClosed, "lost", p),
					} {
						wg.Go(func() {
							if err := e.b.HandleWebhook(context.Background(), d.payload, d.sig); err != nil {
								t.Error(err)
							}
						})
					}
				}
				wg.Wait()
				got := purchase(t, e, p.ID)
				if n := paid(t, e, "u1"); n != 500 || got.DisputedCredits != 700 || got.RefundedCredits != 300 ||
					got.DisputeStatus != credits.DisputeLost {
					t.Fatalf("paid %d, purchase %+v", n, got)
				}
				// A refund reported late takes nothing more.
				r = chargeRefunded(t, "evt_r2", p, 600)
				deliver(t, e, r.payload, r.sig)
				if n := paid(t, e, "u1"); n != 500 {
					t.Fatalf("paid after a late refund %d", n)
				}
				if r, d, _ := takenBack(t, e, "u1"); r != 300 || d != 700 {
					t.Fatalf("refunds %d, disputes %d", r, d)
				}
				verifyClean(t, e)
			})

			t.Run("DisputeWon", func(t *testing.T) {
				e, p := setup(t)
				for i, d := range []delivery{
					dispute(t, "evt_d1", billing.EventDisputeCreated, "needs_response", p),
					dispute(t, "evt_d2", billing.EventDisputeClosed, "won", p),
				} {
					deliver(t, e, d.payload, d.sig)
					if n := paid(t, e, "u1"); n != 1500 {
						t.Fatalf("paid after dispute event %d: %d", i, n)
					}
				}
				if got := purchase(t, e, p.ID); got.DisputeStatus != credits.DisputeWon || got.DisputedCredits != 0 {
					t.Fatalf("purchase %+v", got)
				}
				verifyClean(t, e)
			})

			t.Run("RefundBeforePayment", func(t *testing.T) {
				e := newEnv(t, be, base)
				p, _, err := e.b.CreatePaymentIntent(context.Background(), "u1", "credits-1000")
				if err != nil {
					t.Fatal(err)
				}
				// Delivered out of order: the refund of 250 cents first.
				r := chargeRefunded(t, "evt_r1", p, 250)
				deliver(t, e, r.payload, r.sig)
				payload, sig := piSucceeded(t, "evt_paid", p.StripePaymentIntentID)
				deliver(t, e, payload, sig)
				deliver(t, e, r.payload, r.sig)
				if n := paid(t, e, "u1"); n != 750 {
					t.Fatalf("paid %d", n)
				}
				r = chargeRefunded(t, "evt_r2", p, 1000)
				deliver(t, e, r.payload, r.sig)
				if n := paid(t, e, "u1"); n != 0 {
					t.Fatalf("paid after the full refund %d", n)
				}
				verifyClean(t, e)
			})

			t.Run("FullRefundBeforePayment", func(t *testing.T) {
				// Reported before the payment, the full refund leaves nothing
				// to credit; the later, smaller report and the lost dispute
				// must not take the user's credits of another purchase.
				e := newEnv(t, be, base)
				bought(t, e, "u1", "credits-500")
				p, _, err := e.b.CreatePaymentIntent(context.Background(), "u1", "credits-1000")
				if err != nil {
					t.Fatal(err)
				}
				full := chargeRefunded(t, "evt_r1", p, 1000)
				deliver(t, e, full.payload, full.sig)
				payload, sig := piSucceeded(t, "evt_paid", p.StripePaymentIntentID)
				deliver(t, e, payload, sig)
				older := chargeRefunded(t, "evt_r0", p, 500)
				deliver(t, e, older.payload, older.sig)
				for _, d := range []delivery{
					dispute(t, "evt_d1", billing.EventDisputeCreated, "needs_response", p),
					dispute(t, "evt_d2", billing.EventDisputeClosed, "lost", p),
				} {
					deliver(t, e, d.payload, d.sig)
				}
				if n := paid(t, e, "u1"); n != 500 {
					t.Fatalf("paid %d, want the other purchase's 500", n)
				}
				if r, d, _ := takenBack(t, e, "u1"); r != 0 || d != 0 {
					t.Fatalf("refunds took %d, disputes %d", r, d)
				}
				got := purchase(t, e, p.ID)
				if got.Status != credits.PurchaseRefunded || got.RefundedCredits != 1000 || got.DisputeStatus != credits.DisputeLost ||
					got.Taken() != 1000 {
					t.Fatalf("purchase %+v", got)
				}
				verifyClean(t, e)
			})

			t.Run("DisputeLostBeforePayment", func(t *testing.T) {
				e := newEnv(t, be, base)
				bought(t, e, "u1", "credits-500")
				p, _, err := e.b.CreatePaymentIntent(context.Background(), "u1", "credits-1000")
				if err != nil {
					t.Fatal(err)
				}
				lost := dispute(t, "evt_d2", billing.EventDisputeClosed, "lost", p)
				deliver(t, e, lost.payload, lost.sig)
				payload, sig := piSucceeded(t, "evt_paid", p.StripePaymentIntentID)
				deliver(t, e, payload, sig)
				r := chargeRefunded(t, "evt_r1", p, 400)
				deliver(t, e, r.payload, r.sig)
				if n := paid(t, e, "u1"); n != 500 {
					t.Fatalf("paid %d, want the other purchase's 500", n)
				}
				if got := purchase(t, e, p.ID); got.DisputedCredits != 1000 || got.Taken() != 1000 {
					t.Fatalf("purchase %+v", got)
				}
				verifyClean(t, e)
			})

			// Before cumulative refunds, a refund was booked once per charge
			// under "stripe-refund:<charge>", and a partly refunded purchase
			// kept no record of it. Later events must count that booking.
			t.Run("LegacyPartialRefund", func(t *testing.T) {
				e, p := setup(t)
				legacyRefund(t, e, p, 300, 300)
				if n := paid(t, e, "u1"); n != 1200 {
					t.Fatalf("paid after the legacy refund %d", n)
				}
				for i, s := range []struct{ cents, paid int64 }{{300, 1200}, {600, 900}, {300, 900}} {
					d := chargeRefunded(t, fmt.Sprintf("evt_r%d", i), p, s.cents)
					deliver(t, e, d.payload, d.sig)
					if n := paid(t, e, "u1"); n != s.paid {
						t.Fatalf("paid after a refund to %d cents: %d, want %d", s.cents, n, s.paid)
					}
				}
				lost := dispute(t, "evt_d2", billing.EventDisputeClosed, "lost", p)
				deliver(t, e, lost.payload, lost.sig)
				if n := paid(t, e, "u1"); n != 500 {
					t.Fatalf("paid after the lost dispute %d", n)
				}
				if r, d, _ := takenBack(t, e, "u1"); r != 600 || d != 400 {
					t.Fatalf("refunds took %d, disputes %d", r, d)
				}
				if got := purchase(t, e, p.ID); got.RefundedCredits != 600 || got.DisputedCredits != 400 {
					t.Fatalf("purchase %+v", got)
				}
				verifyClean(t, e)
			})

			t.Run("LegacyPartialRefundThenDispute", func(t *testing.T) {
				e, p := setup(t)
				// 300 asked, only 100 there: the old code recorded 200 short.
				if _, _, _, err := e.svc.Spend(context.Background(), credits.SpendInput{UserID: "u1", Amount: 155 + 1400, AppID: "app"}); err != nil {
					t.Fatal(err)
				}
				legacyRefund(t, e, p, 300, 100)
				bought(t, e, "u1", "credits-2500")
				lost := dispute(t, "evt_d2", billing.EventDisputeClosed, "lost", p)
				deliver(t, e, lost.payload, lost.sig)
				// The dispute takes the 700 the refund left, not 1000.
				if n := paid(t, e, "u1"); n != 1800 {
					t.Fatalf("paid after the lost dispute %d", n)
				}
				if _, d, _ := takenBack(t, e, "u1"); d != 700 {
					t.Fatalf("disputes took %d", d)
				}
				if got := purchase(t, e, p.ID); got.RefundedCredits != 300 || got.DisputedCredits != 700 {
					t.Fatalf("purchase %+v", got)
				}
				verifyClean(t, e)
			})

			t.Run("PackageIDNotText", func(t *testing.T) {
				e := newEnv(t, be, base)
				for _, id := range []string{"credits-500\x00", "credits-\xff500"} {
					_, _, err := e.b.CreatePaymentIntent(context.Background(), "u1", id)
					var invalid *credits.InvalidFieldsError
					if !errors.As(err, &invalid) || invalid.Fields["packageId"] != "invalid" || !errors.Is(err, billing.ErrPackageNotFound) {
						t.Fatalf("payment intent for %q: %v", id, err)
					}
					if _, err := e.b.CreateCheckout(context.Background(), "u1", "", id); !errors.As(err, &invalid) {
						t.Fatalf("checkout for %q: %v", id, err)
					}
				}
				if ps, err := e.b.Purchases(context.Background(), "u1", 0, 0); err != nil || len(ps) != 0 {
					t.Fatalf("purchases %+v, %v", ps, err)
				}
			})
		})
	}
}

// legacyRefund books a refund of the purchase's charge as the code before
// cumulative refunds did: once per charge, under "stripe-refund:<charge>",
// requested credits asked and booked of them taken from the paid wallet,
// the purchase row left as it was.
func legacyRefund(t *testing.T, e env, p credits.Purchase, requested, booked int64) {
	t.Helper()
	chargeID := "ch_" + p.ID
	key := "stripe-refund:" + chargeID
	_, _, _, err := e.store.Book(context.Background(), p.UserID, key, func(cur credits.Balance) (*credits.Booking, error) {
		if cur.Paid < booked {
			return nil, fmt.Errorf("paid %d, cannot book %d", cur.Paid, booked)
		}
		nb := cur
		nb.Paid -= booked
		meta, err := json.Marshal(map[string]int64{"requested": requested, "booked": booked, "shortfall": requested - booked})
		if err != nil {
			return nil, err
		}
		tx := credits.Transaction{ID: credits.NewID(), UserID: p.UserID, Type: credits.TypeRefund, Amount: -booked,
			Description: "Refund " + chargeID, IdempotencyKey: key, Metadata: meta, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
		if booked > 0 {
			tx.Postings = []credits.Posting{{Account: credits.PaidAccount(p.UserID), Amount: -booked}, {Account: credits.AccountStripe, Amount: booked}}
		}
		return &credits.Booking{Tx: tx, Balance: nb}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
