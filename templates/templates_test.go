package templates

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

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
	for _, href := range []string{"/forgot-password", "/register"} {
		if find(doc, func(n *html.Node) bool { v, _ := attr(n, "href"); return n.Data == "a" && v == href }) == nil {
			t.Errorf("no link to %s", href)
		}
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
		KeyErrorInvalidRedirect, KeyErrorInternal, KeyErrorCSRF,
		"consent.title", "logout.title", "loggedout.title",
	}
	for _, k := range scopeKeys {
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
