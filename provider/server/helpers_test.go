package server_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/credits/billing/stripemock"
	"github.com/manacore/mana-core-auth/internal/app"
	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/admin"
	"github.com/manacore/mana-core-auth/provider/backchannel"
	"github.com/manacore/mana-core-auth/provider/keys"
	"github.com/manacore/mana-core-auth/provider/mail"
	"github.com/manacore/mana-core-auth/provider/oidc"
	"github.com/manacore/mana-core-auth/provider/ratelimit"
	"github.com/manacore/mana-core-auth/provider/server"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
	"github.com/manacore/mana-core-auth/provider/websession"
)

// The fixtures every environment is seeded with.
const (
	userEmail    = "alice@example.com"
	userPassword = "correct horse battery staple"
	userName     = "Alice"

	clientSecret = "s3cret-0123456789-abcdefghijklmnopqrstuvwxyz"

	trustedID      = "chat"        // first-party, confidential
	trusted2ID     = "todo"        // a second first-party app, for SSO
	thirdPartyID   = "thirdparty"  // needs consent
	publicID       = "spa"         // public, PKCE required
	rsaID          = "legacy"      // RS256 ID tokens
	serviceID      = "billing-svc" // client_credentials only
	nativeID       = "native"      // public, loopback redirect
	nativeRedirect = "http://127.0.0.1:8123/cb"
	rpOrigin       = "https://rp.example.test"
	rpRedirect     = rpOrigin + "/cb"
	rpPostLogout   = rpOrigin + "/logged-out"
	allScopes      = "openid profile email offline_access"
	testUserAgent  = "manaauth-e2e"
)

// env is one provider behind a real HTTP server on one backend.
type env struct {
	name   string
	issuer string
	store  provider.Store
	op     *oidc.Provider
	ring   *keys.Ring
	hasher *account.Hasher
	ts     *httptest.Server
	user   *provider.User
	// mail receives what the account service sends (see mailer).
	mail     mail.Sender
	accounts *account.Service
	sessions *websession.Manager
	// notifier queues back-channel logouts; tests deliver with DeliverDue.
	notifier *backchannel.Notifier
	// outbox sends the mail, running from setup to the end of the test.
	outbox *account.Outbox
	// credits is the credits service on the same database.
	credits *credits.Service
	// billingStore is the credits store billing books through.
	billingStore credits.BillingStore
	// issue 11, part B (erasure): the admin service (its retry worker is
	// driven by the tests) and the database handle, to query every table.
	admin *admin.Service
	db    *database.DB
}

type setupOpts struct {
	grace   time.Duration
	mailer  mail.Sender
	limiter ratelimit.Limiter
	backoff *ratelimit.Backoff
	limits  map[string]server.Limit
	// corsOrigins is CORS_ORIGINS.
	corsOrigins []string
	// trustedProxies is TRUSTED_PROXIES: trusting loopback lets a test
	// speak from any client address through X-Forwarded-For.
	trustedProxies []netip.Prefix
	// now, when set, is the clock of every component (token expiry, TOTP).
	now func() time.Time
	// wrapStore, when set, wraps the store every component uses.
	wrapStore func(provider.Store) provider.Store
	// billing serves purchases and the Stripe webhook through a
	// stripe-mock started for the test.
	billing bool
	// outbox tunes the mail outbox.
	outbox account.OutboxConfig
	// databaseURL, when set, rewrites the fresh database's URL (to put a
	// fault proxy in front of it).
	databaseURL func(string) string
	// redisURL is REDIS_URL; "" keeps limits in process.
	redisURL string
	// databaseTimeout is DATABASE_TIMEOUT when set.
	databaseTimeout time.Duration
	// loginBackoff is the login backoff policy the app builds itself
	// (with Redis when redisURL is set); off when zero.
	loginBackoff app.Backoff
	// hashing, when set, bounds the password hashing (issue 13).
	hashing *app.PasswordHashing
	// logs, when set, receives the log lines from warnings up.
	logs *logLines
	// admin, when set, adjusts the admin configuration (backends,
	// timeouts, ADMIN_USER_IDS).
	admin func(*admin.Config)
	// localhost names the issuer http://localhost:PORT instead of the
	// loopback address: passkeys need a domain name (issue 15).
	localhost bool
}

// logLines collects log output for tests that assert a fault was logged.
type logLines struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// count is how many lines contain s.
func (l *logLines) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for line := range strings.Lines(l.buf.String()) {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// discardMail drops messages; flows that read mail pass a real SMTP sender.
type discardMail struct{}

func (discardMail) Send(context.Context, mail.Message) error { return nil }

// setup starts a provider on a fresh database of backend b, built by the
// composition root exactly as manaauth serve builds it, and seeds it with
// the fixture user and clients.
func setup(t testing.TB, b storetest.Backend, opts ...func(*setupOpts)) *env {
	t.Helper()
	o := setupOpts{grace: 5 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	ctx := context.Background()
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	if o.localhost {
		issuer = fmt.Sprintf("http://localhost:%d", ts.Listener.Addr().(*net.TCPAddr).Port)
	}

	cfg, err := app.LoadConfig(func(string) string { return "" }, app.Tool)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseURL = databasetest.URL(t, b.Dialect)
	if o.databaseURL != nil {
		cfg.DatabaseURL = o.databaseURL(cfg.DatabaseURL)
	}
	if o.databaseTimeout > 0 {
		cfg.DatabaseTimeout = o.databaseTimeout
	}
	cfg.RedisURL = o.redisURL
	cfg.BaseURL = issuer
	cfg.SecretKey = []byte("0123456789abcdef0123456789abcdef-test-secret")
	cfg.CookieParent = "mana.test"
	cfg.RedirectLocalhost = false
	cfg.RefreshGrace = o.grace
	cfg.CORSOrigins = o.corsOrigins
	cfg.TrustedProxies = o.trustedProxies
	// Limits and the login backoff only where a test asks for them.
	cfg.Limits, cfg.LoginBackoff = map[string]server.Limit{}, o.loginBackoff
	if o.limiter != nil || o.redisURL != "" {
		cfg.Limits = o.limits
	}
	if o.billing {
		cfg.Stripe = app.Stripe{SecretKey: "sk_test_123", WebhookSecret: testWebhookSecret, APIBase: stripemock.Start(t)}
	}
	if o.admin != nil {
		o.admin(&cfg.Admin)
	}
	if o.hashing != nil {
		cfg.PasswordHashing = *o.hashing
	}
	if o.mailer == nil {
		o.mailer = discardMail{}
	}
	logLevel := slog.LevelError + 1 // quiet unless asked
	if os.Getenv("E2E_LOG") != "" {
		logLevel = slog.LevelDebug
	}
	var logOut io.Writer = os.Stderr
	if o.logs != nil {
		logOut, logLevel = o.logs, slog.LevelWarn
	}
	a, err := app.New(ctx, cfg, app.Options{
		Logger:         slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: logLevel})),
		Now:            o.now,
		Mailer:         o.mailer,
		PasswordParams: &account.Params{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16},
		WrapStore:      o.wrapStore,
		Limiter:        o.limiter,
		Backoff:        o.backoff,
		Outbox:         o.outbox,
	})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	runOutbox(t, a.Outbox)
	ts.Config.Handler = a.Handler
	ts.Start()
	t.Cleanup(ts.Close)

	e := &env{name: b.Name, issuer: issuer, store: a.Store, op: a.OP, ring: a.Ring, hasher: a.Hasher, ts: ts, mail: o.mailer,
		accounts: a.Accounts, sessions: a.Sessions, notifier: a.Notifier, outbox: a.Outbox, credits: a.Credits, billingStore: a.CreditsStore,
		admin: a.Admin, db: a.DB}
	hasher := a.Hasher
	store := a.Store
	hash, err := hasher.Hash(ctx, userPassword)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	e.user = &provider.User{ID: "user-alice-0001", Email: userEmail, EmailVerified: true, Name: userName,
		Role: provider.RoleUser, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := store.CreateUser(ctx, e.user); err != nil {
		t.Fatalf("create user: %v", err)
	}
	scopes := strings.Fields(allScopes)
	codeGrants := []string{"authorization_code", "refresh_token"}
	clients := []*provider.Client{
		{ID: trustedID, Name: "Chat", SecretHash: oidc.HashSecret(clientSecret), Trusted: true,
			RedirectURIs: []string{rpRedirect}, PostLogoutRedirectURIs: []string{rpPostLogout},
			GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials"}, Scopes: scopes},
		{ID: trusted2ID, Name: "Todo", SecretHash: oidc.HashSecret(clientSecret), Trusted: true,
			RedirectURIs: []string{rpRedirect}, GrantTypes: codeGrants, Scopes: scopes},
		{ID: thirdPartyID, Name: "Third Party", SecretHash: oidc.HashSecret(clientSecret),
			RedirectURIs: []string{rpRedirect}, GrantTypes: codeGrants, Scopes: scopes},
		{ID: publicID, Name: "SPA", Public: true, Trusted: true,
			RedirectURIs: []string{rpRedirect}, GrantTypes: codeGrants, Scopes: scopes},
		{ID: rsaID, Name: "Legacy", SecretHash: oidc.HashSecret(clientSecret), Trusted: true, IDTokenAlg: "RS256",
			RedirectURIs: []string{rpRedirect}, GrantTypes: codeGrants, Scopes: scopes},
		{ID: nativeID, Name: "Native", Public: true, Trusted: true,
			RedirectURIs: []string{nativeRedirect}, GrantTypes: codeGrants, Scopes: scopes},
		{ID: serviceID, Name: "Billing", SecretHash: oidc.HashSecret(clientSecret), Trusted: true,
			GrantTypes: []string{"client_credentials"}, Scopes: []string{"credits:read", "credits:write"}},
	}
	for _, c := range clients {
		c.ResponseTypes = []string{"code"}
		c.CreatedAt = now
		if err := store.CreateClient(ctx, c); err != nil {
			t.Fatalf("create client %s: %v", c.ID, err)
		}
	}
	return e
}

// runOutbox runs the mail outbox until the test ends, as App.Run would,
// and stops it before the app (set up earlier, so cleaned up later) closes.
func runOutbox(t testing.TB, o *account.Outbox) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); o.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// forEachBackend runs f as a subtest per storage backend.
func forEachBackend(t *testing.T, f func(t *testing.T, b storetest.Backend)) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) { f(t, b) })
	}
}

// rp is a relying party built only from go-oidc and x/oauth2.
type rp struct {
	provider *gooidc.Provider
	cfg      oauth2.Config
	verifier *gooidc.IDTokenVerifier
}

func (e *env) rp(t testing.TB, clientID string, algs ...string) *rp {
	t.Helper()
	p, err := gooidc.NewProvider(context.Background(), e.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	if len(algs) == 0 {
		algs = []string{gooidc.EdDSA}
	}
	secret := clientSecret
	if clientID == publicID {
		secret = ""
	}
	return &rp{
		provider: p,
		cfg: oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: p.Endpoint(),
			RedirectURL: rpRedirect, Scopes: strings.Fields(allScopes)},
		verifier: p.Verifier(&gooidc.Config{ClientID: clientID, SupportedSigningAlgs: algs}),
	}
}

// browser is a user agent with a cookie jar that stops at the first
// redirect leaving the provider, so the test can read the callback.
type browser struct {
	e *env
	c *http.Client
}

func (e *env) browser(t testing.TB) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	issuerHost := strings.TrimPrefix(e.issuer, "http://")
	return &browser{e: e, c: &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != issuerHost || len(via) > 10 {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}}
}

// page is a response with its body read.
type page struct {
	status int
	url    *url.URL // the URL of the final request
	header http.Header
	body   string
}

func (p *page) location(t testing.TB) *url.URL {
	t.Helper()
	loc := p.header.Get("Location")
	if loc == "" {
		t.Fatalf("no Location header (status %d, url %s): %.500s", p.status, p.url, p.body)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("bad Location %q: %v", loc, err)
	}
	return u
}

func (b *browser) do(t testing.TB, req *http.Request) *page {
	t.Helper()
	req.Header.Set("User-Agent", testUserAgent)
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &page{status: resp.StatusCode, url: resp.Request.URL, header: resp.Header, body: string(body)}
}

func (b *browser) get(t testing.TB, rawURL string) *page {
	t.Helper()
	if strings.HasPrefix(rawURL, "/") {
		rawURL = b.e.issuer + rawURL
	}
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b.do(t, req)
}

func (b *browser) post(t testing.TB, path string, form url.Values, hdr ...string) *page {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.e.issuer+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return b.do(t, req)
}

// isLoginPage reports whether p is the rendered login form.
func isLoginPage(p *page) bool {
	return p.status == http.StatusOK && p.url.Path == "/login" && strings.Contains(p.body, `data-testid="login-form"`)
}

// login fills in the login form the browser was sent to.
func (b *browser) login(t testing.TB, p *page, remember bool) *page {
	t.Helper()
	if !isLoginPage(p) {
		t.Fatalf("expected the login page, got %d %s: %.500s", p.status, p.url, p.body)
	}
	returnTo := p.url.Query().Get("return_to")
	if returnTo == "" {
		t.Fatalf("login page without return_to: %s", p.url)
	}
	form := url.Values{"email": {userEmail}, "password": {userPassword}, "return_to": {returnTo}}
	if remember {
		form.Set("remember", "1")
	}
	return b.post(t, "/login", form)
}

// callback asserts p redirects to the RP and returns the query it carries.
func (e *env) callback(t testing.TB, p *page) url.Values {
	t.Helper()
	if p.status != http.StatusSeeOther && p.status != http.StatusFound {
		t.Fatalf("expected a redirect to the RP, got %d at %s: %.800s", p.status, p.url, p.body)
	}
	u := p.location(t)
	if got := u.Scheme + "://" + u.Host + u.Path; got != rpRedirect {
		t.Fatalf("redirected to %s, want %s", u, rpRedirect)
	}
	q := u.Query()
	if q.Get("iss") != e.issuer {
		t.Errorf("iss on the authorization response = %q, want %q (RFC 9207)", q.Get("iss"), e.issuer)
	}
	return q
}

// code asserts p is a successful authorization response for state.
func (e *env) code(t testing.TB, p *page, state string) string {
	t.Helper()
	q := e.callback(t, p)
	if q.Get("error") != "" {
		t.Fatalf("authorization error %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != state {
		t.Errorf("state = %q, want %q", q.Get("state"), state)
	}
	if q.Get("code") == "" {
		t.Fatalf("no code in %v", q)
	}
	return q.Get("code")
}

func randString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// flow is one completed authorization code flow.
type flow struct {
	tok     *oauth2.Token
	rawID   string
	idToken *gooidc.IDToken
	nonce   string
}

// codeFlow signs the browser in if needed and exchanges the code with
// PKCE, verifying the ID token with go-oidc.
func (e *env) codeFlow(t testing.TB, b *browser, r *rp, extra ...oauth2.AuthCodeOption) *flow {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	state, nonce := randString(12), randString(12)
	opts := append([]oauth2.AuthCodeOption{gooidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}, extra...)
	p := b.get(t, r.cfg.AuthCodeURL(state, opts...))
	if isLoginPage(p) {
		p = b.login(t, p, false)
	}
	code := e.code(t, p, state)
	ctx := context.Background()
	tok, err := r.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("token response without id_token")
	}
	idt, err := r.verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify id token: %v", err)
	}
	if idt.Nonce != nonce {
		t.Errorf("nonce = %q, want %q", idt.Nonce, nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	return &flow{tok: tok, rawID: raw, idToken: idt, nonce: nonce}
}

// tokenResp is a raw response of a protocol endpoint.
type tokenResp struct {
	status int
	header http.Header
	body   string
	json   map[string]any
}

func (r *tokenResp) str(k string) string { s, _ := r.json[k].(string); return s }

// postForm posts form to path, with HTTP basic client authentication when
// clientID is not empty.
func (e *env) postForm(t testing.TB, path, clientID, secret string, form url.Values) *tokenResp {
	t.Helper()
	return e.postRaw(t, path, clientID, secret, "application/x-www-form-urlencoded", form.Encode())
}

func (e *env) postRaw(t testing.TB, path, clientID, secret, contentType, body string) *tokenResp {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if clientID != "" {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := &tokenResp{status: resp.StatusCode, header: resp.Header, body: string(b)}
	_ = json.Unmarshal(b, &out.json)
	return out
}

func (e *env) refresh(t testing.TB, clientID, refreshToken string) *tokenResp {
	t.Helper()
	return e.postForm(t, "/oauth2/token", clientID, clientSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
}

func (e *env) introspect(t testing.TB, token string) *tokenResp {
	t.Helper()
	r := e.postForm(t, "/oauth2/introspect", trustedID, clientSecret, url.Values{"token": {token}})
	if r.status != http.StatusOK {
		t.Fatalf("introspect: %d %s", r.status, r.body)
	}
	return r
}

func (e *env) active(t testing.TB, token string) bool {
	t.Helper()
	a, _ := e.introspect(t, token).json["active"].(bool)
	return a
}

// verifyJWT checks token against the published JWKS with go-jose v4 and
// returns its typ header and claims.
func (e *env) verifyJWT(t testing.TB, token string, alg jose.SignatureAlgorithm) (string, map[string]any) {
	t.Helper()
	resp, err := http.Get(e.issuer + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatalf("decode jwks: %v", err)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{alg})
	if err != nil {
		t.Fatalf("parse jwt: %v", err)
	}
	h := jws.Signatures[0].Header
	ks := set.Key(h.KeyID)
	if len(ks) != 1 {
		t.Fatalf("kid %q: %d keys in the JWKS", h.KeyID, len(ks))
	}
	payload, err := jws.Verify(ks[0])
	if err != nil {
		t.Fatalf("verify jwt against jwks: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	return typ, claims
}

// noLeak asserts a response body shows nothing of the internals.
func noLeak(t testing.TB, what, body string) {
	t.Helper()
	low := strings.ToLower(body)
	for _, bad := range []string{"goroutine", "panic", "sql", "pq:", "sqlstate", "runtime error", ".go:"} {
		if strings.Contains(low, bad) {
			t.Errorf("%s: body leaks %q: %.300s", what, bad, body)
		}
	}
}
