package templates

import (
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
	"golang.org/x/net/html"
)

const adminScript = `<script src="/static/js/admin.js" defer></script>`

// renderAdmin renders a page that may load the admin script: the script is
// an external file and its only one; the rest must pass assertCSPSafe, and
// is what it returns.
func renderAdmin(t *testing.T, c templ.Component) (string, *html.Node) {
	t.Helper()
	out, doc := render(t, c)
	for _, s := range findAll(doc, func(n *html.Node) bool { return n.Data == "script" }) {
		if src, _ := attr(s, "src"); src != "/static/js/admin.js" || s.FirstChild != nil {
			t.Errorf("script src=%q with content %v", src, s.FirstChild != nil)
		}
	}
	rest := strings.ReplaceAll(out, adminScript, "")
	restDoc, err := html.Parse(strings.NewReader(rest))
	if err != nil {
		t.Fatal(err)
	}
	assertCSPSafe(t, rest, restDoc)
	return rest, restDoc
}

func sampleApps() []AdminApp {
	last := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	return []AdminApp{
		{ID: "chat", Name: "Chat", Icon: "💬", Available: true, Total: 43, LastActivityAt: &last,
			Entities: []AdminEntity{{Label: "Messages", Count: 40}, {Label: "Conversations", Count: 3}}},
		{ID: "presi", Name: "Presi", Icon: "📊", Error: "Backend offline"},
	}
}

func TestAdminUsersPage(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	v := AdminUsersView{Lang: "de", Search: xss, ShowErased: true, Total: 45, Page: 2, Pages: 3, Users: []AdminUserRow{
		{ID: "u1", Email: "ada@example.com", Name: xss, Role: "admin", CreatedAt: now, LastActiveAt: &now},
		{ID: "u2", Email: "bob@example.com", Name: "Bob", Role: "user", Disabled: true, CreatedAt: now},
		{ID: "u3", Email: "erased-u3@invalid", Role: "user", CreatedAt: now, Erased: true},
	}}
	out, doc := renderAdmin(t, AdminUsersPage(v))
	assertLang(t, doc, "de")
	assertEscaped(t, out, doc)
	if got := text(byTestID(t, doc, "page-of")); got != "Seite 2 von 3" {
		t.Errorf("paging %q", got)
	}
	if rows := findAll(doc, func(n *html.Node) bool { return testID(n) == "user-row" }); len(rows) != 3 {
		t.Errorf("%d rows", len(rows))
	}
	// Paging links keep the search and the toggle.
	wantAttr(t, byTestID(t, doc, "next"), "href", "/admin?erased=1&page=3&q=%22%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E%3Cimg+src%3Dx+onerror%3Dalert%281%29%3E")
	if !hasAttr(byTestID(t, doc, "show-erased"), "checked") {
		t.Error("show erased not checked")
	}
	for _, id := range []string{"role-badge", "badge-disabled", "badge-erased"} {
		byTestID(t, doc, id)
	}
	if !strings.Contains(out, "Gelöschtes Konto") || !strings.Contains(out, "Zuletzt aktiv") {
		t.Error("German labels missing")
	}

	_, doc = renderAdmin(t, AdminUsersPage(AdminUsersView{Lang: "en", Page: 1, Pages: 1}))
	if got := text(byTestID(t, doc, "page-of")); got != "Page 1 of 1" {
		t.Errorf("paging %q", got)
	}
	byTestID(t, doc, "no-users")
	if findTestID(doc, "next") != nil || findTestID(doc, "prev") != nil {
		t.Error("paging links on the only page")
	}
}

func TestAdminUserPage(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	v := AdminUserView{Lang: "de", User: AdminUserCard{ID: "u1", Email: "ada@example.com", Name: xss, Role: "user", CreatedAt: now},
		Configured: true, Sessions: 2, Accounts: 1, Has2FA: true, Balance: 1500, Transactions: 12,
		TotalEntities: 43, AppsWithData: 1, Apps: sampleApps(),
		Pending:  []AdminPending{{App: "Todo", Attempts: 3, LastError: "HTTP 500", NextAttempt: now}},
		Receipts: []ReceiptView{{ID: "er-1", Subject: "hash", RequestedBy: "self", RequestedAt: now, Parts: []ReceiptPart{{Name: "Chat", Deleted: 43, At: now}}}}}
	out, doc := renderAdmin(t, AdminUserPage(v))
	assertLang(t, doc, "de")
	assertEscaped(t, out, doc)
	for id, want := range map[string]string{"stat-entities": "43", "stat-apps": "1/2", "stat-credits": "1.500", "auth-sessions": "2"} {
		if got := text(byTestID(t, doc, id)); !strings.Contains(got, want) {
			t.Errorf("%s = %q, want %q in it", id, got, want)
		}
	}
	if got := text(byTestID(t, doc, "app-unreachable")); got != "Backend nicht erreichbar: Backend offline" {
		t.Errorf("unreachable app: %q", got)
	}
	byTestID(t, doc, "status-ok")
	byTestID(t, doc, "pending-deletion")
	if got := text(byTestID(t, doc, "receipt")); !strings.Contains(got, "der Person selbst") {
		t.Errorf("receipt: %q", got)
	}
	for _, id := range []string{"revoke-form", "role-form", "status-form", "delete-link"} {
		form := byTestID(t, doc, id)
		if id != "delete-link" {
			wantAttr(t, form, "method", "post")
		}
	}

	// Their own account: no self-demotion; an erased one: no actions.
	v.User.Self = true
	_, doc = renderAdmin(t, AdminUserPage(v))
	if findTestID(doc, "role-form") != nil || findTestID(doc, "delete-link") != nil || findTestID(doc, "revoke-form") == nil {
		t.Error("own page actions")
	}
	v.User.Erased = true
	_, doc = renderAdmin(t, AdminUserPage(v))
	if findTestID(doc, "actions") != nil || findTestID(doc, "badge-erased") == nil {
		t.Error("erased user page")
	}
}

func TestDeletionPages(t *testing.T) {
	t.Parallel()
	out, doc := renderAdmin(t, AdminDeletePage(AdminDeleteView{Lang: "en", User: AdminUserCard{ID: "u1", Email: xss}, Apps: sampleApps(), TypedEmail: xss}))
	assertEscaped(t, out, doc)
	form := byTestID(t, doc, "delete-form")
	wantAttr(t, form, "data-confirm-email", xss)
	wantAttr(t, form, "action", "/admin/users/u1/delete")
	wantAttr(t, inputNamed(t, form, "confirm_email"), "data-confirm-input", "")
	if n := len(findAll(doc, func(n *html.Node) bool { return testID(n) == "consequence-app" })); n != 2 {
		t.Errorf("%d app consequences", n)
	}

	out, doc = renderAdmin(t, AccountDeletePage(AccountDeleteView{Lang: "de", Email: "ada@example.com", TwoFactor: true}))
	assertLang(t, doc, "de")
	form = byTestID(t, doc, "delete-form")
	inputNamed(t, form, "password")
	inputNamed(t, form, "code")
	if !strings.Contains(out, "Mein Konto löschen") {
		t.Error("German submit")
	}
	_, doc = renderAdmin(t, AccountDeletePage(AccountDeleteView{Lang: "en", Email: "ada@example.com"}))
	if findTestID(doc, "code") != nil {
		t.Error("code field without a second factor")
	}

	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	res := ErasureView{ID: "er-1", Success: false, TotalDeleted: 45,
		Projects: []ErasureProject{{Name: "Chat", Success: true, Deleted: 43}, {Name: "Todo", Pending: true, Error: "HTTP 500"}},
		Auth:     []ErasureCount{{Key: KeyErasureSessions, Count: 2}}}
	_, doc = renderAdmin(t, AdminErasedPage(AdminErasedView{Lang: "en", UserID: "u1", Result: res}))
	byTestID(t, doc, "erasure-partial")
	byTestID(t, doc, "erasure-pending")
	byTestID(t, doc, "receipt-later")
	if got := text(byTestID(t, doc, "erasure-auth")); !strings.Contains(got, "sessions") {
		t.Errorf("auth part %q", got)
	}
	res.Success, res.Receipt = true, &ReceiptView{ID: "er-1", Subject: "hash", RequestedBy: "admin-1", RequestedAt: now, CompletedAt: &now}
	_, doc = renderAdmin(t, AccountDeletedPage(AccountDeletedView{Lang: "en", Result: res}))
	byTestID(t, doc, "erasure-success")
	if got := text(byTestID(t, doc, "receipt-id")); got != "er-1" {
		t.Errorf("receipt id %q", got)
	}
	_, doc = renderAdmin(t, AccountDeletedPage(AccountDeletedView{Lang: "en"}))
	if findTestID(doc, "erasure-result") != nil || findTestID(doc, "deleted-text") == nil {
		t.Error("deleted page without a result")
	}
}

func TestAdminClientsAndStepUpPages(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	out, doc := renderAdmin(t, AdminClientsPage(AdminClientsView{Lang: "en", CreatedID: "notes", Secret: "s3cr3t", Clients: []AdminClient{
		{ID: "notes", Name: xss, RedirectURIs: []string{"https://a.example/cb", "https://b.example/cb"}, CreatedAt: now},
		{ID: "manaauth-service", Name: "Service", BuiltIn: true, CreatedAt: now},
	}}))
	assertEscaped(t, out, doc)
	if got := text(byTestID(t, doc, "secret")); got != "s3cr3t" {
		t.Errorf("secret %q", got)
	}
	if got := text(byTestID(t, doc, "redirects")); got != "https://a.example/cb https://b.example/cb" {
		t.Errorf("redirects %q", got)
	}
	if n := len(findAll(doc, func(n *html.Node) bool { return testID(n) == "redirects-form" })); n != 1 {
		t.Errorf("%d redirect forms; the built-in client has none", n)
	}

	out, doc = render(t, StepUpPage(StepUpView{Lang: "de", ReturnTo: "/admin/users/u1", Error: "x"}))
	assertCSPSafe(t, out, doc)
	form := byTestID(t, doc, "stepup-form")
	wantAttr(t, form, "action", "/admin/step-up")
	wantAttr(t, inputNamed(t, form, "return_to"), "value", "/admin/users/u1")
	wantAttr(t, inputNamed(t, form, "code"), "autocomplete", "one-time-code")
	if !strings.Contains(out, "Bestätige, dass du es bist") {
		t.Error("German step-up")
	}

	_, doc = render(t, AccountDataPage(AccountDataView{Lang: "en", Apps: sampleApps()}))
	wantAttr(t, byTestID(t, doc, "download"), "href", "/account/data/export")
	if n := len(findAll(doc, func(n *html.Node) bool { return testID(n) == "app-card" })); n != 2 {
		t.Errorf("%d app cards", n)
	}
}
