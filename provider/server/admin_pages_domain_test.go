package server_test

// The admin and "Your data" pages against the real users, clients and
// erasure domains. They need helpers A's and B's work: the tag comes off
// when it is merged.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/manacore/mana-core-auth/internal/browsertest"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/admin"
	"github.com/manacore/mana-core-auth/provider/ratelimit"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

var userRowRE = regexp.MustCompile(`data-testid="user-row" data-user-id="([^"]+)"`)

func userRows(p *page) []string {
	var ids []string
	for _, m := range userRowRE.FindAllStringSubmatch(p.body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func TestAdminPagesSearch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		adminUser, _ := e.createAdmin(t, provider.RoleAdmin)
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Millisecond)
		for i := range 25 {
			u := &provider.User{ID: fmt.Sprintf("user-search-%02d", i), Email: fmt.Sprintf("finder-%02d@example.com", i),
				Name: fmt.Sprintf("Finder %02d", i), Role: provider.RoleUser, CreatedAt: now, UpdatedAt: now}
			if err := e.store.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		br := e.adminBrowser(t, adminUser)

		p := br.get(t, "/admin?q=FINDER")
		wantPage(t, "search", p, http.StatusOK, "next")
		if rows := userRows(p); len(rows) != 20 || !strings.Contains(p.body, "Page 1 of 2") || !strings.Contains(p.body, ": 25") {
			t.Errorf("page 1: %d rows: %.1500s", len(rows), p.body)
		}
		p = br.get(t, "/admin?q=FINDER&page=2")
		if rows := userRows(p); len(rows) != 5 || !strings.Contains(p.body, "Page 2 of 2") || !strings.Contains(p.body, `data-testid="prev"`) {
			t.Errorf("page 2: %d rows", len(rows))
		}
		if p = br.getLang(t, "/admin?q=finder&page=2", "de"); !strings.Contains(p.body, "Seite 2 von 2") {
			t.Error("German paging")
		}
		// By name, case-insensitively, and nothing else.
		p = br.get(t, "/admin?q=inder+07")
		if rows := userRows(p); len(rows) != 1 || rows[0] != "user-search-07" {
			t.Errorf("name search: %v", rows)
		}
		p = br.get(t, "/admin?q=alice%40EXAMPLE")
		if rows := userRows(p); len(rows) != 1 || rows[0] != e.user.ID {
			t.Errorf("email search: %v", rows)
		}
		if p = br.get(t, "/admin?q=nobody-here"); len(userRows(p)) != 0 || !strings.Contains(p.body, `data-testid="no-users"`) {
			t.Error("a search without match lists users")
		}
		if p = br.get(t, "/admin?q=root"); !strings.Contains(p.body, `data-testid="role-badge">Admin`) {
			t.Error("no admin role badge")
		}
	})
}

func TestAdminPagesActions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		adminUser, _ := e.createAdmin(t, provider.RoleAdmin)
		ctx := context.Background()
		br := e.adminBrowser(t, adminUser)
		userPage := "/admin/users/" + e.user.ID
		l := e.apiLogin(t, userEmail, userPassword)

		p := br.post(t, userPage+"/sessions/revoke", url.Values{})
		wantPage(t, "sign out everywhere", p, http.StatusOK, "notice")
		if ok, _ := e.valid(t, l.access); ok {
			t.Error("the user's token survived sign out everywhere")
		}

		p = br.post(t, userPage+"/role", url.Values{"role": {"admin"}})
		wantPage(t, "role", p, http.StatusOK, "notice")
		if u, _ := e.store.GetUser(ctx, e.user.ID); u.Role != provider.RoleAdmin {
			t.Errorf("role = %q", u.Role)
		}
		if p = br.post(t, userPage+"/role", url.Values{"role": {"emperor"}}); p.status != http.StatusBadRequest {
			t.Errorf("bad role: %d", p.status)
		}
		br.post(t, userPage+"/role", url.Values{"role": {"user"}})

		p = br.post(t, userPage+"/status", url.Values{"disabled": {"1"}})
		wantPage(t, "disable", p, http.StatusOK, "notice", "badge-disabled", "enable")
		if u, _ := e.store.GetUser(ctx, e.user.ID); !u.Disabled {
			t.Error("not disabled")
		}
		e.post(t, "/api/v1/auth/login", map[string]string{"email": userEmail, "password": userPassword}).want(t, "disabled login", http.StatusForbidden)
		p = br.post(t, userPage+"/status", url.Values{"disabled": {"0"}})
		wantPage(t, "enable", p, http.StatusOK, "notice", "disable")
		e.apiLogin(t, userEmail, userPassword)

		// An admin cannot disable or demote themself.
		p = br.post(t, "/admin/users/"+adminUser.ID+"/status", url.Values{"disabled": {"1"}})
		if p.status != http.StatusBadRequest || !strings.Contains(p.body, "your own account") {
			t.Errorf("self-disable: %d", p.status)
		}
		if u, _ := e.store.GetUser(ctx, adminUser.ID); u.Disabled || u.Role != provider.RoleAdmin {
			t.Error("the admin changed themself")
		}

		// Clients: create (secret once), edit redirect URIs, disable, delete.
		p = br.post(t, "/admin/clients", url.Values{"id": {"notes"}, "name": {"Notes"}, "redirect_uris": {"https://notes.mana.how/callback"}})
		if p.status != http.StatusCreated || !strings.Contains(p.body, `data-testid="secret"`) {
			t.Fatalf("create client: %d %.800s", p.status, p.body)
		}
		if p = br.get(t, "/admin/clients"); strings.Contains(p.body, `data-testid="secret"`) || !strings.Contains(p.body, `data-client-id="notes"`) {
			t.Error("secret shown again, or client missing")
		}
		if p = br.post(t, "/admin/clients", url.Values{"id": {"notes"}, "name": {"Again"}, "redirect_uris": {"https://x.example/cb"}}); p.status != http.StatusConflict {
			t.Errorf("duplicate client: %d", p.status)
		}
		p = br.post(t, "/admin/clients/notes/redirects", url.Values{"redirect_uris": {"https://notes.mana.how/callback\nhttps://notes.mana.how/cb2\n"}})
		wantPage(t, "redirects", p, http.StatusOK, "notice")
		if c, err := e.store.GetClient(ctx, "notes"); err != nil || len(c.RedirectURIs) != 2 {
			t.Errorf("redirects: %+v %v", c, err)
		}
		if p = br.post(t, "/admin/clients/notes/redirects", url.Values{"redirect_uris": {"javascript:alert(1)"}}); p.status != http.StatusBadRequest {
			t.Errorf("bad redirect: %d", p.status)
		}
		wantPage(t, "disable client", br.post(t, "/admin/clients/notes/status", url.Values{"disabled": {"1"}}), http.StatusOK, "client-disabled")
		wantPage(t, "delete client", br.post(t, "/admin/clients/notes/delete", url.Values{}), http.StatusOK, "notice")
		if _, err := e.store.GetClient(ctx, "notes"); err == nil {
			t.Error("client not deleted")
		}
	})
}

func TestAdminPagesErase(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		const key = "service-key-0123456789"
		chat := startFakeApp(t, key, admin.Entity{Entity: "messages", Count: 7, Label: "Messages"})
		todo := startFakeApp(t, key, admin.Entity{Entity: "tasks", Count: 2, Label: "Tasks"})
		todo.failDeletes = 1
		e := setup(t, b, func(o *setupOpts) {
			o.admin = func(c *admin.Config) {
				c.Backends = []admin.Backend{{ID: "chat", Name: "Chat", URL: chat.URL, ServiceKey: key},
					{ID: "todo", Name: "Todo", URL: todo.URL, ServiceKey: key}}
			}
		})
		adminUser, _ := e.createAdmin(t, provider.RoleAdmin)
		br := e.adminBrowser(t, adminUser)
		userPage := "/admin/users/" + e.user.ID

		p := br.post(t, userPage+"/delete", url.Values{"confirm_email": {userEmail}})
		wantPage(t, "erasure result", p, http.StatusOK, "erasure-result", "erasure-partial", "erasure-pending")
		if strings.Count(p.body, `data-testid="erasure-project"`) != 2 {
			t.Errorf("per-app outcomes: %.2000s", p.body)
		}
		u, err := e.store.GetUser(context.Background(), e.user.ID)
		if err != nil || u.DeletedAt == nil || u.Email == userEmail || u.Name != "" {
			t.Fatalf("user not erased: %+v %v", u, err)
		}
		// The user page shows the tombstone and the pending deletion, and
		// offers no actions.
		p = br.get(t, userPage)
		wantPage(t, "erased user", p, http.StatusOK, "badge-erased", "pending")
		if strings.Contains(p.body, `data-testid="actions"`) || strings.Contains(p.body, userEmail) {
			t.Error("erased user page offers actions or shows the email")
		}
		// Listed only with "show erased".
		if rows := userRows(br.get(t, "/admin")); strings.Contains(strings.Join(rows, ","), e.user.ID) {
			t.Error("erased user listed by default")
		}
		if rows := userRows(br.get(t, "/admin?erased=1")); !strings.Contains(strings.Join(rows, ","), e.user.ID) {
			t.Error("erased user missing with show erased")
		}
	})
}

func TestAccountDataEndToEnd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		const key = "service-key-0123456789"
		chat := startFakeApp(t, key, admin.Entity{Entity: "messages", Count: 7, Label: "Messages"})
		c := &clock{}
		e := setup(t, b, withClock(c), func(o *setupOpts) {
			o.admin = func(cfg *admin.Config) {
				cfg.Backends = []admin.Backend{{ID: "chat", Name: "Chat", URL: chat.URL, ServiceKey: key}}
			}
		})
		br := e.browser(t)
		if p := br.signIn(t, userEmail, userPassword); !isAccountPage(p) {
			t.Fatal("sign-in")
		}
		p := br.get(t, "/account/data")
		wantPage(t, "your data", p, http.StatusOK, "app-card", "entity")
		if !strings.Contains(p.body, "Messages") {
			t.Errorf("per-app counts: %.2000s", p.body)
		}
		p = br.get(t, "/account/data/export")
		var doc map[string]any
		if err := json.Unmarshal([]byte(p.body), &doc); err != nil || !strings.Contains(p.body, userEmail) || doc["projects"] == nil {
			t.Errorf("export: %v %.500s", err, p.body)
		}

		for _, f := range []url.Values{
			{"password": {"wrong password"}, "confirm_email": {userEmail}},
			{"password": {userPassword}, "confirm_email": {"someone@example.com"}},
		} {
			if p = br.post(t, "/account/delete", f); p.status != http.StatusBadRequest || !strings.Contains(p.body, `data-testid="error"`) {
				t.Errorf("refused deletion %v: %d", f, p.status)
			}
		}
		if u, _ := e.store.GetUser(context.Background(), e.user.ID); u.DeletedAt != nil {
			t.Fatal("erased by a refused request")
		}
		p = br.post(t, "/account/delete", url.Values{"password": {userPassword}, "confirm_email": {userEmail}})
		wantPage(t, "deleted", p, http.StatusOK, "deleted-text", "erasure-result", "erasure-success", "receipt")
		if p.url.Path != "/account/deleted" {
			t.Errorf("result at %s", p.url)
		}
		if p = br.get(t, "/account"); !isLoginPage(p) {
			t.Error("still signed in after deleting the account")
		}
		if u, _ := e.store.GetUser(context.Background(), e.user.ID); u.DeletedAt == nil || u.Email == userEmail {
			t.Errorf("not erased: %+v", u)
		}
		// The address can register again.
		e.post(t, "/api/v1/auth/register", map[string]string{"email": userEmail, "password": "password123", "name": "Alice"}).
			want(t, "register again", http.StatusCreated)

		// With a second factor, the code is asked for too.
		u2 := e.createVerifiedUser(t, "user-bob-0002", "bob@example.com", userPassword)
		l := e.apiLogin(t, u2.Email, userPassword)
		secret, _ := e.enableTOTP(t, c, l.access)
		br2 := e.browser(t)
		p = br2.signIn(t, u2.Email, userPassword)
		ch := submatch(t, challengeRE, p.body, "challenge")
		c.advance(30 * time.Second)
		if p = br2.post(t, "/login/2fa", url.Values{"challenge": {ch}, "code": {code(t, secret, c)}}); !isAccountPage(p) {
			t.Fatal("2fa sign-in")
		}
		wantPage(t, "delete page with 2FA", br2.get(t, "/account/delete"), http.StatusOK, "code")
		if p = br2.post(t, "/account/delete", url.Values{"password": {userPassword}, "confirm_email": {u2.Email}}); p.status != http.StatusBadRequest {
			t.Errorf("without the code: %d", p.status)
		}
		c.advance(30 * time.Second)
		p = br2.post(t, "/account/delete", url.Values{"password": {userPassword}, "code": {code(t, secret, c)}, "confirm_email": {u2.Email}})
		wantPage(t, "deleted with 2FA", p, http.StatusOK, "erasure-result")
	})
}

func TestAccountDeleteRateLimited(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b, func(o *setupOpts) { o.limiter = ratelimit.NewMemory(time.Now) })
		br := e.browser(t)
		if p := br.signIn(t, userEmail, userPassword); !isAccountPage(p) {
			t.Fatal("sign-in")
		}
		for i := range 5 {
			if p := br.post(t, "/account/delete", url.Values{"password": {"guess"}, "confirm_email": {userEmail}}); p.status != http.StatusBadRequest {
				t.Fatalf("attempt %d: %d", i+1, p.status)
			}
		}
		p := br.post(t, "/account/delete", url.Values{"password": {userPassword}, "confirm_email": {userEmail}})
		if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" {
			t.Errorf("6th attempt: %d", p.status)
		}
		if u, _ := e.store.GetUser(context.Background(), e.user.ID); u.DeletedAt != nil {
			t.Error("the limited request erased the account")
		}
	})
}

// TestBrowserAdminLiveSearch: the user list follows the search box as the
// admin types, without a submit.
func TestBrowserAdminLiveSearch(t *testing.T) {
	path := browsertest.Chromium(t)
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		adminUser, _ := e.createAdmin(t, provider.RoleAdmin)
		now := time.Now().UTC().Truncate(time.Millisecond)
		for i := range 3 {
			u := &provider.User{ID: fmt.Sprintf("user-live-%d", i), Email: fmt.Sprintf("live-%d@example.com", i),
				Name: fmt.Sprintf("Live %d", i), Role: provider.RoleUser, CreatedAt: now, UpdatedAt: now}
			if err := e.store.CreateUser(context.Background(), u); err != nil {
				t.Fatal(err)
			}
		}
		c := startChrome(t, path)
		c.do("sign in and open the user list",
			chromedp.Navigate(e.issuer+"/login?return_to=/admin"),
			chromedp.WaitVisible(chromedp.CSS("[data-testid=email]")),
			chromedp.SendKeys(chromedp.CSS("[data-testid=email]"), adminUser.Email),
			chromedp.SendKeys(chromedp.CSS("[data-testid=password]"), adminPassword),
			chromedp.Click(chromedp.CSS("[data-testid=submit]")),
			chromedp.WaitVisible(chromedp.CSS("[data-testid=search-form]")),
		)
		rows := func() int {
			n, err := chromedp.Run(c.ctx, chromedp.Evaluate[int](`document.querySelectorAll("[data-testid=user-row]").length`))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := rows(); n != 5 {
			t.Fatalf("%d rows before searching, want 5", n)
		}
		c.do("type a search", chromedp.SendKeys(chromedp.CSS("[data-testid=search]"), "live-1"))
		deadline := time.Now().Add(chromeStep)
		for rows() != 1 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if n := rows(); n != 1 {
			t.Fatalf("%d rows after typing, want 1", n)
		}
		loc, _ := chromedp.Run(c.ctx, chromedp.Location())
		if !strings.Contains(loc, "q=live-1") {
			t.Errorf("location %s does not keep the search", loc)
		}
	})
}
