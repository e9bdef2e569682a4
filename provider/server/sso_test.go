package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/oidc"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
	"github.com/manacore/mana-core-auth/provider/websession"
)

// sessionToToken posts to /api/v1/auth/session-to-token from the browser.
func (b *browser) sessionToToken(t *testing.T, origin string) *page {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.e.issuer+"/api/v1/auth/session-to-token", nil)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return b.do(t, req)
}

// TestSessionToToken: a first-party SPA turns the shared cookie into the
// login token pair, bound to the browser session; the session's end takes
// effect at once for it and for get-session.
func TestSessionToToken(t *testing.T) {
	origins := []string{"https://*.mana.test"}
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			e := setup(t, b, func(o *setupOpts) { o.corsOrigins = origins })
			br := e.browser(t)
			if p := br.get(t, "/api/auth/get-session"); p.status != http.StatusOK || strings.TrimSpace(p.body) != "null" {
				t.Fatalf("get-session without a session: %d %q", p.status, p.body)
			}
			if p := br.sessionToToken(t, ""); p.status != http.StatusUnauthorized || !strings.Contains(p.body, "No session cookie found") {
				t.Fatalf("without a cookie: %d %s", p.status, p.body)
			}
			f := e.codeFlow(t, br, e.rp(t, trustedID))
			var idClaims struct {
				SID string `json:"sid"`
			}
			if err := f.idToken.Claims(&idClaims); err != nil || idClaims.SID == "" {
				t.Fatalf("id token sid: %v", err)
			}

			p := br.sessionToToken(t, "https://todo.mana.test")
			if p.status != http.StatusOK {
				t.Fatalf("session-to-token: %d %s", p.status, p.body)
			}
			var pair struct {
				AccessToken  string `json:"accessToken"`
				RefreshToken string `json:"refreshToken"`
				ExpiresIn    int    `json:"expiresIn"`
				TokenType    string `json:"tokenType"`
				User         struct {
					Email string `json:"email"`
				} `json:"user"`
			}
			if err := json.Unmarshal([]byte(p.body), &pair); err != nil {
				t.Fatal(err)
			}
			if pair.TokenType != "Bearer" || pair.ExpiresIn != 900 || pair.RefreshToken == "" || pair.User.Email != userEmail {
				t.Errorf("session-to-token body: %s", p.body)
			}
			_, claims := e.verifyJWT(t, pair.AccessToken, jose.EdDSA)
			if claims["sid"] != idClaims.SID {
				t.Errorf("token bound to session %v, browser session is %s", claims["sid"], idClaims.SID)
			}
			if p := br.sessionToToken(t, "https://evil.example"); p.status != http.StatusForbidden {
				t.Errorf("foreign origin: %d", p.status)
			}
			if p := br.get(t, "/api/auth/get-session"); p.status != http.StatusOK || !strings.Contains(p.body, userEmail) || !strings.Contains(p.body, idClaims.SID) {
				t.Errorf("get-session: %d %s", p.status, p.body)
			}

			// Signing out in the browser ends it for the SPA at once.
			br.get(t, "/oauth2/logout?"+url.Values{"id_token_hint": {f.rawID}}.Encode())
			if p := br.get(t, "/api/auth/get-session"); strings.TrimSpace(p.body) != "null" {
				t.Errorf("get-session after logout: %s", p.body)
			}
			if e.active(t, pair.AccessToken) || e.active(t, pair.RefreshToken) {
				t.Error("session-to-token tokens survived the logout")
			}
			if p := br.sessionToToken(t, ""); p.status != http.StatusUnauthorized {
				t.Errorf("session-to-token after logout: %d", p.status)
			}
		})
	}
}

// logoutReceiver is an app's back-channel logout endpoint: it records the
// logout tokens it receives.
type logoutReceiver struct {
	mu     sync.Mutex
	tokens []string
	srv    *httptest.Server
}

func newLogoutReceiver(t *testing.T) *logoutReceiver {
	lr := &logoutReceiver{}
	lr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		lr.mu.Lock()
		lr.tokens = append(lr.tokens, r.PostForm.Get("logout_token"))
		lr.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(lr.srv.Close)
	return lr
}

func (lr *logoutReceiver) got() []string {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return append([]string(nil), lr.tokens...)
}

// checkLogoutToken verifies a logout token as a relying party must (OpenID
// Connect Back-Channel Logout 1.0, section 2.6).
func checkLogoutToken(t *testing.T, e *env, token, clientID, sid, sub string) {
	t.Helper()
	typ, claims := e.verifyJWT(t, token, jose.EdDSA)
	if typ != "logout+jwt" {
		t.Errorf("logout token typ %q", typ)
	}
	events, _ := claims["events"].(map[string]any)
	if _, ok := events["http://schemas.openid.net/event/backchannel-logout"]; !ok {
		t.Errorf("logout token without the back-channel logout event: %v", claims)
	}
	if _, ok := claims["nonce"]; ok {
		t.Error("logout token carries a nonce")
	}
	if claims["iss"] != e.issuer || !audHas(claims["aud"], clientID) || claims["sid"] != sid || claims["jti"] == nil || claims["iat"] == nil {
		t.Errorf("logout token claims for %s: %v (want sid %s)", clientID, claims, sid)
	}
	if sub != "" && claims["sub"] != sub {
		t.Errorf("logout token sub %v, want %s", claims["sub"], sub)
	}
}

func audHas(aud any, id string) bool {
	switch a := aud.(type) {
	case string:
		return a == id
	case []any:
		for _, x := range a {
			if x == id {
				return true
			}
		}
	}
	return false
}

// TestBackChannelLogout: two apps share one login; signing out in one (and
// signing out every device from the account) reaches both apps' back
// channels with verifiable logout tokens, and the session's tokens stop
// working at once.
func TestBackChannelLogout(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			e := setup(t, b)
			ctx := context.Background()
			recv := map[string]*logoutReceiver{"chat-bc": newLogoutReceiver(t), "todo-bc": newLogoutReceiver(t)}
			for id, lr := range recv {
				if err := e.store.CreateClient(ctx, &provider.Client{ID: id, Name: id, SecretHash: oidc.HashSecret(clientSecret), Trusted: true,
					RedirectURIs: []string{rpRedirect}, GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
					Scopes: strings.Fields(allScopes), BackchannelLogoutURI: lr.srv.URL + "/backchannel", CreatedAt: time.Now().UTC()}); err != nil {
					t.Fatal(err)
				}
			}
			br := e.browser(t)
			chat := e.codeFlow(t, br, e.rp(t, "chat-bc"))
			todo := e.codeFlow(t, br, e.rp(t, "todo-bc"))
			var c struct {
				SID string `json:"sid"`
			}
			if err := chat.idToken.Claims(&c); err != nil || c.SID == "" {
				t.Fatalf("sid: %v", err)
			}

			br.get(t, "/oauth2/logout?"+url.Values{"id_token_hint": {chat.rawID}}.Encode())
			for _, tok := range []string{chat.tok.RefreshToken, todo.tok.RefreshToken, todo.tok.AccessToken} {
				if e.active(t, tok) {
					t.Error("a token of the ended session is still active")
				}
			}
			if n, err := e.notifier.DeliverDue(ctx); err != nil || n != 2 {
				t.Fatalf("DeliverDue = %d, %v; want 2 deliveries", n, err)
			}
			for id, lr := range recv {
				got := lr.got()
				if len(got) != 1 {
					t.Fatalf("%s received %d logout tokens, want 1", id, len(got))
				}
				checkLogoutToken(t, e, got[0], id, c.SID, e.user.ID)
			}

			// Signing out every device from the account reaches the apps too.
			chat2 := e.codeFlow(t, br, e.rp(t, "chat-bc"))
			var c2 struct {
				SID string `json:"sid"`
			}
			_ = chat2.idToken.Claims(&c2)
			if _, err := e.sessions.EndAll(ctx, e.user.ID, "", websession.Ending{Reason: websession.EndAllRevoked}); err != nil {
				t.Fatal(err)
			}
			if n, err := e.notifier.DeliverDue(ctx); err != nil || n != 1 {
				t.Fatalf("DeliverDue after sign-out everywhere = %d, %v; want 1 (only chat-bc holds tokens of the new session)", n, err)
			}
			if got := recv["chat-bc"].got(); len(got) != 2 {
				t.Fatalf("chat-bc received %d tokens, want 2", len(got))
			} else {
				checkLogoutToken(t, e, got[1], "chat-bc", c2.SID, e.user.ID)
			}
			if e.active(t, chat2.tok.RefreshToken) {
				t.Error("refresh token survived sign-out everywhere")
			}
		})
	}
}
