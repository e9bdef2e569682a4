package main

// Account journeys of issue 12 in headless Chromium, on both backends:
//
//   - Connected apps: a third-party app asks for consent, the person allows
//     it, finds it under "Connected apps" on /account, removes its access,
//     and it is gone (its tokens with it).
//   - Sessions: the sessions list names devices from their user agents
//     ("Chrome on Linux", "Safari on iPhone") instead of "Unknown device"
//     and marks the current one.
//
// It reuses the harness of browser_test.go (provider in-process as
// `manaauth serve --dev`, go-oidc relying parties on *.mana.test). One
// screenshot per step goes to testdata/artifacts/.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/manacore/mana-core-auth/internal/browsertest"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
)

// iPhoneUA is the user agent of the second device, a phone app that
// signs in through the API and names its device only "Unknown device".
const iPhoneUA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"

func TestBrowserJourneyAccount(t *testing.T) {
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
			testJourneyAccount(t, chromium, b.name, b.dsn(t))
		})
	}
}

func testJourneyAccount(t *testing.T, chromium, backend, dsn string) {
	ctx, cancel := context.WithTimeout(context.Background(), browserTestTimeout)
	t.Cleanup(cancel)

	port := freePort(t)
	issuer := fmt.Sprintf("http://auth.mana.test:%d", port)
	env := map[string]string{"DATABASE_URL": dsn, "PORT": strconv.Itoa(port), "BASE_URL": issuer,
		"COOKIE_DOMAIN": ".mana.test", "SECRET_KEY": strings.Repeat("c", 48), "LOG_LEVEL": "warn"}

	cert, spki := appCertificate(t)
	notes := newRelyingParty(t, "notes", cert)
	if out, _, err := runCmd(t, env, "users", "create", "--email", browserEmail, "--password", browserPassword,
		"--name", "Ada Lovelace", "--verified"); err != nil {
		t.Fatalf("users create: %v %s", err, out)
	}
	// A third-party app: no --trusted, so it asks for consent.
	out, _, err := runCmd(t, env, "clients", "create", "--id", "notes", "--name", "Notes Elsewhere",
		"--redirect-uri", notes.base+"/callback", "--post-logout-redirect-uri", notes.base+"/",
		"--scopes", "openid profile email offline_access", "--grant-types", "authorization_code,refresh_token")
	if err != nil {
		t.Fatalf("clients create notes: %v", err)
	}
	m := regexp.MustCompile(`client_secret: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("clients create printed no secret: %q", out)
	}
	startServe(t, env, "--dev")
	notes.start(t, ctx, issuer, m[1])
	b := startBrowser(t, ctx, chromium, spki, issuer)
	shot := func(step string) { b.screenshot("journey-account-" + step + "-" + backend + ".png") }

	// 1. The app sends the browser to sign in, then to the consent page.
	b.do("open notes", chromedp.Navigate(notes.base+"/"))
	b.waitFor("open notes", "[data-testid=login-form]")
	b.login()
	b.waitFor("consent after login", "[data-testid=consent-form]")
	if !strings.Contains(b.text("body"), "Notes Elsewhere") {
		t.Errorf("consent page does not name the app:\n%s", b.where())
	}
	shot("1-consent")

	// 2. Allow (remembered) and land in the app, signed in.
	b.do("allow", chromedp.Evaluate[chromedp.Void](`window.__staleManaPage = true`), chromedp.Click(chromedp.CSS("[data-testid=allow]")))
	b.waitFor("back at notes", "#status")
	if got, want := b.text("#status"), "signed in as "+browserEmail; got != want {
		t.Fatalf("notes after consent: %q, want %q\n%s", got, want, b.where())
	}
	logins, _ := notes.snapshot()
	if len(logins) != 1 || logins[0].IDToken == "" {
		t.Fatalf("notes logins: %+v", logins)
	}

	// 3. The app is under "Connected apps" on the account page.
	b.do("open /account", chromedp.Navigate(issuer+"/account"))
	b.waitFor("open /account", "[data-testid=account-email]")
	b.do("connected apps", chromedp.ScrollIntoView(chromedp.CSS("[data-testid=connected-apps]")))
	if got := b.text("[data-testid=connected-app] [data-testid=app-name]"); got != "Notes Elsewhere" {
		t.Errorf("connected app name %q", got)
	}
	if scopes := b.text("[data-testid=connected-app] .app-scopes"); !strings.Contains(scopes, "See your email address") {
		t.Errorf("connected app scopes %q", scopes)
	}
	shot("2-connected")

	// 4. Remove its access: it is gone, and it has to ask again.
	b.do("remove access", chromedp.Evaluate[chromedp.Void](`window.__staleManaPage = true`),
		chromedp.Click(chromedp.CSS("[data-testid=app-revoke]")))
	b.waitFor("account after revoke", "[data-testid=account-email]")
	if got := b.text("[data-testid=notice]"); got != "Access removed. The app was signed out." {
		t.Errorf("notice after revoke %q", got)
	}
	b.do("no apps", chromedp.ScrollIntoView(chromedp.CSS("[data-testid=apps-none]")))
	if apps := evalJS[int](b, `document.querySelectorAll("[data-testid=connected-app]").length`); apps != 0 {
		t.Errorf("%d connected apps after revoking", apps)
	}
	shot("3-revoked")
	// The app's next authorization request asks for consent again (its
	// own cookie session is the app's business; its tokens are dead).
	again := notes.oauth.AuthCodeURL(randomString(), oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	b.do("authorize notes again", chromedp.Navigate(again))
	b.waitFor("notes asks again", "[data-testid=consent-form]")

	// 5. A second device signs in through the API; the sessions list names
	// both devices from their user agents and marks this one.
	body, _ := json.Marshal(map[string]string{"email": browserEmail, "password": browserPassword, "deviceName": "Unknown device"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, issuer+"/api/v1/auth/login", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", iPhoneUA)
	resp, err := manaTestClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("API login from the phone: %d", resp.StatusCode)
	}
	b.do("open /account again", chromedp.Navigate(issuer+"/account"))
	b.waitFor("open /account again", "[data-testid=account-email]")
	b.do("sessions", chromedp.ScrollIntoView(chromedp.CSS("[data-testid=sessions]")))
	devices := evalJS[[]string](b, `[...document.querySelectorAll("[data-testid=session-device]")].map(e => e.textContent.trim())`)
	current := evalJS[string](b, `document.querySelector("[data-testid=this-device]").closest("[data-testid=session]").querySelector("[data-testid=session-device]").textContent.trim()`)
	if len(devices) != 2 || devices[0] != "Safari on iPhone" || devices[1] != "Chrome on Linux" {
		t.Errorf("session devices %q, want [Safari on iPhone, Chrome on Linux] (newest first)", devices)
	}
	if current != "Chrome on Linux" {
		t.Errorf("current session is %q, want this browser (Chrome on Linux)", current)
	}
	if strings.Contains(b.text("[data-testid=sessions]"), "Unknown device") {
		t.Error("the sessions list still says Unknown device")
	}
	shot("4-sessions")
	if err := ctx.Err(); err != nil {
		t.Fatalf("the journey ran out of its %v: %v", browserTestTimeout, err)
	}
}

// evalJS evaluates js in the page within one step's timeout.
func evalJS[T any](b *browser, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v\n%s", js, err, b.where())
	}
	return v
}
