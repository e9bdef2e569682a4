package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	creditsstore "github.com/manacore/mana-core-auth/credits/store"
	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/credits/api"
	stripebilling "github.com/manacore/mana-core-auth/credits/billing"
	"github.com/manacore/mana-core-auth/credits/billing/stripemock"
)

// openStore returns a migrated, empty credits store on backend, on a
// database handle closed when the test ends.
func openStore(t *testing.T, backend string) credits.Store {
	t.Helper()
	st, _, err := creditsstore.New(databasetest.Open(t, database.Dialect(backend)))
	if err != nil {
		t.Fatalf("open %s: %v", backend, err)
	}
	return st
}

// verifier is a TokenVerifier made of a function.
type verifier struct {
	verify func(ctx context.Context, bearer string) (api.Principal, error)
}

var _ api.TokenVerifier = verifier{}

func (v verifier) Verify(ctx context.Context, bearer string) (api.Principal, error) {
	return v.verify(ctx, bearer)
}

// Tokens the test verifier knows. A user's token is "<scopes>:<user id>",
// so each test has a wallet of its own.
const (
	tokExpired = "expired"
	tokClient  = "client-credentials"
	tokBroken  = "verifier-down"
	tokNoSub   = "no-subject"
	// leak is what the broken verifier's error says; no answer may show it.
	leak = "dial tcp 10.1.2.3:5432: connection refused"
)

func userToken(user string) string { return "rw:" + user }

func testVerifier(ctx context.Context, bearer string) (api.Principal, error) {
	switch bearer {
	case tokExpired:
		return api.Principal{}, fmt.Errorf("%w: token expired", api.ErrUnauthorized)
	case tokClient:
		return api.Principal{}, fmt.Errorf("%w: token of a client", api.ErrForbidden)
	case tokBroken:
		return api.Principal{}, errors.New(leak)
	case tokNoSub:
		return api.Principal{Scopes: []string{api.ScopeRead, api.ScopeWrite}}, nil
	}
	scopes, user, ok := strings.Cut(bearer, ":")
	if !ok {
		return api.Principal{}, fmt.Errorf("%w: unknown token", api.ErrUnauthorized)
	}
	p := api.Principal{Subject: user, SessionID: "s-" + user, ClientID: "mana-first-party"}
	if strings.Contains(scopes, "r") {
		p.Scopes = append(p.Scopes, api.ScopeRead)
	}
	if strings.Contains(scopes, "w") {
		p.Scopes = append(p.Scopes, api.ScopeWrite)
	}
	return p, nil
}

// billing is a Billing made of functions; a nil one is never expected.
type billing struct {
	createPaymentIntent func(ctx context.Context, userID, packageID string) (credits.Purchase, string, error)
	createCheckout      func(ctx context.Context, userID, email, packageID string) (string, error)
}

var _ api.Billing = billing{}

func (b billing) Packages(context.Context) ([]credits.Package, error) { panic("not expected") }
func (b billing) Purchases(context.Context, string, int, int) ([]credits.Purchase, error) {
	panic("not expected")
}
func (b billing) CreatePaymentIntent(ctx context.Context, userID, packageID string) (credits.Purchase, string, error) {
	return b.createPaymentIntent(ctx, userID, packageID)
}
func (b billing) CreateCheckout(ctx context.Context, userID, email, packageID string) (string, error) {
	return b.createCheckout(ctx, userID, email, packageID)
}

const (
	balancePath  = "/api/v1/credits/balance"
	usePath      = "/api/v1/credits/use"
	txPath       = "/api/v1/credits/transactions"
	purchasePath = "/api/v1/credits/purchase"
	checkoutPath = "/api/v1/credits/checkout"
	// maxBody is the server's body limit in small.
	maxBody = 4 << 10
)

// env is the credits API on a real Service and store, routed as the
// server routes it.
type env struct {
	h   http.Handler
	svc *credits.Service
}

func newEnv(t *testing.T, backend string) *env {
	t.Helper()
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	svc, err := credits.NewService(openStore(t, backend), credits.Config{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	a := api.New(svc, verifier{testVerifier}, slog.New(slog.NewTextHandler(t.Output(), nil)))
	b := billing{
		createPaymentIntent: func(_ context.Context, userID, packageID string) (credits.Purchase, string, error) {
			if packageID != "credits-500" {
				return credits.Purchase{}, "", fmt.Errorf("package %q: %w", packageID, credits.ErrNotFound)
			}
			return credits.Purchase{ID: "pur-1", UserID: userID, PackageID: packageID, AmountCents: 500, Currency: "eur"}, "pi_secret", nil
		},
		createCheckout: func(_ context.Context, _, _, packageID string) (string, error) {
			if packageID != "credits-500" {
				return "", fmt.Errorf("package %q: %w", packageID, credits.ErrNotFound)
			}
			return "https://checkout.stripe.test/c/1", nil
		},
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+balancePath, a.Balance())
	mux.Handle("POST "+usePath, a.Use())
	mux.Handle("GET "+txPath, a.Transactions())
	mux.Handle("POST "+purchasePath, a.Purchase(b))
	mux.Handle("POST "+checkoutPath, a.Checkout(b))
	// Every body is bounded, as the server's middleware bounds it.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		mux.ServeHTTP(w, r)
	})
	return &env{h: h, svc: svc}
}

// resp is an answer of the API with its JSON body.
type resp struct {
	status int
	header http.Header
	body   string
	json   map[string]any
}

// do sends a request with an "Authorization: Bearer" header unless token
// is empty; body is sent as is when a string, else as JSON. hdr are
// header pairs, an empty value deleting the header. Every answer is
// checked to be uncacheable JSON.
func (e *env) do(t *testing.T, method, path, token string, body any, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(j))
	}
	req := httptest.NewRequestWithContext(t.Context(), method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	r := resp{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
	if strings.HasPrefix(strings.TrimSpace(r.body), "{") {
		if err := json.Unmarshal(rec.Body.Bytes(), &r.json); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, r.body)
		}
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s %s: Cache-Control %q, want no-store", method, path, cc)
	}
	return r
}

func (r resp) want(t *testing.T, what string, status int) resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.body)
	}
	return r
}

// wantError checks the error envelope; an empty msg is not compared.
func (r resp) wantError(t *testing.T, what string, status int, code, msg string) resp {
	t.Helper()
	r.want(t, what, status)
	if r.json["statusCode"] != float64(status) || r.json["error"] != http.StatusText(status) || r.json["code"] != code ||
		(msg != "" && r.json["message"] != msg) {
		t.Errorf("%s: envelope %s, want %d %s %q", what, r.body, status, code, msg)
	}
	return r
}

// wantValidation checks a validation answer names exactly fields (field
// to code) with one message each.
func (r resp) wantValidation(t *testing.T, what string, fields map[string]string) {
	t.Helper()
	r.wantError(t, what, http.StatusBadRequest, "validation_failed", "")
	got := map[string]string{}
	errs, _ := r.json["errors"].(map[string]any)
	for k, v := range errs {
		got[k], _ = v.(string)
	}
	if !reflect.DeepEqual(got, fields) {
		t.Errorf("%s: errors %v, want %v", what, got, fields)
	}
	msgs, _ := r.json["message"].([]any)
	if len(msgs) != len(fields) {
		t.Errorf("%s: messages %v, want %d", what, r.json["message"], len(fields))
	}
}

func (r resp) obj(key string) map[string]any {
	m, _ := r.json[key].(map[string]any)
	return m
}

func wantNum(t *testing.T, what string, m map[string]any, key string, want float64) {
	t.Helper()
	if m[key] != want {
		t.Errorf("%s: %s = %v, want %v", what, key, m[key], want)
	}
}

func TestAPI(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			for _, tc := range []struct {
				name string
				run  func(*testing.T, *env)
			}{
				{"Authorization", testAuthorization},
				{"Balance", testBalance},
				{"UseValidation", testUseValidation},
				{"UseBody", testUseBody},
				{"Use", testUse},
				{"Replay", testReplay},
				{"IdempotencyKeyReused", testIdempotencyKeyReused},
				{"TextFields", testTextFields},
				{"Insufficient", testInsufficient},
				{"Transactions", testTransactions},
				{"PackageRequest", testPackageRequest},
			} {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, e) })
			}
		})
	}
}

func testAuthorization(t *testing.T, e *env) {
	for _, tc := range []struct {
		name, path, method, auth string
		status                   int
		code, challenge          string
	}{
		{"no header", balancePath, "GET", "", 401, "missing_token", `Bearer`},
		{"another scheme", balancePath, "GET", "Basic dXNlcjpwYXNz", 401, "missing_token", `Bearer`},
		{"scheme without token", balancePath, "GET", "Bearer   ", 401, "missing_token", `Bearer`},
		{"token without scheme", balancePath, "GET", userToken("a1"), 401, "missing_token", `Bearer`},
		{"use without token", usePath, "POST", "", 401, "missing_token", `Bearer`},
		{"refused token", balancePath, "GET", "Bearer " + tokExpired, 401, "invalid_token", `Bearer error="invalid_token"`},
		{"token without subject", balancePath, "GET", "Bearer " + tokNoSub, 401, "invalid_token", ""},
		{"client token", balancePath, "GET", "Bearer " + tokClient, 403, "insufficient_scope", ""},
		{"verifier failing", balancePath, "GET", "Bearer " + tokBroken, 500, "internal_error", ""},
		{"read without credits:read", balancePath, "GET", "Bearer w:a1", 403, "insufficient_scope", `Bearer error="insufficient_scope", scope="credits:read"`},
		{"transactions without credits:read", txPath, "GET", "Bearer w:a1", 403, "insufficient_scope", `Bearer error="insufficient_scope", scope="credits:read"`},
		{"use without credits:write", usePath, "POST", "Bearer r:a1", 403, "insufficient_scope", `Bearer error="insufficient_scope", scope="credits:write"`},
		{"purchase without credits:write", purchasePath, "POST", "Bearer r:a1", 403, "insufficient_scope", `Bearer error="insufficient_scope", scope="credits:write"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.method == http.MethodPost {
				body = map[string]any{"amount": 1, "appId": "chat", "description": "d", "packageId": "credits-500"}
			}
			r := e.do(t, tc.method, tc.path, "", body, "Authorization", tc.auth)
			r.wantError(t, tc.name, tc.status, tc.code, "")
			if got := r.header.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
			}
			if strings.Contains(r.body, "10.1.2.3") || strings.Contains(r.body, "refused") {
				t.Errorf("the verifier's error leaked: %s", r.body)
			}
		})
	}
	// The scheme is case-insensitive (RFC 7235, RFC 6750 §2.1).
	for _, scheme := range []string{"bearer", "BEARER", "Bearer", "bEaReR"} {
		r := e.do(t, http.MethodGet, balancePath, "", nil, "Authorization", scheme+"  "+userToken("a2")+" ")
		r.want(t, scheme, http.StatusOK)
		r = e.do(t, http.MethodPost, usePath, "", map[string]any{"amount": 1, "appId": "chat", "description": "d"},
			"Authorization", scheme+" "+userToken("a2"))
		r.want(t, scheme+" use", http.StatusOK)
	}
	// Nothing was spent by a refused request.
	b, err := e.svc.Balance(t.Context(), "a1")
	if err != nil || b.TotalSpent != 0 {
		t.Errorf("a1 spent %d (%v) with refused tokens", b.TotalSpent, err)
	}
}

func testBalance(t *testing.T, e *env) {
	r := e.do(t, http.MethodGet, balancePath, userToken("b1"), nil).want(t, "balance", http.StatusOK)
	want := map[string]any{"balance": 0.0, "freeCreditsRemaining": 155.0, "totalEarned": 155.0, "totalSpent": 0.0, "dailyFreeCredits": 5.0}
	if !reflect.DeepEqual(r.json, want) {
		t.Errorf("balance = %s, want %v", r.body, want)
	}
}

func testUseValidation(t *testing.T, e *env) {
	long := func(n int) string { return strings.Repeat("x", n) }
	for _, tc := range []struct {
		name   string
		body   string
		fields map[string]string
	}{
		{"empty object", `{}`, map[string]string{"amount": "required", "appId": "required", "description": "required"}},
		{"everything wrong at once", `{"amount":"x","appId":"","extra":1,"metadata":[1]}`,
			map[string]string{"amount": "integer", "appId": "required", "description": "required", "extra": "not_allowed", "metadata": "object"}},
		{"amount zero", `{"amount":0,"appId":"a","description":"d"}`, map[string]string{"amount": "positive"}},
		{"amount negative", `{"amount":-1,"appId":"a","description":"d"}`, map[string]string{"amount": "positive"}},
		{"amount fraction", `{"amount":1.5,"appId":"a","description":"d"}`, map[string]string{"amount": "integer"}},
		{"amount string", `{"amount":"5","appId":"a","description":"d"}`, map[string]string{"amount": "integer"}},
		{"amount exponent", `{"amount":1e2,"appId":"a","description":"d"}`, map[string]string{"amount": "integer"}},
		{"amount null", `{"amount":null,"appId":"a","description":"d"}`, map[string]string{"amount": "required"}},
		{"amount missing", `{"appId":"a","description":"d"}`, map[string]string{"amount": "required"}},
		{"appId blank", `{"amount":1,"appId":"  ","description":"d"}`, map[string]string{"appId": "required"}},
		{"appId not a string", `{"amount":1,"appId":7,"description":"d"}`, map[string]string{"appId": "invalid"}},
		{"appId too long", `{"amount":1,"appId":"` + long(101) + `","description":"d"}`, map[string]string{"appId": "length"}},
		{"description too long", `{"amount":1,"appId":"a","description":"` + long(1001) + `"}`, map[string]string{"description": "length"}},
		{"idempotency key too long", `{"amount":1,"appId":"a","description":"d","idempotencyKey":"` + long(256) + `"}`,
			map[string]string{"idempotencyKey": "length"}},
		{"metadata a string", `{"amount":1,"appId":"a","description":"d","metadata":"x"}`, map[string]string{"metadata": "object"}},
		{"unknown fields", `{"amount":1,"appId":"a","description":"d","userId":"other","Amount":5}`,
			map[string]string{"userId": "not_allowed", "Amount": "not_allowed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.do(t, http.MethodPost, usePath, userToken("v1"), tc.body).wantValidation(t, tc.name, tc.fields)
		})
	}
	r := e.do(t, http.MethodPost, usePath, userToken("v1"), `{"amount":"x","appId":"","extra":1,"metadata":[1]}`)
	wantMsgs := []any{"amount must be an integer", "appId should not be empty", "description should not be empty",
		"property extra should not exist", "metadata must be an object"}
	if !reflect.DeepEqual(r.json["message"], wantMsgs) {
		t.Errorf("messages = %v, want %v", r.json["message"], wantMsgs)
	}
	if b, err := e.svc.Balance(t.Context(), "v1"); err != nil || b.TotalSpent != 0 {
		t.Errorf("refused requests spent %d (%v)", b.TotalSpent, err)
	}
}

func testUseBody(t *testing.T, e *env) {
	ok := `{"amount":1,"appId":"a","description":"d"}`
	for _, tc := range []struct {
		name, body string
		hdr        []string
		status     int
		code       string
	}{
		{"text content type", ok, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
		{"form content type", "amount=1", []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"},
		{"over the limit", `{"amount":1,"appId":"a","description":"` + strings.Repeat("x", maxBody) + `"}`, nil, 413, "body_too_large"},
		{"not json", "not json", nil, 400, "invalid_json"},
		{"empty", "", nil, 400, "invalid_json"},
		{"null", "null", nil, 400, "invalid_json"},
		{"array", `[` + ok + `]`, nil, 400, "invalid_json"},
		{"two objects", ok + ok, nil, 400, "invalid_json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.do(t, http.MethodPost, usePath, userToken("j1"), tc.body, tc.hdr...).wantError(t, tc.name, tc.status, tc.code, "")
		})
	}
	// Without a Content-Type the body is still read as JSON, as before.
	e.do(t, http.MethodPost, usePath, userToken("j1"), ok, "Content-Type", "").want(t, "no content type", http.StatusOK)
	e.do(t, http.MethodPost, usePath, userToken("j1"), ok, "Content-Type", "application/json; charset=utf-8").want(t, "charset", http.StatusOK)
}

func testUse(t *testing.T, e *env) {
	r := e.do(t, http.MethodPost, usePath, userToken("u1"),
		map[string]any{"amount": 25, "appId": " chat ", "description": "AI answer", "metadata": map[string]string{"model": "x"}}).
		want(t, "use", http.StatusOK)
	id, _ := r.obj("transaction")["id"].(string)
	if id == "" {
		t.Fatalf("use without a transaction id: %s", r.body)
	}
	// The old service's shape, field for field: apps parse it.
	want := map[string]any{
		"success": true,
		"transaction": map[string]any{"id": id, "type": "usage", "amount": -25.0, "appId": "chat", "description": "AI answer",
			"idempotencyKey": nil, "metadata": map[string]any{"model": "x"}, "createdAt": "2026-03-02T10:00:00Z"},
		"newBalance": map[string]any{"balance": 0.0, "freeCreditsRemaining": 130.0, "totalSpent": 25.0},
	}
	if !reflect.DeepEqual(r.json, want) {
		t.Errorf("use = %s\nwant %v", r.body, want)
	}
}

func testReplay(t *testing.T, e *env) {
	body := map[string]any{"amount": 10, "appId": "chat", "description": "once", "idempotencyKey": "key-1"}
	first := e.do(t, http.MethodPost, usePath, userToken("r1"), body).want(t, "use with key", http.StatusOK)
	again := e.do(t, http.MethodPost, usePath, userToken("r1"), body).want(t, "replay", http.StatusOK)
	if first.json["message"] != nil || again.json["message"] != "Transaction already processed" || again.json["success"] != true {
		t.Errorf("first %s\nreplay %s", first.body, again.body)
	}
	if !reflect.DeepEqual(first.obj("transaction"), again.obj("transaction")) {
		t.Errorf("replay transaction %v, want the original %v", again.obj("transaction"), first.obj("transaction"))
	}
	if again.obj("transaction")["idempotencyKey"] != "key-1" {
		t.Errorf("replay idempotencyKey = %v", again.obj("transaction")["idempotencyKey"])
	}
	wantNum(t, "replay newBalance", again.obj("newBalance"), "freeCreditsRemaining", 145)
	// The key is the user's own: another user's same key books anew.
	other := e.do(t, http.MethodPost, usePath, userToken("r2"), body).want(t, "other user's key", http.StatusOK)
	if other.json["message"] != nil || other.obj("transaction")["id"] == first.obj("transaction")["id"] {
		t.Errorf("other user's use replayed r1's: %s", other.body)
	}
}

func testInsufficient(t *testing.T, e *env) {
	e.do(t, http.MethodPost, usePath, userToken("i1"), map[string]any{"amount": 156, "appId": "chat", "description": "too much"}).
		wantError(t, "overspend", http.StatusBadRequest, "insufficient_credits", "Insufficient credits")
	r := e.do(t, http.MethodGet, balancePath, userToken("i1"), nil).want(t, "balance", http.StatusOK)
	wantNum(t, "after overspend", r.json, "freeCreditsRemaining", 155)
	e.do(t, http.MethodPost, usePath, userToken("i1"), map[string]any{"amount": 155, "appId": "chat", "description": "all of it"}).
		want(t, "spend everything", http.StatusOK)
}

func testTransactions(t *testing.T, e *env) {
	for _, d := range []string{"first", "second", "third"} {
		e.do(t, http.MethodPost, usePath, userToken("t1"), map[string]any{"amount": 1, "appId": "chat", "description": d}).want(t, d, http.StatusOK)
	}
	list := func(r resp) []string {
		t.Helper()
		var txs []map[string]any
		if err := json.Unmarshal([]byte(r.body), &txs); err != nil {
			t.Fatalf("transactions: %v: %s", err, r.body)
		}
		var out []string
		for _, tx := range txs {
			out = append(out, fmt.Sprint(tx["description"]))
		}
		return out
	}
	all := list(e.do(t, http.MethodGet, txPath, userToken("t1"), nil).want(t, "transactions", http.StatusOK))
	// The use bookings newest first, then the signup and daily grants.
	if len(all) != 5 || !slices.Equal(all[:3], []string{"third", "second", "first"}) {
		t.Errorf("transactions = %v", all)
	}
	if got := list(e.do(t, http.MethodGet, txPath+"?limit=1&offset=1", userToken("t1"), nil).want(t, "page", http.StatusOK)); !slices.Equal(got, []string{"second"}) {
		t.Errorf("limit=1&offset=1: %v", got)
	}
	e.do(t, http.MethodGet, txPath+"?limit=1000", userToken("t1"), nil).want(t, "limit above the maximum", http.StatusOK)
	// A user who never read a balance has no grants yet: an empty list, not null.
	if r := e.do(t, http.MethodGet, txPath, userToken("t2"), nil).want(t, "new user", http.StatusOK); strings.TrimSpace(r.body) != "[]" {
		t.Errorf("new user's transactions = %s, want []", r.body)
	}
	for _, tc := range []struct {
		query  string
		fields map[string]string
	}{
		{"limit=x", map[string]string{"limit": "invalid"}},
		{"limit=0", map[string]string{"limit": "invalid"}},
		{"limit=-5", map[string]string{"limit": "invalid"}},
		{"offset=-1", map[string]string{"offset": "invalid"}},
		{"offset=y", map[string]string{"offset": "invalid"}},
		{"limit=1.5&offset=z", map[string]string{"limit": "invalid", "offset": "invalid"}},
	} {
		e.do(t, http.MethodGet, txPath+"?"+tc.query, userToken("t1"), nil).wantValidation(t, tc.query, tc.fields)
	}
}

func testPackageRequest(t *testing.T, e *env) {
	for _, path := range []string{purchasePath, checkoutPath} {
		t.Run(path, func(t *testing.T) {
			for _, tc := range []struct {
				name, body string
				hdr        []string
				status     int
				code       string
				fields     map[string]string
			}{
				{"not json", `{"packageId":`, nil, 400, "invalid_json", nil},
				{"array", `["credits-500"]`, nil, 400, "invalid_json", nil},
				{"text content type", `{"packageId":"credits-500"}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", nil},
				{"over the limit", `{"packageId":"` + strings.Repeat("x", maxBody) + `"}`, nil, 413, "body_too_large", nil},
				{"wrong type", `{"packageId":500}`, nil, 400, "invalid_json", nil},
				{"missing", `{}`, nil, 400, "validation_failed", map[string]string{"packageId": "required"}},
				{"blank", `{"packageId":" "}`, nil, 400, "validation_failed", map[string]string{"packageId": "required"}},
				{"too long", `{"packageId":"` + strings.Repeat("p", 129) + `"}`, nil, 400, "validation_failed", map[string]string{"packageId": "length"}},
				{"unknown field", `{"packageId":"credits-500","priceEuroCents":1}`, nil, 400, "validation_failed", map[string]string{"priceEuroCents": "not_allowed"}},
				{"unknown package", `{"packageId":"credits-nope"}`, nil, 404, "package_not_found", nil},
			} {
				r := e.do(t, http.MethodPost, path, userToken("p1"), tc.body, tc.hdr...)
				if tc.fields != nil {
					r.wantValidation(t, tc.name, tc.fields)
					continue
				}
				r.wantError(t, tc.name, tc.status, tc.code, "")
			}
		})
	}
	r := e.do(t, http.MethodPost, purchasePath, "", `{"packageId":"credits-500"}`, "Authorization", "bearer "+userToken("p1")).
		want(t, "purchase", http.StatusOK)
	want := map[string]any{"purchaseId": "pur-1", "clientSecret": "pi_secret", "amount": 500.0, "currency": "eur"}
	if !reflect.DeepEqual(r.json, want) {
		t.Errorf("purchase = %s, want %v", r.body, want)
	}
	r = e.do(t, http.MethodPost, checkoutPath, userToken("p1"), `{"packageId":"credits-500"}`).want(t, "checkout", http.StatusOK)
	if r.json["url"] != "https://checkout.stripe.test/c/1" {
		t.Errorf("checkout = %s", r.body)
	}
}

func testIdempotencyKeyReused(t *testing.T, e *env) {
	body := map[string]any{"amount": 10, "appId": "chat", "description": "once", "idempotencyKey": "key-r"}
	first := e.do(t, http.MethodPost, usePath, userToken("k1"), body).want(t, "use with key", http.StatusOK)
	for _, change := range []map[string]any{{"amount": 1}, {"appId": "todo"}, {"description": "twice"}, {"metadata": map[string]int{"n": 1}}} {
		other := map[string]any{}
		maps.Copy(other, body)
		maps.Copy(other, change)
		e.do(t, http.MethodPost, usePath, userToken("k1"), other).
			wantError(t, fmt.Sprint("reused with ", change), http.StatusConflict, "idempotency_key_reused", "")
	}
	// The metadata compared is the JSON value, not its spelling.
	withMeta := `{"amount":10,"appId":"chat","description":"meta","idempotencyKey":"key-m","metadata":{"model":"x","n":1,"tags":["a","b"]}}`
	e.do(t, http.MethodPost, usePath, userToken("k1"), withMeta).want(t, "use with metadata", http.StatusOK)
	respelled := "{\"idempotencyKey\":\"key-m\", \"amount\":10, \"appId\":\"chat\", \"description\":\"meta\",\n" +
		"  \"metadata\": { \"tags\": [ \"a\", \"b\" ],\n\t\"n\": 1, \"model\": \"x\" } }"
	if r := e.do(t, http.MethodPost, usePath, userToken("k1"), respelled).want(t, "respelled metadata", http.StatusOK); r.json["message"] != "Transaction already processed" {
		t.Errorf("respelled metadata: %s, want a replay", r.body)
	}
	changed := `{"amount":10,"appId":"chat","description":"meta","idempotencyKey":"key-m","metadata":{"model":"y","n":1,"tags":["a","b"]}}`
	e.do(t, http.MethodPost, usePath, userToken("k1"), changed).
		wantError(t, "changed metadata", http.StatusConflict, "idempotency_key_reused", "")
	again := e.do(t, http.MethodPost, usePath, userToken("k1"), body).want(t, "replay", http.StatusOK)
	if again.json["message"] != "Transaction already processed" || !reflect.DeepEqual(first.obj("transaction"), again.obj("transaction")) {
		t.Errorf("replay %s, want the original %s", again.body, first.body)
	}
	if b, err := e.svc.Balance(t.Context(), "k1"); err != nil || b.TotalSpent != 20 {
		t.Errorf("k1 spent %d (%v)", b.TotalSpent, err)
	}
}

func testTextFields(t *testing.T, e *env) {
	for _, tc := range []struct {
		name, body, field string
	}{
		{"NUL in appId", `{"amount":1,"appId":"ch\u0000at","description":"d"}`, "appId"},
		{"NUL in description", `{"amount":1,"appId":"chat","description":"\u0000"}`, "description"},
		{"NUL in idempotencyKey", `{"amount":1,"appId":"chat","description":"d","idempotencyKey":"k\u0000"}`, "idempotencyKey"},
		{"invalid UTF-8 in appId", "{\"amount\":1,\"appId\":\"ch\xffat\",\"description\":\"d\"}", "appId"},
		{"invalid UTF-8 in description", "{\"amount\":1,\"appId\":\"chat\",\"description\":\"caf\xc3\"}", "description"},
		{"invalid UTF-8 in idempotencyKey", "{\"amount\":1,\"appId\":\"chat\",\"description\":\"d\",\"idempotencyKey\":\"\xed\xa0\x80\"}", "idempotencyKey"},
		{"invalid UTF-8 in metadata", "{\"amount\":1,\"appId\":\"chat\",\"description\":\"d\",\"metadata\":{\"m\":\"\xff\"}}", "metadata"},
		{"reserved idempotencyKey", `{"amount":1,"appId":"chat","description":"d","idempotencyKey":"stripe-refund:ch_1:100"}`, "idempotencyKey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.do(t, http.MethodPost, usePath, userToken("x1"), tc.body).wantValidation(t, tc.name, map[string]string{tc.field: "invalid"})
		})
	}
	if txs, err := e.svc.Transactions(t.Context(), "x1", credits.MaxLimit, 0); err != nil || slices.ContainsFunc(txs, func(tx credits.Transaction) bool {
		return tx.Type == credits.TypeUsage
	}) {
		t.Errorf("refused requests were booked: %+v, %v", txs, err)
	}
}

// TestPackageIDText: a package id that is not clean text is refused as an
// invalid field by the real billing, before Stripe is asked, on both
// backends.
func TestPackageIDText(t *testing.T) {
	base := stripemock.Start(t)
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			st, bs, err := creditsstore.New(databasetest.Open(t, database.Dialect(backend)))
			if err != nil {
				t.Fatal(err)
			}
			svc, err := credits.NewService(st, credits.Config{})
			if err != nil {
				t.Fatal(err)
			}
			b, err := stripebilling.New(stripebilling.Config{SecretKey: "sk_test_123", WebhookSecret: "whsec_x", APIBase: base,
				SuccessURL: "https://auth.example/ok", CancelURL: "https://auth.example/cancel"}, bs, svc)
			if err != nil {
				t.Fatal(err)
			}
			a := api.New(svc, verifier{testVerifier}, slog.New(slog.NewTextHandler(t.Output(), nil)))
			mux := http.NewServeMux()
			mux.Handle("POST "+purchasePath, a.Purchase(b))
			mux.Handle("POST "+checkoutPath, a.Checkout(b))
			e := &env{h: mux, svc: svc}
			for _, path := range []string{purchasePath, checkoutPath} {
				e.do(t, http.MethodPost, path, userToken("p1"), `{"packageId":"credits-500\u0000"}`).
					wantValidation(t, path+" NUL", map[string]string{"packageId": "invalid"})
				e.do(t, http.MethodPost, path, userToken("p1"), "{\"packageId\":\"credits-\xff500\"}").
					wantValidation(t, path+" invalid UTF-8", map[string]string{"packageId": "invalid"})
			}
			e.do(t, http.MethodPost, purchasePath, userToken("p1"), `{"packageId":"credits-500"}`).want(t, "clean package id", http.StatusOK)
			if ps, err := b.Purchases(t.Context(), "p1", 0, 0); err != nil || len(ps) != 1 {
				t.Errorf("purchases %+v, %v; want the one clean request's", ps, err)
			}
		})
	}
}
