package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/manacore/mana-core-auth/internal/app"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/admin"
	"github.com/manacore/mana-core-auth/provider/mail"
	"github.com/manacore/mana-core-auth/provider/oidc"
)

// scrape reads /metrics into value(name, labels...) lookups.
type scrape map[string]*dto.MetricFamily

func scrapeMetrics(t *testing.T, base string) scrape {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value is the counter or gauge of name with exactly the labels given as
// name=value pairs; -1 when there is no such series.
func (s scrape) value(name string, labels ...string) float64 {
	f := s[name]
	if f == nil {
		return -1
	}
	want := map[string]string{}
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		want[k] = v
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		if len(got) != len(want) {
			continue
		}
		match := true
		for k, v := range want {
			if got[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

func postJSON(t *testing.T, u, bearer string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return do(t, req)
}

func postForm(t *testing.T, u, user, pass string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(user, pass)
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// TestMetricsCountEvents: a login, a failed login, a refresh, a refresh
// token reuse, a client-credentials token, two introspections and a spend,
// done through the real HTTP API, move exactly their counters, and the
// HTTP metrics carry the route pattern, never the path.
func TestMetricsCountEvents(t *testing.T) {
	for _, d := range databasetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			cfg := testConfig(t, d)
			cfg.RefreshGrace = 0 // a second use of a rotated refresh token is reuse at once
			a, base := serveApp(t, cfg, app.Options{PasswordParams: &account.Params{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}})
			ctx := t.Context()
			hash, err := a.Hasher.Hash(ctx, "correct horse battery")
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC().Truncate(time.Millisecond)
			if err := a.Store.CreateUser(ctx, &provider.User{ID: "user-m", Email: "metrics@example.com", EmailVerified: true, Name: "M",
				Role: provider.RoleUser, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			if err := a.Store.CreateClient(ctx, &provider.Client{ID: "svc", Name: "Service", SecretHash: oidc.HashSecret("svc-secret-0123456789"),
				GrantTypes: []string{"client_credentials"}, Scopes: []string{"credits:read"}, Audience: []string{"manacore"}, CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
			before := scrapeMetrics(t, base)

			if code, _ := postJSON(t, base+"/api/v1/auth/login", "", map[string]string{"email": "metrics@example.com", "password": "wrong"}); code != http.StatusUnauthorized {
				t.Fatalf("wrong password: %d", code)
			}
			code, login := postJSON(t, base+"/api/v1/auth/login", "", map[string]string{"email": "metrics@example.com", "password": "correct horse battery"})
			if code != http.StatusOK {
				t.Fatalf("login: %d %v", code, login)
			}
			refresh, _ := login["refreshToken"].(string)
			if code, out := postJSON(t, base+"/api/v1/auth/refresh", "", map[string]string{"refreshToken": refresh}); code != http.StatusOK {
				t.Fatalf("refresh: %d %v", code, out)
			}
			if code, _ := postJSON(t, base+"/api/v1/auth/refresh", "", map[string]string{"refreshToken": refresh}); code == http.StatusOK {
				t.Fatal("reused refresh token accepted")
			}
			code, cc := postForm(t, base+"/oauth2/token", "svc", "svc-secret-0123456789", url.Values{"grant_type": {"client_credentials"}, "scope": {"credits:read"}})
			if code != http.StatusOK {
				t.Fatalf("client credentials: %d %v", code, cc)
			}
			svcToken, _ := cc["access_token"].(string)
			if code, out := postForm(t, base+"/oauth2/introspect", "svc", "svc-secret-0123456789", url.Values{"token": {svcToken}}); code != http.StatusOK || out["active"] != true {
				t.Fatalf("introspect live token: %d %v", code, out)
			}
			if code, out := postForm(t, base+"/oauth2/introspect", "svc", "svc-secret-0123456789", url.Values{"token": {"not-a-token"}}); code != http.StatusOK || out["active"] != false {
				t.Fatalf("introspect junk: %d %v", code, out)
			}
			// The access token of the refreshed pair's login was revoked with
			// the reuse; log in again for the spend.
			_, login = postJSON(t, base+"/api/v1/auth/login", "", map[string]string{"email": "metrics@example.com", "password": "correct horse battery"})
			access, _ := login["accessToken"].(string)
			if code, out := postJSON(t, base+"/api/v1/credits/use", access, map[string]any{"amount": 7, "appId": "chat", "description": "metrics test"}); code != http.StatusOK {
				t.Fatalf("spend: %d %v", code, out)
			}
			if code, _ := get(t, base+"/admin/users/some-user-id"); code == 0 {
				t.Fatal("no answer")
			}
			get(t, base+"/no/such/path/12345")

			after := scrapeMetrics(t, base)
			for _, c := range []struct {
				name   string
				labels []string
				delta  float64
			}{
				{"manaauth_logins_total", []string{"result=success"}, 2},
				{"manaauth_logins_total", []string{"result=invalid_credentials"}, 1},
				{"manaauth_tokens_issued_total", []string{"grant=password"}, 2},
				{"manaauth_tokens_issued_total", []string{"grant=refresh_token"}, 1},
				{"manaauth_tokens_issued_total", []string{"grant=client_credentials"}, 1},
				{"manaauth_tokens_issued_total", []string{"grant=authorization_code"}, 0},
				{"manaauth_refresh_token_reuse_total", nil, 1},
				{"manaauth_introspections_total", []string{"active=true"}, 1},
				{"manaauth_introspections_total", []string{"active=false"}, 1},
				{"manaauth_credits_spent_total", nil, 7},
				{"http_requests_total", []string{"route=POST /api/v1/auth/login", "method=POST", "status=200"}, 2},
				{"http_requests_total", []string{"route=POST /api/v1/auth/login", "method=POST", "status=401"}, 1},
				{"http_requests_total", []string{"route=POST /oauth2/introspect", "method=POST", "status=200"}, 2},
				{"http_requests_total", []string{"route=unmatched", "method=GET", "status=404"}, 1},
				{"http_request_duration_seconds", []string{"route=POST /api/v1/credits/use", "method=POST", "status=200"}, 1},
			} {
				b, a := max(before.value(c.name, c.labels...), 0), after.value(c.name, c.labels...)
				if a < 0 && c.delta > 0 {
					t.Errorf("%s%v: no series", c.name, c.labels)
					continue
				}
				if got := max(a, 0) - b; got != c.delta {
					t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.delta)
				}
			}
			// A path with an id is labelled by its pattern.
			if after.value("http_requests_total", "route=GET /admin/users/{id}", "method=GET", "status=303") < 0 &&
				after.value("http_requests_total", "route=GET /admin/users/{id}", "method=GET", "status=401") < 0 &&
				after.value("http_requests_total", "route=GET /admin/users/{id}", "method=GET", "status=200") < 0 {
				t.Errorf("no series for the pattern GET /admin/users/{id}: %v", after["http_requests_total"])
			}
			for _, m := range after["http_requests_total"].GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "route" && (strings.Contains(l.GetValue(), "some-user-id") || strings.Contains(l.GetValue(), "12345")) {
						t.Errorf("raw path in a route label: %q", l.GetValue())
					}
				}
			}
			if got := after.value("manaauth_users", "state=total"); got != 1 {
				t.Errorf("manaauth_users{state=total} = %v, want 1", got)
			}
		})
	}
}

// flakyMailer fails its first send, then accepts every mail.
type flakyMailer struct{ calls atomic.Int64 }

func (m *flakyMailer) Send(context.Context, mail.Message) error {
	if m.calls.Add(1) == 1 {
		return errors.New("421 try again later")
	}
	return nil
}

// TestMetricsCountMailsAndBackends: a registration's mail failing once
// and then sent, and calls to app backends that answer, are down and
// fail, move their counters; the stored counts follow the users.
func TestMetricsCountMailsAndBackends(t *testing.T) {
	for _, d := range databasetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"entities":[],"totalCount":0}`)
			}))
			t.Cleanup(ok.Close)
			broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "bug", http.StatusInternalServerError)
			}))
			t.Cleanup(broken.Close)
			cfg := testConfig(t, d)
			cfg.Admin.Backends = []admin.Backend{
				{ID: "todo", Name: "Todo", URL: ok.URL, ServiceKey: "key-0123456789"},
				{ID: "chat", Name: "Chat", URL: "http://127.0.0.1:9", ServiceKey: "key-0123456789"}, // nothing listens
				{ID: "zitare", Name: "Zitare", URL: broken.URL, ServiceKey: "key-0123456789"},
			}
			a, base := serveApp(t, cfg, app.Options{Mailer: &flakyMailer{},
				PasswordParams: &account.Params{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16},
				Outbox:         account.OutboxConfig{RetryBase: 10 * time.Millisecond, PollEvery: 10 * time.Millisecond}})
			code, out := postJSON(t, base+"/api/v1/auth/register", "", map[string]string{
				"email": "new@example.com", "password": "correct horse battery", "name": "New"})
			if code != http.StatusCreated && code != http.StatusOK {
				t.Fatalf("register: %d %v", code, out)
			}
			waitUntil(t, "the mail to be sent after one failure", func() bool {
				s := scrapeMetrics(t, base)
				return s.value("manaauth_mails_total", "result=sent") == 1 && s.value("manaauth_mails_total", "result=failed") == 1
			})
			u, err := a.Store.GetUserByEmail(t.Context(), "new@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Admin.UserData(t.Context(), admin.Actor{UserID: "admin-1"}, u.ID); err != nil {
				t.Fatalf("UserData: %v", err) // a failing backend is part of the answer, not an error
			}
			s := scrapeMetrics(t, base)
			for _, c := range []struct {
				labels []string
				want   float64
			}{
				{[]string{"app=todo", "result=ok"}, 1},
				{[]string{"app=chat", "result=unavailable"}, 1},
				{[]string{"app=zitare", "result=error"}, 1},
				{[]string{"app=todo", "result=error"}, 0},
			} {
				if got := s.value("manaauth_admin_backend_calls_total", c.labels...); got != c.want {
					t.Errorf("manaauth_admin_backend_calls_total%v = %v, want %v", c.labels, got, c.want)
				}
			}
			// The stored counts are cached for 30 s: the first scrape after
			// the registration (above) already read them.
			if got := s.value("manaauth_users", "state=total"); got != 1 {
				t.Errorf("manaauth_users{state=total} = %v, want 1", got)
			}
			if got := s.value("manaauth_users_created", "period=day"); got != 1 {
				t.Errorf("manaauth_users_created{period=day} = %v, want 1", got)
			}
			if got := s.value("manaauth_users", "state=verified"); got != 0 {
				t.Errorf("manaauth_users{state=verified} = %v, want 0", got)
			}
		})
	}
}
