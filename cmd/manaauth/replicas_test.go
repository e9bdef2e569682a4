package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/redis/go-redis/v9"

	"github.com/manacore/mana-core-auth/internal/database/databasetest"
)

// issue 13 (replicas): two `manaauth serve` processes on one PostgreSQL
// database and one Redis, with one SECRET_KEY and one issuer, behave as
// one provider. No load balancer: the test's user agents reach the
// issuer's host at replica A or B directly (replicaClient).

// replica is one `manaauth serve` process.
type replica struct {
	name   string
	addr   string // 127.0.0.1:port
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
}

// startReplica runs `bin serve` with env on a free loopback port and
// waits until it is ready.
func startReplica(t *testing.T, bin, name string, env map[string]string) *replica {
	t.Helper()
	port := freePort(t)
	r := &replica{name: name, addr: "127.0.0.1:" + strconv.Itoa(port), out: &syncBuffer{}, exited: make(chan struct{})}
	r.cmd = exec.Command(bin, "serve")
	r.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "PORT=" + strconv.Itoa(port), "LISTEN_ADDR=" + r.addr}
	for k, v := range env {
		r.cmd.Env = append(r.cmd.Env, k+"="+v)
	}
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start replica %s: %v", name, err)
	}
	go func() { _ = r.cmd.Wait(); close(r.exited) }()
	t.Cleanup(func() {
		r.stop(t)
		if t.Failed() {
			t.Logf("replica %s output:\n%s", name, r.out.String())
		}
	})
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		select {
		case <-r.exited:
			t.Fatalf("replica %s exited at start:\n%s", name, r.out.String())
		default:
		}
		if resp, err := http.Get("http://" + r.addr + "/health/ready"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("replica %s not ready within 60s:\n%s", name, r.out.String())
	return nil
}

// stop ends the replica gracefully (SIGTERM), as an orchestrator does.
func (r *replica) stop(t *testing.T) {
	select {
	case <-r.exited:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(20 * time.Second):
		t.Errorf("replica %s did not stop within 20s of SIGTERM", r.name)
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

// kill ends the replica at once (SIGKILL): no graceful shutdown, no
// hand-back of claimed work.
func (r *replica) kill() {
	_ = r.cmd.Process.Kill()
	<-r.exited
}

func (r *replica) client(jar http.CookieJar) *http.Client { return replicaClient(r.addr, jar) }

// scratchRedis is the Redis of TEST_REDIS_URL with a database of this
// test's own (11), emptied, so the rate-limit counters start at zero.
func scratchRedis(t *testing.T) string {
	t.Helper()
	raw := os.Getenv("TEST_REDIS_URL")
	if raw == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_REDIS_URL is not set but CI=true")
		}
		t.Skip("TEST_REDIS_URL not set; the replica test needs Redis")
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	o.DB = 11
	c := redis.NewClient(o)
	defer c.Close()
	if err := c.FlushDB(t.Context()).Err(); err != nil {
		t.Fatalf("Redis at TEST_REDIS_URL: %v", err)
	}
	u, _ := url.Parse(raw)
	u.Path = "/11"
	return u.String()
}

// pollUntil retries check until it returns "" or within runs out, and
// returns how long that took; on timeout it fails with check's last word.
func pollUntil(t *testing.T, within time.Duration, what string, check func() string) time.Duration {
	t.Helper()
	start := time.Now()
	last := ""
	for time.Since(start) < within {
		if last = check(); last == "" {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s: %s", what, within, last)
	return 0
}

// TestReplicas runs the replica cases on PostgreSQL directly and through
// PgBouncer in transaction pooling mode.
func TestReplicas(t *testing.T) {
	bin := buildManaauth(t)
	t.Run("direct", func(t *testing.T) { testReplicas(t, bin, databasetest.NewPostgresDatabase(t)) })
	t.Run("pgbouncer", func(t *testing.T) {
		dsn, _ := throughPgBouncer(t, 10)
		testReplicas(t, bin, dsn)
	})
}

func testReplicas(t *testing.T, bin, dsn string) {
	redisURL := scratchRedis(t)
	const issuer = "http://localhost:3999" // the load balancer's name for both
	env := map[string]string{"DATABASE_URL": dsn, "REDIS_URL": redisURL, "BASE_URL": issuer,
		"SECRET_KEY": strings.Repeat("r", 48), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": "9", "LOG_LEVEL": "warn",
		"RATE_LIMITS": "forgot-password=3/1m", "CREDITS_SIGNUP_BONUS": "0", "CREDITS_DAILY_FREE": "0",
		"BACKCHANNEL_TIMEOUT": "2s"}
	const email, password = "replicated@example.com", "replicated-password-1"
	if out, _, err := runCmd(t, env, "users", "create", "--email", email, "--password", password, "--verified"); err != nil {
		t.Fatalf("users create: %v %s", err, out)
	}
	rp := createRP(t, env, "app", issuer)
	a := startReplica(t, bin, "A", env)
	b := startReplica(t, bin, "B", env)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	jar, _ := cookiejar.New(nil)
	ca, cb := a.client(jar), b.client(jar)
	var onA flowResult
	t.Run("sign in on A, single sign-on on B", func(t *testing.T) {
		onA = codeFlow(t, ctx, ca, rp, email, password)
		if !onA.signedIn {
			t.Fatal("A did not ask for the password of a new user agent")
		}
		onB := codeFlow(t, ctx, cb, rp, email, password)
		if onB.signedIn {
			t.Fatal("B asked for the password although A's session cookie was sent")
		}
		if onB.idToken.Subject != onA.idToken.Subject {
			t.Fatalf("B's ID token is for %q, A's for %q", onB.idToken.Subject, onA.idToken.Subject)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("refresh on B a token A issued", func(t *testing.T) {
		tok, err := rp.refresh(ctx, cb, onA.token.RefreshToken)
		if err != nil {
			t.Fatalf("refresh on B: %v", err)
		}
		if tok.AccessToken == "" || tok.RefreshToken == "" || tok.RefreshToken == onA.token.RefreshToken {
			t.Fatalf("refresh on B returned %+v", tok)
		}
		onA.token = tok
	})

	t.Run("revoke on A, rejected on B within 1s", func(t *testing.T) {
		res := codeFlow(t, ctx, ca, rp, email, password)
		form := url.Values{"token": {res.token.RefreshToken}, "token_type_hint": {"refresh_token"}}
		if st, body := clientPost(t, ca, rp, issuer+"/oauth2/revoke", form); st != http.StatusOK {
			t.Fatalf("revoke on A: %d %s", st, body)
		}
		took := pollUntil(t, time.Second, "B still accepts the revoked grant", func() string {
			st, body := clientPost(t, cb, rp, issuer+"/oauth2/introspect", url.Values{"token": {res.token.AccessToken}})
			var out struct {
				Active bool `json:"active"`
			}
			if st != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil {
				return fmt.Sprintf("introspection on B: %d %s", st, body)
			}
			if out.Active {
				return "B introspects the access token as active"
			}
			if _, err := rp.refresh(ctx, cb, res.token.RefreshToken); err == nil {
				return "B refreshed the revoked refresh token"
			}
			return ""
		})
		t.Logf("revocation on A effective on B after %s", took.Round(time.Millisecond))
	})

	t.Run("rate limit counted across replicas", func(t *testing.T) {
		// forgot-password=3/1m: three on A, the fourth on B is over.
		for i := range 3 {
			if st, body := jsonPost(t, ca, issuer+"/api/v1/auth/forgot-password", `{"email":"nobody@example.com"}`); st == http.StatusTooManyRequests {
				t.Fatalf("request %d on A limited already: %s", i+1, body)
			}
		}
		if st, body := jsonPost(t, cb, issuer+"/api/v1/auth/forgot-password", `{"email":"nobody@example.com"}`); st != http.StatusTooManyRequests {
			t.Fatalf("fourth request (on B) within the minute: %d %s, want 429", st, body)
		}
	})

	t.Run("keys rotated on A, B follows within 1s", func(t *testing.T) {
		out, errOut, err := runCmd(t, env, "keys", "rotate", "--alg", "EdDSA", "--delay", "0s")
		if err != nil {
			t.Fatalf("keys rotate: %v %s", err, errOut)
		}
		m := regexp.MustCompile(`new EdDSA key (\S+) published`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("keys rotate printed no new kid:\n%s", out)
		}
		kid := m[1]
		took := pollUntil(t, time.Second, "B's JWKS and signatures", func() string {
			if body := get(t, cb, issuer+"/.well-known/jwks.json").body; !strings.Contains(body, `"`+kid+`"`) {
				return "B's JWKS lacks the new key"
			}
			tok, err := rp.refresh(ctx, cb, onA.token.RefreshToken)
			if err != nil {
				return "refresh on B: " + err.Error()
			}
			onA.token = tok
			if got := jwsKid(tok.Extra("id_token")); got != kid {
				return "B signs with " + got
			}
			return ""
		})
		t.Logf("rotation seen by B after %s", took.Round(time.Millisecond))
		if body := get(t, ca, issuer+"/.well-known/jwks.json").body; !strings.Contains(body, `"`+kid+`"`) {
			t.Error("A's JWKS lacks the new key")
		}
	})

	t.Run("credits spent on both never overdraw", func(t *testing.T) {
		spendConcurrently(t, ctx, env, ca, issuer, email, password, 20, 40, cb)
	})

	t.Run("A killed mid back-channel logout, B delivers after the lease", func(t *testing.T) {
		// Only A may claim the jobs: B stops (gracefully) first.
		b.stop(t)
		f := interruptedFanOut(t, ctx, bin, env, a, "kill", (*replica).kill)
		// A claimed the jobs after the logout, so its lease ends no sooner
		// than 4 s after it; the new replica was ready before that, so an
		// earlier delivery would mean A held nothing.
		const lease = 4 * time.Second
		if f.readyAfterLogout >= lease {
			t.Logf("the new replica was ready only %s after the logout: the lease check below cannot tell", f.readyAfterLogout)
		} else if f.deliveredAfterLogout < lease-100*time.Millisecond {
			t.Errorf("delivered %s after the logout, inside A's %s lease: did A hold the jobs?", f.deliveredAfterLogout, lease)
		}
		t.Logf("a new replica delivered all back-channel logouts %s after A was killed, %s after the logout (lease 2 × 2s)",
			f.deliveredAfterEnd.Round(time.Millisecond), f.deliveredAfterLogout.Round(time.Millisecond))
	})

	t.Run("A stopped mid back-channel logout hands back, B delivers at once", func(t *testing.T) {
		// A lease of a minute: only the hand-back explains a delivery
		// within seconds.
		slowEnv := map[string]string{}
		for k, v := range env {
			slowEnv[k] = v
		}
		slowEnv["BACKCHANNEL_TIMEOUT"] = "30s"
		a2 := startReplica(t, bin, "A2", slowEnv)
		took := interruptedFanOut(t, ctx, bin, env, a2, "stop", func(r *replica) { r.stop(t) }).deliveredAfterEnd
		if took > 30*time.Second {
			t.Fatalf("delivered %s after A2 stopped: that is the lease, not a hand-back", took)
		}
		t.Logf("a new replica delivered all back-channel logouts %s after A2 stopped (lease 1m)", took.Round(time.Millisecond))
	})
}

// interruptedFanOut signs a user in at three relying parties with
// back-channel logout URIs through replica a (the only one running), logs
// out there, lets a start delivering to all three (they hang), ends a with
// end, starts a new replica and returns how long after the end it took
// until every relying party got a logout token, each verified against
// the JWKS.
func interruptedFanOut(t *testing.T, ctx context.Context, bin string, env map[string]string, a *replica, name string,
	end func(*replica)) fanOutTimes {
	t.Helper()
	var ended atomic.Bool
	type rpState struct {
		flowRP
		inflight  chan struct{}
		once      sync.Once
		delivered chan string
	}
	var rps []*rpState
	for i := range 3 {
		st := &rpState{inflight: make(chan struct{}), delivered: make(chan string, 10)}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Read the body first: only then does the server watch the
			// connection and cancel r.Context() when a goes away.
			tok := r.PostFormValue("logout_token")
			if !ended.Load() {
				// a's attempt: hang until a ends and the connection drops.
				st.once.Do(func() { close(st.inflight) })
				<-r.Context().Done()
				return
			}
			st.delivered <- tok
		}))
		t.Cleanup(srv.Close)
		st.flowRP = createRP(t, env, fmt.Sprintf("%s%d", name, i), env["BASE_URL"], "--backchannel-logout-uri", srv.URL+"/backchannel")
		rps = append(rps, st)
	}
	issuer := env["BASE_URL"]
	jar, _ := cookiejar.New(nil)
	ca := a.client(jar)
	var last flowResult
	for _, st := range rps {
		last = codeFlow(t, ctx, ca, st.flowRP, "replicated@example.com", "replicated-password-1")
	}
	logoutAt := time.Now()
	logout(t, ca, issuer, last.rawID)
	for _, st := range rps {
		select {
		case <-st.inflight:
		case <-time.After(15 * time.Second):
			t.Fatalf("%s did not start delivering to %s", a.name, st.id)
		}
	}
	ended.Store(true)
	end(a)
	endedAt := time.Now()
	b := startReplica(t, bin, "after-"+name, env)
	readyAt := time.Now()
	verifyCtx := oidc.ClientContext(ctx, b.client(nil))
	p, err := oidc.NewProvider(verifyCtx, issuer)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range rps {
		select {
		case tok := <-st.delivered:
			idt, err := p.Verifier(&oidc.Config{ClientID: st.id}).Verify(verifyCtx, tok)
			if err != nil {
				t.Errorf("logout token for %s: %v", st.id, err)
				continue
			}
			var claims struct {
				Sid    string         `json:"sid"`
				Events map[string]any `json:"events"`
			}
			if err := idt.Claims(&claims); err != nil || claims.Sid == "" || claims.Events["http://schemas.openid.net/event/backchannel-logout"] == nil {
				t.Errorf("logout token for %s lacks sid or the event: %+v %v", st.id, claims, err)
			}
			if idt.Subject != last.idToken.Subject {
				t.Errorf("logout token for %s names %q, want %q", st.id, idt.Subject, last.idToken.Subject)
			}
		case <-time.After(90 * time.Second):
			t.Fatalf("no replica delivered the logout to %s within 90s of the end of %s", st.id, a.name)
		}
	}
	f := fanOutTimes{deliveredAfterEnd: time.Since(endedAt), deliveredAfterLogout: time.Since(logoutAt),
		readyAfterLogout: readyAt.Sub(logoutAt)}
	b.stop(t) // so that a following case has its replica to itself
	return f
}

// fanOutTimes are when an interrupted fan-out was finished by the next
// replica, and when that replica was ready.
type fanOutTimes struct {
	deliveredAfterEnd, deliveredAfterLogout, readyAfterLogout time.Duration
}

// clientPost posts form with the relying party's client credentials.

func clientPost(t *testing.T, c *http.Client, rp flowRP, target string, form url.Values) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(rp.id), url.QueryEscape(rp.secret))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func jsonPost(t *testing.T, c *http.Client, target, body string) (int, string) {
	t.Helper()
	resp, err := c.Post(target, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// logout ends the browser session at the end-session endpoint, confirming
// when the provider asks.
func logout(t *testing.T, c *http.Client, issuer, idToken string) {
	t.Helper()
	resp := get(t, c, issuer+"/oauth2/logout?"+url.Values{"id_token_hint": {idToken}}.Encode())
	if strings.Contains(resp.body, `name="challenge"`) {
		form := url.Values{}
		for _, m := range hiddenInputRE.FindAllStringSubmatch(resp.body, -1) {
			form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
		}
		resp = postForm(t, c, issuer+"/oauth2/logout", issuer, form)
	}
	if resp.StatusCode >= 400 {
		t.Fatalf("logout: %d at %s\n%.1000s", resp.StatusCode, resp.Request.URL, resp.body)
	}
}

// jwsKid is the kid in a compact JWS's header ("" when there is none).
func jwsKid(tok any) string {
	s, _ := tok.(string)
	h, _, _ := strings.Cut(s, ".")
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return ""
	}
	var hdr struct {
		Kid string `json:"kid"`
	}
	_ = json.Unmarshal(raw, &hdr)
	return hdr.Kid
}
