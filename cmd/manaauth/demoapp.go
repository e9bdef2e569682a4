package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// demoAppPath is where `serve --dev` serves the demo relying party.
const demoAppPath = "/demo"

// demoApp is a tiny relying party, built the way the README's "Connecting
// an app" recipe says (go-oidc + x/oauth2, code flow with PKCE), so `make
// run` ends in a sign-in a newcomer can click through. It exists only in
// --dev and keeps its state in memory.
type demoApp struct {
	issuer, clientID, secret string
	scopes                   []string
	client                   *http.Client
	page                     *template.Template

	mu       sync.Mutex
	provider *oidc.Provider
	pending  map[string]demoPending // by state
	sessions map[string]*demoResult // by cookie value
}

type demoPending struct {
	verifier, nonce string
	created         time.Time
}

// demoResult is what the app learned from one sign-in.
type demoResult struct {
	IDToken  string
	Claims   string // the ID token claims, pretty JSON
	UserInfo string
	Credits  string
	Problems []string
}

// demoMaxEntries bounds the in-memory state: a page anyone on the
// machine can hit must not grow without limit.
const demoMaxEntries = 1000

const (
	demoStateCookie   = "manaauth_demo_state"
	demoSessionCookie = "manaauth_demo_session"
)

func newDemoApp(issuer, clientID, secret string, scopes []string, client *http.Client) *demoApp {
	return &demoApp{issuer: issuer, clientID: clientID, secret: secret, scopes: scopes, client: client,
		page:    template.Must(template.New("demo").Parse(demoPage)),
		pending: map[string]demoPending{}, sessions: map[string]*demoResult{}}
}

// dialListener is the demo app's HTTP client: it reaches the provider at
// the address really bound, whatever name the http issuer uses, so the
// demo works even when that name does not resolve on this machine.
func dialListener(issuer string, addr net.Addr) *http.Client {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !strings.HasPrefix(issuer, "http://") {
		return &http.Client{Timeout: 10 * time.Second}
	}
	host := tcp.IP.String()
	if tcp.IP == nil || tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	target := net.JoinHostPort(host, strconv.Itoa(tcp.Port))
	var d net.Dialer
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, target)
	}}
	return &http.Client{Timeout: 10 * time.Second, Transport: tr}
}

func (d *demoApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case r.URL.Path == demoAppPath || r.URL.Path == demoAppPath+"/":
		d.home(w, r)
	case r.URL.Path == demoAppPath+"/login" && r.Method == http.MethodPost:
		d.login(w, r)
	case r.URL.Path == demoAppPath+"/callback" && r.Method == http.MethodGet:
		d.callback(w, r)
	case r.URL.Path == demoAppPath+"/logout" && r.Method == http.MethodPost:
		d.logout(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (d *demoApp) ctx(r *http.Request) context.Context {
	return oidc.ClientContext(r.Context(), d.client)
}

// discover reads the discovery document once it is first needed: the
// server is not answering yet when the demo app is built.
func (d *demoApp) discover(ctx context.Context) (*oidc.Provider, *oauth2.Config, error) {
	d.mu.Lock()
	p := d.provider
	d.mu.Unlock()
	if p == nil {
		var err error
		if p, err = oidc.NewProvider(ctx, d.issuer); err != nil {
			return nil, nil, fmt.Errorf("discovery: %w", err)
		}
		d.mu.Lock()
		d.provider = p
		d.mu.Unlock()
	}
	return p, &oauth2.Config{ClientID: d.clientID, ClientSecret: d.secret, Endpoint: p.Endpoint(),
		RedirectURL: d.issuer + demoAppPath + "/callback", Scopes: d.scopes}, nil
}

func randomToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (d *demoApp) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: demoAppPath, MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(d.issuer, "https://")}
}

func (d *demoApp) home(w http.ResponseWriter, r *http.Request) {
	var res *demoResult
	if c, err := r.Cookie(demoSessionCookie); err == nil {
		d.mu.Lock()
		res = d.sessions[c.Value]
		d.mu.Unlock()
	}
	d.render(w, http.StatusOK, res, r.URL.Query().Get("error"))
}

func (d *demoApp) render(w http.ResponseWriter, status int, res *demoResult, problem string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = d.page.Execute(w, map[string]any{"Issuer": d.issuer, "ClientID": d.clientID, "Result": res, "Error": problem,
		"Scopes": strings.Join(d.scopes, " ")})
}

func (d *demoApp) login(w http.ResponseWriter, r *http.Request) {
	_, conf, err := d.discover(d.ctx(r))
	if err != nil {
		d.render(w, http.StatusBadGateway, nil, err.Error())
		return
	}
	state, nonce, verifier := randomToken(), randomToken(), oauth2.GenerateVerifier()
	d.mu.Lock()
	if len(d.pending) >= demoMaxEntries {
		clear(d.pending)
	}
	d.pending[state] = demoPending{verifier: verifier, nonce: nonce, created: time.Now()}
	d.mu.Unlock()
	http.SetCookie(w, d.cookie(demoStateCookie, state, 600))
	http.Redirect(w, r, conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusSeeOther)
}

func (d *demoApp) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		d.render(w, http.StatusBadRequest, nil, "the provider answered "+e+": "+q.Get("error_description"))
		return
	}
	c, err := r.Cookie(demoStateCookie)
	state := q.Get("state")
	d.mu.Lock()
	p, ok := d.pending[state]
	delete(d.pending, state)
	d.mu.Unlock()
	if err != nil || c.Value != state || !ok || time.Since(p.created) > 10*time.Minute {
		d.render(w, http.StatusBadRequest, nil, "this sign-in was not started here or took too long: start again")
		return
	}
	http.SetCookie(w, d.cookie(demoStateCookie, "", -1))
	ctx := d.ctx(r)
	prov, conf, err := d.discover(ctx)
	if err != nil {
		d.render(w, http.StatusBadGateway, nil, err.Error())
		return
	}
	tok, err := conf.Exchange(context.WithValue(ctx, oauth2.HTTPClient, d.client), q.Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		d.render(w, http.StatusBadGateway, nil, "code exchange failed: "+err.Error())
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := prov.Verifier(&oidc.Config{ClientID: d.clientID}).Verify(ctx, raw)
	if err != nil || idt.Nonce != p.nonce {
		d.render(w, http.StatusBadGateway, nil, fmt.Sprintf("the ID token did not verify (nonce matches: %v): %v", err == nil, err))
		return
	}
	res := &demoResult{IDToken: raw}
	var claims map[string]any
	_ = idt.Claims(&claims)
	res.Claims = prettyJSON(claims)
	if ui, err := prov.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
		res.Problems = append(res.Problems, "userinfo: "+err.Error())
	} else {
		var m map[string]any
		_ = ui.Claims(&m)
		res.UserInfo = prettyJSON(m)
	}
	res.Credits, err = d.balance(ctx, tok.AccessToken)
	if err != nil {
		res.Problems = append(res.Problems, "credits balance: "+err.Error())
	}
	id := randomToken()
	d.mu.Lock()
	if len(d.sessions) >= demoMaxEntries {
		clear(d.sessions)
	}
	d.sessions[id] = res
	d.mu.Unlock()
	http.SetCookie(w, d.cookie(demoSessionCookie, id, 3600))
	http.Redirect(w, r, demoAppPath, http.StatusSeeOther)
}

// balance calls the credits API with the access token, as an app would.
func (d *demoApp) balance(ctx context.Context, accessToken string) (string, error) {
	if !strings.Contains(" "+strings.Join(d.scopes, " ")+" ", " credits:read ") {
		return "", errors.New("the demo client lacks the credits:read scope (it predates the demo app: delete the data directory to recreate it)")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.issuer+"/api/v1/credits/balance", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := d.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return "", fmt.Errorf("not JSON: %w", err)
	}
	return prettyJSON(m), nil
}

// logout forgets the local session and ends the provider session too
// (RP-initiated logout), coming back to the demo page.
func (d *demoApp) logout(w http.ResponseWriter, r *http.Request) {
	var res *demoResult
	if c, err := r.Cookie(demoSessionCookie); err == nil {
		d.mu.Lock()
		res = d.sessions[c.Value]
		delete(d.sessions, c.Value)
		d.mu.Unlock()
	}
	http.SetCookie(w, d.cookie(demoSessionCookie, "", -1))
	if res == nil {
		http.Redirect(w, r, demoAppPath, http.StatusSeeOther)
		return
	}
	q := url.Values{"id_token_hint": {res.IDToken}, "client_id": {d.clientID}, "post_logout_redirect_uri": {d.issuer + demoAppPath}}
	http.Redirect(w, r, d.issuer+"/oauth2/logout?"+q.Encode(), http.StatusSeeOther)
}

func prettyJSON(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "(cannot be shown: " + err.Error() + ")" // decoded JSON always encodes again
	}
	return string(b)
}

const demoPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo app · Mana Core Auth</title>
<style>
:root{color-scheme:light dark;font-family:system-ui,sans-serif}
body{max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
pre{background:color-mix(in srgb,CanvasText 8%,Canvas);padding:.75rem;border-radius:.5rem;overflow:auto}
button{font:inherit;padding:.5rem 1rem;border-radius:.5rem;cursor:pointer}
.error{border-left:4px solid #c62828;padding-left:.75rem}
.note{opacity:.8;font-size:.9rem}
</style></head>
<body>
<h1>Demo app</h1>
<p class="note">A relying party served by <code>manaauth serve --dev</code> only. It signs in with the client <code>{{.ClientID}}</code> at <code>{{.Issuer}}</code> (authorization code flow with PKCE, scopes <code>{{.Scopes}}</code>).</p>
{{with .Error}}<p class="error" role="alert">{{.}}</p>{{end}}
{{with .Result}}
<p id="signed-in"><strong>Signed in.</strong></p>
{{range .Problems}}<p class="error">{{.}}</p>{{end}}
<h2>ID token claims</h2>
<pre id="claims">{{.Claims}}</pre>
{{with .UserInfo}}<h2>Userinfo</h2>
<pre id="userinfo">{{.}}</pre>{{end}}
{{with .Credits}}<h2>Credits balance</h2>
<pre id="credits">{{.}}</pre>{{end}}
<form method="post" action="/demo/logout"><button type="submit">Sign out</button></form>
{{else}}
<p>Sign in with the demo user printed by <code>make run</code>.</p>
<form method="post" action="/demo/login"><button type="submit" id="sign-in">Sign in with Mana</button></form>
{{end}}
</body></html>`
