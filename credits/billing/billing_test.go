package billing_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/credits/billing"
	"github.com/manacore/mana-core-auth/credits/billing/stripemock"
	cpostgres "github.com/manacore/mana-core-auth/credits/store/postgres"
	csqlite "github.com/manacore/mana-core-auth/credits/store/sqlite"
	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
)

const whsec = "whsec_test_secret"

type backend struct {
	name string
	open func(t *testing.T) credits.Store
}

var backends = []backend{
	{"sqlite", func(t *testing.T) credits.Store {
		return csqlite.New(databasetest.Open(t, database.SQLite).SQLite())
	}},
	{"postgres", func(t *testing.T) credits.Store {
		return cpostgres.New(databasetest.Open(t, database.Postgres).Postgres())
	}},
}

type env struct {
	store credits.Store
	bs    credits.BillingStore
	svc   *credits.Service
	b     *billing.Billing
}

func newEnv(t *testing.T, be backend, apiBase string) env {
	t.Helper()
	s := be.open(t)
	svc, err := credits.NewService(s, credits.Config{})
	if err != nil {
		t.Fatal(err)
	}
	bs := s.(credits.BillingStore)
	b, err := billing.New(billing.Config{
		SecretKey: "sk_test_123", WebhookSecret: whsec, APIBase: apiBase,
		SuccessURL: "https://auth.example/account/credits?checkout=success",
		CancelURL:  "https://auth.example/account/credits?checkout=cancel",
	}, bs, svc)
	if err != nil {
		t.Fatal(err)
	}
	return env{s, bs, svc, b}
}

// event returns a signed webhook delivery of an event of type typ whose
// data.object is obj.
func event(t *testing.T, id, typ string, obj map[string]any, secret string) ([]byte, string) {
	t.Helper()
	payload, err := json.Marshal(map[string]any{
		"id": id, "object": "event", "type": typ, "api_version": stripe.APIVersion,
		"created": time.Now().Unix(), "livemode": false, "data": map[string]any{"object": obj},
	})
	if err != nil {
		t.Fatal(err)
	}
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{
		Payload: payload, Secret: secret, Timestamp: time.Now(),
	})
	return sp.Payload, sp.Header
}

func piSucceeded(t *testing.T, evID, piID string) ([]byte, string) {
	return event(t, evID, "payment_intent.succeeded",
		map[string]any{"id": piID, "object": "payment_intent", "status": "succeeded"}, whsec)
}

func paid(t *testing.T, e env, user string) int64 {
	t.Helper()
	b, err := e.svc.Balance(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	return b.Paid
}

func verifyClean(t *testing.T, e env) {
	t.Helper()
	ms, err := e.svc.Verify(context.Background())
	if err != nil || len(ms) != 0 {
		t.Fatalf("Verify: %+v, %v", ms, err)
	}
}

func TestBilling(t *testing.T) {
	ctx := context.Background()
	base := stripemock.Start(t)
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Run("Packages", func(t *testing.T) {
				e := newEnv(t, be, base)
				ps, err := e.b.Packages(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, p := range ps {
					got = append(got, fmt.Sprintf("%d/%d/%s", p.Credits, p.PriceCents, p.Currency))
				}
				if strings.Join(got, " ") != "500/500/eur 1000/1000/eur 2500/2500/eur 5000/5000/eur" {
					t.Fatalf("packages %v", got)
				}
			})

			t.Run("CreatePaymentIntent", func(t *testing.T) {
				e := newEnv(t, be, base)
				p, secret, err := e.b.CreatePaymentIntent(ctx, "u1", "credits-1000")
				if err != nil {
					t.Fatal(err)
				}
				if secret == "" || !strings.HasPrefix(p.StripePaymentIntentID, "pi_") || p.Status != credits.PurchasePending ||
					p.Credits != 1000 || p.AmountCents != 1000 || p.Currency != "eur" {
					t.Fatalf("purchase %+v secret %q", p, secret)
				}
				got, err := e.bs.PurchaseByPaymentIntent(ctx, p.StripePaymentIntentID)
				if err != nil || got != p {
					t.Fatalf("stored %+v, %v; want %+v", got, err, p)
				}
				if _, _, err := e.b.CreatePaymentIntent(ctx, "u1", "nope"); !errors.Is(err, billing.ErrPackageNotFound) {
					t.Fatalf("unknown package: %v", err)
				}
				if err := e.bs.DisablePackage(ctx, "credits-500"); err != nil {
					t.Fatal(err)
				}
				if _, _, err := e.b.CreatePaymentIntent(ctx, "u1", "credits-500"); !errors.Is(err, credits.ErrNotFound) {
					t.Fatalf("disabled package: %v", err)
				}
			})

			t.Run("CreateCheckout", func(t *testing.T) {
				e := newEnv(t, be, base)
				u, err := e.b.CreateCheckout(ctx, "u1", "u1@example.com", "credits-2500")
				if err != nil || !strings.HasPrefix(u, "https://") {
					t.Fatalf("url %q, %v", u, err)
				}
				ps, err := e.b.Purchases(ctx, "u1", 0, 0)
				if err != nil || len(ps) != 1 || !strings.HasPrefix(ps[0].StripeCheckoutSessionID, "cs_") ||
					ps[0].StripePaymentIntentID != "" || ps[0].Credits != 2500 {
					t.Fatalf("purchases %+v, %v", ps, err)
				}
				// checkout.session.completed credits the purchase once.
				cs := map[string]any{"id": ps[0].StripeCheckoutSessionID, "object": "checkout.session",
					"payment_status": "paid", "payment_intent": "pi_checkout_1"}
				payload, sig := event(t, "evt_cs_1", "checkout.session.completed", cs, whsec)
				for range 2 {
					if err := e.b.HandleWebhook(ctx, payload, sig); err != nil {
						t.Fatal(err)
					}
				}
				// The PaymentIntent's own event for the same payment adds nothing.
				payload, sig = piSucceeded(t, "evt_cs_2", "pi_checkout_1")
				if err := e.b.HandleWebhook(ctx, payload, sig); err != nil {
					t.Fatal(err)
				}
				if n := paid(t, e, "u1"); n != 2500 {
					t.Fatalf("paid %d", n)
				}
				verifyClean(t, e)
			})

			t.Run("WebhookFulfilOnce", func(t *testing.T) {
				e := newEnv(t, be, base)
				p, _, err := e.b.CreatePaymentIntent(ctx, "u1", "credits-500")
				if err != nil {
					t.Fatal(err)
				}
				// Bad signature: nothing booked, event not recorded.
				bad, badSig := event(t, "evt_1", "payment_intent.succeeded",
					map[string]any{"id": p.StripePaymentIntentID, "object": "payment_intent"}, "whsec_wrong")
				if err := e.b.HandleWebhook(ctx, bad, badSig); !errors.Is(err, billing.ErrBadSignature) {
					t.Fatalf("bad signature: %v", err)
				}
				good, sig := piSucceeded(t, "evt_1", p.StripePaymentIntentID)
				if err := e.b.HandleWebhook(ctx, good, sig+"0"); !errors.Is(err, billing.ErrBadSignature) {
					t.Fatalf("tampered signature: %v", err)
				}
				if err := e.b.HandleWebhook(ctx, good, ""); !errors.Is(err, billing.ErrBadSignature) {
					t.Fatalf("missing signature: %v", err)
				}
				if n := paid(t, e, "u1"); n != 0 {
					t.Fatalf("paid after bad signatures: %d", n)
				}
				for range 2 {
					if err := e.b.HandleWebhook(ctx, good, sig); err != nil {
						t.Fatal(err)
					}
				}
				if n := paid(t, e, "u1"); n != 500 {
					t.Fatalf("paid %d", n)
				}
				got, _ := e.bs.Purchase(ctx, p.ID)
				if got.Status != credits.PurchaseSucceeded || got.CompletedAt.IsZero() {
					t.Fatalf("purchase %+v", got)
				}

				// Five concurrent deliveries of one event for a second purchase.
				p2, _, err := e.b.CreatePaymentIntent(ctx, "u1", "credits-1000")
				if err != nil {
					t.Fatal(err)
				}
				payload, sig := piSucceeded(t, "evt_2", p2.StripePaymentIntentID)
				var wg sync.WaitGroup
				errs := make(chan error, 5)
				for range 5 {
					wg.Go(func() { errs <- e.b.HandleWebhook(ctx, payload, sig) })
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Fatal(err)
					}
				}
				if n := paid(t, e, "u1"); n != 1500 {
					t.Fatalf("paid after concurrent deliveries %d", n)
				}
				txs, _ := e.svc.Transactions(ctx, "u1", 100, 0)
				purchases := 0
				for _, tx := range txs {
					if tx.Type == credits.TypePurchase {
						purchases++
						if !strings.HasPrefix(tx.IdempotencyKey, "stripe:pi_") {
							t.Errorf("purchase tx key %q", tx.IdempotencyKey)
						}
					}
				}
				if purchases != 2 {
					t.Fatalf("%d purchase transactions", purchases)
				}

				// Refund of the first purchase.
				refund, rsig := event(t, "evt_3", "charge.refunded", map[string]any{
					"id": "ch_1", "object": "charge", "payment_intent": p.StripePaymentIntentID,
					"amount": 500, "amount_refunded": 500, "refunded": true,
				}, whsec)
				for range 2 {
					if err := e.b.HandleWebhook(ctx, refund, rsig); err != nil {
						t.Fatal(err)
					}
				}
				if n := paid(t, e, "u1"); n != 1000 {
					t.Fatalf("paid after refund %d", n)
				}
				got, _ = e.bs.Purchase(ctx, p.ID)
				if got.Status != credits.PurchaseRefunded {
					t.Fatalf("purchase after refund %+v", got)
				}

				// Unknown event types are acknowledged and ignored.
				unk, usig := event(t, "evt_4", "customer.created", map[string]any{"id": "cus_1", "object": "customer"}, whsec)
				if err := e.b.HandleWebhook(ctx, unk, usig); err != nil {
					t.Fatal(err)
				}
				if n := paid(t, e, "u1"); n != 1000 {
					t.Fatalf("paid after unknown event %d", n)
				}
				verifyClean(t, e)
			})

			t.Run("PaymentFailed", func(t *testing.T) {
				e := newEnv(t, be, base)
				p, _, err := e.b.CreatePaymentIntent(ctx, "u1", "credits-500")
				if err != nil {
					t.Fatal(err)
				}
				payload, sig := event(t, "evt_f", "payment_intent.payment_failed",
					map[string]any{"id": p.StripePaymentIntentID, "object": "payment_intent"}, whsec)
				if err := e.b.HandleWebhook(ctx, payload, sig); err != nil {
					t.Fatal(err)
				}
				got, _ := e.bs.Purchase(ctx, p.ID)
				if got.Status != credits.PurchaseFailed || paid(t, e, "u1") != 0 {
					t.Fatalf("purchase %+v", got)
				}
				// A later success (retry with another card) still credits.
				payload, sig = piSucceeded(t, "evt_s", p.StripePaymentIntentID)
				if err := e.b.HandleWebhook(ctx, payload, sig); err != nil {
					t.Fatal(err)
				}
				if n := paid(t, e, "u1"); n != 500 {
					t.Fatalf("paid %d", n)
				}
				verifyClean(t, e)
			})

			t.Run("WebhookHandler", func(t *testing.T) {
				e := newEnv(t, be, base)
				p, _, err := e.b.CreatePaymentIntent(ctx, "u1", "credits-500")
				if err != nil {
					t.Fatal(err)
				}
				srv := httptest.NewServer(e.b.WebhookHandler(nil))
				defer srv.Close()
				post := func(body []byte, sig string) int {
					req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(string(body)))
					req.Header.Set("Stripe-Signature", sig)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					return resp.StatusCode
				}
				payload, sig := piSucceeded(t, "evt_h", p.StripePaymentIntentID)
				if code := post(payload, "t=1,v1=deadbeef"); code != http.StatusBadRequest {
					t.Fatalf("bad signature: %d", code)
				}
				if n := paid(t, e, "u1"); n != 0 {
					t.Fatalf("paid after bad signature %d", n)
				}
				if code := post(payload, sig); code != http.StatusOK {
					t.Fatalf("good: %d", code)
				}
				if code := post(payload, sig); code != http.StatusOK {
					t.Fatalf("repeat: %d", code)
				}
				if code := post(make([]byte, billing.MaxWebhookBody+1), sig); code != http.StatusRequestEntityTooLarge {
					t.Fatalf("too large: %d", code)
				}
				resp, err := http.Get(srv.URL)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusMethodNotAllowed {
					t.Fatalf("GET: %d", resp.StatusCode)
				}
				if n := paid(t, e, "u1"); n != 500 {
					t.Fatalf("paid %d", n)
				}
				verifyClean(t, e)
			})
		})
	}
}
