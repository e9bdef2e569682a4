package server_test

// issue 15 (passkeys): the HTTP layer's answers to everything a client can
// get wrong, on both backends. The successful ceremonies run in real
// Chromium with a virtual authenticator (cmd/manaauth TestBrowserPasskeys);
// the verification itself is provider/passkey's.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

func withLocalhost(o *setupOpts) { o.localhost = true }

// aCredential is a well-formed but unverifiable authenticator answer.
const aCredential = `{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AAAA","signature":"AAAA"}}`

// addStoredPasskey gives the user a passkey row directly (no ceremony):
// enough for what lists and offers depend on.
func (e *env) addStoredPasskey(t *testing.T, userID, name string) *provider.Passkey {
	t.Helper()
	p := &provider.Passkey{ID: "pk-" + name, UserID: userID, CredentialID: []byte("cred-" + name), PublicKey: []byte{1, 2, 3},
		AttestationType: "none", Name: name, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	if err := e.store.CreatePasskey(context.Background(), p); err != nil {
		t.Fatalf("create passkey: %v", err)
	}
	return p
}

func TestPasskeyAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b, withLocalhost)

		// Sign-in options: a challenge id and the publicKey options of a
		// discoverable request for our RP id, with or without a body.
		for _, body := range []any{nil, "{}"} {
			r := e.post(t, "/api/v1/auth/passkeys/login/options", body).want(t, "login options", http.StatusOK)
			pk := r.obj("publicKey")
			if r.str("challengeId") == "" || pk["challenge"] == "" || pk["rpId"] != "localhost" {
				t.Fatalf("login options: %s", r.body)
			}
			if ac, ok := pk["allowCredentials"].([]any); ok && len(ac) > 0 {
				t.Errorf("a discoverable request names credentials: %v", ac)
			}
		}
		e.post(t, "/api/v1/auth/passkeys/login/options", `{"email":"x"}`).wantError(t, "login options with a stray member", http.StatusBadRequest, "validation_failed", "")

		// Verify: bad input is 400, a failed ceremony 401, never a 500.
		e.post(t, "/api/v1/auth/passkeys/login/verify", `{}`).wantError(t, "verify without anything", http.StatusBadRequest, "validation_failed", "")
		e.post(t, "/api/v1/auth/passkeys/login/verify", `{"challengeId":"x","credential":"text"}`).
			wantError(t, "verify with a credential that is no object", http.StatusBadRequest, "", "")
		e.post(t, "/api/v1/auth/passkeys/login/verify", `{"challengeId":"unknown","credential":`+aCredential+`}`).
			wantError(t, "verify with an unknown challenge", http.StatusUnauthorized, "passkey_failed", "")
		opts := e.post(t, "/api/v1/auth/passkeys/login/options", nil).want(t, "login options", http.StatusOK)
		e.post(t, "/api/v1/auth/passkeys/login/verify", `{"challengeId":"`+opts.str("challengeId")+`","credential":{"id":"x"}}`).
			wantError(t, "verify with a malformed answer", http.StatusUnauthorized, "passkey_failed", "")
		// The challenge was used up by the failed answer.
		e.post(t, "/api/v1/auth/passkeys/login/verify", `{"challengeId":"`+opts.str("challengeId")+`","credential":`+aCredential+`}`).
			wantError(t, "verify with a used challenge", http.StatusUnauthorized, "passkey_failed", "")

		// The account API: a token of a first-party login, and the
		// password again before a registration.
		e.api(t, http.MethodGet, "/api/v1/auth/passkeys", "", nil).wantError(t, "list without a token", http.StatusUnauthorized, "missing_token", "")
		tok := e.apiLogin(t, userEmail, userPassword).access
		list := e.api(t, http.MethodGet, "/api/v1/auth/passkeys", tok, nil).want(t, "list", http.StatusOK)
		if ps, ok := list.json["passkeys"].([]any); !ok || len(ps) != 0 {
			t.Fatalf("passkeys of a user without any: %s", list.body)
		}
		e.api(t, http.MethodPost, "/api/v1/auth/passkeys/register/options", tok, `{}`).
			wantError(t, "register options without the password", http.StatusBadRequest, "validation_failed", "")
		e.api(t, http.MethodPost, "/api/v1/auth/passkeys/register/options", tok, `{"password":"wrong password"}`).
			wantError(t, "register options with a wrong password", http.StatusUnauthorized, "invalid_credentials", "")
		reg := e.api(t, http.MethodPost, "/api/v1/auth/passkeys/register/options", tok, `{"password":"`+userPassword+`"}`).
			want(t, "register options", http.StatusOK)
		pk := reg.obj("publicKey")
		rp, _ := pk["rp"].(map[string]any)
		user, _ := pk["user"].(map[string]any)
		sel, _ := pk["authenticatorSelection"].(map[string]any)
		if reg.str("challengeId") == "" || rp["id"] != "localhost" || user["name"] != userEmail || sel["residentKey"] != "required" {
			t.Fatalf("register options: %s", reg.body)
		}
		e.api(t, http.MethodPost, "/api/v1/auth/passkeys/register/verify", tok, `{"challengeId":"`+reg.str("challengeId")+`","credential":{"id":"x"}}`).
			wantError(t, "register verify with a malformed answer", http.StatusUnauthorized, "passkey_failed", "")
		e.api(t, http.MethodPost, "/api/v1/auth/passkeys/register/verify", tok, `{"challengeId":"x","name":"`+strings.Repeat("n", 65)+`","credential":`+aCredential+`}`).
			wantError(t, "register verify with a too long name", http.StatusBadRequest, "validation_failed", "")

		// Rename and remove: only the user's own passkeys.
		p := e.addStoredPasskey(t, e.user.ID, "laptop")
		other := e.createVerifiedUser(t, "user-bob-0002", "bob@example.com", "another fine password")
		q := e.addStoredPasskey(t, other.ID, "bobs")
		e.api(t, http.MethodPatch, "/api/v1/auth/passkeys/"+p.ID, tok, `{"name":"  "}`).
			wantError(t, "rename to nothing", http.StatusBadRequest, "validation_failed", "")
		e.api(t, http.MethodPatch, "/api/v1/auth/passkeys/"+q.ID, tok, `{"name":"mine now"}`).
			wantError(t, "rename someone else's", http.StatusNotFound, "passkey_not_found", "")
		e.api(t, http.MethodPatch, "/api/v1/auth/passkeys/"+p.ID, tok, `{"name":"Work laptop"}`).want(t, "rename", http.StatusOK)
		list = e.api(t, http.MethodGet, "/api/v1/auth/passkeys", tok, nil).want(t, "list", http.StatusOK)
		var got struct {
			Passkeys []struct {
				ID, Name   string
				LastUsedAt *time.Time
			}
		}
		if err := json.Unmarshal([]byte(list.body), &got); err != nil || len(got.Passkeys) != 1 ||
			got.Passkeys[0].ID != p.ID || got.Passkeys[0].Name != "Work laptop" || got.Passkeys[0].LastUsedAt != nil {
			t.Fatalf("list after rename: %s (%v)", list.body, err)
		}
		e.api(t, http.MethodDelete, "/api/v1/auth/passkeys/"+q.ID, tok, nil).
			wantError(t, "remove someone else's", http.StatusNotFound, "passkey_not_found", "")
		e.api(t, http.MethodDelete, "/api/v1/auth/passkeys/"+p.ID, tok, nil).want(t, "remove", http.StatusOK)
		e.api(t, http.MethodDelete, "/api/v1/auth/passkeys/"+p.ID, tok, nil).
			wantError(t, "remove again", http.StatusNotFound, "passkey_not_found", "")
		if n := e.eventTypes(t, e.user.ID)[provider.EventPasskeyRemoved]; n != 1 {
			t.Errorf("%d passkey_removed events, want 1", n)
		}
		if ps, err := e.store.ListPasskeys(context.Background(), other.ID); err != nil || len(ps) != 1 || ps[0].Name != "bobs" {
			t.Errorf("the other user's passkeys changed: %v %v", ps, err)
		}
	})
}

func TestPasskeyPages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		c := &clock{}
		e := setup(t, b, withClock(c), withLocalhost)
		br := e.browser(t)

		// The login page offers passkeys: the button's form (hidden until
		// the script finds WebAuthn), the autofill hint and the script.
		p := br.get(t, "/login")
		for _, want := range []string{`autocomplete="username webauthn"`, `data-testid="passkey-login-form"`, `src="/static/js/passkey.js"`} {
			if !strings.Contains(p.body, want) {
				t.Errorf("login page lacks %s", want)
			}
		}
		if js := br.get(t, "/static/js/passkey.js"); js.status != http.StatusOK || !strings.Contains(js.body, "parseRequestOptionsFromJSON") {
			t.Errorf("passkey.js: %d", js.status)
		}

		// The options call binds the challenge to this browser with a
		// short-lived, HttpOnly, SameSite=Strict cookie, and gives the
		// page no challenge id.
		opts := br.post(t, "/login/passkey/options", nil)
		if opts.status != http.StatusOK || !strings.Contains(opts.body, `"publicKey"`) || strings.Contains(opts.body, "challengeId") {
			t.Fatalf("login options: %d %s", opts.status, opts.body)
		}
		sc := opts.header.Get("Set-Cookie")
		for _, want := range []string{"mana.passkey.login=", "HttpOnly", "SameSite=Strict", "Max-Age=300"} {
			if !strings.Contains(sc, want) {
				t.Errorf("binding cookie %q lacks %s", sc, want)
			}
		}
		// A cross-site page cannot start one.
		if x := br.post(t, "/login/passkey/options", nil, "Sec-Fetch-Site", "cross-site"); x.status != http.StatusForbidden {
			t.Errorf("cross-site options: %d", x.status)
		}

		// Finishing with a made-up answer shows the login page with the
		// message; the binding is gone, so a second try without a new
		// ceremony is refused as well.
		finish := url.Values{"credential": {aCredential}, "return_to": {"/account"}}
		f := br.post(t, "/login/passkey", finish)
		if f.status != http.StatusUnauthorized || !strings.Contains(f.body, "The passkey could not be used") {
			t.Fatalf("finish with a made-up answer: %d %.400s", f.status, f.body)
		}
		if f = br.post(t, "/login/passkey", finish); f.status != http.StatusBadRequest || !strings.Contains(f.body, "The passkey could not be used") {
			t.Errorf("finish without a binding: %d", f.status)
		}
		// A browser without the options call's cookie cannot finish.
		if f = e.browser(t).post(t, "/login/passkey", finish); f.status != http.StatusBadRequest {
			t.Errorf("finish from another browser: %d", f.status)
		}

		// The account page: the panel, and registration only after the
		// password.
		acc := br.login(t, br.get(t, "/account"), false)
		if acc.status != http.StatusOK || !strings.Contains(acc.body, `data-testid="passkeys"`) || !strings.Contains(acc.body, `data-testid="passkeys-none"`) {
			t.Fatalf("account page: %d %.300s", acc.status, acc.body)
		}
		wrong := br.post(t, "/account/passkeys/options", url.Values{"password": {"wrong password"}})
		if wrong.status != http.StatusUnauthorized || !strings.Contains(wrong.body, "Your current password is not correct.") {
			t.Errorf("registration options with a wrong password: %d %s", wrong.status, wrong.body)
		}
		ok := br.post(t, "/account/passkeys/options", url.Values{"password": {userPassword}})
		if ok.status != http.StatusOK || !strings.Contains(ok.body, `"residentKey":"required"`) ||
			!strings.Contains(ok.header.Get("Set-Cookie"), "mana.passkey.register=") {
			t.Fatalf("registration options: %d %s", ok.status, ok.body)
		}
		bad := br.post(t, "/account/passkeys", url.Values{"name": {"Laptop"}, "credential": {aCredential}})
		if bad.status != http.StatusBadRequest || !strings.Contains(bad.body, "The passkey could not be used") {
			t.Errorf("registration with a made-up answer: %d", bad.status)
		}

		// Listing, renaming and removing on the page.
		pk := e.addStoredPasskey(t, e.user.ID, "phone")
		acc = br.get(t, "/account")
		if !strings.Contains(acc.body, `data-testid="passkey-name">phone<`) || !strings.Contains(acc.body, "Never used") {
			t.Errorf("account page does not list the passkey: %.2000s", acc.body)
		}
		if r := br.post(t, "/account/passkeys/rename", url.Values{"passkey_id": {pk.ID}, "name": {"\x01"}}); r.status != http.StatusBadRequest ||
			!strings.Contains(r.body, "1 to 64 characters") {
			t.Errorf("rename to a control character: %d", r.status)
		}
		if r := br.post(t, "/account/passkeys/rename", url.Values{"passkey_id": {pk.ID}, "name": {"Phone"}}); r.status != http.StatusOK ||
			!strings.Contains(r.body, "Passkey renamed.") || !strings.Contains(r.body, `data-testid="passkey-name">Phone<`) {
			t.Errorf("rename: %d", r.status)
		}

		// The second step offers the passkey to a user who has one.
		e.enableTOTP(t, c, e.apiLogin(t, userEmail, userPassword).access)
		br2 := e.browser(t)
		step := br2.login(t, br2.get(t, "/account"), false)
		if !strings.Contains(step.body, `data-testid="twofactor-form"`) || !strings.Contains(step.body, `data-testid="passkey-2fa-form"`) {
			t.Fatalf("2FA step without the passkey offer: %.600s", step.body)
		}
		challenge := submatch(t, challengeRE, step.body, "challenge")
		if r := br2.post(t, "/login/2fa/passkey/options", url.Values{"challenge": {"forged"}}); r.status != http.StatusUnauthorized {
			t.Errorf("2FA options with a forged challenge: %d", r.status)
		}
		if r := br2.post(t, "/login/2fa/passkey/options", url.Values{"challenge": {challenge}}); r.status != http.StatusOK ||
			!strings.Contains(r.body, `"allowCredentials"`) {
			t.Errorf("2FA options: %d %s", r.status, r.body)
		}
		if r := br2.post(t, "/login/2fa/passkey", url.Values{"challenge": {challenge}, "credential": {aCredential}}); r.status != http.StatusUnauthorized ||
			!strings.Contains(r.body, `data-testid="twofactor-form"`) || !strings.Contains(r.body, "The passkey could not be used") {
			t.Errorf("2FA with a made-up answer: %d %.300s", r.status, r.body)
		}

		if r := br.post(t, "/account/passkeys/remove", url.Values{"passkey_id": {pk.ID}}); r.status != http.StatusOK || !strings.Contains(r.body, "Passkey removed.") {
			t.Errorf("remove: %d", r.status)
		}
		if r := br.post(t, "/account/passkeys/remove", url.Values{"passkey_id": {pk.ID}}); r.status != http.StatusNotFound {
			t.Errorf("remove again: %d", r.status)
		}
	})
}

// TestPasskeysOffAtIPAddress: browsers refuse WebAuthn for an IP address,
// so an issuer at one offers no passkeys and has no passkey routes.
func TestPasskeysOffAtIPAddress(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		br := e.browser(t)
		p := br.get(t, "/login")
		if !isLoginPage(p) || strings.Contains(p.body, "webauthn") || strings.Contains(p.body, "passkey-login-form") || strings.Contains(p.body, "passkey.js") {
			t.Errorf("login page of an issuer at an IP address offers passkeys: %.300s", p.body)
		}
		if r := br.post(t, "/login/passkey/options", nil); r.status != http.StatusNotFound && r.status != http.StatusMethodNotAllowed {
			t.Errorf("passkey options at an IP address: %d", r.status)
		}
		e.post(t, "/api/v1/auth/passkeys/login/options", nil).wantError(t, "API passkey options at an IP address", http.StatusNotFound, "", "")
	})
}

// TestPasskeyBadInput: hostile input to every passkey route and form is a
// 4xx, never a 5xx, and shows no internals. PostgreSQL refuses NUL and
// invalid UTF-8 in text, which the postgres run is for.
func TestPasskeyBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b, withLocalhost)
		tok := e.apiLogin(t, userEmail, userPassword).access
		hostile := []string{sqlMeta, "a\x00b", "\xff\xfe\xfd", strings.Repeat("é", 300), `"; DROP TABLE users; --`, strings.Repeat("x", 5000)}
		check := func(what string, status int, body string) {
			t.Helper()
			if status >= 500 || status < 400 {
				t.Errorf("%s: status %d: %.300s", what, status, body)
			}
			noLeak(t, what, body)
		}
		for _, v := range hostile {
			short := strings.ToValidUTF8(v[:min(len(v), 8)], "?")
			cred := map[string]any{"id": v, "rawId": v, "type": v, "response": map[string]string{"clientDataJSON": v, "authenticatorData": v, "signature": v, "userHandle": v}}
			for _, c := range []struct {
				method, path, bearer string
				body                 any
			}{
				{"POST", "/api/v1/auth/passkeys/login/verify", "", map[string]any{"challengeId": v, "credential": cred, "deviceName": v}},
				{"POST", "/api/v1/auth/passkeys/register/options", tok, map[string]any{"password": v, "code": v}},
				{"POST", "/api/v1/auth/passkeys/register/verify", tok, map[string]any{"challengeId": v, "name": v, "credential": cred}},
				{"PATCH", "/api/v1/auth/passkeys/" + url.PathEscape(v), tok, map[string]any{"name": v}},
				{"DELETE", "/api/v1/auth/passkeys/" + url.PathEscape(v), tok, nil},
			} {
				r := e.api(t, c.method, c.path, c.bearer, c.body, "User-Agent", "evil\xff "+sqlMeta)
				check(c.method+" "+strings.ToValidUTF8(c.path[:min(len(c.path), 40)], "?")+" "+short, r.status, r.body)
			}
			// A real challenge with a hostile answer.
			opts := e.post(t, "/api/v1/auth/passkeys/login/options", nil).want(t, "options", http.StatusOK)
			r := e.post(t, "/api/v1/auth/passkeys/login/verify", map[string]any{"challengeId": opts.str("challengeId"), "credential": cred})
			check("verify a real challenge with "+short, r.status, r.body)
		}
		for name, body := range map[string]string{"garbage": "{{{", "array": "[1]", "wrong types": `{"challengeId":1,"credential":[]}`, "credential string": `{"challengeId":"x","credential":"{}"}`} {
			r := e.post(t, "/api/v1/auth/passkeys/login/verify", body)
			check("verify "+name, r.status, r.body)
		}

		// The page forms, signed out and in.
		br := e.browser(t)
		for _, v := range hostile {
			for _, pf := range []struct {
				path string
				form url.Values
			}{
				{"/login/passkey", url.Values{"credential": {v}, "return_to": {v}, "remember": {v}}},
				{"/login/2fa/passkey/options", url.Values{"challenge": {v}}},
				{"/login/2fa/passkey", url.Values{"challenge": {v}, "credential": {v}}},
			} {
				p := br.post(t, pf.path, pf.form, "User-Agent", "evil\xff")
				check(pf.path+" "+strings.ToValidUTF8(v[:min(len(v), 8)], "?"), p.status, p.body)
			}
		}
		if p := br.login(t, br.get(t, "/account"), false); !isAccountPage(p) {
			t.Fatalf("login: %d", p.status)
		}
		for _, v := range hostile {
			for _, pf := range []struct {
				path string
				form url.Values
			}{
				{"/account/passkeys/options", url.Values{"password": {v}, "code": {v}}},
				{"/account/passkeys", url.Values{"name": {v}, "credential": {v}}},
				{"/account/passkeys/rename", url.Values{"passkey_id": {v}, "name": {v}}},
				{"/account/passkeys/remove", url.Values{"passkey_id": {v}}},
			} {
				p := br.post(t, pf.path, pf.form)
				check(pf.path+" "+strings.ToValidUTF8(v[:min(len(v), 8)], "?"), p.status, p.body)
			}
		}
		if p := br.get(t, "/account"); !isAccountPage(p) {
			t.Errorf("account page after the abuse: %d", p.status)
		}
	})
}
