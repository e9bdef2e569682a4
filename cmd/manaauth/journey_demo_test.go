package main

// Issue 12, first run: what a newcomer does after `make run`, in headless
// Chromium. Open the printed demo app, press "Sign in with Mana", sign in
// as the printed demo user, read the claims, userinfo and credits balance,
// sign out. Screenshots go to testdata/artifacts/.

import (
	"context"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/manacore/mana-core-auth/internal/browsertest"
)

func TestBrowserDemoAppAfterMakeRun(t *testing.T) {
	chromium := browsertest.Chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), browserTestTimeout)
	t.Cleanup(cancel)

	port := strconv.Itoa(freePort(t))
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "data", "manaauth.db"), "PORT": port, "LOG_LEVEL": "warn"}
	_, out := startServe(t, env, "--dev")
	demoURL := regexp.MustCompile(`open:\s+(\S+/demo)`).FindStringSubmatch(out.String())
	password := regexp.MustCompile(`password:\s+(\S+)`).FindStringSubmatch(out.String())
	if demoURL == nil || password == nil {
		t.Fatalf("the demo block names no demo app or password:\n%s", out.String())
	}
	issuer := "http://localhost:" + port
	if demoURL[1] != issuer+"/demo" {
		t.Fatalf("demo app at %s, want %s/demo", demoURL[1], issuer)
	}

	b := startBrowser(t, ctx, chromium, "", issuer)
	b.do("open the demo app", chromedp.Navigate(demoURL[1]), chromedp.WaitVisible(chromedp.CSS("#sign-in")))
	b.screenshot("demo-1-app.png")
	b.do("press Sign in with Mana", chromedp.Click(chromedp.CSS("#sign-in")), chromedp.WaitVisible(chromedp.CSS("[data-testid=email]")))
	b.screenshot("demo-2-login.png")
	b.do("sign in as the demo user",
		chromedp.SendKeys(chromedp.CSS("[data-testid=email]"), demoEmail),
		chromedp.SendKeys(chromedp.CSS("[data-testid=password]"), password[1]),
		chromedp.Click(chromedp.CSS("[data-testid=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#signed-in")),
	)
	b.screenshot("demo-3-signed-in.png")
	if loc := b.location(); loc != issuer+"/demo" {
		t.Errorf("signed in at %s, want the demo app", loc)
	}
	for sel, wants := range map[string][]string{
		"#claims":   {`"email": "` + demoEmail + `"`, `"iss": "` + issuer + `"`, `"demo-app"`, `"nonce"`},
		"#userinfo": {`"email": "` + demoEmail + `"`, `"sub"`},
		"#credits":  {`"balance"`, `"freeCreditsRemaining"`},
	} {
		got := b.text(sel)
		for _, want := range wants {
			if !strings.Contains(got, want) {
				t.Errorf("%s lacks %s:\n%s", sel, want, got)
			}
		}
	}
	b.do("sign out", chromedp.Click(chromedp.CSS(`form[action="/demo/logout"] button`)), chromedp.WaitVisible(chromedp.CSS("#sign-in")))
	b.screenshot("demo-4-signed-out.png")
	// Signed out at the provider too: signing in again asks for the password.
	b.do("sign in again", chromedp.Click(chromedp.CSS("#sign-in")), chromedp.WaitVisible(chromedp.CSS("[data-testid=password]")))
}
