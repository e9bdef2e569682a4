package websession_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
	"github.com/manacore/mana-core-auth/provider/websession"
)

var secret = []byte(strings.Repeat("w", 40))

// withCookies returns a request carrying the cookies a response set.
func withCookies(rec *httptest.ResponseRecorder) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://auth.mana.how/", nil)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge >= 0 {
			r.AddCookie(c)
		}
	}
	return r
}

func TestLoginCurrentLogout(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			st := b.Open(t)
			ctx := t.Context()
			m, err := websession.New(websession.Config{SecretKey: secret, Secure: true, Domain: ".mana.how"}, st)
			if err != nil {
				t.Fatal(err)
			}
			if m.Name() != "__Secure-mana.session" {
				t.Errorf("cookie name on https = %q", m.Name())
			}

			rec := httptest.NewRecorder()
			s1, replaced, err := m.Login(ctx, rec, httptest.NewRequest(http.MethodPost, "https://auth.mana.how/login", nil),
				websession.LoginInfo{UserID: "u1", Methods: []string{"pwd"}, IP: "203.0.113.9", UserAgent: "UA", DeviceName: "Laptop"})
			if err != nil || replaced != "" {
				t.Fatalf("login: %v, replaced %q", err, replaced)
			}
			cookies := rec.Result().Cookies()
			if len(cookies) != 1 {
				t.Fatalf("want one cookie, got %d", len(cookies))
			}
			c := cookies[0]
			if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Domain != "mana.how" || c.Path != "/" {
				t.Errorf("cookie attributes: %+v", c)
			}
			if strings.Contains(c.Value, s1.ID) {
				t.Error("cookie carries the session id in clear text")
			}
			got, err := m.Current(ctx, withCookies(rec))
			if err != nil || got.ID != s1.ID || got.UserID != "u1" || got.IP != "203.0.113.9" || got.DeviceName != "Laptop" {
				t.Fatalf("current: %+v, %v", got, err)
			}

			// Logging in again as the same user keeps the session (tokens of
			// other apps stay valid) but refreshes auth time and cookie value.
			time.Sleep(5 * time.Millisecond)
			rec2 := httptest.NewRecorder()
			s2, _, err := m.Login(ctx, rec2, withCookies(rec), websession.LoginInfo{UserID: "u1", Methods: []string{"pwd", "otp"}})
			if err != nil || s2.ID != s1.ID || !s2.AuthTime.After(s1.AuthTime) {
				t.Fatalf("re-login same user: %+v %v", s2, err)
			}
			if rec2.Result().Cookies()[0].Value == c.Value {
				t.Error("cookie value not rotated at login")
			}

			// Another user in the same browser replaces the session.
			rec3 := httptest.NewRecorder()
			s3, replaced, err := m.Login(ctx, rec3, withCookies(rec2), websession.LoginInfo{UserID: "u2", Methods: []string{"pwd"}})
			if err != nil || replaced != s1.ID || s3.ID == s1.ID {
				t.Fatalf("login as another user: %v, replaced %q", err, replaced)
			}
			if _, err := st.GetSession(ctx, s1.ID, time.Now()); !errors.Is(err, provider.ErrNotFound) {
				t.Errorf("replaced session still exists: %v", err)
			}

			// Logout deletes the row and clears the cookie.
			rec4 := httptest.NewRecorder()
			ended, err := m.Logout(ctx, rec4, withCookies(rec3), websession.Ending{Reason: websession.EndLogout})
			if err != nil || ended == nil || ended.ID != s3.ID {
				t.Fatalf("logout: %+v %v", ended, err)
			}
			if cs := rec4.Result().Cookies(); len(cs) != 1 || cs[0].MaxAge >= 0 {
				t.Errorf("logout did not expire the cookie: %+v", cs)
			}
			if _, err := m.Current(ctx, withCookies(rec3)); !errors.Is(err, provider.ErrNotFound) {
				t.Errorf("old cookie after logout: %v", err)
			}
		})
	}
}

func TestForgedOrForeignCookieIsNoSession(t *testing.T) {
	st := storetest.OpenSQLite(t)
	m, err := websession.New(websession.Config{SecretKey: secret}, st)
	if err != nil {
		t.Fatal(err)
	}
	other, err := websession.New(websession.Config{SecretKey: []byte(strings.Repeat("o", 40))}, st)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if _, _, err := other.Login(t.Context(), rec, httptest.NewRequest(http.MethodPost, "/", nil), websession.LoginInfo{UserID: "u"}); err != nil {
		t.Fatal(err)
	}
	if m.Name() != "mana.session" {
		t.Errorf("cookie name on http = %q", m.Name())
	}
	for name, value := range map[string]string{
		"foreign key": rec.Result().Cookies()[0].Value,
		"garbage":     "not-a-cookie",
		"empty":       "",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: m.Name(), Value: value})
		if _, err := m.Current(t.Context(), r); !errors.Is(err, provider.ErrNotFound) {
			t.Errorf("%s cookie: got %v, want ErrNotFound", name, err)
		}
	}
	if _, err := websession.New(websession.Config{SecretKey: []byte("short")}, st); err == nil {
		t.Error("a short secret was accepted")
	}
}

func TestCookieDomainPerHost(t *testing.T) {
	st := storetest.OpenSQLite(t)
	m, err := websession.New(websession.Config{SecretKey: secret, Domain: ".mana.how, .Mana.Test"}, st)
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]string{
		"auth.mana.how":       "mana.how",
		"auth.mana.test:3001": "mana.test",
		"mana.test":           "mana.test",
		"evilmana.how":        "",
		"auth.example.com":    "",
	} {
		r := httptest.NewRequest(http.MethodPost, "http://"+host+"/login", nil)
		rec := httptest.NewRecorder()
		if _, _, err := m.Login(t.Context(), rec, r, websession.LoginInfo{UserID: "u-" + host}); err != nil {
			t.Fatal(err)
		}
		if got := rec.Result().Cookies()[0].Domain; got != want {
			t.Errorf("host %s: cookie domain %q, want %q", host, got, want)
		}
	}
}

func TestMaxLifetimeBoundsSliding(t *testing.T) {
	st := storetest.OpenSQLite(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	m, err := websession.New(websession.Config{SecretKey: secret, IdleTimeout: 2 * time.Hour, MaxLifetime: 3 * time.Hour, Now: clock}, st)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if _, _, err := m.Login(t.Context(), rec, httptest.NewRequest(http.MethodPost, "/", nil), websession.LoginInfo{UserID: "u"}); err != nil {
		t.Fatal(err)
	}
	// Active every 90 minutes: the idle timeout never strikes, the lifetime does.
	for i, step := range []struct {
		after time.Duration
		alive bool
	}{{90 * time.Minute, true}, {80 * time.Minute, true}, {20 * time.Minute, false}} {
		now = now.Add(step.after)
		alive := step.alive
		_, err := m.Current(t.Context(), withCookies(rec))
		if alive != (err == nil) {
			t.Fatalf("step %d (%s): alive=%v, err=%v", i, now.Format(time.Kitchen), alive, err)
		}
	}
}
