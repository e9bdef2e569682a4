package templates

import (
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
	"golang.org/x/net/html"
)

// issue 15 (passkeys): the passkey forms of the login, second-factor and
// account pages.

const passkeyScriptTag = `<script src="/static/js/passkey.js" defer></script>`

// renderPasskeys renders a page that loads the passkey script: that one
// external script and nothing else inline.
func renderPasskeys(t *testing.T, c templ.Component) (string, *html.Node) {
	t.Helper()
	out, doc := render(t, c)
	scripts := findAll(doc, func(n *html.Node) bool { return n.Data == "script" })
	if len(scripts) == 0 {
		t.Fatal("no passkey script on the page")
	}
	for _, s := range scripts {
		if src, _ := attr(s, "src"); src != "/static/js/passkey.js" || s.FirstChild != nil {
			t.Errorf("script src=%q with content %v", src, s.FirstChild != nil)
		}
	}
	rest := strings.ReplaceAll(out, passkeyScriptTag, "")
	restDoc, err := html.Parse(strings.NewReader(rest))
	if err != nil {
		t.Fatal(err)
	}
	assertCSPSafe(t, rest, restDoc)
	return out, doc
}

func TestLoginPagePasskeys(t *testing.T) {
	t.Parallel()
	out, doc := renderPasskeys(t, LoginPage(LoginView{Lang: "de", ReturnTo: "/oauth2/authorize?client_id=chat", Passkeys: true}))
	wantAttr(t, byTestID(t, doc, "email"), "autocomplete", "username webauthn")
	form := byTestID(t, doc, "passkey-login-form")
	wantAttr(t, form, "action", "/login/passkey")
	wantAttr(t, form, "data-passkey-options", "/login/passkey/options")
	if !hasAttr(form, "hidden") || !hasAttr(form, "data-passkey-conditional") {
		t.Error("the passkey form must start hidden and offer the autofill")
	}
	if !strings.Contains(out, `value="/oauth2/authorize?client_id=chat"`) || !strings.Contains(out, "Mit einem Passkey anmelden") {
		t.Errorf("passkey form lacks the return address or the German button: %s", out)
	}

	// Without passkeys: no script, the plain autocomplete.
	_, doc = render(t, LoginPage(LoginView{Lang: "en"}))
	wantAttr(t, byTestID(t, doc, "email"), "autocomplete", "username")
	if findTestID(doc, "passkey-login-form") != nil {
		t.Error("passkey form without passkeys")
	}
}

func TestTwoFactorPagePasskey(t *testing.T) {
	t.Parallel()
	_, doc := renderPasskeys(t, TwoFactorPage(TwoFactorView{Lang: "en", Challenge: "sealed", Passkey: true}))
	form := byTestID(t, doc, "passkey-2fa-form")
	wantAttr(t, form, "action", "/login/2fa/passkey")
	ch := find(form, func(n *html.Node) bool { v, _ := attr(n, "name"); return v == "challenge" })
	if ch == nil {
		t.Fatal("no challenge in the passkey form")
	}
	wantAttr(t, ch, "value", "sealed")
	_, doc = render(t, TwoFactorPage(TwoFactorView{Lang: "en", Challenge: "sealed"}))
	if findTestID(doc, "passkey-2fa-form") != nil {
		t.Error("passkey offered to a user without one")
	}
}

func TestAccountPagePasskeys(t *testing.T) {
	t.Parallel()
	used := time.Date(2026, 12, 1, 8, 30, 0, 0, time.UTC)
	v := AccountView{Lang: "en", Email: "ada@example.com", TwoFactorEnabled: true, PasskeysEnabled: true, Passkeys: []AccountPasskey{
		{ID: "p1", Name: `<b>Laptop</b>`, CreatedAt: used.Add(-time.Hour)},
		{ID: "p2", Name: "Phone", CreatedAt: used.Add(-time.Hour), LastUsedAt: used, Synced: true},
	}}
	out, doc := renderPasskeys(t, AccountPage(v))
	names := findAll(doc, func(n *html.Node) bool { return testID(n) == "passkey-name" })
	if len(names) != 2 || text(names[0]) != "<b>Laptop</b>" || text(names[1]) != "Phone" {
		t.Fatalf("passkey names: %d", len(names))
	}
	if !strings.Contains(out, "Never used") || !strings.Contains(out, "Last used") || !strings.Contains(out, "1 Dec 2026, 08:30 UTC") {
		t.Error("last use not shown")
	}
	if n := len(findAll(doc, func(n *html.Node) bool { return testID(n) == "passkey-synced" })); n != 1 {
		t.Errorf("%d synced badges, want 1", n)
	}
	add := byTestID(t, doc, "passkey-add-form")
	wantAttr(t, add, "data-passkey", "create")
	// The password and, with TOTP on, the code go to the options call.
	byTestID(t, doc, "passkey-password")
	byTestID(t, doc, "passkey-code")
	if n := len(findAll(doc, func(n *html.Node) bool { return testID(n) == "passkey-remove-form" })); n != 2 {
		t.Errorf("%d remove forms, want 2", n)
	}

	_, doc = render(t, AccountPage(AccountView{Lang: "en"}))
	if findTestID(doc, "passkeys") != nil {
		t.Error("passkeys panel while passkeys are off")
	}
}
