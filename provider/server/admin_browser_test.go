package server_test

// The deletion dialogs in real headless Chromium: the button that erases a
// person stays disabled until the email address typed matches exactly,
// on the admin's dialog and on the user's own "Delete account" page. The
// pages run under their strict CSP, so this also proves the script loads.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/manacore/mana-core-auth/internal/browsertest"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

const chromeStep = 15 * time.Second

// chrome is one headless browser for the test.
type chrome struct {
	t   *testing.T
	ctx context.Context
}

func startChrome(t *testing.T, path string) *chrome {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-proxy-server", true), chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 900), chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx)
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		browsertest.SkipOrFail(t, fmt.Sprintf("Chromium did not start: %v", err))
	}
	return &chrome{t: t, ctx: ctx}
}

func (c *chrome) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, chromeStep)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		loc, _ := chromedp.Run(c.ctx, chromedp.Location())
		text, _ := chromedp.Run(c.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 600) : ""`))
		c.t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, text)
	}
}

// disabled reports whether the element matching sel is disabled.
func (c *chrome) disabled(sel string) bool {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, chromeStep)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q).disabled`, sel)))
	if err != nil {
		c.t.Fatalf("disabled %s: %v", sel, err)
	}
	return v
}

// checkConfirmButton types into the dialog's email field and checks its
// button after each input.
func (c *chrome) checkConfirmButton(page, email string) {
	c.t.Helper()
	const input, button = "[data-testid=confirm-email]", "[data-testid=delete-submit]"
	// Emptied the way a user selecting all and deleting would: with an
	// input event.
	clearField := chromedp.Evaluate[chromedp.Void](`(() => { const i = document.querySelector("[data-testid=confirm-email]");
		i.value = ""; i.dispatchEvent(new Event("input")); })()`)
	c.do(page+": open", chromedp.WaitVisible(chromedp.CSS(input)))
	if !c.disabled(button) {
		c.t.Errorf("%s: button enabled before anything was typed", page)
	}
	for _, wrong := range []string{email[:len(email)-1], "X" + email, email + " "} {
		c.do(page+": type "+wrong, clearField, chromedp.SendKeys(chromedp.CSS(input), wrong))
		if !c.disabled(button) {
			c.t.Errorf("%s: button enabled for %q", page, wrong)
		}
	}
	c.do(page+": type the exact email", clearField, chromedp.SendKeys(chromedp.CSS(input), email))
	if c.disabled(button) {
		v, _ := chromedp.Run(c.ctx, chromedp.Evaluate[string](`document.querySelector("[data-testid=confirm-email]").value`))
		c.t.Errorf("%s: button still disabled for the exact email (field holds %q)", page, v)
	}
	c.do(page+": one more key", chromedp.SendKeys(chromedp.CSS(input), "x"))
	if !c.disabled(button) {
		c.t.Errorf("%s: button enabled after the email was changed again", page)
	}
}

func TestBrowserAdminPages(t *testing.T) {
	path := browsertest.Chromium(t)
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		adminUser, _ := e.createAdmin(t, provider.RoleAdmin)
		c := startChrome(t, path)

		c.do("sign in as the admin",
			chromedp.Navigate(e.issuer+"/login?return_to=/admin/users/"+e.user.ID+"/delete"),
			chromedp.WaitVisible(chromedp.CSS("[data-testid=email]")),
			chromedp.SendKeys(chromedp.CSS("[data-testid=email]"), adminUser.Email),
			chromedp.SendKeys(chromedp.CSS("[data-testid=password]"), adminPassword),
			chromedp.Click(chromedp.CSS("[data-testid=submit]")),
			chromedp.WaitVisible(chromedp.CSS("[data-testid=delete-dialog]")),
		)
		c.checkConfirmButton("admin deletion dialog", userEmail)
		if u, err := e.store.GetUser(context.Background(), e.user.ID); err != nil || u.DeletedAt != nil {
			t.Fatalf("the user was touched: %+v %v", u, err)
		}

		c.do("open the user's own deletion page", chromedp.Navigate(e.issuer+"/account/delete"))
		c.checkConfirmButton("account deletion page", adminUser.Email)

		c.do("open the user list", chromedp.Navigate(e.issuer+"/admin"), chromedp.WaitVisible(chromedp.CSS("[data-testid=search-form]")))
	})
}
