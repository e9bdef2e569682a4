package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/manacore/mana-core-auth/internal/app"
	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/internal/faultproxy"
	"github.com/manacore/mana-core-auth/provider/server"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// viaProxy puts a fault proxy between the provider and its PostgreSQL
// database.
func viaProxy(t testing.TB, p **faultproxy.Proxy) func(*setupOpts) {
	return func(o *setupOpts) {
		o.databaseURL = func(raw string) string {
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			*p = faultproxy.Start(t, u.Host)
			u.Host = (*p).Addr()
			return u.String()
		}
	}
}

// postgresBackend is the PostgreSQL backend; without TEST_DATABASE_URL,
// setup skips it (and fails on CI), as for every other test.
func postgresBackend(t *testing.T) storetest.Backend {
	for _, b := range storetest.Backends() {
		if b.Name == "postgres" {
			return b
		}
	}
	t.Fatal("storetest.Backends has no postgres backend")
	return storetest.Backend{}
}

// TestDatabaseOutage puts a real TCP proxy between the provider and
// PostgreSQL and then cuts every connection, or lets them hang. Every
// endpoint must answer 503 (the token endpoint temporarily_unavailable)
// within a bound, log the fault, and blame no credential; once the proxy
// forwards again, service returns by itself and every token and session
// from before still works: nobody was signed out, nothing half-written.
func TestDatabaseOutage(t *testing.T) {
	const timeout = 500 * time.Millisecond
	for _, tc := range []struct {
		name string
		mode faultproxy.Mode
	}{{"cut", faultproxy.Cut}, {"hung", faultproxy.Stall}} {
		t.Run(tc.name, func(t *testing.T) {
			var proxy *faultproxy.Proxy
			logs := &logLines{}
			e := setup(t, postgresBackend(t), viaProxy(t, &proxy), func(o *setupOpts) {
				o.databaseTimeout, o.logs = timeout, logs
			})
			b := e.browser(t)
			r := e.rp(t, trustedID)
			f := e.codeFlow(t, b, r)
			l := e.apiLogin(t, userEmail, userPassword)
			// issue 14: a refresh token imported from the old service.
			imported := importToken(t, e, "old-outage", strings.Repeat("Outage9-", 8))
			balance := e.api(t, http.MethodGet, balancePath, l.access, nil).want(t, "balance", http.StatusOK).body

			proxy.Set(tc.mode)
			type answer struct {
				status int
				header http.Header
				body   string
			}
			fromToken := func(r *tokenResp) answer { return answer{r.status, r.header, r.body} }
			fromPage := func(p *page) answer { return answer{p.status, p.header, p.body} }
			checks := []struct {
				name string
				do   func() answer
			}{
				{"client_credentials", func() answer {
					return fromToken(e.postForm(t, "/oauth2/token", serviceID, clientSecret, url.Values{"grant_type": {"client_credentials"}}))
				}},
				{"refresh grant", func() answer { return fromToken(e.refresh(t, trustedID, f.tok.RefreshToken)) }},
				{"introspection", func() answer {
					return fromToken(e.postForm(t, "/oauth2/introspect", trustedID, clientSecret, url.Values{"token": {f.tok.AccessToken}}))
				}},
				{"revocation", func() answer {
					return fromToken(e.postForm(t, "/oauth2/revoke", trustedID, clientSecret, url.Values{"token": {f.tok.AccessToken}}))
				}},
				{"userinfo", func() answer { return fromToken(e.api(t, http.MethodGet, "/oauth2/userinfo", f.tok.AccessToken, nil)) }},
				{"api refresh", func() answer { return fromToken(e.apiRefresh(t, l.refresh)) }},
				{"api refresh of an imported token", func() answer { return fromToken(e.apiRefresh(t, imported)) }},
				{"api login", func() answer {
					return fromToken(e.post(t, "/api/v1/auth/login", map[string]any{"email": userEmail, "password": userPassword}))
				}},
				{"api session", func() answer { return fromToken(e.api(t, http.MethodGet, "/api/v1/auth/session", l.access, nil)) }},
				{"credits balance", func() answer { return fromToken(e.api(t, http.MethodGet, balancePath, l.access, nil)) }},
				{"authorize", func() answer { return fromPage(b.get(t, r.cfg.AuthCodeURL("state-1"))) }},
				{"account page", func() answer { return fromPage(b.get(t, "/account")) }},
			}
			for _, c := range checks {
				start := time.Now()
				a := c.do()
				took := time.Since(start)
				if a.status != http.StatusServiceUnavailable {
					t.Errorf("%s during the outage: %d, want 503: %.300s", c.name, a.status, a.body)
				}
				if a.header.Get("Retry-After") == "" {
					t.Errorf("%s: 503 without Retry-After", c.name)
				}
				for _, blame := range []string{"invalid_client", "invalid_grant", "invalid_token", `"active":false`,
					"invalid_refresh_token", "invalid_credentials", "unrecognizable", "login-form"} {
					if strings.Contains(a.body, blame) {
						t.Errorf("%s: the outage is answered as %q: %.300s", c.name, blame, a.body)
					}
				}
				// A few sequential database calls at most, each bounded.
				if took > 10*timeout {
					t.Errorf("%s took %v with DATABASE_TIMEOUT=%v", c.name, took, timeout)
				}
			}
			// Each failed request says why, at error level.
			if n := logs.count("storage unavailable"); n < len(checks) {
				t.Errorf("%d \"storage unavailable\" error lines for %d failed requests:\n%s", n, len(checks), logs.buf.String())
			}

			proxy.Set(faultproxy.Forward)
			back := time.Now()
			for {
				cc := e.postForm(t, "/oauth2/token", serviceID, clientSecret, url.Values{"grant_type": {"client_credentials"}})
				if cc.status == http.StatusOK {
					break
				}
				if time.Since(back) > time.Second {
					t.Fatalf("service did not return within a second of the database: %d %s", cc.status, cc.body)
				}
				time.Sleep(20 * time.Millisecond)
			}
			// Everything from before the outage still works.
			e.refresh(t, trustedID, f.tok.RefreshToken).want(t, "refresh after the outage", http.StatusOK)
			access := e.apiRefresh(t, l.refresh).want(t, "api refresh after the outage", http.StatusOK).str("accessToken")
			e.apiRefresh(t, imported).want(t, "imported token after the outage", http.StatusOK)
			e.code(t, b.get(t, r.cfg.AuthCodeURL("state-2")), "state-2")
			if got := e.api(t, http.MethodGet, balancePath, access, nil).want(t, "balance", http.StatusOK).body; got != balance {
				t.Errorf("balance changed across the outage: %s -> %s", balance, got)
			}
		})
	}
}

// TestRedisOutage puts a fault proxy between the provider and Redis: while
// Redis is cut or hung the per-IP limits keep counting (in process), the
// readiness check says "degraded" and the log says so once; when Redis
// answers again, all of that reverts by itself within a second. A replica
// that starts while Redis is down says so at once.
func TestRedisOutage(t *testing.T) {
	b := storetest.Backends()[0]
	redisAddr := strings.TrimPrefix(os.Getenv("TEST_REDIS_URL"), "redis://")
	if redisAddr == "" {
		redisAddr = "127.0.0.1:6379/0"
	}
	redisAddr, _, _ = strings.Cut(redisAddr, "/")
	// A database of its own, emptied first: the provider's counters have
	// fixed names, and another run's must not count here.
	const db = 9
	rc := redis.NewClient(&redis.Options{Addr: redisAddr, DB: db})
	defer rc.Close()
	if err := rc.FlushDB(t.Context()).Err(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis at %s: %v", redisAddr, err)
		}
		t.Skipf("skipping: Redis at %s unreachable (set TEST_REDIS_URL): %v", redisAddr, err)
	}

	start := func(t *testing.T, before faultproxy.Mode) (*env, *faultproxy.Proxy, *logLines) {
		proxy := faultproxy.Start(t, redisAddr)
		proxy.Set(before)
		logs := &logLines{}
		e := setup(t, b, func(o *setupOpts) {
			o.redisURL = fmt.Sprintf("redis://%s/%d", proxy.Addr(), db)
			o.limits = map[string]server.Limit{"login": {Count: 3, Window: time.Minute}}
			o.logs = logs
		})
		t.Cleanup(func() { rc.FlushDB(context.Background()) })
		return e, proxy, logs
	}
	redisStatus := func(t *testing.T, e *env) string {
		t.Helper()
		r := e.api(t, http.MethodGet, "/health/ready", "", nil).want(t, "readiness", http.StatusOK)
		checks, _ := r.json["checks"].(map[string]any)
		rs, _ := checks["redis"].(map[string]any)
		status, _ := rs["status"].(string)
		if status == "degraded" && r.json["status"] != "degraded" {
			t.Errorf("redis degraded but overall status %v", r.json["status"])
		}
		return status
	}
	wrongLogins := func(t *testing.T, e *env) []int {
		var got []int
		for range 4 {
			got = append(got, e.post(t, "/api/v1/auth/login", map[string]any{"email": userEmail, "password": "wrong password"}).status)
		}
		return got
	}
	const unreachable, reachable = "redis unreachable", "redis reachable again"

	for _, tc := range []struct {
		name string
		mode faultproxy.Mode
	}{{"cut", faultproxy.Cut}, {"hung", faultproxy.Stall}} {
		t.Run(tc.name, func(t *testing.T) {
			e, proxy, logs := start(t, faultproxy.Forward)
			if s := redisStatus(t, e); s != "ok" {
				t.Fatalf("redis status before the outage: %q", s)
			}
			proxy.Set(tc.mode)
			if got := wrongLogins(t, e); !slices.Equal(got, []int{401, 401, 401, 429}) {
				t.Errorf("logins during the outage: %v, want three refusals then 429 (limits still counting)", got)
			}
			if s := redisStatus(t, e); s != "degraded" {
				t.Errorf("redis status during the outage: %q, want degraded", s)
			}
			if n := logs.count(unreachable); n != 1 {
				t.Errorf("%d log lines %q, want 1:\n%s", n, unreachable, logs.buf.String())
			}

			proxy.Set(faultproxy.Forward)
			back := time.Now()
			for redisStatus(t, e) != "ok" {
				if time.Since(back) > time.Second {
					t.Fatal("redis status still degraded a second after it came back")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if n := logs.count(reachable); n != 1 {
				t.Errorf("%d log lines %q, want 1", n, reachable)
			}
		})
	}

	// The login backoff (and the second-factor one, on the same store)
	// keeps holding while Redis is cut; bare Redis stores would fail open.
	t.Run("login backoff", func(t *testing.T) {
		proxy := faultproxy.Start(t, redisAddr)
		e := setup(t, b, func(o *setupOpts) {
			o.redisURL = fmt.Sprintf("redis://%s/%d", proxy.Addr(), db)
			o.loginBackoff = app.Backoff{Free: 2, Base: time.Minute, Max: time.Hour}
			o.logs = &logLines{}
		})
		t.Cleanup(func() { rc.FlushDB(context.Background()) })
		proxy.Set(faultproxy.Cut)
		// Two free failures, the third is judged and holds the next
		// (the per-IP limit, 10 a minute by default, is far off).
		if got := wrongLogins(t, e); !slices.Equal(got, []int{401, 401, 401, 429}) {
			t.Errorf("logins with redis cut: %v, want three refusals then held (429)", got)
		}
		proxy.Set(faultproxy.Forward)
	})

	t.Run("down at start-up", func(t *testing.T) {
		e, proxy, logs := start(t, faultproxy.Cut)
		if n := logs.count(unreachable); n != 1 {
			t.Errorf("start-up with redis down logged %q %d times, want once:\n%s", unreachable, n, logs.buf.String())
		}
		if s := redisStatus(t, e); s != "degraded" {
			t.Errorf("redis status: %q, want degraded", s)
		}
		if got := wrongLogins(t, e); !slices.Equal(got, []int{401, 401, 401, 429}) {
			t.Errorf("logins with redis down from the start: %v", got)
		}
		proxy.Set(faultproxy.Forward)
	})
}

// TestSQLiteBusyTimeout: SQLite has no network to fail, but a writer that
// holds the lock (a long migration, a stuck maintenance job) makes every
// other write wait. DATABASE_TIMEOUT bounds that wait too, and the answer
// is 503, not a failed login; once the lock is free, logins work again.
func TestSQLiteBusyTimeout(t *testing.T) {
	var dbURL string
	b := storetest.Backends()[0]
	if b.Name != "sqlite" {
		t.Fatalf("first backend is %s", b.Name)
	}
	const timeout = 300 * time.Millisecond
	e := setup(t, b, func(o *setupOpts) {
		o.databaseURL = func(raw string) string { dbURL = raw; return raw }
		o.databaseTimeout = timeout
	})
	holder, err := database.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	tx, err := holder.SQLite().BeginTx(t.Context()) // BEGIN IMMEDIATE: takes the write lock
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := e.post(t, "/api/v1/auth/login", map[string]any{"email": userEmail, "password": userPassword})
	took := time.Since(start)
	r.wantError(t, "login while the write lock is held", http.StatusServiceUnavailable, "temporarily_unavailable", "")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if took > 10*timeout {
		t.Errorf("login waited %v for the lock with DATABASE_TIMEOUT=%v", took, timeout)
	}
	if err := holder.SQLite().Rollback(tx); err != nil {
		t.Fatal(err)
	}
	e.apiLogin(t, userEmail, userPassword)
}
