package templates

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// Issue 12: device names, grouping and collapsing of the sessions list.

func TestDeviceNamesFromUserAgent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, ua, device, en, de string
	}{
		{"chrome macos", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "", "Chrome on macOS", "Chrome auf macOS"},
		{"safari iphone", uaIPhone, "", "Safari on iPhone", "Safari auf iPhone"},
		{"firefox windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", "", "Firefox on Windows", "Firefox auf Windows"},
		{"chrome iphone", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", "", "Chrome on iPhone", "Chrome auf iPhone"},
		{"firefox ipad", "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15", "", "Firefox on iPad", "Firefox auf iPad"},
		{"samsung android", "Mozilla/5.0 (Linux; Android 14; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36", "", "Samsung Internet on Android", "Samsung Internet auf Android"},
		{"headless chrome linux", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "", "Chrome on Linux", "Chrome auf Linux"},
		{"edge windows", uaWindows, "", "Edge on Windows", "Edge auf Windows"},
		{"opera chromeos", "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0", "", "Opera on ChromeOS", "Opera auf ChromeOS"},
		{"placeholder name", uaMac, "Unknown device", "Safari on macOS", "Safari auf macOS"},
		{"german placeholder", uaMac, "Unbekanntes Gerät", "Safari on macOS", "Safari auf macOS"},
		{"app's own name wins", uaMac, "Work laptop", "Work laptop", "Work laptop"},
		{"nothing known", "SomeBot/1.0", "", "Unknown device", "Unbekanntes Gerät"},
		{"placeholder and nothing known", "", "unknown", "Unknown device", "Unbekanntes Gerät"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := AccountSession{UserAgent: tc.ua, DeviceName: tc.device}
			if got := sessionTitle("en", s); got != tc.en {
				t.Errorf("en = %q, want %q", got, tc.en)
			}
			if got := sessionTitle("de", s); got != tc.de {
				t.Errorf("de = %q, want %q", got, tc.de)
			}
		})
	}
}

func TestGroupSessions(t *testing.T) {
	t.Parallel()
	mac := AccountSession{UserAgent: uaMac}
	phone := AccountSession{UserAgent: uaIPhone}
	var list []AccountSession
	add := func(s AccountSession, id string) {
		s.ID = id
		list = append(list, s)
	}
	// Newest first, as the store lists them.
	add(phone, "p1")
	add(mac, "m1")
	add(phone, "p2")
	add(AccountSession{UserAgent: uaMac, DeviceID: "dev-1", DeviceName: "Desk"}, "d1")
	add(AccountSession{UserAgent: uaIPhone, DeviceID: "dev-1", DeviceName: "Desk"}, "d2")
	shown, more := groupSessions("en", list)
	if len(more) != 0 {
		t.Fatalf("more = %+v, want none below the cap", more)
	}
	got := groupIDs(shown)
	want := []string{"Safari on iPhone: p1 p2", "Safari on macOS: m1", "Desk: d1 d2"}
	if !slices.Equal(got, want) {
		t.Errorf("groups = %q, want %q", got, want)
	}

	// Past the cap: the first ten stay, the rest collapse, a group split
	// across the line keeps its name on both sides.
	list = nil
	for i := range 8 {
		add(mac, fmt.Sprintf("m%d", i))
	}
	for i := range 5 {
		add(phone, fmt.Sprintf("p%d", i))
	}
	add(mac, "m8")
	shown, more = groupSessions("en", list)
	if got, want := groupIDs(shown), []string{"Safari on macOS: m0 m1 m2 m3 m4 m5 m6 m7 m8", "Safari on iPhone: p0"}; !slices.Equal(got, want) {
		t.Errorf("shown = %q, want %q", got, want)
	}
	if got, want := groupIDs(more), []string{"Safari on iPhone: p1 p2 p3 p4"}; !slices.Equal(got, want) {
		t.Errorf("more = %q, want %q", got, want)
	}
	if sessionCount(shown) != sessionsShown || sessionCount(more) != 4 {
		t.Errorf("counts %d + %d", sessionCount(shown), sessionCount(more))
	}
}

func groupIDs(groups []sessionGroup) []string {
	var out []string
	for _, g := range groups {
		ids := make([]string, 0, len(g.Sessions))
		for _, s := range g.Sessions {
			ids = append(ids, s.ID)
		}
		out = append(out, g.Title+": "+strings.Join(ids, " "))
	}
	return out
}

func TestSessionsListCollapsed(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var list []AccountSession
	for i := range 13 {
		list = append(list, AccountSession{ID: fmt.Sprintf("s%d", i), UserAgent: uaMac, IP: "203.0.113.7",
			CreatedAt: now.Add(-time.Duration(i) * time.Hour), LastSeenAt: now, Current: i == 0})
	}
	for _, lang := range []string{"en", "de"} {
		_, doc := render(t, AccountPage(AccountView{Lang: lang, Sessions: list}))
		details := byTestID(t, doc, "sessions-more")
		if details.Data != "details" {
			t.Fatalf("collapsed sessions in <%s>", details.Data)
		}
		wantMore := map[string]string{"en": "Show 3 more", "de": "3 weitere anzeigen"}[lang]
		if got := text(find(details, func(n *html.Node) bool { return n.Data == "summary" })); got != wantMore {
			t.Errorf("%s summary = %q, want %q", lang, got, wantMore)
		}
		all := findAll(doc, func(n *html.Node) bool { v, _ := attr(n, "data-testid"); return v == "session" })
		hidden := findAll(details, func(n *html.Node) bool { v, _ := attr(n, "data-testid"); return v == "session" })
		if len(all) != 13 || len(hidden) != 3 {
			t.Errorf("%s: %d sessions, %d collapsed; want 13, 3", lang, len(all), len(hidden))
		}
		if n := len(findAll(doc, func(n *html.Node) bool { v, _ := attr(n, "data-testid"); return v == "this-device" })); n != 1 {
			t.Errorf("%s: %d current marks", lang, n)
		}
		wantGroup := map[string]string{"en": "Safari on macOS · 10 sessions", "de": "Safari auf macOS · 10 Sitzungen"}[lang]
		if got := text(byTestID(t, doc, "session-group-title")); got != wantGroup {
			t.Errorf("%s group title = %q, want %q", lang, got, wantGroup)
		}
	}
}
