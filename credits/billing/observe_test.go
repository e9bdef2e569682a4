package billing_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/manacore/mana-core-auth/credits/billing"
	"github.com/manacore/mana-core-auth/credits/billing/stripemock"
)

// recorder is a billing.Observer that keeps what it was told.
type recorder struct {
	mu        sync.Mutex
	events    []string
	purchased int64
}

func (r *recorder) WebhookEvent(typ, result string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, typ+" "+result)
}

func (r *recorder) CreditsPurchased(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.purchased += n
}

// TestWebhookObserved (issue 13, metrics): each delivery is reported once
// with its result, and purchased credits once however often Stripe
// repeats the event.
func TestWebhookObserved(t *testing.T) {
	ctx := context.Background()
	base := stripemock.Start(t)
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be, base)
			rec := &recorder{}
			b, err := billing.New(billing.Config{SecretKey: "sk_test_123", WebhookSecret: whsec, APIBase: base, Observer: rec}, e.bs, e.svc)
			if err != nil {
				t.Fatal(err)
			}
			p, _, err := b.CreatePaymentIntent(ctx, "u1", "credits-1000")
			if err != nil {
				t.Fatal(err)
			}
			bad, badSig := event(t, "evt_o1", "payment_intent.succeeded",
				map[string]any{"id": p.StripePaymentIntentID, "object": "payment_intent"}, "whsec_wrong")
			_ = b.HandleWebhook(ctx, bad, badSig)
			good, sig := piSucceeded(t, "evt_o1", p.StripePaymentIntentID)
			for range 2 {
				if err := b.HandleWebhook(ctx, good, sig); err != nil {
					t.Fatal(err)
				}
			}
			other, otherSig := event(t, "evt_o2", "customer.created", map[string]any{"id": "cus_1", "object": "customer"}, whsec)
			if err := b.HandleWebhook(ctx, other, otherSig); err != nil {
				t.Fatal(err)
			}
			want := []string{" invalid_signature", "payment_intent.succeeded processed", "payment_intent.succeeded duplicate",
				"customer.created ignored"}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if !slices.Equal(rec.events, want) {
				t.Errorf("events %q\nwant   %q", rec.events, want)
			}
			if rec.purchased != 1000 {
				t.Errorf("purchased %d credits, want 1000", rec.purchased)
			}
		})
	}
}
