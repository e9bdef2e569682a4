package server_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/oidc"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// Connected apps (issue 12): listing and revoking the consents of a user.

const connectedID = "notes-3p"

// addConnectedApp registers a third-party app with a logo and a
// back-channel logout endpoint served by a real test server.
func addConnectedApp(t *testing.T, e *env) *logoutReceiver {
	t.Helper()
	recv := newLogoutReceiver(t)
	if err := e.store.CreateClient(context.Background(), &provider.Client{ID: connectedID, Name: "Notes Elsewhere",
		SecretHash: oidc.HashSecret(clientSecret), RedirectURIs: []string{rpRedirect},
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scopes: strings.Fields(allScopes), LogoURI: "https://notes.example.com/logo.png",
		BackchannelLogoutURI: recv.srv.URL + "/backchannel", CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	return recv
}

// consentFlow runs the code flow of a third-party app: sign-in if needed,
// "Allow" with "remember" on the consent page, code exchange, ID token
// verified by go-oidc.
func (e *env) consentFlow(t testing.TB, b *browser, r *rp) *flow {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	state, nonce := randString(12), randString(12)
	p := b.get(t, r.cfg.AuthCodeURL(state, gooidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)))
	if isLoginPage(p) {
		p = b.login(t, p, false)
	}
	if p.status == http.StatusOK && p.url.Path == "/consent" {
		challenge := submatch(t, challengeRE, p.body, "consent challenge")
		p = b.post(t, "/consent", url.Values{"challenge": {challenge}, "action": {"allow"}, "remember": {"1"}})
	}
	code := e.code(t, p, state)
	tok, err := r.cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("verify id token: %v", err)
	}
	return &flow{tok: tok, rawID: raw, idToken: idt, nonce: nonce}
}

func TestConsentsAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		ctx := context.Background()
		recv := addConnectedApp(t, e)
		br := e.browser(t)
		f := e.consentFlow(t, br, e.rp(t, connectedID))
		var c struct {
			SID string `json:"sid"`
		}
		if err := f.idToken.Claims(&c); err != nil || c.SID == "" {
			t.Fatalf("sid: %v", err)
		}
		if f.tok.RefreshToken == "" || !e.active(t, f.tok.AccessToken) {
			t.Fatal("the app got no live token pair")
		}
		l := e.apiLogin(t, userEmail, userPassword)
		// A consent left from before a client became first-party decides
		// nothing and is not listed.
		if err := e.store.SaveConsent(ctx, &provider.Consent{UserID: e.user.ID, ClientID: trustedID, Scopes: []string{"openid"},
			GrantedAt: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}

		e.api(t, http.MethodGet, "/api/v1/auth/consents", "", nil).wantError(t, "anonymous", http.StatusUnauthorized, "missing_token", "")
		e.api(t, http.MethodDelete, "/api/v1/auth/consents/"+connectedID, "", nil).wantError(t, "anonymous revoke", http.StatusUnauthorized, "missing_token", "")
		// The app's own token may not manage the user's consents.
		e.api(t, http.MethodGet, "/api/v1/auth/consents", f.tok.AccessToken, nil).wantError(t, "third-party token", http.StatusForbidden, "", "")

		r := e.api(t, http.MethodGet, "/api/v1/auth/consents", l.access, nil).want(t, "list", http.StatusOK)
		list, _ := r.json["consents"].([]any)
		if len(list) != 1 {
			t.Fatalf("consents = %s, want one", r.body)
		}
		got, _ := list[0].(map[string]any)
		scopes := []string{}
		for _, s := range got["scopes"].([]any) {
			scopes = append(scopes, s.(string))
		}
		granted, err := time.Parse(time.RFC3339, got["grantedAt"].(string))
		if got["clientId"] != connectedID || got["name"] != "Notes Elsewhere" || got["logoUri"] != "https://notes.example.com/logo.png" ||
			!slices.Contains(scopes, "profile") || !slices.Contains(scopes, "offline_access") || err != nil || time.Since(granted) > time.Minute {
			t.Errorf("consent entry %v", got)
		}

		e.api(t, http.MethodDelete, "/api/v1/auth/consents/unknown-app", l.access, nil).
			wantError(t, "unknown client", http.StatusNotFound, "consent_not_found", "")
		e.api(t, http.MethodDelete, "/api/v1/auth/consents/%00x", l.access, nil).
			wantError(t, "client id that is not clean text", http.StatusNotFound, "consent_not_found", "")
		if n := len(recv.got()); n != 0 {
			t.Fatalf("%d logouts before the revocation", n)
		}

		e.api(t, http.MethodDelete, "/api/v1/auth/consents/"+connectedID, l.access, nil).want(t, "revoke", http.StatusOK)
		if e.active(t, f.tok.AccessToken) || e.active(t, f.tok.RefreshToken) {
			t.Error("a token of the app survived the revocation (introspection)")
		}
		if rr := e.refresh(t, connectedID, f.tok.RefreshToken); rr.status != http.StatusBadRequest || rr.str("error") != "invalid_grant" {
			t.Errorf("refresh after revocation: %d %s", rr.status, rr.body)
		}
		if n, err := e.notifier.DeliverDue(ctx); err != nil || n != 1 {
			t.Fatalf("DeliverDue = %d, %v; want 1", n, err)
		}
		tokens := recv.got()
		if len(tokens) != 1 {
			t.Fatalf("the app received %d logout tokens, want 1", len(tokens))
		}
		checkLogoutToken(t, e, tokens[0], connectedID, c.SID, e.user.ID)
		if e.eventTypes(t, e.user.ID)[provider.EventConsentRevoked] != 1 {
			t.Error("the revocation is not audited")
		}
		// The user's own sign-ins are untouched.
		if ok, _ := e.valid(t, l.access); !ok {
			t.Error("the first-party token died with the app's consent")
		}
		r = e.api(t, http.MethodGet, "/api/v1/auth/consents", l.access, nil).want(t, "list after", http.StatusOK)
		if list, _ := r.json["consents"].([]any); len(list) != 0 {
			t.Errorf("consents after revocation: %s", r.body)
		}
		e.api(t, http.MethodDelete, "/api/v1/auth/consents/"+connectedID, l.access, nil).
			wantError(t, "revoked twice", http.StatusNotFound, "consent_not_found", "")
		// The app has to ask again.
		p := br.get(t, e.rp(t, connectedID).cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if p.status != http.StatusOK || p.url.Path != "/consent" {
			t.Errorf("authorize after revocation: %d %s, want the consent page", p.status, p.url)
		}
	})
}

// TestConsentRevokeWithoutSession: an app holding no tokens of any browser
// session still hears of the revocation, by a logout token naming only
// the user.
func TestConsentRevokeWithoutSession(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		ctx := context.Background()
		recv := addConnectedApp(t, e)
		if err := e.store.SaveConsent(ctx, &provider.Consent{UserID: e.user.ID, ClientID: connectedID,
			Scopes: []string{"openid"}, GrantedAt: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
		l := e.apiLogin(t, userEmail, userPassword)
		e.api(t, http.MethodDelete, "/api/v1/auth/consents/"+connectedID, l.access, nil).want(t, "revoke", http.StatusOK)
		if n, err := e.notifier.DeliverDue(ctx); err != nil || n != 1 {
			t.Fatalf("DeliverDue = %d, %v; want 1", n, err)
		}
		tokens := recv.got()
		if len(tokens) != 1 {
			t.Fatalf("%d logout tokens, want 1", len(tokens))
		}
		_, claims := e.verifyJWT(t, tokens[0], "EdDSA")
		if claims["sub"] != e.user.ID || claims["sid"] != nil {
			t.Errorf("logout token claims %v, want sub only", claims)
		}
	})
}

func TestAccountConnectedAppsPage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		addConnectedApp(t, e)
		br := e.browser(t)
		p := br.get(t, "/account")
		if isLoginPage(p) {
			br.login(t, p, false)
		}
		p = br.get(t, "/account")
		if !strings.Contains(p.body, `data-testid="apps-none"`) {
			t.Errorf("account page without apps does not say so")
		}
		f := e.consentFlow(t, br, e.rp(t, connectedID))
		p = br.get(t, "/account")
		for _, want := range []string{`data-testid="connected-app"`, "Notes Elsewhere", `src="https://notes.example.com/logo.png"`,
			"See your name and profile picture", `name="client_id" value="` + connectedID + `"`} {
			if !strings.Contains(p.body, want) {
				t.Errorf("connected apps section lacks %q", want)
			}
		}
		p = br.post(t, "/account/apps/revoke", url.Values{"client_id": {"unknown-app"}})
		if p.status != http.StatusNotFound || !strings.Contains(p.body, "This app has no access to your account.") {
			t.Errorf("revoking an unknown app: %d", p.status)
		}
		p = br.post(t, "/account/apps/revoke", url.Values{"client_id": {connectedID}})
		if p.status != http.StatusOK || p.url.Path != "/account" {
			t.Fatalf("revoke: %d %s", p.status, p.url)
		}
		if !strings.Contains(p.body, "Access removed. The app was signed out.") || strings.Contains(p.body, `data-testid="connected-app"`) {
			t.Errorf("after revoking, the page still lists the app or says nothing")
		}
		if e.active(t, f.tok.RefreshToken) {
			t.Error("the app's refresh token survived")
		}
		// German.
		req, err := http.NewRequest(http.MethodGet, e.issuer+"/account", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept-Language", "de-DE,de;q=0.9")
		p = br.do(t, req)
		if !strings.Contains(p.body, "Verbundene Apps") {
			t.Error("German account page without its connected apps heading")
		}
	})
}
