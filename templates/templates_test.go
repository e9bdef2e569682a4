package templates

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
	"golang.org/x/net/html"
)

const xss = `"><script>alert(1)</script><img src=x onerror=alert(1)>`

// render renders c and returns the HTML and its parsed document.
func render(t *testing.T, c templ.Component) (string, *html.Node) {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(t.Context(), &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	doc, err := html.Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("parse html: %v", err)
	}
	return buf.String(), doc
}

func attr(n *html.Node, name string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val, true
		}
	}
	return "", false
}

// byTestID returns the element with data-testid id, failing the test when
// there is none.
func byTestID(t *testing.T, doc *html.Node, id string) *html.Node {
	t.Helper()
	n := findTestID(doc, id)
	if n == nil {
		t.Fatalf("no element with data-testid=%q", id)
	}
	return n
}

func findTestID(doc *html.Node, id string) *html.Node {
	return find(doc, func(n *html.Node) bool {
		v, ok := attr(n, "data-testid")
		return ok && v == id
	})
}

func find(doc *html.Node, match func(*html.Node) bool) *html.Node {
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && match(n) {
			return n
		}
	}
	return nil
}

func findAll(doc *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
	}
	return out
}

// inputNamed returns the input element with the given name inside form.
func inputNamed(t *testing.T, form *html.Node, name string) *html.Node {
	t.Helper()
	n := find(form, func(n *html.Node) bool {
		v, _ := attr(n, "name")
		return (n.Data == "input" || n.Data == "button") && v == name
	})
	if n == nil {
		t.Fatalf("no input named %q in form", name)
	}
	return n
}

func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func wantAttr(t *testing.T, n *html.Node, name, want string) {
	t.Helper()
	got, ok := attr(n, name)
	if !ok {
		t.Errorf("<%s data-testid=%q>: missing attribute %s", n.Data, testID(n), name)
		return
	}
	if got != want {
		t.Errorf("<%s data-testid=%q> %s = %q, want %q", n.Data, testID(n), name, got, want)
	}
}

func testID(n *html.Node) string {
	v, _ := attr(n, "data-testid")
	return v
}

func hasAttr(n *html.Node, name string) bool {
	_, ok := attr(n, name)
	return ok
}

// assertCSPSafe checks that the page needs neither inline scripts nor inline
// styles nor inline event handlers, and that it uses the common layout.
func assertCSPSafe(t *testing.T, out string, doc *html.Node) {
	t.Helper()
	lower := strings.ToLower(out)
	if strings.Contains(lower, "<script") {
		t.Error("page contains <script")
	}
	if strings.Contains(lower, " style=") || strings.Contains(lower, "<style") {
		t.Error("page contains inline style")
	}
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		for _, a := range n.Attr {
			if strings.HasPrefix(strings.ToLower(a.Key), "on") {
				t.Errorf("<%s> has event handler attribute %s", n.Data, a.Key)
			}
			if (a.Key == "href" || a.Key == "src" || a.Key == "action") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
				t.Errorf("<%s %s=%q>", n.Data, a.Key, a.Val)
			}
		}
	}
	if find(doc, func(n *html.Node) bool {
		v, _ := attr(n, "href")
		rel, _ := attr(n, "rel")
		return n.Data == "link" && rel == "stylesheet" && v == "/static/css/app.css"
	}) == nil {
		t.Error("missing stylesheet link")
	}
	if find(doc, func(n *html.Node) bool {
		v, _ := attr(n, "href")
		rel, _ := attr(n, "rel")
		return n.Data == "link" && rel == "icon" && v == "/static/img/logo.svg"
	}) == nil {
		t.Error("missing icon link")
	}
	if find(doc, func(n *html.Node) bool {
		v, _ := attr(n, "name")
		return n.Data == "meta" && v == "viewport"
	}) == nil {
		t.Error("missing viewport meta")
	}
	if find(doc, func(n *html.Node) bool { return n.Data == "footer" }) == nil {
		t.Error("missing footer")
	}
}

func assertLang(t *testing.T, doc *html.Node, want string) {
	t.Helper()
	h := find(doc, func(n *html.Node) bool { return n.Data == "html" })
	if h == nil {
		t.Fatal("no <html>")
	}
	wantAttr(t, h, "lang", want)
}

// assertEscaped checks that the raw payload never appears unescaped and that
// the parsed document contains no element injected by it.
func assertEscaped(t *testing.T, out string, doc *html.Node) {
	t.Helper()
	if strings.Contains(out, "<script>alert(1)") || strings.Contains(out, "<img src=x") {
		t.Error("XSS payload rendered unescaped")
	}
	if n := find(doc, func(n *html.Node) bool { return n.Data == "script" || hasAttr(n, "onerror") }); n != nil {
		t.Errorf("XSS payload created element <%s>", n.Data)
	}
}

func TestLoginPage(t *testing.T) {
	t.Parallel()
	out, doc := render(t, LoginPage(LoginView{
		Lang:       "en",
		ClientName: "Mana Notes",
		Email:      "ada@example.com",
		Error:      T("en", KeyLoginInvalid),
		ReturnTo:   "/oauth2/auth?client_id=notes&state=a%26b",
	}))
	assertCSPSafe(t, out, doc)
	assertLang(t, doc, "en")

	form := byTestID(t, doc, "login-form")
	wantAttr(t, form, "method", "post")
	wantAttr(t, form, "action", "/login")

	email := byTestID(t, doc, "email")
	wantAttr(t, email, "name", "email")
	wantAttr(t, email, "type", "email")
	wantAttr(t, email, "autocomplete", "username")
	wantAttr(t, email, "value", "ada@example.com")
	if !hasAttr(email, "required") {
		t.Error("email not required")
	}
	if hasAttr(email, "autofocus") {
		t.Error("email autofocused although prefilled")
	}

	pw := byTestID(t, doc, "password")
	wantAttr(t, pw, "name", "password")
	wantAttr(t, pw, "type", "password")
	wantAttr(t, pw, "autocomplete", "current-password")
	if hasAttr(pw, "value") {
		t.Error("password field must never carry a value")
	}
	if !hasAttr(pw, "required") {
		t.Error("password not required")
	}
	if !hasAttr(pw, "autofocus") {
		t.Error("password should be autofocused when the email is prefilled")
	}

	remember := byTestID(t, doc, "remember")
	wantAttr(t, remember, "type", "checkbox")
	wantAttr(t, remember, "name", "remember")
	wantAttr(t, remember, "value", "1")

	wantAttr(t, inputNamed(t, form, "return_to"), "type", "hidden")
	wantAttr(t, inputNamed(t, form, "return_to"), "value", "/oauth2/auth?client_id=notes&state=a%26b")

	submit := byTestID(t, doc, "submit")
	wantAttr(t, submit, "type", "submit")
	if submit.Parent != form && !slices.Contains(slices.Collect(submit.Ancestors()), form) {
		t.Error("submit button outside the form")
	}

	if got := text(byTestID(t, doc, "error")); got != "Invalid email or password" {
		t.Errorf("error text = %q", got)
	}
	if !strings.Contains(out, "Mana Notes") {
		t.Error("client name not shown")
	}
	// The links to registration and password reset keep the pending
	// authorization (issue 12).
	for _, href := range []string{"/forgot-password", "/register"} {
		want := href + "?return_to=" + url.QueryEscape("/oauth2/auth?client_id=notes&state=a%26b")
		if find(doc, func(n *html.Node) bool { v, _ := attr(n, "href"); return n.Data == "a" && v == want }) == nil {
			t.Errorf("no link to %s", want)
		}
	}
	// "Forgot password?" comes after the password field in tab order.
	var order []string
	for _, n := range findAll(doc, func(n *html.Node) bool {
		return n.Data == "input" && (testID(n) == "email" || testID(n) == "password") || n.Data == "a" && testID(n) == "forgot-link"
	}) {
		order = append(order, testID(n))
	}
	if strings.Join(order, ",") != "email,password,forgot-link" {
		t.Errorf("document order %q, want email, password, forgot-link", order)
	}
}

func TestLoginPagePlain(t *testing.T) {
	t.Parallel()
	out, doc := render(t, LoginPage(LoginView{Lang: "en"}))
	assertCSPSafe(t, out, doc)
	email := byTestID(t, doc, "email")
	if !hasAttr(email, "autofocus") {
		t.Error("empty email field not autofocused")
	}
	if hasAttr(byTestID(t, doc, "password"), "autofocus") {
		t.Error("two autofocus fields")
	}
	if n := findTestID(doc, "error"); n != nil {
		t.Error("error element rendered without an error")
	}
	if n := find(doc, func(n *html.Node) bool { return hasClass(n, "client-logo") }); n != nil {
		t.Error("client logo rendered for a plain login")
	}
	if hasAttr(email, "aria-invalid") {
		t.Error("aria-invalid without an error")
	}
}

func hasClass(n *html.Node, class string) bool {
	v, _ := attr(n, "class")
	return slices.Contains(strings.Fields(v), class)
}

func TestLoginPageXSS(t *testing.T) {
	t.Parallel()
	out, doc := render(t, LoginPage(LoginView{
		Lang:          "en",
		ClientName:    xss,
		ClientLogoURI: "javascript:alert(1)",
		Email:         xss,
		Error:         xss,
		ReturnTo:      xss,
	}))
	assertCSPSafe(t, out, doc)
	assertEscaped(t, out, doc)
	wantAttr(t, byTestID(t, doc, "email"), "value", xss)
	if got := text(byTestID(t, doc, "error")); got != strings.Join(strings.Fields(xss), " ") {
		t.Errorf("error text = %q", got)
	}
	if !strings.Contains(out, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("escaped payload not found in output")
	}
}

func TestClientLogo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, uri string
		want      bool
	}{
		{"https", "https://notes.example.com/logo.png", true},
		{"http", "http://localhost:3000/logo.svg", true},
		{"upper case scheme", "HTTPS://notes.example.com/logo.png", true},
		{"empty", "", false},
		{"javascript", "javascript:alert(1)", false},
		{"javascript mixed case", "JaVaScRiPt:alert(1)", false},
		{"data", "data:image/svg+xml;base64,PHN2Zz4=", false},
		{"relative", "/static/img/logo.svg", false},
		{"protocol relative", "//evil.example/logo.png", false},
		{"ftp", "ftp://example.com/logo.png", false},
		{"no host", "https:///logo.png", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for page, c := range map[string]templ.Component{
				"login":   LoginPage(LoginView{Lang: "en", ClientName: "Notes", ClientLogoURI: tc.uri}),
				"consent": ConsentPage(ConsentView{Lang: "en", ClientName: "Notes", ClientLogoURI: tc.uri}),
			} {
				_, doc := render(t, c)
				img := find(doc, func(n *html.Node) bool {
					return n.Data == "img" && hasClass(n, "client-logo") && !hasClass(n, "mana-logo")
				})
				if got := img != nil; got != tc.want {
					t.Fatalf("%s: client logo rendered = %v, want %v", page, got, tc.want)
				}
				if img != nil {
					wantAttr(t, img, "src", tc.uri)
				}
			}
		})
	}
}

func TestConsentPage(t *testing.T) {
	t.Parallel()
	out, doc := render(t, ConsentPage(ConsentView{
		Lang:          "en",
		ClientName:    "Mana Notes",
		ClientLogoURI: "https://notes.example.com/logo.png",
		UserEmail:     "ada@example.com",
		Scopes:        []string{"openid", "profile", "email", "offline_access", "credits:read", "credits:write", "notes:write"},
		Challenge:     "abc123",
	}))
	assertCSPSafe(t, out, doc)
	assertLang(t, doc, "en")

	form := byTestID(t, doc, "consent-form")
	wantAttr(t, form, "method", "post")
	wantAttr(t, form, "action", "/consent")
	ch := inputNamed(t, form, "challenge")
	wantAttr(t, ch, "type", "hidden")
	wantAttr(t, ch, "value", "abc123")
	remember := inputNamed(t, form, "remember")
	wantAttr(t, remember, "type", "checkbox")
	wantAttr(t, remember, "value", "1")
	if !hasAttr(remember, "checked") {
		t.Error("remember not checked by default")
	}
	for id, value := range map[string]string{"allow": "allow", "deny": "deny"} {
		b := byTestID(t, doc, id)
		wantAttr(t, b, "type", "submit")
		wantAttr(t, b, "name", "action")
		wantAttr(t, b, "value", value)
	}

	for _, want := range []string{
		"Mana Notes", "ada@example.com",
		T("en", "scope.openid"), T("en", "scope.profile"), T("en", "scope.email"),
		T("en", "scope.offline_access"), T("en", "scope.credits:read"), T("en", "scope.credits:write"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	scopes := findAll(doc, func(n *html.Node) bool { return hasClass(n, "scope") })
	if len(scopes) != 7 {
		t.Fatalf("got %d scopes, want 7", len(scopes))
	}
	if got := text(scopes[6]); got != "notes:write" {
		t.Errorf("unknown scope shown as %q, want raw name", got)
	}
}

func TestConsentPageXSS(t *testing.T) {
	t.Parallel()
	out, doc := render(t, ConsentPage(ConsentView{
		Lang:       "en",
		ClientName: xss,
		UserEmail:  xss,
		Scopes:     []string{xss},
		Challenge:  xss,
	}))
	assertCSPSafe(t, out, doc)
	assertEscaped(t, out, doc)
	wantAttr(t, inputNamed(t, byTestID(t, doc, "consent-form"), "challenge"), "value", xss)
}

func TestConsentPageWithoutClientName(t *testing.T) {
	t.Parallel()
	out, _ := render(t, ConsentPage(ConsentView{Lang: "de", Scopes: []string{"openid"}}))
	if !strings.Contains(out, "Eine Anwendung") {
		t.Error("missing generic client name")
	}
}

func TestLogoutConfirmPage(t *testing.T) {
	t.Parallel()
	out, doc := render(t, LogoutConfirmPage(LogoutView{Lang: "en", ClientName: "Mana Notes", Challenge: "c-1"}))
	assertCSPSafe(t, out, doc)
	form := byTestID(t, doc, "logout-form")
	wantAttr(t, form, "method", "post")
	wantAttr(t, form, "action", "/oauth2/logout")
	wantAttr(t, inputNamed(t, form, "challenge"), "value", "c-1")
	for id, value := range map[string]string{"logout": "logout", "cancel": "cancel"} {
		b := byTestID(t, doc, id)
		wantAttr(t, b, "type", "submit")
		wantAttr(t, b, "name", "action")
		wantAttr(t, b, "value", value)
	}
	if !strings.Contains(out, "Do you want to sign out of Mana?") || !strings.Contains(out, "Mana Notes") {
		t.Error("logout question or client name missing")
	}

	out, doc = render(t, LogoutConfirmPage(LogoutView{Lang: "en", ClientName: xss, Challenge: xss}))
	assertCSPSafe(t, out, doc)
	assertEscaped(t, out, doc)
}

func TestLoggedOutPage(t *testing.T) {
	t.Parallel()
	out, doc := render(t, LoggedOutPage(LoggedOutView{Lang: "en"}))
	assertCSPSafe(t, out, doc)
	if !strings.Contains(out, "You have been signed out.") {
		t.Error("missing signed-out message")
	}
	out, _ = render(t, LoggedOutPage(LoggedOutView{Lang: "de", NotSignedIn: true}))
	if !strings.Contains(out, "Du warst nicht angemeldet.") || strings.Contains(out, "Du wurdest abgemeldet.") {
		t.Errorf("a request that ended nothing must not claim a sign-out:\n%s", out)
	}
}

func TestErrorPage(t *testing.T) {
	t.Parallel()
	out, doc := render(t, ErrorPage(ErrorView{
		Lang:      "en",
		Status:    400,
		Title:     T("en", KeyErrorTitle),
		Message:   T("en", KeyErrorInvalidRedirect),
		RequestID: "req-42",
	}))
	assertCSPSafe(t, out, doc)
	if got := text(byTestID(t, doc, "error-title")); got != "Something went wrong" {
		t.Errorf("title = %q", got)
	}
	if got := text(byTestID(t, doc, "error-message")); got != T("en", KeyErrorInvalidRedirect) {
		t.Errorf("message = %q", got)
	}
	for _, want := range []string{"400", "req-42"} {
		if !strings.Contains(out, want) {
			t.Errorf("error page lacks %q", want)
		}
	}

	// Defaults: no status, no request ID, empty title falls back.
	out, doc = render(t, ErrorPage(ErrorView{Lang: "de"}))
	if got := text(byTestID(t, doc, "error-title")); got != "Etwas ist schiefgelaufen" {
		t.Errorf("default title = %q", got)
	}
	if strings.Contains(out, "Anfrage-ID") || find(doc, func(n *html.Node) bool { return hasClass(n, "status") }) != nil {
		t.Error("empty request ID or status rendered")
	}

	out, doc = render(t, ErrorPage(ErrorView{Lang: "en", Status: 500, Title: xss, Message: xss, RequestID: xss}))
	assertCSPSafe(t, out, doc)
	assertEscaped(t, out, doc)
}

func TestGerman(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		c    templ.Component
		want []string
	}{
		{"login", LoginPage(LoginView{Lang: "de", Error: T("de", KeyLoginInvalid)}), []string{
			"Anmelden", "E-Mail", "Passwort", "Passwort vergessen?", "Angemeldet bleiben", "Konto erstellen",
			"E-Mail oder Passwort ist falsch",
		}},
		{"login client", LoginPage(LoginView{Lang: "de", ClientName: "Notizen"}), []string{"Weiter zu", "Notizen"}},
		{"consent", ConsentPage(ConsentView{Lang: "de", ClientName: "Notizen", Scopes: []string{"email", "credits:write"}}), []string{
			"möchte auf dein Mana-Konto zugreifen", "Deine E-Mail-Adresse sehen", "In deinem Namen Credits ausgeben",
			"Erlauben", "Ablehnen", "Entscheidung merken",
		}},
		{"logout", LogoutConfirmPage(LogoutView{Lang: "de"}), []string{"Möchtest du dich von Mana abmelden?", "Abmelden"}},
		{"logged out", LoggedOutPage(LoggedOutView{Lang: "de"}), []string{"Du wurdest abgemeldet."}},
		{"error", ErrorPage(ErrorView{Lang: "de", Status: 404, Message: T("de", KeyErrorNotFound), RequestID: "x"}), []string{
			"Fehler", "Die Seite wurde nicht gefunden.", "Anfrage-ID", "Zurück zur Anmeldung",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, doc := render(t, tc.c)
			assertLang(t, doc, "de")
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("missing %q", want)
				}
			}
			for _, english := range []string{"Sign in", "Password", "Allow", "Something went wrong"} {
				if strings.Contains(out, english) {
					t.Errorf("German page contains English %q", english)
				}
			}
		})
	}
}

func TestUnknownLangIsEnglish(t *testing.T) {
	t.Parallel()
	out, doc := render(t, LoginPage(LoginView{Lang: "fr"}))
	assertLang(t, doc, "en")
	if !strings.Contains(out, "Sign in") {
		t.Error("fallback language is not English")
	}
}

func TestPickLang(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ header, want string }{
		{"", "en"},
		{"de", "de"},
		{"de-DE", "de"},
		{"de-AT", "de"},
		{"de-CH,de;q=0.9", "de"},
		{"DE-de", "de"},
		{"en", "en"},
		{"en-US,en;q=0.9", "en"},
		{"fr", "en"},
		{"*", "en"},
		{"fr-FR,fr;q=0.9,de;q=0.8,en;q=0.7", "de"},
		{"fr-FR,fr;q=0.9,en;q=0.8,de;q=0.7", "en"},
		{"en;q=0.5, de;q=0.8", "de"},
		{"de;q=0.8, en;q=0.8", "de"}, // tie: first wins
		{"en;q=0.8, de;q=0.8", "en"},
		{"de;q=0", "en"},
		{"de;q=0, en;q=0.1", "en"},
		{"de;q=abc", "en"},
		{"de;q=2", "en"},
		{" de-DE ; q=0.9 , en ; q=0.4 ", "de"},
		{"deutsch", "en"},
		{"en-GB,en-US;q=0.9,de-DE;q=0.8", "en"},
		{",,;;q=", "en"},
	} {
		t.Run(tc.header, func(t *testing.T) {
			t.Parallel()
			if got := PickLang(tc.header); got != tc.want {
				t.Errorf("PickLang(%q) = %q, want %q", tc.header, got, tc.want)
			}
		})
	}
}

func TestT(t *testing.T) {
	t.Parallel()
	if got := T("de", KeyLoginInvalid); got != "E-Mail oder Passwort ist falsch" {
		t.Errorf("de = %q", got)
	}
	if got := T("en", KeyLoginInvalid); got != "Invalid email or password" {
		t.Errorf("en = %q", got)
	}
	if got := T("xx", KeyLoginInvalid); got != "Invalid email or password" {
		t.Errorf("unknown language = %q, want English", got)
	}
	if got := T("de", "no.such.key"); got != "no.such.key" {
		t.Errorf("unknown key = %q", got)
	}
}

// TestTranslationTable checks that every entry has both languages.
func TestTranslationTable(t *testing.T) {
	t.Parallel()
	for key, m := range messages {
		if strings.TrimSpace(m.en) == "" {
			t.Errorf("%s: empty English text", key)
		}
		if strings.TrimSpace(m.de) == "" {
			t.Errorf("%s: empty German text", key)
		}
	}
}

// TestKeysUsedExist checks that every key the pages, the handlers and the
// scope descriptions use is in the table, in both languages.
func TestKeysUsedExist(t *testing.T) {
	t.Parallel()
	keys := []string{
		KeyLoginInvalid, KeyLoginRequired, KeyLoginLocked,
		KeyErrorTitle, KeyErrorNotFound, KeyErrorBadRequest, KeyErrorInvalidClient,
		KeyErrorInvalidRedirect, KeyErrorInternal, KeyErrorCSRF, KeyErrorUnavailable,
		"consent.title", "logout.title", "loggedout.title",
		KeyLoginUnverified, KeyRateLimit, KeyRegisterEmailTaken, KeyRegisterInvalidEmail,
		KeyRegisterPasswordLength, KeyRegisterNameLength, KeyRegisterNameInvalid, KeyResetInvalidToken, KeyResetMismatch,
		Key2FAInvalidCode, KeyPasswordWrongCurrent, KeyAccountSaved, KeyAccountPasswordChanged,
		KeyAccount2FAEnabled, KeyAccount2FADisabled, KeyAccountSessionRevoked, KeyAccountSessionsRevoked,
		KeyCreditsPurchaseSuccess, KeyCreditsPurchaseCancelled, KeyCreditsPackageNotFound,
	}
	for _, k := range scopeKeys {
		keys = append(keys, k)
	}
	for _, k := range txTypeKeys {
		keys = append(keys, k)
	}
	for _, k := range purchaseStatusKeys {
		keys = append(keys, k)
	}
	for _, k := range eventKeys {
		keys = append(keys, k)
	}

	// Every literal key passed to T in the templ sources and Go files.
	files, err := filepath.Glob("*.templ")
	if err != nil {
		t.Fatal(err)
	}
	goFiles, _ := filepath.Glob("*.go")
	files = append(files, goFiles...)
	re := regexp.MustCompile(`\bT\([^,()]+,\s*"([^"]+)"\)`)
	found := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_templ.go") || strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			keys = append(keys, m[1])
			found++
		}
	}
	if found < 30 {
		t.Fatalf("found only %d T calls in the sources; is the regexp broken?", found)
	}

	for _, key := range keys {
		m, ok := messages[key]
		if !ok {
			t.Errorf("key %q used but not in the table", key)
			continue
		}
		if m.en == "" || m.de == "" {
			t.Errorf("key %q lacks a language", key)
		}
		if T("en", key) == key || T("de", key) == key {
			t.Errorf("T does not translate %q", key)
		}
	}
}

// TestWritePreview writes every page as HTML into $MANA_PREVIEW_DIR (for
// screenshots during development). It is skipped unless the variable is set.
func TestWritePreview(t *testing.T) {
	dir := os.Getenv("MANA_PREVIEW_DIR")
	if dir == "" {
		t.Skip("MANA_PREVIEW_DIR not set")
	}
	scopes := []string{"openid", "profile", "email", "offline_access", "credits:read", "notes:write"}
	pages := map[string]templ.Component{
		"login":            LoginPage(LoginView{Lang: "en"}),
		"login-client":     LoginPage(LoginView{Lang: "en", ClientName: "Mana Notes", Email: "ada@example.com", Error: T("en", KeyLoginInvalid)}),
		"login-de":         LoginPage(LoginView{Lang: "de", ClientName: "Mana Notes", Email: "ada@example.com", Error: T("de", KeyLoginInvalid)}),
		"consent":          ConsentPage(ConsentView{Lang: "en", ClientName: "Mana Notes", UserEmail: "ada.lovelace@example.com", Scopes: scopes, Challenge: "c"}),
		"consent-de":       ConsentPage(ConsentView{Lang: "de", ClientName: "Mana Notes", UserEmail: "ada.lovelace@example.com", Scopes: scopes, Challenge: "c"}),
		"logout":           LogoutConfirmPage(LogoutView{Lang: "en", ClientName: "Mana Notes", Challenge: "c"}),
		"loggedout":        LoggedOutPage(LoggedOutView{Lang: "en"}),
		"error":            ErrorPage(ErrorView{Lang: "en", Status: 400, Title: T("en", KeyErrorTitle), Message: T("en", KeyErrorInvalidRedirect), RequestID: "01JD8Z6Q4W3B5N7M9K2P"}),
		"error-de":         ErrorPage(ErrorView{Lang: "de", Status: 404, Title: T("de", KeyErrorTitle), Message: T("de", KeyErrorNotFound)}),
		"consent-longname": ConsentPage(ConsentView{Lang: "en", ClientName: "A Very Long Application Name That Wraps Around", UserEmail: "someone.with.a.really.long.address@subdomain.example.com", Scopes: []string{"openid", "credits:write"}, Challenge: "c"}),

		"register":       RegisterPage(RegisterView{Lang: "en"}),
		"register-error": RegisterPage(RegisterView{Lang: "en", Name: "Ada Lovelace", Email: "ada@example.com", Errors: map[string]string{"email": T("en", KeyRegisterEmailTaken), "password": T("en", KeyRegisterPasswordLength)}}),
		"register-de":    RegisterPage(RegisterView{Lang: "de", Name: "Ada", Email: "ada@example", Errors: map[string]string{"": T("de", KeyRateLimit), "email": T("de", KeyRegisterInvalidEmail)}}),
		"registered":     RegisteredPage(RegisteredView{Lang: "en", Email: "ada.lovelace@example.com"}),
		"registered-de":  RegisteredPage(RegisteredView{Lang: "de", Email: "ada.lovelace@example.com"}),
		"verify-ok":      VerifyResultPage(VerifyResultView{Lang: "en", OK: true, Email: "ada@example.com"}),
		"verify-failed":  VerifyResultPage(VerifyResultView{Lang: "de", Email: "ada@example.com"}),
		"forgot":         ForgotPasswordPage(ForgotView{Lang: "en", Email: "ada@example", Error: T("en", KeyRegisterInvalidEmail)}),
		"forgot-sent":    ForgotPasswordPage(ForgotView{Lang: "de", Email: "ada@example.com", Sent: true}),
		"reset":          ResetPasswordPage(ResetView{Lang: "en", Token: "t", Error: T("en", KeyResetMismatch)}),
		"reset-done":     ResetPasswordPage(ResetView{Lang: "de", Done: true}),
		"twofactor":      TwoFactorPage(TwoFactorView{Lang: "en", Challenge: "c", Error: T("en", Key2FAInvalidCode)}),
		"twofactor-de":   TwoFactorPage(TwoFactorView{Lang: "de", Challenge: "c"}),
		"account":        AccountPage(previewAccount(t, "en")),
		"account-de":     AccountPage(previewAccount(t, "de")),
		"credits":        CreditsPage(previewCredits("en")),
		"credits-de":     CreditsPage(previewCredits("de")),
		"account-2fa-on": AccountPage(AccountView{Lang: "en", Name: "Ada Lovelace", Email: "ada@example.com", EmailVerified: true, TwoFactorEnabled: true,
			Notice: T("en", KeyAccount2FAEnabled), RecoveryCodes: []string{"7KQ2-M9XD", "4HPA-2RTC", "Z8WN-6LQE", "3JFV-YB5K", "QX7M-8D2P", "N4CE-W9HT", "5RGU-K3ZA", "B6YP-T7MS"},
			Sessions: []AccountSession{{ID: "s1", UserAgent: uaMac, IP: "203.0.113.7", Current: true, CreatedAt: previewNow.Add(-time.Hour), LastSeenAt: previewNow}}}),
	}
	for name, c := range pages {
		var buf bytes.Buffer
		if err := c.Render(t.Context(), &buf); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".html"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// ---------- Registration, password, two-factor and account pages ----------

const (
	uaMac     = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
	uaIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	uaWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
	uaLinux   = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
)

var previewNow = time.Date(2025, 11, 27, 7, 12, 0, 0, time.UTC)

// fakeQR returns a PNG data URI of a QR-like pattern (not a real QR code).
func fakeQR(t *testing.T) string {
	t.Helper()
	const modules, scale = 29, 6
	img := image.NewGray(image.Rect(0, 0, modules*scale, modules*scale))
	finder := func(x, y, ox, oy int) bool {
		dx, dy := x-ox, y-oy
		if dx < 0 || dy < 0 || dx > 6 || dy > 6 {
			return false
		}
		return dx == 0 || dy == 0 || dx == 6 || dy == 6 || (dx >= 2 && dx <= 4 && dy >= 2 && dy <= 4)
	}
	for y := range modules {
		for x := range modules {
			inFinder := (x < 8 && y < 8) || (x > modules-9 && y < 8) || (x < 8 && y > modules-9)
			dark := finder(x, y, 0, 0) || finder(x, y, modules-7, 0) || finder(x, y, 0, modules-7)
			if !inFinder {
				dark = (x*7+y*13+x*y)%5 < 2
			}
			c := color.Gray{Y: 255}
			if dark {
				c = color.Gray{Y: 0}
			}
			for py := range scale {
				for px := range scale {
					img.SetGray(x*scale+px, y*scale+py, c)
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
}

// previewAccount is an account with 3 sessions, an enrolment in progress
// and 5 events.
func previewAccount(t *testing.T, lang string) AccountView {
	return AccountView{
		Lang:          lang,
		Name:          "Ada Lovelace",
		Email:         "ada.lovelace@example.com",
		EmailVerified: true,
		Notice:        T(lang, KeyAccountSaved),
		Enroll:        &EnrollView{QRDataURI: fakeQR(t), Secret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"},
		Sessions: []AccountSession{
			{ID: "s1", UserAgent: uaMac, IP: "203.0.113.7", Current: true, CreatedAt: previewNow.Add(-50 * time.Hour), LastSeenAt: previewNow},
			{ID: "s2", DeviceName: "Ada's iPhone", UserAgent: uaIPhone, IP: "198.51.100.23", CreatedAt: previewNow.Add(-30 * 24 * time.Hour), LastSeenAt: previewNow.Add(-3 * time.Hour)},
			{ID: "s3", UserAgent: uaWindows, IP: "2001:db8:85a3::8a2e:370:7334", CreatedAt: previewNow.Add(-9 * 24 * time.Hour), LastSeenAt: previewNow.Add(-6 * 24 * time.Hour)},
		},
		Events: []AccountEvent{
			{Type: "login_success", IP: "203.0.113.7", UserAgent: uaMac, At: previewNow.Add(-2 * time.Minute)},
			{Type: "login_failure", IP: "192.0.2.55", UserAgent: uaLinux, At: previewNow.Add(-26 * time.Hour)},
			{Type: "password_changed", IP: "203.0.113.7", UserAgent: uaMac, At: previewNow.Add(-3 * 24 * time.Hour)},
			{Type: "refresh_token_reuse", IP: "2001:db8:85a3::8a2e:370:7334", UserAgent: uaWindows, At: previewNow.Add(-6 * 24 * time.Hour)},
			{Type: "registered", IP: "198.51.100.23", At: previewNow.Add(-30 * 24 * time.Hour)},
		},
	}
}

// wantForm checks that the form with testid id posts to action.
func wantForm(t *testing.T, doc *html.Node, id, action string) *html.Node {
	t.Helper()
	form := byTestID(t, doc, id)
	if form.Data != "form" {
		t.Fatalf("data-testid=%q is <%s>, want <form>", id, form.Data)
	}
	wantAttr(t, form, "method", "post")
	wantAttr(t, form, "action", action)
	return form
}

// wantInside fails when n is not a descendant of form.
func wantInside(t *testing.T, n, form *html.Node) {
	t.Helper()
	if !slices.Contains(slices.Collect(n.Ancestors()), form) {
		t.Errorf("<%s data-testid=%q> is outside its form", n.Data, testID(n))
	}
}

func linkTo(doc *html.Node, href string) *html.Node {
	return find(doc, func(n *html.Node) bool { v, _ := attr(n, "href"); return n.Data == "a" && v == href })
}

// assertNoValue checks that no password input of the page carries a value.
func assertNoPasswordValue(t *testing.T, doc *html.Node) {
	t.Helper()
	for _, n := range findAll(doc, func(n *html.Node) bool { v, _ := attr(n, "type"); return n.Data == "input" && v == "password" }) {
		if hasAttr(n, "value") {
			t.Errorf("password input %q carries a value", testID(n))
		}
	}
}

// assertUniqueIDs checks that element ids are unique and that every
// aria-describedby and label for points at an existing id.
func assertUniqueIDs(t *testing.T, doc *html.Node) {
	t.Helper()
	ids := map[string]bool{}
	for _, n := range findAll(doc, func(n *html.Node) bool { return hasAttr(n, "id") }) {
		id, _ := attr(n, "id")
		if ids[id] {
			t.Errorf("duplicate id %q", id)
		}
		ids[id] = true
	}
	for _, n := range findAll(doc, func(n *html.Node) bool { return hasAttr(n, "aria-describedby") || hasAttr(n, "for") }) {
		refs, _ := attr(n, "aria-describedby")
		if f, ok := attr(n, "for"); ok {
			refs += " " + f
		}
		for _, ref := range strings.Fields(refs) {
			if !ids[ref] {
				t.Errorf("<%s data-testid=%q> refers to missing id %q", n.Data, testID(n), ref)
			}
		}
	}
}

func TestRegisterPage(t *testing.T) {
	t.Parallel()
	out, doc := render(t, RegisterPage(RegisterView{
		Lang:     "en",
		Name:     "Ada Lovelace",
		Email:    "ada@example.com",
		ReturnTo: "/oauth2/auth?client_id=notes&state=a%26b",
		Errors: map[string]string{
			"":         T("en", KeyRateLimit),
			"email":    T("en", KeyRegisterEmailTaken),
			"password": T("en", KeyRegisterPasswordLength),
		},
	}))
	assertCSPSafe(t, out, doc)
	assertLang(t, doc, "en")
	assertUniqueIDs(t, doc)
	assertNoPasswordValue(t, doc)

	form := wantForm(t, doc, "register-form", "/register")
	name := byTestID(t, doc, "name")
	wantAttr(t, name, "name", "name")
	wantAttr(t, name, "autocomplete", "name")
	wantAttr(t, name, "value", "Ada Lovelace")
	if hasAttr(name, "aria-invalid") {
		t.Error("name marked invalid without an error")
	}
	email := byTestID(t, doc, "email")
	wantAttr(t, email, "name", "email")
	wantAttr(t, email, "type", "email")
	wantAttr(t, email, "value", "ada@example.com")
	wantAttr(t, email, "aria-invalid", "true")
	wantAttr(t, email, "aria-describedby", "email-error")
	if !hasAttr(email, "autofocus") {
		t.Error("the first invalid field is not autofocused")
	}
	pw := byTestID(t, doc, "password")
	wantAttr(t, pw, "name", "password")
	wantAttr(t, pw, "type", "password")
	wantAttr(t, pw, "autocomplete", "new-password")
	wantAttr(t, pw, "minlength", "8")
	wantAttr(t, pw, "maxlength", "128")
	wantAttr(t, pw, "aria-invalid", "true")
	if hasAttr(pw, "autofocus") || hasAttr(name, "autofocus") {
		t.Error("more than one autofocus field")
	}
	for _, n := range []*html.Node{name, email, pw} {
		wantInside(t, n, form)
		if !hasAttr(n, "required") {
			t.Errorf("%s not required", testID(n))
		}
	}
	rt := inputNamed(t, form, "return_to")
	wantAttr(t, rt, "type", "hidden")
	wantAttr(t, rt, "value", "/oauth2/auth?client_id=notes&state=a%26b")
	wantAttr(t, byTestID(t, doc, "submit"), "type", "submit")
	wantInside(t, byTestID(t, doc, "submit"), form)

	if got := text(byTestID(t, doc, "error")); got != T("en", KeyRateLimit) {
		t.Errorf("general error = %q", got)
	}
	if got := text(byTestID(t, doc, "email-error")); got != T("en", KeyRegisterEmailTaken) {
		t.Errorf("email error = %q", got)
	}
	if got := text(byTestID(t, doc, "password-error")); got != T("en", KeyRegisterPasswordLength) {
		t.Errorf("password error = %q", got)
	}
	if findTestID(doc, "name-error") != nil {
		t.Error("name error rendered without an error")
	}
	if want := "/login?return_to=" + url.QueryEscape("/oauth2/auth?client_id=notes&state=a%26b"); linkTo(doc, want) == nil {
		t.Errorf("no link to %s", want)
	}
}

func TestRegisterPagePlain(t *testing.T) {
	t.Parallel()
	out, doc := render(t, RegisterPage(RegisterView{Lang: "en"}))
	assertCSPSafe(t, out, doc)
	assertUniqueIDs(t, doc)
	if !hasAttr(byTestID(t, doc, "name"), "autofocus") {
		t.Error("empty name field not autofocused")
	}
	for _, id := range []string{"error", "name-error", "email-error", "password-error"} {
		if findTestID(doc, id) != nil {
			t.Errorf("%s rendered without errors", id)
		}
	}
	if find(doc, func(n *html.Node) bool { return hasAttr(n, "aria-invalid") }) != nil {
		t.Error("aria-invalid without an error")
	}
	if !strings.Contains(out, T("en", "password.hint")) {
		t.Error("password hint missing")
	}
	if !strings.Contains(out, "Create your account") {
		t.Error("title missing")
	}
}

func TestRegisterPageXSS(t *testing.T) {
	t.Parallel()
	out, doc := render(t, RegisterPage(RegisterView{
		Lang: "en", Name: xss, Email: xss, ReturnTo: xss,
		Errors: map[string]string{"": xss, "name": xss, "email": xss, "password": xss},
	}))
	assertCSPSafe(t, out, doc)
	assertEscaped(t, out, doc)
	wantAttr(t, byTestID(t, doc, "name"), "value", xss)
	wantAttr(t, byTestID(t, doc, "email"), "value", xss)
	wantAttr(t, inputNamed(t, byTestID(t, doc, "register-form"), "return_to"), "value", xss)
	for _, id := range []string{"error", "name-error", "email-error", "password-error"} {
		if got := text(byTestID(t, doc, id)); got != strings.Join(strings.Fields(xss), " ") {
			t.Errorf("%s = %q", id, got)
		}
	}
}

func TestRegisteredPage(t *testing.T) {
	t.Parallel()
	out, doc := render(t, RegisteredPage(RegisteredView{Lang: "en", Email: "ada@example.com"}))
	assertCSPSafe(t, out, doc)
	if got := text(byTestID(t, doc, "registered-message")); got != "We sent a confirmation link to ada@example.com." {
		t.Errorf("message = %q", got)
	}
	form := wantForm(t, doc, "resend-form", "/verify-email/resend")
	wantAttr(t, inputNamed(t, form, "email"), "type", "hidden")
	wantAttr(t, inputNamed(t, form, "email"), "value", "ada@example.com")
	wantAttr(t, byTestID(t, doc, "resend"), "type", "submit")
	if !strings.Contains(out, "Check your inbox") || linkTo(doc, "/login") == nil {
		t.Error("title or link to /login missing")
	}

	// Without an address there is nothing to resend to.
	out, doc = render(t, RegisteredPage(RegisteredView{Lang: "en"}))
	assertCSPSafe(t, out, doc)
	if findTestID(doc, "resend-form") != nil {
		t.Error("resend form without an email")
	}

	out, doc = render(t, RegisteredPage(RegisteredView{Lang: "en", Email: xss}))
	assertCSPSafe(t, out, doc)
	assertEscaped(t, out, doc)
	wantAttr(t, inputNamed(t, byTestID(t, doc, "resend-form"), "email"), "value", xss)
}

func TestVerifyResultPage(t *testing.T) {
	t.Parallel()
	out, doc := render(t, VerifyResultPage(VerifyResultView{Lang: "en", OK: true, Email: "ada@example.com"}))
	assertCSPSafe(t, out, doc)
	byTestID(t, doc, "verify-ok")
	wantAttr(t, byTestID(t, doc, "login-link"), "href", "/login")
	if findTestID(doc, "verify-failed") != nil || findTestID(doc, "resend-form") != nil {
		t.Error("failure content on success")
	}
	if !strings.Contains(out, "Email address confirmed") {
		t.Error("success title missing")
	}

	out, doc = render(t, VerifyResultPage(VerifyResultView{Lang: "en", Email: "ada@example.com"}))
	assertCSPSafe(t, out, doc)
	assertUniqueIDs(t, doc)
	byTestID(t, doc, "verify-failed")
	form := wantForm(t, doc, "resend-form", "/verify-email/resend")
	email := byTestID(t, doc, "email")
	wantInside(t, email, form)
	wantAttr(t, email, "name", "email")
	wantAttr(t, email, "type", "email")
	wantAttr(t, email, "value", "ada@example.com")
	wantAttr(t, byTestID(t, doc, "submit"), "type", "submit")
	if findTestID(doc, "verify-ok") != nil {
		t.Error("success content on failure")
	}

	for _, ok := range []bool{true, false} {
		out, doc = render(t, VerifyResultPage(VerifyResultView{Lang: "en", OK: ok, Email: xss}))
		assertCSPSafe(t, out, doc)
		assertEscaped(t, out, doc)
	}
}

func TestForgotPasswordPage(t *testing.T) {
	t.Parallel()
	out, doc := render(t, ForgotPasswordPage(ForgotView{Lang: "en", Email: "ada@example", Error: T("en", KeyRegisterInvalidEmail)}))
	assertCSPSafe(t, out, doc)
	assertUniqueIDs(t, doc)
	form := wantForm(t, doc, "forgot-form", "/forgot-password")
	email := byTestID(t, doc, "email")
	wantInside(t, email, form)
	wantAttr(t, email, "name", "email")
	wantAttr(t, email, "type", "email")
	wantAttr(t, email, "value", "ada@example")
	wantAttr(t, email, "aria-invalid", "true")
	if got := text(byTestID(t, doc, "error")); got != T("en", KeyRegisterInvalidEmail) {
		t.Errorf("error = %q", got)
	}
	if findTestID(doc, "sent") != nil || linkTo(doc, "/login") == nil {
		t.Error("sent message on the form, or no link to /login")
	}

	out, doc = render(t, ForgotPasswordPage(ForgotView{Lang: "en", Email: "ada@example.com", Sent: true}))
	assertCSPSafe(t, out, doc)
	byTestID(t, doc, "sent")
	// Enumeration-safe: the text is conditional and never says whether the
	// account exists.
	if got := text(byTestID(t, doc, "sent-message")); got != "If an account exists for ada@example.com, we sent it a link to reset the password." {
		t.Errorf("sent message = %q", got)
	}
	if findTestID(doc, "forgot-form") != nil {
		t.Error("form shown after sending")
	}

	for _, sent := range []bool{true, false} {
		out, doc = render(t, ForgotPasswordPage(ForgotView{Lang: "en", Email: xss, Error: xss, Sent: sent}))
		assertCSPSafe(t, out, doc)
		assertEscaped(t, out, doc)
	}
}

func TestResetPasswordPage(t *testing.T) {
	t.Parallel()
	out, doc := render(t, ResetPasswordPage(ResetView{Lang: "en", Token: "tok-1", Error: T("en", KeyResetMismatch)}))
	assertCSPSafe(t, out, doc)
	assertUniqueIDs(t, doc)
	assertNoPasswordValue(t, doc)
	form := wantForm(t, doc, "reset-form", "/reset-password")
	tok := inputNamed(t, form, "token")
	wantAttr(t, tok, "type", "hidden")
	wantAttr(t, tok, "value", "tok-1")
	for id, name := range map[string]string{"password": "password", "password-confirm": "password_confirm"} {
		n := byTestID(t, doc, id)
		wantInside(t, n, form)
		wantAttr(t, n, "name", name)
		wantAttr(t, n, "type", "password")
		wantAttr(t, n, "autocomplete", "new-password")
		wantAttr(t, n, "aria-invalid", "true")
	}
	if got := text(byTestID(t, doc, "error")); got != "The passwords do not match." {
		t.Errorf("error = %q", got)
	}
	if findTestID(doc, "done") != nil {
		t.Error("done message on the form")
	}

	out, doc = render(t, ResetPasswordPage(ResetView{Lang: "en", Done: true, Token: "tok-1"}))
	assertCSPSafe(t, out, doc)
	byTestID(t, doc, "done")
	wantAttr(t, byTestID(t, doc, "login-link"), "href", "/login")
	if findTestID(doc, "reset-form") != nil || strings.Contains(out, "tok-1") {
		t.Error("form or token shown after success")
	}

	out, doc = render(t, ResetPasswordPage(ResetView{Lang: "en", Token: xss, Error: xss}))
	assertCSPSafe(t, out, doc)
	assertEscaped(t, out, doc)
	wantAttr(t, inputNamed(t, byTestID(t, doc, "reset-form"), "token"), "value", xss)
}

func TestTwoFactorPage(t *testing.T) {
	t.Parallel()
	out, doc := render(t, TwoFactorPage(TwoFactorView{Lang: "en", Challenge: "ch-1", Error: T("en", Key2FAInvalidCode)}))
	assertCSPSafe(t, out, doc)
	assertUniqueIDs(t, doc)
	form := wantForm(t, doc, "twofactor-form", "/login/2fa")
	ch := inputNamed(t, form, "challenge")
	wantAttr(t, ch, "type", "hidden")
	wantAttr(t, ch, "value", "ch-1")
	code := byTestID(t, doc, "code")
	wantInside(t, code, form)
	wantAttr(t, code, "name", "code")
	wantAttr(t, code, "type", "text")
	wantAttr(t, code, "inputmode", "numeric")
	wantAttr(t, code, "autocomplete", "one-time-code")
	wantAttr(t, code, "aria-invalid", "true")
	if hasAttr(code, "pattern") {
		t.Error("a pattern would refuse recovery codes")
	}
	if !hasAttr(code, "autofocus") || !hasAttr(code, "required") {
		t.Error("code not autofocused or not required")
	}
	if got := text(byTestID(t, doc, "error")); got != T("en", Key2FAInvalidCode) {
		t.Errorf("error = %q", got)
	}
	if !strings.Contains(text(byTestID(t, doc, "recovery-hint")), "recovery code") {
		t.Error("recovery code hint missing")
	}
	wantAttr(t, byTestID(t, doc, "submit"), "type", "submit")

	out, doc = render(t, TwoFactorPage(TwoFactorView{Lang: "en", Challenge: xss, Error: xss}))
	assertCSPSafe(t, out, doc)
	assertEscaped(t, out, doc)
	wantAttr(t, inputNamed(t, byTestID(t, doc, "twofactor-form"), "challenge"), "value", xss)
}

func TestAccountPage(t *testing.T) {
	t.Parallel()
	v := previewAccount(t, "en")
	out, doc := render(t, AccountPage(v))
	assertCSPSafe(t, out, doc)
	assertLang(t, doc, "en")
	assertUniqueIDs(t, doc)
	assertNoPasswordValue(t, doc)

	if got := text(byTestID(t, doc, "account-name")); got != "Ada Lovelace" {
		t.Errorf("name = %q", got)
	}
	if got := text(byTestID(t, doc, "account-email")); got != "ada.lovelace@example.com" {
		t.Errorf("email = %q", got)
	}
	byTestID(t, doc, "email-verified")
	if got := text(byTestID(t, doc, "notice")); got != "Your profile was saved." {
		t.Errorf("notice = %q", got)
	}
	wantAttr(t, byTestID(t, doc, "notice"), "role", "status")
	if findTestID(doc, "error") != nil {
		t.Error("error shown without an error")
	}
	wantAttr(t, byTestID(t, doc, "signout"), "href", "/logout")

	// Profile.
	form := wantForm(t, doc, "profile-form", "/account/profile")
	name := byTestID(t, doc, "name")
	wantInside(t, name, form)
	wantAttr(t, name, "name", "name")
	wantAttr(t, name, "value", "Ada Lovelace")
	wantInside(t, byTestID(t, doc, "profile-submit"), form)

	// Password.
	form = wantForm(t, doc, "password-form", "/account/password")
	for id, want := range map[string][2]string{
		"current-password": {"current_password", "current-password"},
		"new-password":     {"new_password", "new-password"},
	} {
		n := byTestID(t, doc, id)
		wantInside(t, n, form)
		wantAttr(t, n, "name", want[0])
		wantAttr(t, n, "type", "password")
		wantAttr(t, n, "autocomplete", want[1])
	}
	wantInside(t, byTestID(t, doc, "password-submit"), form)
	// The username hint for password managers is not submitted.
	for _, n := range findAll(form, func(n *html.Node) bool { return n.Data == "input" }) {
		if nm, _ := attr(n, "name"); nm == "" {
			if hasAttr(n, "value") && !hasAttr(n, "readonly") {
				t.Error("unnamed input is not read-only")
			}
		}
	}

	// Two-factor enrolment in progress.
	wantAttr(t, byTestID(t, doc, "qr"), "src", v.Enroll.QRDataURI)
	if got := text(byTestID(t, doc, "secret")); got != "JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP" {
		t.Errorf("secret = %q", got)
	}
	form = wantForm(t, doc, "2fa-verify-form", "/account/2fa/verify")
	code := byTestID(t, doc, "enroll-code")
	wantInside(t, code, form)
	wantAttr(t, code, "name", "code")
	wantAttr(t, code, "inputmode", "numeric")
	wantAttr(t, code, "autocomplete", "one-time-code")
	if findTestID(doc, "2fa-enroll-form") != nil || findTestID(doc, "2fa-disable-form") != nil {
		t.Error("enrol or disable form during enrolment")
	}
	if findTestID(doc, "recovery-codes") != nil {
		t.Error("recovery codes without codes")
	}

	// Sessions: 3 rows, the current one with a badge and no revoke form.
	rows := findAll(doc, func(n *html.Node) bool { return testID(n) == "session" })
	if len(rows) != 3 {
		t.Fatalf("got %d sessions, want 3", len(rows))
	}
	for i, row := range rows {
		s := v.Sessions[i]
		badge := findTestID(row, "this-device")
		revoke := findTestID(row, "revoke-form")
		if s.Current != (badge != nil) || s.Current == (revoke != nil) {
			t.Errorf("session %s: badge %v, revoke form %v", s.ID, badge != nil, revoke != nil)
		}
		if revoke != nil {
			wantAttr(t, revoke, "method", "post")
			wantAttr(t, revoke, "action", "/account/sessions/revoke")
			id := inputNamed(t, revoke, "session_id")
			wantAttr(t, id, "type", "hidden")
			wantAttr(t, id, "value", s.ID)
			wantAttr(t, findTestID(row, "revoke"), "type", "submit")
		}
		if got := text(findTestID(row, "session-ip")); got != s.IP {
			t.Errorf("session %s IP = %q", s.ID, got)
		}
	}
	for i, want := range []string{"Safari on macOS", "Ada's iPhone", "Edge on Windows"} {
		if got := text(findTestID(rows[i], "session-device")); got != want {
			t.Errorf("session %d device = %q, want %q", i, got, want)
		}
	}
	if !strings.Contains(text(rows[1]), "Safari on iPhone") {
		t.Error("named device lacks its browser summary")
	}
	times := findAll(rows[0], func(n *html.Node) bool { return n.Data == "time" })
	if len(times) != 2 {
		t.Fatalf("current session has %d <time>, want 2", len(times))
	}
	wantAttr(t, times[0], "datetime", "2025-11-27T07:12:00Z")
	if got := text(times[0]); got != "27 Nov 2025, 07:12 UTC" {
		t.Errorf("time text = %q", got)
	}
	wantForm(t, doc, "revoke-others-form", "/account/sessions/revoke-others")
	wantAttr(t, byTestID(t, doc, "revoke-others"), "type", "submit")

	// Events: translated types in a table with machine-readable times.
	events := findAll(doc, func(n *html.Node) bool { return testID(n) == "event" })
	if len(events) != 5 {
		t.Fatalf("got %d events, want 5", len(events))
	}
	if events[0].Data != "tr" || find(doc, func(n *html.Node) bool { return n.Data == "table" }) == nil {
		t.Error("events are not table rows")
	}
	for i, want := range []string{"Signed in", "Failed sign-in attempt", "Password changed", "Suspicious token reuse blocked", "Account created"} {
		if got := text(events[i]); !strings.HasPrefix(got, want) {
			t.Errorf("event %d = %q, want prefix %q", i, got, want)
		}
		tm := find(events[i], func(n *html.Node) bool { return n.Data == "time" })
		if tm == nil {
			t.Errorf("event %d has no <time>", i)
			continue
		}
		wantAttr(t, tm, "datetime", isoTime(v.Events[i].At))
	}
	if find(events[4], func(n *html.Node) bool { return hasClass(n, "event-device") }) != nil {
		t.Error("event without user agent shows a device")
	}
	if !strings.Contains(text(events[1]), "Firefox on Linux") {
		t.Error("event device summary missing")
	}
}

func TestAccountPageTwoFactorStates(t *testing.T) {
	t.Parallel()
	base := AccountView{Lang: "en", Name: "Ada", Email: "ada@example.com"}

	// Off: an enrol button, no code field.
	out, doc := render(t, AccountPage(base))
	assertCSPSafe(t, out, doc)
	assertUniqueIDs(t, doc)
	form := wantForm(t, doc, "2fa-enroll-form", "/account/2fa/enroll")
	wantInside(t, byTestID(t, doc, "2fa-enroll"), form)
	if got := text(byTestID(t, doc, "2fa-status")); got != "Off" {
		t.Errorf("status = %q", got)
	}
	byTestID(t, doc, "email-unverified")
	for _, id := range []string{"2fa-disable-form", "2fa-verify-form", "qr", "revoke-others-form", "notice", "error", "session", "event"} {
		if findTestID(doc, id) != nil {
			t.Errorf("%s rendered", id)
		}
	}
	if !strings.Contains(out, "No active sessions.") || !strings.Contains(out, "No activity yet.") {
		t.Error("empty states missing")
	}

	// On, right after enabling: recovery codes and the disable form.
	v := base
	v.TwoFactorEnabled = true
	v.Error = T("en", Key2FAInvalidCode)
	v.RecoveryCodes = []string{"AAAA-1111", "BBBB-2222"}
	v.Sessions = []AccountSession{{ID: "s1", Current: true, UserAgent: uaMac}}
	out, doc = render(t, AccountPage(v))
	assertCSPSafe(t, out, doc)
	assertUniqueIDs(t, doc)
	form = wantForm(t, doc, "2fa-disable-form", "/account/2fa/disable")
	code := byTestID(t, doc, "disable-code")
	wantInside(t, code, form)
	wantAttr(t, code, "name", "code")
	wantAttr(t, code, "inputmode", "numeric")
	wantAttr(t, code, "autocomplete", "one-time-code")
	if got := text(byTestID(t, doc, "2fa-status")); got != "On" {
		t.Errorf("status = %q", got)
	}
	if got := text(byTestID(t, doc, "recovery-codes")); !strings.Contains(got, "AAAA-1111") || !strings.Contains(got, "BBBB-2222") {
		t.Errorf("recovery codes = %q", got)
	}
	if got := text(byTestID(t, doc, "error")); got != T("en", Key2FAInvalidCode) {
		t.Errorf("error = %q", got)
	}
	wantAttr(t, byTestID(t, doc, "error"), "role", "alert")
	if findTestID(doc, "2fa-enroll-form") != nil {
		t.Error("enrol form while enabled")
	}
	// Only the current session: nothing else to sign out.
	if findTestID(doc, "revoke-others-form") != nil || findTestID(doc, "revoke-form") != nil {
		t.Error("revoke forms with only the current session")
	}
	// Without a name the email is the heading.
	v.Name = ""
	_, doc = render(t, AccountPage(v))
	if got := text(byTestID(t, doc, "account-name")); got != "ada@example.com" {
		t.Errorf("heading without a name = %q", got)
	}
}

func TestAccountPageXSS(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	out, doc := render(t, AccountPage(AccountView{
		Lang: "en", Name: xss, Email: xss, Notice: xss, Error: xss,
		Enroll:        &EnrollView{QRDataURI: "data:image/png;base64,iVBORw0KGgo=", Secret: xss},
		RecoveryCodes: []string{xss},
		Sessions: []AccountSession{
			{ID: xss, DeviceName: xss, UserAgent: xss, IP: xss, CreatedAt: at, LastSeenAt: at},
			{ID: "s2", UserAgent: xss, IP: xss, LastSeenAt: at},
		},
		Events: []AccountEvent{{Type: xss, IP: xss, UserAgent: xss, At: at}},
	}))
	assertCSPSafe(t, out, doc)
	assertEscaped(t, out, doc)
	wantAttr(t, byTestID(t, doc, "name"), "value", xss)
	wantAttr(t, inputNamed(t, findTestID(doc, "revoke-form"), "session_id"), "value", xss)
	if got := text(byTestID(t, doc, "session-device")); got != strings.Join(strings.Fields(xss), " ") {
		t.Errorf("device name = %q", got)
	}
	wantAttr(t, byTestID(t, doc, "session-device"), "title", xss)
	if got := text(byTestID(t, doc, "event")); !strings.Contains(got, "<script>alert(1)</script>") {
		t.Errorf("unknown event type not shown raw: %q", got)
	}
}

func TestQRCodeURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, uri string
		want      bool
	}{
		{"png", "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==", true},
		{"empty", "", false},
		{"empty data", "data:image/png;base64,", false},
		{"svg", "data:image/svg+xml;base64,PHN2Zz4=", false},
		{"html", "data:text/html;base64,PHNjcmlwdD4=", false},
		{"upper case", "DATA:IMAGE/PNG;BASE64,iVBORw0KGgo=", false},
		{"not base64", `data:image/png;base64,iVBOR" onerror="alert(1)`, false},
		{"https", "https://example.com/qr.png", false},
		{"javascript", "javascript:alert(1)", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, doc := render(t, AccountPage(AccountView{Lang: "en", Enroll: &EnrollView{QRDataURI: tc.uri, Secret: "ABCD"}}))
			assertCSPSafe(t, out, doc)
			img := findTestID(doc, "qr")
			if got := img != nil; got != tc.want {
				t.Fatalf("QR rendered = %v, want %v", got, tc.want)
			}
			if img != nil {
				wantAttr(t, img, "src", tc.uri)
			}
			// The secret and the verify form are there even without an image.
			byTestID(t, doc, "secret")
			byTestID(t, doc, "2fa-verify-form")
		})
	}
}

func TestEventLabels(t *testing.T) {
	t.Parallel()
	types := []string{"login_success", "login_failure", "logout", "refresh_token_reuse", "password_changed",
		"password_reset", "email_verified", "2fa_enabled", "2fa_disabled", "2fa_used", "recovery_code_used",
		"session_revoked", "account_locked", "registered", "profile_updated", "consent_revoked",
		"passkey_added", "passkey_removed", "passkey_counter_regression"} // issue 15
	if len(eventKeys) != len(types) {
		t.Errorf("eventKeys has %d entries, want %d", len(eventKeys), len(types))
	}
	seen := map[string]bool{}
	for _, typ := range types {
		for _, lang := range []string{"en", "de"} {
			label := eventLabel(lang, typ)
			if label == typ || label == eventKeys[typ] {
				t.Errorf("%s: %s not translated", lang, typ)
			}
			if seen[lang+label] {
				t.Errorf("%s: label %q used twice", lang, label)
			}
			seen[lang+label] = true
		}
	}
	if got := eventLabel("de", "something_new"); got != "something_new" {
		t.Errorf("unknown type = %q", got)
	}
}

func TestUASummary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ ua, en, de string }{
		{uaMac, "Safari on macOS", "Safari auf macOS"},
		{uaIPhone, "Safari on iPhone", "Safari auf iPhone"},
		{uaWindows, "Edge on Windows", "Edge auf Windows"},
		{uaLinux, "Firefox on Linux", "Firefox auf Linux"},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", "Chrome on Android", "Chrome auf Android"},
		{"curl/8.5.0", "curl", "curl"},
		{"", "Unknown device", "Unbekanntes Gerät"},
		{"SomeBot", "Unknown device", "Unbekanntes Gerät"},
	} {
		if got := uaSummary("en", tc.ua); got != tc.en {
			t.Errorf("en %q = %q, want %q", tc.ua, got, tc.en)
		}
		if got := uaSummary("de", tc.ua); got != tc.de {
			t.Errorf("de %q = %q, want %q", tc.ua, got, tc.de)
		}
	}
}

func TestFormatTime(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 5, 9, 7, 0, 0, time.FixedZone("CET", 3600))
	if got := formatTime("en", at); got != "5 Mar 2025, 08:07 UTC" {
		t.Errorf("en = %q", got)
	}
	if got := formatTime("de", at); got != "5. März 2025, 08:07 UTC" {
		t.Errorf("de = %q", got)
	}
	if got := isoTime(at); got != "2025-03-05T08:07:00Z" {
		t.Errorf("iso = %q", got)
	}
}

func TestGermanAccountPages(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		c    templ.Component
		want []string
	}{
		{"register", RegisterPage(RegisterView{Lang: "de", Errors: map[string]string{"email": T("de", KeyRegisterEmailTaken)}}), []string{
			"Konto erstellen", "Name", "E-Mail", "Passwort", "Mindestens 8 Zeichen", "Du hast schon ein Konto?", "Anmelden",
			"Mit dieser E-Mail-Adresse gibt es schon ein Konto.",
		}},
		{"registered", RegisteredPage(RegisteredView{Lang: "de", Email: "ada@example.com"}), []string{
			"Schau in dein Postfach", "Wir haben einen Bestätigungslink an", "ada@example.com</strong> geschickt.", "Neuen Link senden",
		}},
		{"verify ok", VerifyResultPage(VerifyResultView{Lang: "de", OK: true}), []string{"E-Mail-Adresse bestätigt", "Du kannst dich jetzt anmelden."}},
		{"verify failed", VerifyResultPage(VerifyResultView{Lang: "de"}), []string{"Dieser Link ist nicht mehr gültig", "Neuen Link senden"}},
		{"forgot", ForgotPasswordPage(ForgotView{Lang: "de"}), []string{"Passwort zurücksetzen", "Link senden", "Zurück zur Anmeldung"}},
		{"forgot sent", ForgotPasswordPage(ForgotView{Lang: "de", Email: "ada@example.com", Sent: true}), []string{
			"Falls es ein Konto für", "gibt, haben wir einen Link zum Zurücksetzen des Passworts geschickt.",
		}},
		{"reset", ResetPasswordPage(ResetView{Lang: "de", Error: T("de", KeyResetMismatch)}), []string{
			"Neues Passwort wählen", "Neues Passwort wiederholen", "Die Passwörter stimmen nicht überein.",
		}},
		{"reset done", ResetPasswordPage(ResetView{Lang: "de", Done: true}), []string{"Passwort geändert", "Weiter zur Anmeldung"}},
		{"2fa", TwoFactorPage(TwoFactorView{Lang: "de", Error: T("de", Key2FAInvalidCode)}), []string{
			"Zwei-Faktor-Authentifizierung", "Authenticator-App", "Wiederherstellungscodes", "Bestätigen", "Der Code ist ungültig.",
		}},
		{"account", AccountPage(previewAccount(t, "de")), []string{
			"Dein Konto", "Profil", "Speichern", "Aktuelles Passwort", "Passwort ändern", "Zwei-Faktor-Authentifizierung",
			"Scanne den QR-Code", "Einschalten", "Sitzungen und Geräte", "Dieses Gerät", "Zuletzt aktiv", "Überall sonst abmelden",
			"Safari auf macOS", "Letzte Sicherheitsaktivitäten", "Fehlgeschlagener Anmeldeversuch", "27. Nov. 2025, 07:12 UTC",
			"Dein Profil wurde gespeichert.", "Bestätigt",
		}},
		{"account 2fa on", AccountPage(AccountView{Lang: "de", TwoFactorEnabled: true, RecoveryCodes: []string{"x"}}), []string{
			"An", "Ausschalten", "Speichere deine Wiederherstellungscodes", "Noch keine Aktivitäten.", "Nicht bestätigt",
		}},
		{"account 2fa off", AccountPage(AccountView{Lang: "de"}), []string{"Zwei-Faktor-Authentifizierung einrichten", "Aus"}},
		{"credits", CreditsPage(previewCredits("de")), []string{
			"Credits", "Zurück zu deinem Konto", "Guthaben", "Verfügbar", "Gratis-Credits", "Gekaufte Credits", "1.655",
			"Credits kaufen", "Kaufen", "5,00 €", "Letzte Buchungen", "Willkommensbonus", "Tägliche Gratis-Credits", "Verbrauch",
			"−25", "+150", "Kaufverlauf", "Bezahlt", "Ausstehend", "27. Nov. 2025, 07:12 UTC",
			"Danke! Deine Credits erscheinen, sobald die Zahlung bestätigt ist.",
		}},
		{"credits empty", CreditsPage(CreditsView{Lang: "de", Billing: true, Notice: T("de", KeyCreditsPurchaseCancelled)}), []string{
			"Noch keine Buchungen.", "Noch keine Käufe.", "Gerade sind keine Pakete verfügbar.", "Der Kauf wurde abgebrochen.",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, doc := render(t, tc.c)
			assertLang(t, doc, "de")
			assertCSPSafe(t, out, doc)
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("missing %q", want)
				}
			}
			for _, english := range []string{"Sign in", "Password", "Account", "Your ", "Session", "Verify", "Check your", "Save"} {
				if strings.Contains(out, english) {
					t.Errorf("German page contains English %q", english)
				}
			}
			// Informal address: du, never Sie.
			for _, formal := range []string{" Sie ", " Ihr ", " Ihre ", " Ihnen "} {
				if strings.Contains(text(doc), formal) {
					t.Errorf("German page uses formal %q", formal)
				}
			}
		})
	}
}

// TestHandlerKeys checks the keys the handlers pass to the new pages.
func TestHandlerKeys(t *testing.T) {
	t.Parallel()
	for _, key := range []string{
		"register.email_taken", "register.invalid_email", "register.password_length", "register.name_length",
		"reset.invalid_token", "reset.mismatch", "2fa.invalid_code", "password.wrong_current",
		"account.saved", "account.password_changed", "account.2fa_enabled", "account.2fa_disabled",
		"account.session_revoked", "account.sessions_revoked", "login.unverified", "ratelimit",
		KeyCreditsPurchaseSuccess, KeyCreditsPurchaseCancelled, KeyCreditsPackageNotFound,
	} {
		m, ok := messages[key]
		if !ok || m.en == "" || m.de == "" {
			t.Errorf("handler key %q missing or lacks a language", key)
		}
	}
	if got := T("en", KeyLoginUnverified); got != "Please confirm your email address first — we sent you a link." {
		t.Errorf("login.unverified = %q", got)
	}
	if got := T("en", KeyRateLimit); got != "Too many attempts. Please wait a moment and try again." {
		t.Errorf("ratelimit = %q", got)
	}
	if got := T("en", KeyRegisterPasswordLength); !strings.Contains(got, "8") || !strings.Contains(got, "128") {
		t.Errorf("password length = %q", got)
	}
}
