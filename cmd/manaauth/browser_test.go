package main

// The single sign-on story of issue 4 in a real browser: headless Chromium
// signs in to one app through the provider's login page, is signed in to a
// second app on another subdomain without typing, signs out in the first
// app and the second app's next silent check says "signed out". The second
// app asks for response_mode=form_post, so the provider's auto-submitting
// page runs in a real browser under its CSP.
//
// The provider runs in-process as `manaauth serve --dev` with
// BASE_URL=http://auth.mana.test:<port> and COOKIE_DOMAIN=.mana.test. The
// two relying parties (chat.mana.test and todo.mana.test) are small
// go-oidc/oauth2 web apps inside the test. Chromium maps *.mana.test to
// 127.0.0.1 with --host-resolver-rules; the apps' back-channel HTTP client
// does the same with its own dialer.
//
// The apps serve https with a certificate made here (Chromium trusts it by
// its key hash only): the provider, like the OAuth 2.0 Security BCP, accepts
// http redirect URIs for loopback hosts only, both when a client is
// registered and when a code is issued, so http://chat.mana.test/callback
// cannot be used. The provider itself stays on http, which --dev allows
// (see startBrowser for the one Chromium flag that takes).
//
// Screenshots of the login page and of /account are written to
// testdata/artifacts/ (git-ignored).

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/manacore/mana-core-auth/internal/browsertest"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
)

const (
	browserTestTimeout = 60 * time.Second // per backend, browser and servers included
	browserStepTimeout = 15 * time.Second // one navigation or form submission
	browserEmail       = "ada@mana.test"
	browserPassword    = "correct horse battery staple"
	artifactsDir       = "testdata/artifacts"
)

func TestBrowserSSOAcrossSubdomains(t *testing.T) {
	chromium := browsertest.Chromium(t)
	backends := []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "m.db") }},
		{"postgres", func(t *testing.T) string { return databasetest.NewPostgresDatabase(t) }},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			start := time.Now()
			testBrowserSSO(t, chromium, b.name, b.dsn(t))
			t.Logf("%s: browser SSO flow took %v", b.name, time.Since(start).Round(time.Millisecond))
		})
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// manaTestClient is the apps' back-channel HTTP client: *.mana.test is
// dialled on 127.0.0.1, as Chromium's host resolver rule does.
func manaTestClient() *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				host, port, err := net.SplitHostPort(addr)
				if err == nil && (host == "mana.test" || strings.HasSuffix(host, ".mana.test")) {
					addr = net.JoinHostPort("127.0.0.1", port)
				}
				return d.DialContext(ctx, network, addr)
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// appCertificate is a self-signed certificate for *.mana.test and the
// base64 SHA-256 of its public key, which Chromium is told to accept.
func appCertificate(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "mana.test"},
		DNSNames:     []string{"mana.test", "*.mana.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(spki)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, base64.StdEncoding.EncodeToString(sum[:])
}

func randomString() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// relyingParty is one tiny web app that signs its users in with the
// provider: authorization code flow with PKCE, state and nonce checked, the
// EdDSA ID token verified against the provider's JWKS, and a session cookie
// of its own.
type relyingParty struct {
	name, base string
	srv        *httptest.Server
	client     *http.Client // back channel to the provider

	// Set once the provider is up, before the first browser request.
	issuer     string
	oauth      oauth2.Config
	verifier   *oidc.IDTokenVerifier
	endSession string
	// formPost asks for response_mode=form_post: the provider's page posts
	// the response to /callback, submitted by its static script under the
	// provider's CSP.
	formPost bool

	mu        sync.Mutex
	formPosts int                    // authorization responses that arrived by form_post
	pending   map[string]pendingAuth // by state
	logouts   map[string]bool        // states of RP-initiated logouts under way
	sessions  map[string]*rpSession  // by the app's cookie value
	logins    []rpSession            // every sign-in, for the test to inspect
	errs      []string
}

type pendingAuth struct {
	verifier, nonce string
	silent          bool // prompt=none check
}

type rpSession struct {
	Email, Subject, SID, IDToken string
	AuthTime                     time.Time
	Silent                       bool
}

const rpCookie = "rp_session"

func newRelyingParty(t *testing.T, name string, cert tls.Certificate) *relyingParty {
	t.Helper()
	rp := &relyingParty{name: name, client: manaTestClient(), pending: map[string]pendingAuth{},
		logouts: map[string]bool{}, sessions: map[string]*rpSession{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", rp.handleHome)
	mux.HandleFunc("GET /callback", rp.handleCallback)
	mux.HandleFunc("POST /callback", rp.handleCallback)
	mux.HandleFunc("GET /check", rp.handleCheck)
	mux.HandleFunc("GET /logout", rp.handleLogout)
	rp.srv = httptest.NewUnstartedServer(mux)
	rp.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	rp.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	rp.base = fmt.Sprintf("https://%s.mana.test:%d", name, rp.srv.Listener.Addr().(*net.TCPAddr).Port)
	return rp
}

// start discovers the provider and starts serving.
func (rp *relyingParty) start(t *testing.T, ctx context.Context, issuer, secret string) {
	t.Helper()
	ctx = oidc.ClientContext(ctx, rp.client)
	p, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatalf("%s: discovery: %v", rp.name, err)
	}
	var meta struct {
		EndSession string   `json:"end_session_endpoint"`
		Algs       []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := p.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	if meta.EndSession == "" {
		t.Fatalf("discovery has no end_session_endpoint")
	}
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	rp.issuer, rp.endSession = issuer, meta.EndSession
	rp.oauth = oauth2.Config{ClientID: rp.name, ClientSecret: secret, Endpoint: ep, RedirectURL: rp.base + "/callback",
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", "offline_access"}}
	rp.verifier = p.Verifier(&oidc.Config{ClientID: rp.name, SupportedSigningAlgs: []string{oidc.EdDSA}})
	rp.srv.StartTLS()
	t.Cleanup(rp.srv.Close)
}

func (rp *relyingParty) page(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<!doctype html><html><head><title>%[1]s</title></head><body><h1>%[1]s</h1><p id="status">%[2]s</p></body></html>`,
		html.EscapeString(rp.name), html.EscapeString(msg))
}

func (rp *relyingParty) fail(w http.ResponseWriter, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	rp.mu.Lock()
	rp.errs = append(rp.errs, msg)
	rp.mu.Unlock()
	rp.page(w, http.StatusBadRequest, "error: "+msg)
}

func (rp *relyingParty) session(r *http.Request) *rpSession {
	c, err := r.Cookie(rpCookie)
	if err != nil {
		return nil
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.sessions[c.Value]
}

func (rp *relyingParty) handleHome(w http.ResponseWriter, r *http.Request) {
	if st := r.URL.Query().Get("state"); st != "" {
		rp.mu.Lock()
		ok := rp.logouts[st]
		delete(rp.logouts, st)
		rp.mu.Unlock()
		if ok {
			rp.page(w, http.StatusOK, "signed out")
			return
		}
	}
	if s := rp.session(r); s != nil {
		rp.page(w, http.StatusOK, "signed in as "+s.Email)
		return
	}
	rp.authorize(w, r, false)
}

func (rp *relyingParty) handleCheck(w http.ResponseWriter, r *http.Request) { rp.authorize(w, r, true) }

func (rp *relyingParty) authorize(w http.ResponseWriter, r *http.Request, silent bool) {
	state, nonce, verifier := randomString(), randomString(), oauth2.GenerateVerifier()
	rp.mu.Lock()
	rp.pending[state] = pendingAuth{verifier: verifier, nonce: nonce, silent: silent}
	rp.mu.Unlock()
	// Binds the state to this browser.
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
	if rp.formPost {
		opts = append(opts, oauth2.SetAuthURLParam("response_mode", "form_post"))
	}
	http.SetCookie(w, &http.Cookie{Name: "rp_state", Value: state, Path: "/", HttpOnly: true, Secure: true, SameSite: rp.sameSite()})
	if silent {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "none"))
	}
	http.Redirect(w, r, rp.oauth.AuthCodeURL(state, opts...), http.StatusFound)
}

// sameSite is the SameSite of the app's cookies: a form_post response is
// a cross-site POST, which carries no Lax cookie.
func (rp *relyingParty) sameSite() http.SameSite {
	if rp.formPost {
		return http.SameSiteNoneMode
	}
	return http.SameSiteLaxMode
}

func (rp *relyingParty) handleCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil || !rp.formPost {
			rp.fail(w, "unexpected POST callback (%v)", err)
			return
		}
		q = r.PostForm
		rp.mu.Lock()
		rp.formPosts++
		rp.mu.Unlock()
	}
	state := q.Get("state")
	c, err := r.Cookie("rp_state")
	if state == "" || err != nil || c.Value != state {
		rp.fail(w, "state %q does not match this browser's", state)
		return
	}
	rp.mu.Lock()
	p, ok := rp.pending[state]
	delete(rp.pending, state)
	rp.mu.Unlock()
	if !ok {
		rp.fail(w, "unknown or reused state")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: "rp_state", Path: "/", MaxAge: -1, Secure: true})
	if iss := q.Get("iss"); iss != rp.issuer { // RFC 9207
		rp.fail(w, "authorization response iss = %q, want %q", iss, rp.issuer)
		return
	}
	if e := q.Get("error"); e != "" {
		if p.silent && e == "login_required" {
			rp.endLocalSession(w, r)
			rp.page(w, http.StatusOK, "signed out")
			return
		}
		rp.fail(w, "authorization error %s: %s", e, q.Get("error_description"))
		return
	}
	ctx := oidc.ClientContext(r.Context(), rp.client)
	tok, err := rp.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		rp.fail(w, "code exchange: %v", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(ctx, raw)
	if err != nil {
		rp.fail(w, "ID token: %v", err)
		return
	}
	if idt.Nonce != p.nonce {
		rp.fail(w, "ID token nonce %q, want %q", idt.Nonce, p.nonce)
		return
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			rp.fail(w, "at_hash: %v", err)
			return
		}
	}
	var claims struct {
		Email    string `json:"email"`
		SID      string `json:"sid"`
		AuthTime int64  `json:"auth_time"`
	}
	if err := idt.Claims(&claims); err != nil {
		rp.fail(w, "ID token claims: %v", err)
		return
	}
	if claims.Email == "" || claims.SID == "" {
		rp.fail(w, "ID token lacks email or sid: %+v", claims)
		return
	}
	s := &rpSession{Email: claims.Email, Subject: idt.Subject, SID: claims.SID, IDToken: raw,
		AuthTime: time.Unix(claims.AuthTime, 0), Silent: p.silent}
	id := randomString()
	rp.mu.Lock()
	rp.sessions[id] = s
	rp.logins = append(rp.logins, *s)
	rp.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: rpCookie, Value: id, Path: "/", HttpOnly: true, Secure: true, SameSite: rp.sameSite()})
	if p.silent {
		rp.page(w, http.StatusOK, "signed in as "+s.Email)
		return
	}
	http.Redirect(w, r, "/", http.StatusFound)
}

func (rp *relyingParty) endLocalSession(w http.ResponseWriter, r *http.Request) *rpSession {
	c, err := r.Cookie(rpCookie)
	if err != nil {
		return nil
	}
	rp.mu.Lock()
	s := rp.sessions[c.Value]
	delete(rp.sessions, c.Value)
	rp.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: rpCookie, Path: "/", MaxAge: -1, Secure: true})
	return s
}

// handleLogout is RP-initiated logout: end the app's session, then send
// the browser to the provider's end_session_endpoint, which comes back to
// "/" with the state.
func (rp *relyingParty) handleLogout(w http.ResponseWriter, r *http.Request) {
	s := rp.endLocalSession(w, r)
	if s == nil {
		http.Redirect(w, r, "/", http.StatusFound)
		return
	}
	state := randomString()
	rp.mu.Lock()
	rp.logouts[state] = true
	rp.mu.Unlock()
	q := url.Values{"id_token_hint": {s.IDToken}, "post_logout_redirect_uri": {rp.base + "/"}, "state": {state}}
	http.Redirect(w, r, rp.endSession+"?"+q.Encode(), http.StatusFound)
}

func (rp *relyingParty) snapshot() (logins []rpSession, errs []string) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return slices.Clone(rp.logins), slices.Clone(rp.errs)
}

// browser wraps the Chromium tab with waits that report where the browser
// ended up when the expected page does not come.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu        sync.Mutex
	documents []string // URLs of document requests, redirects included
}

// pageStates are the selectors that identify every page the flow can land
// on: the apps' status line, and the provider's pages.
var pageStates = []string{"#status", "[data-testid=login-form]", "[data-testid=account-email]",
	"[data-testid=logout-form]", "[data-testid=consent-form]", "[data-testid=error-title]", "[data-testid=error]"}

func (b *browser) resetDocuments() {
	b.mu.Lock()
	b.documents = nil
	b.mu.Unlock()
}

func (b *browser) documentURLs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.documents)
}

// do runs actions within one step's timeout.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v\n%s", what, err, b.where())
	}
}

// waitFor waits until the page shows want, failing with the page that was
// shown instead.
func (b *browser) waitFor(what, want string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	sels, _ := json.Marshal(pageStates)
	// A page marked stale by submit is the one being left: not an answer.
	js := `(() => { if (window.__staleManaPage || document.readyState !== "complete") return "";
		for (const s of ` + string(sels) + `) if (document.querySelector(s)) return s; return ""; })()`
	for {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err == nil && got != "" {
			if got != want {
				b.t.Fatalf("%s: expected page with %s, got page with %s\n%s", what, want, got, b.where())
			}
			return
		}
		select {
		case <-ctx.Done():
			b.t.Fatalf("%s: %s did not appear within %v (last error %v)\n%s", what, want, browserStepTimeout, err, b.where())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// where describes the current page for failure messages.
func (b *browser) where() string {
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if len(body) > 600 {
		body = body[:600] + "…"
	}
	return fmt.Sprintf("browser at %s\ndocuments requested: %q\npage text:\n%s", loc, b.documentURLs(), body)
}

func (b *browser) location() string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		b.t.Fatalf("location: %v", err)
	}
	return loc
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v\n%s", sel, err, b.where())
	}
	return strings.TrimSpace(s)
}

func (b *browser) cookies(urls ...string) []*network.Cookie {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: urls})
	if err != nil {
		b.t.Fatalf("get cookies: %v", err)
	}
	return res.Cookies
}

func (b *browser) screenshot(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(artifactsDir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(artifactsDir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	b.t.Logf("screenshot: %s", abs)
	return abs
}

// login fills the provider's login form.
func (b *browser) login() {
	b.t.Helper()
	b.do("fill in the login form",
		chromedp.WaitVisible(chromedp.CSS("[data-testid=email]")),
		chromedp.SendKeys(chromedp.CSS("[data-testid=email]"), browserEmail),
		chromedp.SendKeys(chromedp.CSS("[data-testid=password]"), browserPassword),
		chromedp.Evaluate[chromedp.Void](`window.__staleManaPage = true`),
		chromedp.Click(chromedp.CSS("[data-testid=submit]")),
	)
}

func startBrowser(t *testing.T, parent context.Context, chromium, spki, issuer string, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("host-resolver-rules", "MAP *.mana.test 127.0.0.1"),
		// Only the apps' test certificate, by its key, is accepted.
		chromedp.Flag("ignore-certificate-errors-spki-list", spki),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(parent, opts...)
	b := &browser{t: t}
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Type == network.ResourceTypeDocument && e.Request != nil {
			b.mu.Lock()
			b.documents = append(b.documents, e.Request.URL)
			b.mu.Unlock()
		}
	}))
	b.ctx = ctx
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx) // closes the browser gracefully
		cancelCtx()
		cancelAlloc()
	})
	// The first action starts the browser with the lifetime of its context,
	// so it runs on ctx itself (bounded by the test's deadline), not on a
	// shorter-lived child.
	if err := chromedp.Do(ctx); err != nil {
		browsertest.SkipOrFail(t, fmt.Sprintf("Chromium (%s) did not start: %v", chromium, err))
	}
	return b
}

func testBrowserSSO(t *testing.T, chromium, backend, dsn string) {
	ctx, cancel := context.WithTimeout(context.Background(), browserTestTimeout)
	t.Cleanup(cancel) // after the browser and the servers are gone

	port := freePort(t)
	issuer := fmt.Sprintf("http://auth.mana.test:%d", port)
	env := map[string]string{"DATABASE_URL": dsn, "PORT": strconv.Itoa(port), "BASE_URL": issuer,
		"COOKIE_DOMAIN": ".mana.test", "SECRET_KEY": strings.Repeat("b", 48), "LOG_LEVEL": "warn"}

	cert, spki := appCertificate(t)
	chat, todo := newRelyingParty(t, "chat", cert), newRelyingParty(t, "todo", cert)
	todo.formPost = true

	if out, _, err := runCmd(t, env, "users", "create", "--email", browserEmail, "--password", browserPassword,
		"--name", "Ada Lovelace", "--verified"); err != nil {
		t.Fatalf("users create: %v %s", err, out)
	}
	secrets := map[string]string{}
	for _, rp := range []*relyingParty{chat, todo} {
		out, _, err := runCmd(t, env, "clients", "create", "--id", rp.name, "--name", strings.ToUpper(rp.name[:1])+rp.name[1:],
			"--trusted", "--redirect-uri", rp.base+"/callback", "--post-logout-redirect-uri", rp.base+"/",
			"--scopes", "openid profile email offline_access", "--grant-types", "authorization_code,refresh_token")
		if err != nil {
			t.Fatalf("clients create %s: %v", rp.name, err)
		}
		m := regexp.MustCompile(`client_secret: (\S+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("clients create %s printed no secret: %q", rp.name, out)
		}
		secrets[rp.name] = m[1]
	}

	startServe(t, env, "--dev")
	chat.start(t, ctx, issuer, secrets["chat"])
	todo.start(t, ctx, issuer, secrets["todo"])
	b := startBrowser(t, ctx, chromium, spki, issuer)
	t.Cleanup(func() {
		for _, rp := range []*relyingParty{chat, todo} {
			if _, errs := rp.snapshot(); len(errs) > 0 {
				t.Errorf("%s reported errors: %q", rp.name, errs)
			}
		}
	})

	authURL, err := url.Parse(issuer)
	if err != nil {
		t.Fatal(err)
	}
	isLoginPage := func(u string) bool {
		p, err := url.Parse(u)
		return err == nil && p.Host == authURL.Host && p.Path == "/login"
	}

	// 1. App one sends the browser to the provider's real login page.
	b.do("open chat", chromedp.Navigate(chat.base+"/"))
	b.waitFor("open chat", "[data-testid=login-form]")
	if loc := b.location(); !isLoginPage(loc) {
		t.Fatalf("chat did not redirect to the provider's login page: at %s", loc)
	}
	if !strings.Contains(b.text("body"), "Chat") {
		t.Errorf("login page does not name the client Chat:\n%s", b.where())
	}
	b.screenshot("login-" + backend + ".png")

	// 2. Sign in through the form and land back at chat.
	b.login()
	b.waitFor("sign in at chat", "#status")
	if got, want := b.text("#status"), "signed in as "+browserEmail; got != want {
		t.Fatalf("chat after login: %q, want %q\n%s", got, want, b.where())
	}
	if loc := b.location(); !strings.HasPrefix(loc, chat.base+"/") {
		t.Fatalf("after login the browser is at %s, want chat", loc)
	}

	// The provider's session cookie is shared by every *.mana.test app.
	var session *network.Cookie
	for _, c := range b.cookies(issuer + "/") {
		if c.Name == "mana.session" {
			session = c
		}
	}
	switch {
	case session == nil:
		t.Fatalf("no mana.session cookie for %s; cookies: %v", issuer, cookieNames(b.cookies(issuer+"/")))
	case session.Domain != ".mana.test":
		t.Errorf("mana.session Domain = %q, want .mana.test", session.Domain)
	case !session.HTTPOnly:
		t.Error("mana.session is not HttpOnly")
	case session.SameSite != network.CookieSameSiteLax:
		t.Errorf("mana.session SameSite = %q, want Lax", session.SameSite)
	case session.Path != "/":
		t.Errorf("mana.session Path = %q, want /", session.Path)
	}
	if !slices.Contains(cookieNames(b.cookies(todo.base+"/")), "mana.session") {
		t.Error("mana.session is not sent to todo.mana.test")
	}

	// 3. App two: signed in without the login page.
	b.resetDocuments()
	b.do("open todo", chromedp.Navigate(todo.base+"/"))
	b.waitFor("open todo", "#status")
	if got, want := b.text("#status"), "signed in as "+browserEmail; got != want {
		t.Fatalf("todo: %q, want %q\n%s", got, want, b.where())
	}
	docs := b.documentURLs()
	sawAuthorize := false
	for _, u := range docs {
		if isLoginPage(u) {
			t.Errorf("the login page was shown for todo: %q", docs)
		}
		if strings.HasPrefix(u, issuer+"/oauth2/authorize?") && strings.Contains(u, "client_id=todo") {
			sawAuthorize = true
		}
	}
	if !sawAuthorize {
		t.Errorf("todo did not go through the provider's authorize endpoint: %q", docs)
	}
	if loc := b.location(); loc != todo.base+"/" {
		t.Errorf("todo ended at %s, want %s/", loc, todo.base)
	}
	chatLogins, _ := chat.snapshot()
	todoLogins, _ := todo.snapshot()
	if len(chatLogins) != 1 || len(todoLogins) != 1 {
		t.Fatalf("logins: chat %d, todo %d; want 1 each", len(chatLogins), len(todoLogins))
	}
	todo.mu.Lock()
	formPosts := todo.formPosts
	todo.mu.Unlock()
	if formPosts != 1 {
		t.Errorf("todo got %d form_post responses, want 1 (its sign-in)", formPosts)
	}
	if c, d := chatLogins[0], todoLogins[0]; c.SID != d.SID || c.Subject != d.Subject || !c.AuthTime.Equal(d.AuthTime) {
		t.Errorf("todo's ID token is not from chat's browser session: chat sid=%s sub=%s auth_time=%v, todo sid=%s sub=%s auth_time=%v",
			c.SID, c.Subject, c.AuthTime, d.SID, d.Subject, d.AuthTime)
	}

	// A silent check while signed in says so.
	b.do("todo check (signed in)", chromedp.Navigate(todo.base+"/check"))
	b.waitFor("todo check (signed in)", "#status")
	if got, want := b.text("#status"), "signed in as "+browserEmail; got != want {
		t.Fatalf("todo /check before logout: %q, want %q", got, want)
	}

	// 4. Sign out in app one: the provider ends the session without a
	// confirmation (the hint names it) and returns to chat with the state.
	b.resetDocuments()
	b.do("sign out at chat", chromedp.Navigate(chat.base+"/logout"))
	b.waitFor("sign out at chat", "#status")
	if got := b.text("#status"); got != "signed out" {
		t.Fatalf("chat after logout: %q, want \"signed out\"\n%s", got, b.where())
	}
	if loc := b.location(); !strings.HasPrefix(loc, chat.base+"/?state=") {
		t.Errorf("after logout the browser is at %s, want %s/?state=…", loc, chat.base)
	}
	if docs := b.documentURLs(); !slices.ContainsFunc(docs, func(u string) bool { return strings.HasPrefix(u, issuer+"/oauth2/logout?") }) {
		t.Errorf("logout did not go through the provider's end_session_endpoint: %q", docs)
	}
	if names := cookieNames(b.cookies(issuer + "/")); slices.Contains(names, "mana.session") {
		t.Errorf("mana.session is still in the browser after logout: %v", names)
	}

	// 5. App two's next silent check is signed out.
	b.do("todo check (signed out)", chromedp.Navigate(todo.base+"/check"))
	b.waitFor("todo check (signed out)", "#status")
	if got := b.text("#status"); got != "signed out" {
		t.Fatalf("todo /check after logout in chat: %q, want \"signed out\"\n%s", got, b.where())
	}
	b.do("open todo (signed out)", chromedp.Navigate(todo.base+"/"))
	b.waitFor("open todo (signed out)", "[data-testid=login-form]")

	// 6. Sign in again and look at the account page.
	b.do("open chat again", chromedp.Navigate(chat.base+"/"))
	b.waitFor("open chat again", "[data-testid=login-form]")
	b.login()
	b.waitFor("sign in at chat again", "#status")
	if got, want := b.text("#status"), "signed in as "+browserEmail; got != want {
		t.Fatalf("chat after second login: %q, want %q", got, want)
	}
	b.do("open /account", chromedp.Navigate(issuer+"/account"))
	b.waitFor("open /account", "[data-testid=account-email]")
	if got := b.text("[data-testid=account-email]"); got != browserEmail {
		t.Errorf("account page shows %q, want %s", got, browserEmail)
	}
	b.do("account page", chromedp.WaitVisible(chromedp.CSS("[data-testid=this-device]")))
	b.screenshot("account-" + backend + ".png")
	if err := ctx.Err(); err != nil {
		t.Fatalf("the flow ran out of its %v: %v", browserTestTimeout, err)
	}
}

func cookieNames(cs []*network.Cookie) []string {
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	return names
}
