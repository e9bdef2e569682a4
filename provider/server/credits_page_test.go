package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// creditsPage signs a browser in through /account/credits and returns the
// credits page.
func creditsPage(t *testing.T, e *env) (*browser, *page) {
	t.Helper()
	br := e.browser(t)
	p := br.get(t, "/account/credits")
	if !isLoginPage(p) || p.url.Query().Get("return_to") != "/account/credits" {
		t.Fatalf("/account/credits without a session: %d %s", p.status, p.url)
	}
	p = br.login(t, p, false)
	if p.status != http.StatusOK || p.url.Path != "/account/credits" || !strings.Contains(p.body, `data-testid="balance"`) {
		t.Fatalf("credits page after login: %d %s: %.500s", p.status, p.url, p.body)
	}
	return br, p
}

func TestCreditsPage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		ctx := context.Background()
		u, err := e.store.GetUserByEmail(ctx, userEmail)
		if err != nil {
			t.Fatal(err)
		}
		// The first balance read books the signup bonus and today's free
		// credits (150 + 5); then an app spends some of them.
		if _, _, _, err := e.credits.Spend(ctx, credits.SpendInput{
			UserID: u.ID, Amount: 30, AppID: "mana-<notes>", Description: "Summary & more",
		}); err != nil {
			t.Fatalf("spend: %v", err)
		}

		br, p := creditsPage(t, e)
		for _, want := range []string{
			`data-testid="balance-available">125<`, `data-testid="balance-free">125<`, `data-testid="balance-paid">0<`,
			`data-type="usage"`, `data-testid="tx-amount">−30<`, `data-testid="tx-app">mana-&lt;notes&gt;<`,
			"Summary &amp; more", `data-type="signup_bonus"`, `data-testid="tx-amount">+150<`,
			`data-type="daily_free"`, `data-testid="tx-amount">+5<`,
		} {
			if !strings.Contains(p.body, want) {
				t.Errorf("credits page lacks %s", want)
			}
		}
		for _, absent := range []string{`data-testid="buy"`, `data-testid="checkout-form"`, `data-testid="purchases"`, `data-testid="notice"`} {
			if strings.Contains(p.body, absent) {
				t.Errorf("credits page without billing shows %s", absent)
			}
		}

		// The account page links here.
		if p := br.get(t, "/account"); !isAccountPage(p) || !strings.Contains(p.body, `href="/account/credits"`) {
			t.Errorf("account page without the credits link: %d", p.status)
		}

		// Stripe returns with a notice; unknown values show none.
		if p := br.get(t, "/account/credits?purchase=cancelled"); p.status != http.StatusOK || !strings.Contains(p.body, `data-testid="notice"`) {
			t.Errorf("cancelled notice: %d", p.status)
		}
		if p := br.get(t, "/account/credits?purchase=%3Cx%3E"); p.status != http.StatusOK || strings.Contains(p.body, `data-testid="notice"`) {
			t.Errorf("unknown purchase value: %d", p.status)
		}

		// German.
		req, _ := http.NewRequest(http.MethodGet, e.issuer+"/account/credits", nil)
		req.Header.Set("Accept-Language", "de-DE")
		if p := br.do(t, req); !strings.Contains(p.body, "Gratis-Credits") || !strings.Contains(p.body, "Verbrauch") {
			t.Errorf("German credits page: %.300s", p.body)
		}

		// Without billing there is no checkout.
		if p := br.post(t, "/account/credits/checkout", url.Values{"package_id": {"credits-500"}}); p.status != http.StatusNotFound && p.status != http.StatusMethodNotAllowed {
			t.Errorf("checkout without billing: %d", p.status)
		}
	})
}

func TestCreditsPageCheckout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b, withBilling())
		br, p := creditsPage(t, e)
		for _, want := range []string{`data-testid="buy"`, `name="package_id" value="credits-500"`, `data-testid="purchases"`, `data-testid="balance-available">155<`} {
			if !strings.Contains(p.body, want) {
				t.Errorf("credits page with billing lacks %s", want)
			}
		}

		p = br.post(t, "/account/credits/checkout", url.Values{"package_id": {"credits-1000"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("checkout: %d %.500s", p.status, p.body)
		}
		if u := p.location(t); u.Scheme != "https" || u.Host == "" {
			t.Errorf("checkout redirects to %s", u)
		}
		if p := br.get(t, "/account/credits?purchase=success"); !strings.Contains(p.body, `data-testid="notice"`) || !strings.Contains(p.body, `data-status="pending"`) {
			t.Errorf("after checkout: %d, notice or pending purchase missing", p.status)
		}

		if p := br.post(t, "/account/credits/checkout", url.Values{"package_id": {"credits-nope"}}); p.status != http.StatusNotFound || !strings.Contains(p.body, `data-testid="error"`) {
			t.Errorf("unknown package: %d", p.status)
		}
		if p := br.post(t, "/account/credits/checkout", url.Values{"package_id": {"credits-500"}}, "Sec-Fetch-Site", "cross-site"); p.status != http.StatusForbidden {
			t.Errorf("cross-site checkout: %d", p.status)
		}

		// Signed out, the form sends the browser to the login.
		anon := e.browser(t)
		if p := anon.post(t, "/account/credits/checkout", url.Values{"package_id": {"credits-500"}}); !isLoginPage(p) || p.url.Query().Get("return_to") != "/account/credits" {
			t.Errorf("checkout signed out: %d %s", p.status, p.url)
		}
	})
}
