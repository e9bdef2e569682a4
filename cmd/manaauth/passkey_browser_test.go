package main

// Passkeys (issue 15) in headless Chromium with a virtual authenticator
// (Chrome DevTools Protocol WebAuthn domain: ctap2, internal transport,
// resident keys, user verification), on both backends:
//
//  1. Sign in with the password, add a passkey on /account (after the
//     password again), sign out.
//  2. An app's authorization request: the login page's "Sign in with a
//     passkey" button, no password typed, and the app gets its code; the
//     ID token's amr says hwk or swk and user, not pwd.
//  3. The user turns on TOTP; the next password sign-in uses the passkey
//     instead of the code at the second step (amr: pwd and the key's).
//
// The provider runs as in browser_test.go on http://auth.mana.test:<port>
// with COOKIE_DOMAIN=.mana.test, so the relying party id is "mana.test".
// WebAuthn needs a secure context and a domain (never an IP address):
// Chromium is told to treat the provider's http origin as secure.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/manacore/mana-core-auth/internal/browsertest"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
)

func TestBrowserPasskeys(t *testing.T) {
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
			testBrowserPasskeys(t, chromium, b.name, b.dsn(t))
		})
	}
}

// idTokenAMR is the amr claim of a raw ID token (its signature was
// verified by the relying party).
func idTokenAMR(t *testing.T, raw string) []string {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("ID token has %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		AMR []string `json:"amr"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c.AMR
}

// keyMethod reports whether amr names the passkey (hwk or swk).
func keyMethod(amr []string) bool {
	return slices.Contains(amr, "hwk") || slices.Contains(amr, "swk")
}

func testBrowserPasskeys(t *testing.T, chromium, backend, dsn string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*browserTestTimeout)
	t.Cleanup(cancel)

	mb, smtpPort := startTestMailbox(t)
	port := freePort(t)
	issuer := fmt.Sprintf("http://auth.mana.test:%d", port)
	env := map[string]string{"DATABASE_URL": dsn, "PORT": strconv.Itoa(port), "BASE_URL": issuer,
		"COOKIE_DOMAIN": ".mana.test", "SECRET_KEY": strings.Repeat("p", 48), "LOG_LEVEL": "warn",
		"SMTP_HOST": "127.0.0.1", "SMTP_PORT": strconv.Itoa(smtpPort), "SMTP_FROM": "Mana <noreply@mana.test>"}

	cert, spki := appCertificate(t)
	chat := newRelyingParty(t, "chat", cert)
	if out, _, err := runCmd(t, env, "users", "create", "--email", browserEmail, "--password", browserPassword,
		"--name", "Ada Lovelace", "--verified"); err != nil {
		t.Fatalf("users create: %v %s", err, out)
	}
	out, _, err := runCmd(t, env, "clients", "create", "--id", "chat", "--name", "Chat", "--trusted",
		"--redirect-uri", chat.base+"/callback", "--post-logout-redirect-uri", chat.base+"/",
		"--scopes", "openid profile email offline_access", "--grant-types", "authorization_code,refresh_token")
	if err != nil {
		t.Fatalf("clients create chat: %v", err)
	}
	secret := regexpSecret(t, out)
	startServe(t, env, "--dev")
	chat.start(t, ctx, issuer, secret)
	b := startBrowser(t, ctx, chromium, spki, issuer, chromedp.Flag("unsafely-treat-insecure-origin-as-secure", issuer))
	t.Cleanup(func() {
		if _, errs := chat.snapshot(); len(errs) > 0 {
			t.Errorf("chat reported errors: %q", errs)
		}
	})
	shot := func(step string) { b.screenshot("passkeys-" + step + "-" + backend + ".png") }

	// The virtual authenticator: a platform authenticator with resident
	// keys that verifies its user and approves every request.
	stepCtx, stepCancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer stepCancel()
	if _, err := chromedp.Call(stepCtx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	auth, err := chromedp.Call(stepCtx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
			Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true, IsUserVerified: true,
			AutomaticPresenceSimulation: true}})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	credentials := func() []*webauthn.Credential {
		t.Helper()
		c, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
		defer cancel()
		res, err := chromedp.Call(c, webauthn.GetCredentials, webauthn.GetCredentialsParams(auth))
		if err != nil {
			t.Fatalf("WebAuthn.getCredentials: %v", err)
		}
		return res.Credentials
	}
	stale := chromedp.Evaluate[chromedp.Void](`window.__staleManaPage = true`)
	// The virtual authenticator answers the login page's autofill request
	// (conditional UI) at once, as a user picking their passkey from the
	// email field's suggestions would. To reach the button, and to type a
	// password at all, the browser claims to have no conditional UI, except
	// in step 2b.
	noAutofill := func() page.ScriptIdentifier {
		t.Helper()
		c, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
		defer cancel()
		res, err := chromedp.Call(c, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `if (window.PublicKeyCredential) Object.defineProperty(PublicKeyCredential, "isConditionalMediationAvailable",
				{ value: () => Promise.resolve(false), configurable: true });`})
		if err != nil {
			t.Fatalf("Page.addScriptToEvaluateOnNewDocument: %v", err)
		}
		return res.Identifier
	}
	script := noAutofill()

	// 1. Sign in with the password and add a passkey on /account.
	b.do("open /account", chromedp.Navigate(issuer+"/account"))
	b.waitFor("login for /account", "[data-testid=login-form]")
	b.login()
	b.waitFor("account page", "[data-testid=account-email]")
	b.do("passkey form shown", chromedp.WaitVisible(chromedp.CSS("[data-testid=passkey-add-form]")),
		chromedp.ScrollIntoView(chromedp.CSS("[data-testid=passkeys]")))
	if got := b.text("[data-testid=passkeys-none]"); got != "You have no passkeys yet." {
		t.Errorf("passkeys panel before adding: %q", got)
	}
	shot("1-account")
	// The passkey is added in German (the mail about it is German too).
	setLanguage := func(lang string) {
		t.Helper()
		c, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
		defer cancel()
		headers := network.Headers{}
		if lang != "" {
			headers["Accept-Language"] = lang
		}
		if _, err := chromedp.Call(c, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: headers}); err != nil {
			t.Fatalf("set Accept-Language %q: %v", lang, err)
		}
	}
	setLanguage("de-DE,de;q=0.9")
	b.do("add a passkey",
		chromedp.SendKeys(chromedp.CSS("[data-testid=passkey-add-name]"), "Test laptop"),
		chromedp.SendKeys(chromedp.CSS("[data-testid=passkey-password]"), browserPassword),
		stale, chromedp.Click(chromedp.CSS("[data-testid=passkey-add]")))
	b.waitFor("account after adding", "[data-testid=account-email]")
	if got := b.text("[data-testid=notice]"); got != "Passkey hinzugefügt. Du kannst dich jetzt damit anmelden." {
		t.Fatalf("notice after adding a passkey: %q\n%s", got, b.where())
	}
	if got := b.text("[data-testid=passkey-name]"); got != "Test laptop" {
		t.Errorf("passkey listed as %q, want Test laptop", got)
	}
	if got := b.text("[data-testid=passkey-last-used]"); got != "Noch nie verwendet" {
		t.Errorf("new passkey's last use: %q", got)
	}
	shot("2-added")
	setLanguage("") // the browser's own English again
	creds := credentials()
	if len(creds) != 1 || !creds[0].IsResidentCredential || creds[0].RpID != "mana.test" {
		t.Fatalf("authenticator holds %d credentials (want 1 discoverable for rp mana.test): %+v", len(creds), creds)
	}

	// The user is told by mail.
	for deadline := time.Now().Add(browserStepTimeout); ; time.Sleep(100 * time.Millisecond) {
		mb.mu.Lock()
		mails := slices.Clone(mb.msgs[browserEmail])
		mb.mu.Unlock()
		if slices.ContainsFunc(mails, func(m string) bool { return strings.Contains(strings.ToLower(m), "passkey") }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail about the new passkey within %v; mails: %q", browserStepTimeout, mails)
		}
	}

	signOut := func(what string) {
		t.Helper()
		b.do(what, chromedp.Navigate(issuer+"/logout"))
		b.waitFor(what, "[data-testid=logout-form]")
		b.do(what, stale, chromedp.Click(chromedp.CSS("[data-testid=logout]")))
		b.do(what, chromedp.WaitVisible(chromedp.CSS("[data-testid=loggedout]")))
	}
	signOut("sign out")

	// 2. The app's authorization request; the passkey button, no password.
	b.resetDocuments()
	b.do("open chat", chromedp.Navigate(chat.base+"/"))
	b.waitFor("open chat", "[data-testid=login-form]")
	if ac := evalJS[string](b, `document.querySelector("[data-testid=email]").getAttribute("autocomplete")`); ac != "username webauthn" {
		t.Errorf("email field autocomplete=%q, want \"username webauthn\" (conditional UI)", ac)
	}
	b.do("passkey button", chromedp.WaitVisible(chromedp.CSS("[data-testid=passkey-login]")))
	shot("3-login")
	b.do("sign in with the passkey", stale, chromedp.Click(chromedp.CSS("[data-testid=passkey-login]")))
	b.waitFor("back at chat", "#status")
	if got, want := b.text("#status"), "signed in as "+browserEmail; got != want {
		t.Fatalf("chat after the passkey sign-in: %q, want %q\n%s", got, want, b.where())
	}
	if evalJS[string](b, `document.querySelector("[data-testid=password]") ? "typed" : ""`) != "" {
		t.Error("still on a page with a password field")
	}
	logins, _ := chat.snapshot()
	if len(logins) != 1 {
		t.Fatalf("chat logins: %d, want 1", len(logins))
	}
	amr := idTokenAMR(t, logins[0].IDToken)
	if !keyMethod(amr) || !slices.Contains(amr, "user") || slices.Contains(amr, "pwd") {
		t.Errorf("ID token amr after the passkey sign-in = %q, want hwk or swk, and user, without pwd", amr)
	}
	if !slices.ContainsFunc(b.documentURLs(), func(u string) bool { return strings.HasPrefix(u, chat.base+"/callback?code=") }) {
		t.Errorf("chat's callback never got a code: %q", b.documentURLs())
	}

	// 2b. With conditional UI, the email field's passkey autofill signs in
	// (no button, no password).
	rmCtx, rmCancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer rmCancel()
	if _, err := chromedp.Call(rmCtx, page.RemoveScriptToEvaluateOnNewDocument,
		page.RemoveScriptToEvaluateOnNewDocumentParams{Identifier: script}); err != nil {
		t.Fatalf("Page.removeScriptToEvaluateOnNewDocument: %v", err)
	}
	// Signing out at chat ends its session and the provider's (RP-initiated
	// logout).
	b.do("sign out at chat", chromedp.Navigate(chat.base+"/logout"))
	b.waitFor("signed out at chat", "#status")
	if got := b.text("#status"); got != "signed out" {
		t.Fatalf("chat after logout: %q", got)
	}
	b.resetDocuments()
	b.do("open chat for autofill", chromedp.Navigate(chat.base+"/"))
	// The login page shows first; the autofill's answer then leaves it.
	deadline := time.Now().Add(browserStepTimeout)
	for !strings.HasPrefix(b.location(), chat.base+"/") {
		if time.Now().After(deadline) {
			t.Fatalf("the passkey autofill did not sign in within %v\n%s", browserStepTimeout, b.where())
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.waitFor("signed in by autofill", "#status")
	if got, want := b.text("#status"), "signed in as "+browserEmail; got != want {
		t.Fatalf("chat after the autofill sign-in: %q, want %q\n%s", got, want, b.where())
	}
	if !slices.ContainsFunc(b.documentURLs(), func(u string) bool { return strings.HasPrefix(u, issuer+"/login/passkey") }) {
		t.Errorf("the autofill sign-in did not go through /login/passkey: %q", b.documentURLs())
	}
	logins, _ = chat.snapshot()
	if len(logins) != 2 || !keyMethod(idTokenAMR(t, logins[1].IDToken)) {
		t.Fatalf("chat logins after autofill: %d, amr of the last %q", len(logins), idTokenAMR(t, logins[len(logins)-1].IDToken))
	}
	noAutofill()

	// The account page shows the passkey as used.
	b.do("open /account after the passkey sign-in", chromedp.Navigate(issuer+"/account"))
	b.waitFor("account after passkey sign-in", "[data-testid=account-email]")
	if got := b.text("[data-testid=passkey-last-used]"); !strings.HasPrefix(got, "Last used") {
		t.Errorf("passkey's last use after signing in with it: %q", got)
	}

	// 2c. The first-party API, as an SPA on the provider's origin would use
	// it with the same authenticator: list and remove the page's passkey,
	// register one through the account API (Bearer token and password),
	// then sign in with it by login/options and login/verify.
	apiJS := `(async () => {
		const post = (path, body, token, extra) => fetch(path, {method: "POST", body: JSON.stringify(body),
			headers: Object.assign({"Content-Type": "application/json"}, token ? {Authorization: "Bearer " + token} : {}, extra || {})});
		const out = {};
		const login = await (await post("/api/v1/auth/login", {email: ` + strconv.Quote(browserEmail) + `, password: ` + strconv.Quote(browserPassword) + `})).json();
		const auth = {Authorization: "Bearer " + login.accessToken};
		const list = await (await fetch("/api/v1/auth/passkeys", {headers: auth})).json();
		out.listed = list.passkeys.map(p => p.name);
		out.removed = (await fetch("/api/v1/auth/passkeys/" + list.passkeys[0].id, {method: "DELETE", headers: auth})).status;
		const reg = await (await post("/api/v1/auth/passkeys/register/options", {password: ` + strconv.Quote(browserPassword) + `}, login.accessToken)).json();
		const created = await navigator.credentials.create({publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(reg.publicKey)});
		// A German app: the mail about the new passkey is German.
		const added = await post("/api/v1/auth/passkeys/register/verify", {challengeId: reg.challengeId, name: "API key", credential: created.toJSON()},
			login.accessToken, {"Accept-Language": "de-DE,de;q=0.9"});
		out.added = added.status;
		out.addedName = (await added.json()).passkey.name;
		const opts = await (await post("/api/v1/auth/passkeys/login/options", {})).json();
		const got = await navigator.credentials.get({publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(opts.publicKey)});
		const verify = await post("/api/v1/auth/passkeys/login/verify", {challengeId: opts.challengeId, credential: got.toJSON(), deviceName: "API test"});
		out.verified = verify.status;
		const tokens = await verify.json();
		out.email = tokens.user && tokens.user.email;
		out.pair = !!(tokens.accessToken && tokens.refreshToken) && tokens.tokenType === "Bearer";
		const replay = await post("/api/v1/auth/passkeys/login/verify", {challengeId: opts.challengeId, credential: got.toJSON()});
		out.replay = replay.status;
		out.replayCode = (await replay.json()).code;
		return JSON.stringify(out);
	})()`
	apiCtx, apiCancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer apiCancel()
	raw, err := chromedp.Run(apiCtx, chromedp.Evaluate[string](apiJS, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("passkeys through the API: %v\n%s", err, b.where())
	}
	var api struct {
		Listed           []string
		Removed, Added   int
		AddedName, Email string
		Verified, Replay int
		Pair             bool
		ReplayCode       string
	}
	if err := json.Unmarshal([]byte(raw), &api); err != nil {
		t.Fatalf("API result %s: %v", raw, err)
	}
	if len(api.Listed) != 1 || api.Listed[0] != "Test laptop" || api.Removed != 200 || api.Added != 201 || api.AddedName != "API key" ||
		api.Verified != 200 || !api.Pair || api.Email != browserEmail || api.Replay != 401 || api.ReplayCode != "passkey_failed" {
		t.Errorf("passkeys through the API: %s", raw)
	}

	// The mails about the two passkeys are German, as the account page
	// and the API call that added them (the library's test covers the
	// English default).
	if got := passkeyMailGreetings(t, mb, 2); !slices.Equal(got, []string{"Hallo Ada Lovelace,", "Hallo Ada Lovelace,"}) {
		t.Errorf("passkey mails begin %q, want German ones", got)
	}

	// 3. Turn on TOTP, then use the passkey as the second factor.
	b.do("enroll TOTP", chromedp.WaitVisible(chromedp.CSS("[data-testid=\"2fa-enroll\"]")), stale,
		chromedp.Click(chromedp.CSS("[data-testid=\"2fa-enroll\"]")))
	b.waitFor("enrolment", "[data-testid=account-email]")
	totpSecret := strings.ReplaceAll(b.text("[data-testid=secret]"), " ", "")
	code, err := totp.GenerateCode(totpSecret, time.Now())
	if err != nil {
		t.Fatalf("TOTP code: %v", err)
	}
	b.do("confirm TOTP", chromedp.SendKeys(chromedp.CSS("[data-testid=enroll-code]"), code), stale,
		chromedp.Click(chromedp.CSS("[data-testid=\"2fa-verify\"]")))
	b.waitFor("TOTP on", "[data-testid=account-email]")
	b.do("recovery codes", chromedp.WaitVisible(chromedp.CSS("[data-testid=recovery-codes]")))
	b.do("sign out at chat again", chromedp.Navigate(chat.base+"/logout"))
	b.waitFor("signed out at chat again", "#status")

	b.do("open chat again", chromedp.Navigate(chat.base+"/"))
	b.waitFor("open chat again", "[data-testid=login-form]")
	b.login()
	b.do("second step offers the passkey", chromedp.WaitVisible(chromedp.CSS("[data-testid=twofactor-form]")),
		chromedp.WaitVisible(chromedp.CSS("[data-testid=passkey-2fa]")))
	shot("4-second-factor")
	b.do("use the passkey", stale, chromedp.Click(chromedp.CSS("[data-testid=passkey-2fa]")))
	b.waitFor("back at chat after 2FA", "#status")
	if got, want := b.text("#status"), "signed in as "+browserEmail; got != want {
		t.Fatalf("chat after the passkey as second factor: %q, want %q\n%s", got, want, b.where())
	}
	logins, _ = chat.snapshot()
	if len(logins) != 3 {
		t.Fatalf("chat logins: %d, want 3", len(logins))
	}
	amr = idTokenAMR(t, logins[2].IDToken)
	if !slices.Contains(amr, "pwd") || !keyMethod(amr) || slices.Contains(amr, "otp") {
		t.Errorf("ID token amr after password and passkey = %q, want pwd and hwk or swk", amr)
	}
	if err := ctx.Err(); err != nil {
		t.Fatalf("the flow ran out of time: %v", err)
	}
}

// regexpSecret is the client secret `clients create` printed.
func regexpSecret(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile(`client_secret: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("clients create printed no secret: %q", out)
	}
	return m[1]
}

// passkeyMailGreetings waits for n mails to browserEmail about an added
// passkey and returns their first lines (the greeting, which says the
// language), oldest first.
func passkeyMailGreetings(t *testing.T, mb *testMailbox, n int) []string {
	t.Helper()
	for deadline := time.Now().Add(browserStepTimeout); ; time.Sleep(100 * time.Millisecond) {
		mb.mu.Lock()
		texts := slices.Clone(mb.msgs[browserEmail])
		mb.mu.Unlock()
		var greetings []string
		for _, text := range texts {
			if strings.Contains(strings.ToLower(text), "passkey") {
				first, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
				greetings = append(greetings, strings.TrimSpace(first))
			}
		}
		if len(greetings) >= n || time.Now().After(deadline) {
			return greetings
		}
	}
}
