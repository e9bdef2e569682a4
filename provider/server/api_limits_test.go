package server_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/ratelimit"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// redisForTest connects to TEST_REDIS_URL (default the local one); an
// unreachable Redis fails on CI and skips elsewhere.
func redisForTest(t testing.TB) *redis.Client {
	t.Helper()
	u := os.Getenv("TEST_REDIS_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis at %s unreachable on CI: %v", u, err)
		}
		t.Skipf("skipping: redis at %s unreachable (set TEST_REDIS_URL): %v", u, err)
	}
	return c
}

// TestRateLimits checks the default per-IP limits and the per-account
// login backoff, in process and in Redis, on both backends.
func TestRateLimits(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		t.Run("Memory", func(t *testing.T) {
			testRateLimits(t, b, ratelimit.NewMemory(nil), ratelimit.NewBackoff(ratelimit.NewMemoryBackoffStore(nil), 5, time.Second, 5*time.Minute))
		})
		t.Run("SecondFactorBackoff", func(t *testing.T) { testSecondFactorBackoff(t, b) })
		t.Run("Redis", func(t *testing.T) {
			c := redisForTest(t)
			prefix := "manaauth-e2e:" + rand.Text()[:12] + ":"
			t.Cleanup(func() {
				ctx := context.Background()
				iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
				for iter.Next(ctx) {
					c.Del(ctx, iter.Val())
				}
			})
			testRateLimits(t, b, ratelimit.NewRedis(c, prefix+"rl:"),
				ratelimit.NewBackoff(ratelimit.NewRedisBackoffStore(c, prefix+"bo:"), 5, time.Second, 5*time.Minute))
		})
	})
}

func want429(t testing.TB, what string, r *tokenResp) {
	t.Helper()
	r.wantError(t, what, http.StatusTooManyRequests, "rate_limited", "")
	if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("%s: Retry-After %q", what, r.header.Get("Retry-After"))
	}
}

func testRateLimits(t *testing.T, b storetest.Backend, lim ratelimit.Limiter, bo *ratelimit.Backoff) {
	e := setup(t, b, func(o *setupOpts) { o.limiter, o.backoff = lim, bo })

	// register: 5 per minute per IP.
	for i := range 5 {
		e.post(t, "/api/v1/auth/register", map[string]string{"email": fmt.Sprintf("r%d@example.com", i), "password": "password123"}).
			want(t, fmt.Sprintf("register %d", i+1), http.StatusCreated)
	}
	want429(t, "6th register", e.post(t, "/api/v1/auth/register", map[string]string{"email": "r6@example.com", "password": "password123"}))
	if _, err := e.store.GetUserByEmail(context.Background(), "r6@example.com"); err == nil {
		t.Error("the limited registration created the user")
	}
	// The page shares the rule and answers an HTML 429.
	br := e.browser(t)
	if p := br.post(t, "/register", url.Values{"email": {"r7@example.com"}, "password": {"password123"}}); p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" {
		t.Errorf("register page over the limit: %d", p.status)
	}

	// forgot-password: 3 per minute.
	for i := range 3 {
		e.post(t, "/api/v1/auth/forgot-password", map[string]string{"email": fmt.Sprintf("f%d@example.com", i)}).want(t, "forgot", http.StatusOK)
	}
	want429(t, "4th forgot-password", e.post(t, "/api/v1/auth/forgot-password", map[string]string{"email": "f4@example.com"}))

	// resend-verification: 3 per minute; reset-password: 5 per minute.
	for range 3 {
		e.post(t, "/api/v1/auth/resend-verification", map[string]string{"email": "x@example.com"}).want(t, "resend", http.StatusOK)
	}
	want429(t, "4th resend", e.post(t, "/api/v1/auth/resend-verification", map[string]string{"email": "x@example.com"}))
	for range 5 {
		e.post(t, "/api/v1/auth/reset-password", map[string]string{"token": "bogus", "newPassword": "password123"}).want(t, "reset", http.StatusUnauthorized)
	}
	want429(t, "6th reset", e.post(t, "/api/v1/auth/reset-password", map[string]string{"token": "bogus", "newPassword": "password123"}))

	// login: repeated failures on one account slow that account down...
	other := e.createVerifiedUser(t, "user-other-0001", "other@example.com", "password123")
	for i := range 6 {
		e.post(t, "/api/v1/auth/login", map[string]string{"email": userEmail, "password": "wrong-password"}).
			want(t, fmt.Sprintf("failed login %d", i+1), http.StatusUnauthorized)
	}
	// ... so that even the right password must wait (no lockout: only a delay).
	want429(t, "login of a slowed account", e.post(t, "/api/v1/auth/login", map[string]string{"email": userEmail, "password": userPassword}))
	want429(t, "login of a slowed account, other case", e.post(t, "/api/v1/auth/login", map[string]string{"email": strings.ToUpper(userEmail), "password": userPassword}))
	// The owner sees the throttling in the audit log.
	if evs, err := e.store.ListEvents(context.Background(), e.user.ID, 50); err != nil || !hasEvent(evs, provider.EventAccountLocked) {
		t.Errorf("no account_locked event after the slowed logins (err %v)", err)
	}
	// Another account is unaffected.
	e.apiLogin(t, other.Email, "password123")
	// 9 logins so far; the 10th passes, the 11th is over the per-IP limit.
	e.post(t, "/api/v1/auth/login", map[string]string{"email": "nobody@example.com", "password": "x"}).want(t, "10th login", http.StatusUnauthorized)
	want429(t, "11th login", e.post(t, "/api/v1/auth/login", map[string]string{"email": other.Email, "password": "password123"}))
	// X-Forwarded-For from an untrusted peer does not buy a new bucket.
	want429(t, "login with a spoofed X-Forwarded-For", e.post(t, "/api/v1/auth/login",
		map[string]string{"email": other.Email, "password": "password123"}, "X-Forwarded-For", "203.0.113.9"))

}

// testSecondFactorBackoff: wrong TOTP codes slow the account's second
// factor down like wrong passwords do, whichever challenge they come with.
func testSecondFactorBackoff(t *testing.T, b storetest.Backend) {
	c := &clock{}
	e := setup(t, b, withClock(c), func(o *setupOpts) {
		o.backoff = ratelimit.NewBackoff(ratelimit.NewMemoryBackoffStore(nil), 5, time.Minute, 5*time.Minute)
	})
	l := e.apiLogin(t, userEmail, userPassword)
	secret, _ := e.enableTOTP(t, c, l.access)
	challenge := func() string {
		return e.post(t, "/api/v1/auth/login", map[string]string{"email": userEmail, "password": userPassword}).
			want(t, "login", http.StatusOK).str("challenge")
	}
	wrong := "000000"
	if code(t, secret, c) == wrong {
		wrong = "111111"
	}
	for i := range 6 {
		e.post(t, "/api/v1/auth/login/2fa", map[string]string{"challenge": challenge(), "code": wrong}).
			want(t, fmt.Sprintf("wrong code %d", i+1), http.StatusUnauthorized)
	}
	c.advance(30 * time.Second)
	want429(t, "right code of a slowed account", e.post(t, "/api/v1/auth/login/2fa", map[string]string{"challenge": challenge(), "code": code(t, secret, c)}))
	// The browser step shares the state.
	br := e.browser(t)
	p := br.post(t, "/login", url.Values{"email": {userEmail}, "password": {userPassword}, "return_to": {"/account"}})
	ch := submatch(t, challengeRE, p.body, "challenge")
	if p := br.post(t, "/login/2fa", url.Values{"challenge": {ch}, "code": {code(t, secret, c)}}); p.status != http.StatusTooManyRequests {
		t.Errorf("browser 2fa step of a slowed account: %d", p.status)
	}
}

func hasEvent(evs []*provider.SecurityEvent, typ string) bool {
	for _, e := range evs {
		if e.Type == typ {
			return true
		}
	}
	return false
}
