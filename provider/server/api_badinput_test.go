package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// TestAPIBadInput sends hostile input to every first-party route and page
// form: each answer is a 4xx or a clean success, never a 5xx, and never
// shows a stack trace or SQL. PostgreSQL refuses NUL and invalid UTF-8 in
// text columns, which is what the postgres run is for.
func TestAPIBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		l := e.apiLogin(t, userEmail, userPassword)
		huge := `{"email":"` + strings.Repeat("a", 70<<10) + `"}`
		hostile := []string{sqlMeta, "a\x00b", "\xff\xfe\xfd", "x@example.com\x00", strings.Repeat("é", 300), `"; DROP TABLE users; --`, "\u202e\u0000"}

		type route struct {
			method, path string
			auth         bool
			fields       []string
		}
		routes := []route{
			{"POST", "/api/v1/auth/register", false, []string{"email", "password", "name", "sourceAppUrl"}},
			{"POST", "/api/v1/auth/login", false, []string{"email", "password", "deviceId", "deviceName"}},
			{"POST", "/api/v1/auth/login/2fa", false, []string{"challenge", "code"}},
			{"POST", "/api/v1/auth/refresh", false, []string{"refreshToken"}},
			{"POST", "/api/v1/auth/validate", false, []string{"token"}},
			{"POST", "/api/v1/auth/forgot-password", false, []string{"email", "redirectTo"}},
			{"POST", "/api/v1/auth/reset-password", false, []string{"token", "newPassword"}},
			{"POST", "/api/v1/auth/resend-verification", false, []string{"email", "sourceAppUrl"}},
			{"POST", "/api/v1/auth/password", true, []string{"currentPassword", "newPassword"}},
			{"POST", "/api/v1/auth/2fa/verify", true, []string{"code"}},
			{"POST", "/api/v1/auth/2fa/disable", true, []string{"code"}},
			{"POST", "/api/v1/auth/sessions/revoke-all", true, nil},
		}
		check := func(what string, r *tokenResp) {
			t.Helper()
			if r.status >= 500 {
				t.Errorf("%s: status %d: %.300s", what, r.status, r.body)
			}
			noLeak(t, what, r.body)
		}
		for _, rt := range routes {
			bearer := ""
			if rt.auth {
				bearer = l.access
			}
			do := func(what string, body any, hdr ...string) {
				t.Helper()
				check(rt.path+" "+what, e.api(t, rt.method, rt.path, bearer, body, hdr...))
			}
			for name, body := range map[string]string{
				"garbage": "{{{not json", "array": `[1,2]`, "string": `"x"`, "null": "null", "two objects": `{}{}`,
				"wrong types": `{"email":1,"password":true,"code":[],"token":{}}`, "oversized": huge,
				"invalid utf8": "{\"email\":\"\xff\xfe\"}", "nul": "{\"email\":\"a\\u0000@example.com\"}",
			} {
				r := e.api(t, rt.method, rt.path, bearer, body)
				check(rt.path+" "+name, r)
				if name != "null" && name != "invalid utf8" && name != "nul" && r.status < 400 {
					t.Errorf("%s %s: status %d", rt.path, name, r.status)
				}
			}
			do("wrong content type", "email=x", "Content-Type", "text/plain")
			do("form content type", "email=x", "Content-Type", "application/x-www-form-urlencoded")
			for _, v := range hostile {
				body := map[string]string{}
				for _, f := range rt.fields {
					body[f] = v
				}
				do("hostile "+strings.ToValidUTF8(v[:min(len(v), 8)], "?"), body)
				do("hostile user agent", body, "User-Agent", "evil\xff\xfe agent "+sqlMeta)
			}
		}
		// Path and query parameters.
		for _, id := range []string{url.PathEscape(sqlMeta), "%00", "%FF%FE", strings.Repeat("x", 5000)} {
			check("delete session "+id[:min(len(id), 8)], e.api(t, http.MethodDelete, "/api/v1/auth/sessions/"+id, l.access, nil))
		}
		for _, tok := range []string{sqlMeta, "\x00", "\xff", strings.Repeat("t", 5000)} {
			p := e.browser(t).get(t, "/api/auth/verify-email?"+url.Values{"token": {tok}, "redirectTo": {tok}}.Encode())
			if p.status >= 500 {
				t.Errorf("verify-email %q: %d", tok[:min(len(tok), 8)], p.status)
			}
			noLeak(t, "verify-email", p.body)
		}
		// A device name with NUL and invalid UTF-8 is stored cleaned.
		r := e.post(t, "/api/v1/auth/login", map[string]string{"email": userEmail, "password": userPassword, "deviceName": "ph\x00one\xff", "deviceId": "\x00"},
			"User-Agent", "ua\xff\xfe")
		r.want(t, "login with a dirty device name", http.StatusOK)
		sessions := e.api(t, http.MethodGet, "/api/v1/auth/sessions", r.str("accessToken"), nil).want(t, "sessions", http.StatusOK)
		if !strings.Contains(sessions.body, `"deviceName":"ph`) {
			t.Errorf("device name lost: %s", sessions.body)
		}

		// The page forms.
		br := e.browser(t)
		for _, v := range hostile {
			for _, pf := range []struct {
				path string
				form url.Values
			}{
				{"/register", url.Values{"email": {v}, "password": {v + "password"}, "name": {v}}},
				{"/register", url.Values{"email": {"ok" + strings.ToValidUTF8(v[:1], "") + "@example.com"}, "password": {"password123"}, "name": {v}}},
				{"/login", url.Values{"email": {v}, "password": {v}, "return_to": {v}}},
				{"/login/2fa", url.Values{"challenge": {v}, "code": {v}}},
				{"/forgot-password", url.Values{"email": {v}}},
				{"/reset-password", url.Values{"token": {v}, "password": {v + "12345678"}, "password_confirm": {v + "12345678"}}},
				{"/verify-email/resend", url.Values{"email": {v}}},
			} {
				p := br.post(t, pf.path, pf.form, "User-Agent", "evil\xff")
				if p.status >= 500 {
					t.Errorf("%s with %q: %d", pf.path, v[:min(len(v), 8)], p.status)
				}
				noLeak(t, pf.path, p.body)
			}
		}
		// The account forms, signed in.
		p := br.post(t, "/login", url.Values{"email": {userEmail}, "password": {userPassword}, "return_to": {"/account"}})
		if !isAccountPage(p) {
			t.Fatalf("login: %d %s", p.status, p.url)
		}
		for _, v := range hostile {
			for _, pf := range []struct {
				path string
				form url.Values
			}{
				{"/account/profile", url.Values{"name": {v}}},
				{"/account/password", url.Values{"current_password": {v}, "new_password": {v}}},
				{"/account/2fa/verify", url.Values{"code": {v}}},
				{"/account/2fa/disable", url.Values{"code": {v}}},
				{"/account/sessions/revoke", url.Values{"session_id": {v}}},
			} {
				p := br.post(t, pf.path, pf.form)
				if p.status >= 500 {
					t.Errorf("%s with %q: %d %.200s", pf.path, v[:min(len(v), 8)], p.status, p.body)
				}
				noLeak(t, pf.path, p.body)
			}
		}
		// Everything still works.
		e.apiLogin(t, userEmail, userPassword)
		if p := br.get(t, "/account"); !isAccountPage(p) {
			t.Errorf("account page after the abuse: %d", p.status)
		}
	})
}
