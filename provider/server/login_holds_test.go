package server_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider/ratelimit"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// Client addresses of the login hold tests, told to the server through
// X-Forwarded-For from a trusted loopback proxy.
const (
	attackerIP  = "203.0.113.5"
	attackerIP2 = "203.0.113.77" // the attacker's /24
	ownerIP     = "198.51.100.7"
	travelIP    = "192.0.2.10" // a network the owner has not used yet
)

// TestLoginHolds (issue 10, item 8): someone failing on an account holds
// their own network, not the owner, who gets in from another network, or
// from the attacker's network with the device cookie of an earlier login;
// guessing from many networks still holds every unknown client; a password
// reset clears the hold. In process and in Redis, on both backends.
func TestLoginHolds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		t.Run("Memory", func(t *testing.T) {
			c := &clock{}
			testLoginHolds(t, b, c, ratelimit.NewMemoryBackoffStore(c.now))
		})
		t.Run("Redis", func(t *testing.T) {
			rc := redisForTest(t)
			prefix := "manaauth-e2e:" + rand.Text()[:12] + ":"
			t.Cleanup(func() {
				ctx := context.Background()
				iter := rc.Scan(ctx, 0, prefix+"*", 100).Iterator()
				for iter.Next(ctx) {
					rc.Del(ctx, iter.Val())
				}
			})
			testLoginHolds(t, b, &clock{}, ratelimit.NewRedisBackoffStore(rc, prefix+"bo:"))
		})
		t.Run("IPv6Prefix", func(t *testing.T) {
			c := &clock{}
			testIPv6Prefix(t, b, c, ratelimit.NewMemoryBackoffStore(c.now))
		})
		// Waiting out every delay for hours is only possible on the
		// in-process store, whose clock the test moves.
		t.Run("PatientAttacker", func(t *testing.T) {
			c := &clock{}
			testPatientAttacker(t, b, c, ratelimit.NewMemoryBackoffStore(c.now))
		})
	})
}

// setupHolds starts a provider with the login backoff on store (5 free
// failures, then 1 minute doubling to 5) that trusts loopback as a proxy.
func setupHolds(t *testing.T, b storetest.Backend, c *clock, store ratelimit.BackoffStore, opts ...func(*setupOpts)) *env {
	t.Helper()
	return setup(t, b, append([]func(*setupOpts){withClock(c), func(o *setupOpts) {
		o.backoff = ratelimit.NewBackoff(store, 5, time.Minute, 5*time.Minute)
		o.trustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}}, opts...)...)
}

// apiLoginFrom is an API login from ip, with a Cookie header unless empty.
func (e *env) apiLoginFrom(t testing.TB, ip, email, password, cookie string) *tokenResp {
	t.Helper()
	hdr := []string{"X-Forwarded-For", ip}
	if cookie != "" {
		hdr = append(hdr, "Cookie", cookie)
	}
	return e.post(t, "/api/v1/auth/login", map[string]string{"email": email, "password": password}, hdr...)
}

// pageLoginFrom submits the login form from ip.
func (b *browser) pageLoginFrom(t testing.TB, ip, email, password string) *page {
	t.Helper()
	return b.post(t, "/login", url.Values{"email": {email}, "password": {password}, "return_to": {"/account"}}, "X-Forwarded-For", ip)
}

func signedIn(p *page) bool { return p.status == http.StatusOK && p.url.Path == "/account" }

// deviceCookie returns the device cookie an API login answered with, as a
// Cookie header.
func deviceCookie(t testing.TB, r *tokenResp) string {
	t.Helper()
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "mana_device" {
			if !c.HttpOnly || c.MaxAge <= 0 {
				t.Errorf("device cookie: HttpOnly %v, MaxAge %d", c.HttpOnly, c.MaxAge)
			}
			return c.Name + "=" + c.Value
		}
	}
	t.Fatalf("login answered without a device cookie: %v", r.header.Values("Set-Cookie"))
	return ""
}

func testLoginHolds(t *testing.T, b storetest.Backend, c *clock, store ratelimit.BackoffStore) {
	mb, sender := startMailbox(t)
	e := setupHolds(t, b, c, store, withMailer(sender))
	mallory := e.createVerifiedUser(t, "user-mallory-01", "mallory@example.com", "mallory-password")

	// The owner signs in from home, in the browser and in an app that
	// uses the API from a browser: both are now known devices.
	home := e.browser(t)
	if p := home.pageLoginFrom(t, ownerIP, userEmail, userPassword); !signedIn(p) {
		t.Fatalf("owner's first page login: %d %s", p.status, p.url)
	}
	apiDevice := deviceCookie(t, e.apiLoginFrom(t, ownerIP, userEmail, userPassword, "").want(t, "owner's first API login", http.StatusOK))

	// The attacker fails 6 times from one address, by API and page: 5 free
	// failures and one judged after the turn, then the network is held,
	// even with the right password and from the next address in its /24.
	attacker := e.browser(t)
	for i := range 3 {
		e.apiLoginFrom(t, attackerIP, userEmail, "wrong-password", "").want(t, fmt.Sprintf("attacker API failure %d", i+1), http.StatusUnauthorized)
		if p := attacker.pageLoginFrom(t, attackerIP, userEmail, "wrong-password"); p.status != http.StatusUnauthorized {
			t.Fatalf("attacker page failure %d: %d", i+1, p.status)
		}
	}
	want429(t, "attacker's network, API", e.apiLoginFrom(t, attackerIP, userEmail, "wrong-password", ""))
	want429(t, "attacker's network, right password", e.apiLoginFrom(t, attackerIP2, strings.ToUpper(userEmail), userPassword, ""))
	if p := attacker.pageLoginFrom(t, attackerIP2, userEmail, "wrong-password"); p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" {
		t.Errorf("attacker's network, page: %d", p.status)
	}

	// The owner gets in from another network without any cookie...
	e.apiLoginFrom(t, ownerIP, userEmail, userPassword, "").want(t, "owner's API login from home during the attack", http.StatusOK)
	if p := e.browser(t).pageLoginFrom(t, ownerIP, userEmail, userPassword); !signedIn(p) {
		t.Errorf("owner's page login from home in a new browser during the attack: %d %s", p.status, p.url)
	}
	// ... and from the attacker's network with a device that signed in
	// before (the attacker shares a café's network, say).
	if p := home.pageLoginFrom(t, attackerIP, userEmail, userPassword); !signedIn(p) {
		t.Errorf("owner's known browser on the held network: %d %s", p.status, p.url)
	}
	e.apiLoginFrom(t, attackerIP, userEmail, userPassword, apiDevice).want(t, "owner's known API device on the held network", http.StatusOK)

	// Forged and foreign device cookies are ignored: the attacker's
	// network stays held.
	mal := deviceCookie(t, e.apiLoginFrom(t, "198.18.0.1", mallory.Email, "mallory-password", "").want(t, "mallory's login", http.StatusOK))
	ticket := strings.TrimPrefix(mal, "mana_device=")
	body, sig, _ := strings.Cut(ticket, ".")
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		t.Fatal(err)
	}
	renamed := base64.RawURLEncoding.EncodeToString([]byte(strings.ReplaceAll(string(raw), mallory.Email, userEmail))) + "." + sig
	ownTicket := strings.TrimPrefix(apiDevice, "mana_device=")
	badSig := ownTicket[:strings.Index(ownTicket, ".")+1] + flip(ownTicket[strings.Index(ownTicket, ".")+1:])
	for name, cookie := range map[string]string{
		"another account's": mal, "renamed": "mana_device=" + renamed, "bad signature": "mana_device=" + badSig,
		"garbage": "mana_device=x.y~~" + strings.Repeat("a", 100),
	} {
		want429(t, name+" device cookie on the held network", e.apiLoginFrom(t, attackerIP, userEmail, userPassword, cookie))
	}

	// A device that keeps failing loses its trust: its own 5 free failures
	// and one more, then it is an unknown client of the held network.
	for i := range 6 {
		e.apiLoginFrom(t, attackerIP, userEmail, "wrong-password", apiDevice).want(t, fmt.Sprintf("failure %d with a device cookie", i+1), http.StatusUnauthorized)
	}
	want429(t, "a failing device on the held network", e.apiLoginFrom(t, attackerIP, userEmail, userPassword, apiDevice))

	// Guessing from many networks: 4 networks' free failures are
	// tolerated, then every unknown client is held, the owner abroad too,
	// while the owner's known browser still gets in.
	for n := range 4 {
		for i := range 5 {
			e.apiLoginFrom(t, fmt.Sprintf("10.%d.0.1", n), userEmail, "wrong-password", "").
				want(t, fmt.Sprintf("network %d failure %d", n, i+1), http.StatusUnauthorized)
		}
	}
	e.apiLoginFrom(t, "10.9.0.1", userEmail, "wrong-password", "").want(t, "failure over the account threshold", http.StatusUnauthorized)
	want429(t, "fresh network after distributed guessing", e.apiLoginFrom(t, "10.10.0.1", userEmail, "wrong-password", ""))
	want429(t, "owner abroad, unknown device, API", e.apiLoginFrom(t, travelIP, userEmail, userPassword, ""))
	if p := e.browser(t).pageLoginFrom(t, travelIP, userEmail, userPassword); p.status != http.StatusTooManyRequests {
		t.Errorf("owner abroad, unknown browser, page: %d", p.status)
	}
	if p := home.pageLoginFrom(t, travelIP, userEmail, userPassword); !signedIn(p) {
		t.Errorf("owner abroad with the known browser: %d %s", p.status, p.url)
	}

	// A password reset (from abroad) clears the account's hold: the owner
	// signs in with the new password from there and from any other
	// network, while the attacker's network stays held.
	e.post(t, "/api/v1/auth/forgot-password", map[string]string{"email": userEmail}, "X-Forwarded-For", travelIP).want(t, "forgot", http.StatusOK)
	token := mb.wait(t, userEmail, 1).link(t, "/reset-password").Query().Get("token")
	e.post(t, "/api/v1/auth/reset-password", map[string]string{"token": token, "newPassword": "a brand new password"}, "X-Forwarded-For", travelIP).
		want(t, "reset", http.StatusOK)
	e.apiLoginFrom(t, travelIP, userEmail, "a brand new password", "").want(t, "login abroad after the reset", http.StatusOK)
	if p := e.browser(t).pageLoginFrom(t, "100.64.0.1", userEmail, "a brand new password"); !signedIn(p) {
		t.Errorf("page login from an unknown network after the reset: %d %s", p.status, p.url)
	}
	want429(t, "attacker's network after the reset", e.apiLoginFrom(t, attackerIP, userEmail, "a brand new password", ""))
}

// testIPv6Prefix: one host with an IPv6 /48 (a free tunnel-broker prefix)
// fails from many of its /64s. Each /64 is held on its own, and the /48
// together gets no more judged guesses than the account tolerates, but it
// counts as one network toward the account's hold: the owner's unknown
// clients elsewhere still get in.
func testIPv6Prefix(t *testing.T, b storetest.Backend, c *clock, store ratelimit.BackoffStore) {
	e := setupHolds(t, b, c, store)
	judged := 0
	for n := range 8 {
		ip := fmt.Sprintf("2001:db8:1:%x::1", n)
		for i := range 6 {
			r := e.apiLoginFrom(t, ip, userEmail, "wrong-password", "")
			if r.status == http.StatusUnauthorized {
				judged++
				continue
			}
			want429(t, fmt.Sprintf("/64 %d attempt %d", n, i+1), r)
		}
		want429(t, fmt.Sprintf("/64 %d after its failures", n), e.apiLoginFrom(t, ip, userEmail, userPassword, ""))
	}
	// 4 networks' free failures and the one judged after the turn.
	if judged != 21 {
		t.Errorf("the /48 had %d guesses judged, want 21", judged)
	}
	want429(t, "a fresh /64 of the /48", e.apiLoginFrom(t, "2001:db8:1:ff::1", userEmail, userPassword, ""))

	e.apiLoginFrom(t, ownerIP, userEmail, userPassword, "").want(t, "owner's IPv4 login, unknown device", http.StatusOK)
	if p := e.browser(t).pageLoginFrom(t, "2001:db8:2::7", userEmail, userPassword); !signedIn(p) {
		t.Errorf("owner's page login from another /48, unknown browser: %d %s", p.status, p.url)
	}
}

// testPatientAttacker: one network failing as often as its delays allow,
// for hours, is held on every attempt past the free ones, and never holds
// the owner anywhere else.
func testPatientAttacker(t *testing.T, b storetest.Backend, c *clock, store ratelimit.BackoffStore) {
	e := setupHolds(t, b, c, store)
	start := c.now()
	failures := 0
	for range 40 {
		r := e.apiLoginFrom(t, attackerIP, userEmail, "wrong-password", "")
		if r.status == http.StatusTooManyRequests {
			secs, err := strconv.Atoi(r.header.Get("Retry-After"))
			if err != nil || secs < 1 {
				t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
			}
			c.advance(time.Duration(secs) * time.Second)
			r = e.apiLoginFrom(t, attackerIP, userEmail, "wrong-password", "")
		}
		r.want(t, fmt.Sprintf("attacker's failure %d after waiting", failures+1), http.StatusUnauthorized)
		failures++
		if failures > 6 {
			want429(t, fmt.Sprintf("attacker at once after failure %d", failures), e.apiLoginFrom(t, attackerIP, userEmail, "wrong-password", ""))
		}
	}
	// 5 free failures, then 1, 2, 4 and 5 minutes after each: the attacker
	// spent hours on 40 guesses.
	if took := c.now().Sub(start); took < 2*time.Hour {
		t.Errorf("40 guesses took %v, want hours", took)
	}
	e.apiLoginFrom(t, ownerIP, userEmail, userPassword, "").want(t, "owner's login from home after hours of attack", http.StatusOK)
	if p := e.browser(t).pageLoginFrom(t, travelIP, userEmail, userPassword); !signedIn(p) {
		t.Errorf("owner's page login from an unknown network after hours of attack: %d %s", p.status, p.url)
	}
}

// flip changes the first character of s.
func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}
