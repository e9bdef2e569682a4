package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"
	"golang.org/x/oauth2"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/provider/server"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// withBilling serves Stripe purchases against a stripe-mock started for
// the test (skipped without stripe-mock unless CI=true).
func withBilling() func(*setupOpts) {
	return func(o *setupOpts) { o.billing = true }
}

const (
	balancePath = "/api/v1/credits/balance"
	usePath     = "/api/v1/credits/use"
	txPath      = "/api/v1/credits/transactions"
)

func wantNum(t testing.TB, what string, m map[string]any, key string, want float64) {
	t.Helper()
	if got, ok := m[key].(float64); !ok || got != want {
		t.Errorf("%s: %s = %v, want %v", what, key, m[key], want)
	}
}

func TestCreditsAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		c := &clock{}
		e := setup(t, b, withClock(c))
		l := e.apiLogin(t, userEmail, userPassword)
		ctx := context.Background()

		t.Run("BalanceOfNewUser", func(t *testing.T) {
			r := e.api(t, http.MethodGet, balancePath, l.access, nil).want(t, "balance", http.StatusOK)
			keys := make([]string, 0, len(r.json))
			for k := range r.json {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if strings.Join(keys, ",") != "balance,dailyFreeCredits,freeCreditsRemaining,totalEarned,totalSpent" {
				t.Errorf("balance keys = %v", keys)
			}
			// Signup bonus 150 plus today's 5 free credits, granted lazily.
			wantNum(t, "balance", r.json, "balance", 0)
			wantNum(t, "balance", r.json, "freeCreditsRemaining", 155)
			wantNum(t, "balance", r.json, "totalEarned", 155)
			wantNum(t, "balance", r.json, "totalSpent", 0)
			wantNum(t, "balance", r.json, "dailyFreeCredits", 5)
		})

		t.Run("Use", func(t *testing.T) {
			r := e.api(t, http.MethodPost, usePath, l.access, map[string]any{"amount": 25, "appId": "chat", "description": "AI answer",
				"metadata": map[string]any{"model": "x"}}).want(t, "use 25", http.StatusOK)
			if r.json["success"] != true || r.json["message"] != nil {
				t.Errorf("use = %s", r.body)
			}
			tx := r.obj("transaction")
			wantNum(t, "transaction", tx, "amount", -25)
			if tx["type"] != "usage" || tx["appId"] != "chat" || tx["description"] != "AI answer" || tx["id"] == "" ||
				tx["createdAt"] == nil || tx["idempotencyKey"] != nil {
				t.Errorf("transaction = %v", tx)
			}
			if md, _ := tx["metadata"].(map[string]any); md["model"] != "x" {
				t.Errorf("metadata = %v", tx["metadata"])
			}
			nb := r.obj("newBalance")
			wantNum(t, "newBalance", nb, "balance", 0)
			wantNum(t, "newBalance", nb, "freeCreditsRemaining", 130)
			wantNum(t, "newBalance", nb, "totalSpent", 25)
		})

		t.Run("Replay", func(t *testing.T) {
			body := map[string]any{"amount": 10, "appId": "chat", "description": "once", "idempotencyKey": "key-1"}
			first := e.api(t, http.MethodPost, usePath, l.access, body).want(t, "use with key", http.StatusOK)
			again := e.api(t, http.MethodPost, usePath, l.access, body).want(t, "replay", http.StatusOK)
			if id := first.obj("transaction")["id"]; id == nil || again.obj("transaction")["id"] != id {
				t.Errorf("replay transaction %v, want %v", again.obj("transaction")["id"], id)
			}
			if first.json["message"] != nil || again.str("message") != "Transaction already processed" || again.json["success"] != true {
				t.Errorf("first %s\nreplay %s", first.body, again.body)
			}
			if again.obj("transaction")["idempotencyKey"] != "key-1" {
				t.Errorf("replay idempotencyKey = %v", again.obj("transaction")["idempotencyKey"])
			}
			wantNum(t, "replay newBalance", again.obj("newBalance"), "freeCreditsRemaining", 120)
		})

		t.Run("Insufficient", func(t *testing.T) {
			e.api(t, http.MethodPost, usePath, l.access, map[string]any{"amount": 121, "appId": "chat", "description": "too much"}).
				wantError(t, "overspend", http.StatusBadRequest, "insufficient_credits", "Insufficient credits")
			r := e.api(t, http.MethodGet, balancePath, l.access, nil).want(t, "balance", http.StatusOK)
			wantNum(t, "after overspend", r.json, "freeCreditsRemaining", 120)
		})

		t.Run("Validation", func(t *testing.T) {
			for _, tc := range []struct {
				body   string
				fields []string
			}{
				{`{"amount":0,"appId":"a","description":"d"}`, []string{"amount"}},
				{`{"amount":-1,"appId":"a","description":"d"}`, []string{"amount"}},
				{`{"amount":"x","appId":"a","description":"d"}`, []string{"amount"}},
				{`{"amount":1.5,"appId":"a","description":"d"}`, []string{"amount"}},
				{`{"amount":"x","appId":"","extra":1,"metadata":[1]}`, []string{"amount", "appId", "description", "extra", "metadata"}},
				{`{}`, []string{"amount", "appId", "description"}},
			} {
				r := e.api(t, http.MethodPost, usePath, l.access, tc.body)
				r.wantError(t, tc.body, http.StatusBadRequest, "validation_failed", "")
				errs, _ := r.json["errors"].(map[string]any)
				var got []string
				for k := range errs {
					got = append(got, k)
				}
				sort.Strings(got)
				if !slices.Equal(got, tc.fields) {
					t.Errorf("%s: fields %v, want %v", tc.body, got, tc.fields)
				}
				if msgs, _ := r.json["message"].([]any); len(msgs) != len(tc.fields) {
					t.Errorf("%s: messages %v", tc.body, r.json["message"])
				}
			}
			e.api(t, http.MethodPost, usePath, l.access, `not json`).wantError(t, "not json", http.StatusBadRequest, "invalid_json", "")
		})

		t.Run("Transactions", func(t *testing.T) {
			r := e.api(t, http.MethodGet, txPath, l.access, nil).want(t, "transactions", http.StatusOK)
			var list []map[string]any
			if err := jsonUnmarshal(r.body, &list); err != nil {
				t.Fatalf("transactions: %v: %s", err, r.body)
			}
			// signup, daily, use 25, use 10 (the replay books nothing).
			if len(list) != 4 {
				t.Fatalf("transactions = %d: %s", len(list), r.body)
			}
			if list[0]["description"] != "once" || list[3]["type"] != "signup_bonus" {
				t.Errorf("not newest first: %s", r.body)
			}
			r = e.api(t, http.MethodGet, txPath+"?limit=1&offset=1", l.access, nil).want(t, "page", http.StatusOK)
			if err := jsonUnmarshal(r.body, &list); err != nil || len(list) != 1 || list[0]["description"] != "AI answer" {
				t.Errorf("limit=1&offset=1: %s", r.body)
			}
			e.api(t, http.MethodGet, txPath+"?limit=1000", l.access, nil).want(t, "limit above max", http.StatusOK)
			for _, q := range []string{"limit=x", "limit=0", "offset=-1", "offset=y"} {
				e.api(t, http.MethodGet, txPath+"?"+q, l.access, nil).wantError(t, q, http.StatusBadRequest, "validation_failed", "")
			}
		})

		t.Run("Tokens", func(t *testing.T) {
			e.api(t, http.MethodGet, balancePath, "", nil).wantError(t, "no token", http.StatusUnauthorized, "missing_token", "")
			e.api(t, http.MethodPost, usePath, "", map[string]any{"amount": 1}).wantError(t, "use without token", http.StatusUnauthorized, "missing_token", "")
			e.api(t, http.MethodGet, balancePath, "garbage", nil).wantError(t, "garbage", http.StatusUnauthorized, "invalid_token", "")

			// Signed with the real key, wrong in one claim.
			now := time.Now().Unix()
			mint := func(typ string, mod func(map[string]any)) string {
				cl := map[string]any{"iss": e.issuer, "sub": e.user.ID, "aud": []string{"manacore"}, "exp": now + 600, "iat": now,
					"jti": "x", "client_id": "mana-first-party", "scope": "credits:read credits:write", "sid": "s"}
				mod(cl)
				tok, err := e.ring.Sign("EdDSA", typ, cl)
				if err != nil {
					t.Fatal(err)
				}
				return tok
			}
			for what, tok := range map[string]string{
				"wrong issuer":   mint("at+jwt", func(c map[string]any) { c["iss"] = "https://evil.example" }),
				"wrong audience": mint("at+jwt", func(c map[string]any) { c["aud"] = []string{"other"} }),
				"id token typ":   mint("JWT", func(map[string]any) {}),
				"expired claim":  mint("at+jwt", func(c map[string]any) { c["exp"] = now - 10 }),
				"unknown grant":  mint("at+jwt", func(map[string]any) {}),
			} {
				e.api(t, http.MethodGet, balancePath, tok, nil).wantError(t, what, http.StatusUnauthorized, "invalid_token", "")
				e.api(t, http.MethodPost, usePath, tok, map[string]any{"amount": 1, "appId": "a", "description": "d"}).
					wantError(t, what+" (use)", http.StatusUnauthorized, "invalid_token", "")
			}

			// A real ID token is not an access token.
			br := e.browser(t)
			f := e.codeFlow(t, br, e.rp(t, trustedID))
			e.api(t, http.MethodGet, balancePath, f.rawID, nil).wantError(t, "id token", http.StatusUnauthorized, "invalid_token", "")

			// A trusted client's token without the credits scopes.
			e.api(t, http.MethodGet, balancePath, f.tok.AccessToken, nil).wantError(t, "no credits:read", http.StatusForbidden, "insufficient_scope", "")
			e.api(t, http.MethodPost, usePath, f.tok.AccessToken, map[string]any{"amount": 1, "appId": "a", "description": "d"}).
				wantError(t, "no credits:write", http.StatusForbidden, "insufficient_scope", "")

			// A third-party client the user consented to: its token lacks
			// the JWT_AUDIENCE (only trusted clients get it by default).
			r3 := e.rp(t, thirdPartyID)
			verifier := oauth2.GenerateVerifier()
			p := br.get(t, r3.cfg.AuthCodeURL("state-credits", oauth2.S256ChallengeOption(verifier)))
			if p.url.Path != "/consent" {
				t.Fatalf("no consent page: %d %s", p.status, p.url)
			}
			p = br.post(t, "/consent", url.Values{"challenge": {p.url.Query().Get("challenge")}, "action": {"allow"}})
			tok3, err := r3.cfg.Exchange(ctx, e.code(t, p, "state-credits"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("third-party exchange: %v", err)
			}
			e.api(t, http.MethodGet, balancePath, tok3.AccessToken, nil).wantError(t, "third party", http.StatusUnauthorized, "invalid_token", "")

			// A client_credentials token has no user behind it.
			cc := e.postForm(t, "/oauth2/token", serviceID, clientSecret, url.Values{"grant_type": {"client_credentials"}, "scope": {"credits:read credits:write"}})
			if cc.status != http.StatusOK {
				t.Fatalf("client_credentials: %s", cc.body)
			}
			e.api(t, http.MethodGet, balancePath, cc.str("access_token"), nil).wantError(t, "client token", http.StatusForbidden, "insufficient_scope", "")

			// Logout revokes the session's tokens at once.
			l2 := e.apiLogin(t, userEmail, userPassword)
			e.api(t, http.MethodGet, balancePath, l2.access, nil).want(t, "before logout", http.StatusOK)
			e.api(t, http.MethodPost, "/api/v1/auth/logout", l2.access, nil).want(t, "logout", http.StatusOK)
			e.api(t, http.MethodGet, balancePath, l2.access, nil).wantError(t, "after logout", http.StatusUnauthorized, "invalid_token", "")
			e.api(t, http.MethodPost, usePath, l2.access, map[string]any{"amount": 1, "appId": "a", "description": "d"}).
				wantError(t, "use after logout", http.StatusUnauthorized, "invalid_token", "")

			// A real token past its 15 minutes.
			c.advance(16 * time.Minute)
			e.api(t, http.MethodGet, balancePath, l.access, nil).wantError(t, "expired", http.StatusUnauthorized, "invalid_token", "")
			c.advance(-16 * time.Minute)
			e.api(t, http.MethodGet, balancePath, l.access, nil).want(t, "valid again", http.StatusOK)
		})

		t.Run("RegisterCreatesBalance", func(t *testing.T) {
			r := e.post(t, "/api/v1/auth/register", map[string]string{"email": "newbie@example.com", "password": "a long password 1", "name": "New"}).
				want(t, "register", http.StatusCreated)
			id, _ := r.obj("user")["id"].(string)
			txs, err := e.credits.Transactions(ctx, id, 10, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(txs) == 0 || txs[len(txs)-1].Type != credits.TypeSignupBonus || txs[len(txs)-1].Amount != 150 {
				t.Errorf("no signup bonus booked at registration: %+v", txs)
			}
			ms, err := e.credits.Verify(ctx)
			if err != nil || len(ms) != 0 {
				t.Errorf("verify: %v %+v", err, ms)
			}
		})
	})
}

// testWebhookSecret is the STRIPE_WEBHOOK_SECRET of setups withBilling.
const testWebhookSecret = "whsec_test"

const (
	packagesPath  = "/api/v1/credits/packages"
	purchasePath  = "/api/v1/credits/purchase"
	checkoutPath  = "/api/v1/credits/checkout"
	purchasesPath = "/api/v1/credits/purchases"
	webhookPath   = "/api/v1/credits/stripe/webhook"
)

// signedEvent is a Stripe webhook delivery of event id of type typ about
// obj, signed with secret as Stripe does.
func signedEvent(t testing.TB, id, typ string, obj map[string]any, secret string) ([]byte, string) {
	t.Helper()
	payload, err := json.Marshal(map[string]any{
		"id": id, "object": "event", "type": typ, "api_version": stripe.APIVersion,
		"created": time.Now().Unix(), "livemode": false, "data": map[string]any{"object": obj},
	})
	if err != nil {
		t.Fatal(err)
	}
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: time.Now()})
	return sp.Payload, sp.Header
}

// TestCreditsPurchaseAPI: packages, PaymentIntent and Checkout purchases
// against stripe-mock, and the signed webhook crediting a purchase once.
func TestCreditsPurchaseAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b, withBilling())
		l := e.apiLogin(t, userEmail, userPassword)
		ctx := context.Background()
		paid := func(what string) float64 {
			t.Helper()
			r := e.api(t, http.MethodGet, balancePath, l.access, nil).want(t, what, http.StatusOK)
			n, _ := r.json["balance"].(float64)
			return n
		}

		t.Run("Packages", func(t *testing.T) {
			r := e.api(t, http.MethodGet, packagesPath, l.access, nil).want(t, "packages", http.StatusOK)
			var list []map[string]any
			if err := jsonUnmarshal(r.body, &list); err != nil {
				t.Fatalf("packages: %v: %s", err, r.body)
			}
			var got []string
			for _, p := range list {
				got = append(got, fmt.Sprintf("%v:%v/%v/%v", p["id"], p["credits"], p["priceEuroCents"], p["currency"]))
			}
			want := "credits-500:500/500/eur credits-1000:1000/1000/eur credits-2500:2500/2500/eur credits-5000:5000/5000/eur"
			if strings.Join(got, " ") != want {
				t.Errorf("packages = %v, want %s", got, want)
			}
		})

		var purchaseID string
		t.Run("Purchase", func(t *testing.T) {
			r := e.api(t, http.MethodPost, purchasePath, l.access, map[string]any{"packageId": "credits-500"}).want(t, "purchase", http.StatusOK)
			purchaseID = r.str("purchaseId")
			if purchaseID == "" || r.str("clientSecret") == "" || r.str("currency") != "eur" {
				t.Errorf("purchase = %s", r.body)
			}
			wantNum(t, "purchase", r.json, "amount", 500)
			e.api(t, http.MethodPost, purchasePath, l.access, map[string]any{"packageId": "credits-nope"}).
				wantError(t, "unknown package", http.StatusNotFound, "package_not_found", "")
			e.api(t, http.MethodPost, purchasePath, l.access, map[string]any{}).
				wantError(t, "no package", http.StatusBadRequest, "validation_failed", "")
		})

		t.Run("Checkout", func(t *testing.T) {
			r := e.api(t, http.MethodPost, checkoutPath, l.access, map[string]any{"packageId": "credits-1000"}).want(t, "checkout", http.StatusOK)
			if u, err := url.Parse(r.str("url")); err != nil || u.Scheme != "https" || u.Host == "" {
				t.Errorf("checkout url = %s", r.body)
			}
			e.api(t, http.MethodPost, checkoutPath, l.access, map[string]any{"packageId": "credits-nope"}).
				wantError(t, "checkout unknown package", http.StatusNotFound, "package_not_found", "")
		})

		t.Run("Purchases", func(t *testing.T) {
			r := e.api(t, http.MethodGet, purchasesPath, l.access, nil).want(t, "purchases", http.StatusOK)
			var list []map[string]any
			if err := jsonUnmarshal(r.body, &list); err != nil {
				t.Fatalf("purchases: %v: %s", err, r.body)
			}
			var got []string
			for _, p := range list {
				if p["status"] != "pending" || p["completedAt"] != nil {
					t.Errorf("purchase not pending: %v", p)
				}
				got = append(got, fmt.Sprintf("%v:%v", p["packageId"], p["credits"]))
			}
			sort.Strings(got)
			if strings.Join(got, " ") != "credits-1000:1000 credits-500:500" {
				t.Errorf("purchases = %s", r.body)
			}
		})

		t.Run("Webhook", func(t *testing.T) {
			if purchaseID == "" {
				t.Fatal("the Purchase subtest created no purchase to pay")
			}
			p, err := e.billingStore.Purchase(ctx, purchaseID)
			if err != nil || p.StripePaymentIntentID == "" {
				t.Fatalf("stored purchase %+v: %v", p, err)
			}
			obj := map[string]any{"id": p.StripePaymentIntentID, "object": "payment_intent", "status": "succeeded"}
			before := paid("balance before")

			bad, badSig := signedEvent(t, "evt_http_1", "payment_intent.succeeded", obj, "whsec_wrong")
			if r := e.api(t, http.MethodPost, webhookPath, "", bad, "Stripe-Signature", badSig); r.status != http.StatusBadRequest {
				t.Fatalf("bad signature: %d %s", r.status, r.body)
			}
			good, sig := signedEvent(t, "evt_http_1", "payment_intent.succeeded", obj, testWebhookSecret)
			if r := e.api(t, http.MethodPost, webhookPath, "", good, "Stripe-Signature", "t=1,v1=deadbeef"); r.status != http.StatusBadRequest {
				t.Fatalf("forged signature: %d %s", r.status, r.body)
			}
			if r := e.api(t, http.MethodPost, webhookPath, "", good); r.status != http.StatusBadRequest {
				t.Fatalf("no signature: %d %s", r.status, r.body)
			}
			if n := paid("after bad signatures"); n != before {
				t.Fatalf("paid %v after bad signatures, want %v", n, before)
			}
			if got, _ := e.billingStore.Purchase(ctx, purchaseID); got.Status != credits.PurchasePending {
				t.Fatalf("purchase after bad signatures: %+v", got)
			}

			for i := range 2 {
				if r := e.api(t, http.MethodPost, webhookPath, "", good, "Stripe-Signature", sig); r.status != http.StatusOK {
					t.Fatalf("delivery %d: %d %s", i+1, r.status, r.body)
				}
				if n := paid("after delivery"); n != before+500 {
					t.Fatalf("paid %v after delivery %d, want %v", n, i+1, before+500)
				}
			}
			r := e.api(t, http.MethodGet, purchasesPath, l.access, nil).want(t, "purchases", http.StatusOK)
			var list []map[string]any
			_ = jsonUnmarshal(r.body, &list)
			found := false
			for _, x := range list {
				if x["id"] == purchaseID {
					found = true
					if x["status"] != "succeeded" || x["completedAt"] == nil {
						t.Errorf("fulfilled purchase = %v", x)
					}
				}
			}
			if !found {
				t.Errorf("purchase %s not listed: %s", purchaseID, r.body)
			}
			ms, err := e.credits.Verify(ctx)
			if err != nil || len(ms) != 0 {
				t.Errorf("verify: %v %+v", err, ms)
			}
		})

		t.Run("Tokens", func(t *testing.T) {
			e.api(t, http.MethodGet, packagesPath, "", nil).wantError(t, "packages without token", http.StatusUnauthorized, "missing_token", "")
			e.api(t, http.MethodGet, purchasesPath, "", nil).wantError(t, "purchases without token", http.StatusUnauthorized, "missing_token", "")
			e.api(t, http.MethodPost, purchasePath, "", map[string]any{"packageId": "credits-500"}).
				wantError(t, "purchase without token", http.StatusUnauthorized, "missing_token", "")
			e.api(t, http.MethodPost, checkoutPath, "", map[string]any{"packageId": "credits-500"}).
				wantError(t, "checkout without token", http.StatusUnauthorized, "missing_token", "")

			// A trusted client's token without the credits scopes.
			f := e.codeFlow(t, e.browser(t), e.rp(t, trustedID))
			e.api(t, http.MethodPost, purchasePath, f.tok.AccessToken, map[string]any{"packageId": "credits-500"}).
				wantError(t, "purchase without credits:write", http.StatusForbidden, "insufficient_scope", "")
			e.api(t, http.MethodPost, checkoutPath, f.tok.AccessToken, map[string]any{"packageId": "credits-500"}).
				wantError(t, "checkout without credits:write", http.StatusForbidden, "insufficient_scope", "")
		})
	})
}

// TestCreditsRoutesOff: without a credits service the routes do not exist.
// The composition root always mounts credits, so this handler is built
// from its parts without one.
func TestCreditsRoutesOff(t *testing.T) {
	e := setup(t, storetest.Backends()[0])
	l := e.apiLogin(t, userEmail, userPassword)
	h, err := server.New(server.Deps{Config: server.Config{Issuer: e.issuer, SecretKey: []byte("0123456789abcdef0123456789abcdef-test-secret")},
		Store: e.store, OP: e.op, JWKS: e.ring.JWKS, Sessions: e.sessions, Accounts: e.accounts})
	if err != nil {
		t.Fatal(err)
	}
	off := httptest.NewServer(h)
	t.Cleanup(off.Close)
	req, _ := http.NewRequest(http.MethodGet, off.URL+balancePath, nil)
	req.Header.Set("Authorization", "Bearer "+l.access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("no credits: status %d, want 404", resp.StatusCode)
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
