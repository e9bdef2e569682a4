package backchannel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/manacore/mana-core-auth/internal/faultproxy"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/backchannel"
	"github.com/manacore/mana-core-auth/provider/keys"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

var _ backchannel.Signer = (*keys.Ring)(nil)

const issuer = "https://auth.mana.test"

// t0 has whole seconds so iat and exp are exact.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// forEachBackend runs fn on a fresh store of every backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, s provider.Store)) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) { fn(t, b.Open(t)) })
	}
}

func newRing(t *testing.T, s provider.Store) *keys.Ring {
	t.Helper()
	ring, err := keys.New(s, []byte("0123456789abcdef0123456789abcdef"), keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ring.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	return ring
}

// clock is an injectable Now that tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// logs collects the notifier's log output and echoes it to the test.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
	out io.Writer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	return l.out.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type fixture struct {
	store provider.Store
	ring  *keys.Ring
	clock *clock
	logs  *logs
}

func newFixture(t *testing.T, s provider.Store) *fixture {
	f := &fixture{store: s, ring: newRing(t, s), clock: &clock{now: t0}, logs: &logs{out: t.Output()}}
	t.Cleanup(func() {
		// Never log the token: every JWS starts with a base64url '{"'.
		if strings.Contains(f.logs.String(), "eyJ") {
			t.Errorf("a token was logged:\n%s", f.logs.String())
		}
	})
	return f
}

// notifier returns a Notifier on the fixture's store, clock and logs;
// edit adjusts the config.
func (f *fixture) notifier(edit func(*backchannel.Config)) *backchannel.Notifier {
	cfg := backchannel.Config{
		Issuer: issuer, Now: f.clock.Now,
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&cfg)
	}
	return backchannel.New(cfg, f.store, f.ring)
}

func (f *fixture) client(t *testing.T, id, uri, alg string) {
	t.Helper()
	c := &provider.Client{ID: id, Name: id, RedirectURIs: []string{"https://" + id + ".mana.test/cb"},
		GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"}, Scopes: []string{"openid"},
		BackchannelLogoutURI: uri, IDTokenAlg: alg, CreatedAt: t0}
	if err := f.store.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
}

// grant stores a minimal grant of client in session: enough for
// SessionClients.
func (f *fixture) grant(t *testing.T, clientID, sessionID string, active bool) {
	t.Helper()
	sig := clientID + "-" + sessionID + "-" + fmt.Sprint(active)
	g := &provider.Grant{Kind: provider.KindRefreshToken, Signature: sig, RequestID: sig, ClientID: clientID,
		Subject: "user-1", SessionID: sessionID, Active: active, RequestedAt: t0, ExpiresAt: t0.Add(time.Hour),
		Data: []byte("{}")}
	if err := f.store.CreateGrant(t.Context(), g); err != nil {
		t.Fatal(err)
	}
}

// remaining claims every job left in the queue, due or not, with a year's
// lease: a final check, as it takes them out of play.
func (f *fixture) remaining(t *testing.T) []*provider.LogoutJob {
	t.Helper()
	jobs, err := f.store.ClaimLogoutJobs(t.Context(), f.clock.Now().Add(365*24*time.Hour), 1000, 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

// receiver is a relying party's back-channel logout endpoint.
type receiver struct {
	*httptest.Server
	status atomic.Int32 // answer; 0 means 200
	delay  time.Duration
	mu     sync.Mutex
	got    []request
}

type request struct {
	method, contentType, cacheControl, token string
	form                                     map[string][]string
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("receiver: %v", err)
		}
		rc.mu.Lock()
		rc.got = append(rc.got, request{r.Method, r.Header.Get("Content-Type"), r.Header.Get("Cache-Control"),
			r.PostForm.Get("logout_token"), r.PostForm})
		rc.mu.Unlock()
		select {
		case <-time.After(rc.delay):
		case <-r.Context().Done():
			return
		}
		status := int(rc.status.Load())
		if status == 0 {
			status = http.StatusOK
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

func (rc *receiver) count() int { return len(rc.requests()) }

// deliverDue runs one pass and checks how many jobs it delivered.
func deliverDue(t *testing.T, n *backchannel.Notifier, want int) {
	t.Helper()
	got, err := n.DeliverDue(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("DeliverDue delivered %d, want %d", got, want)
	}
}

// verify checks token against the JWKS with go-jose, as a relying party
// would, and returns its header alg, typ and claims.
func verify(t *testing.T, ring *keys.Ring, token string) (alg, typ string, claims map[string]any) {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.EdDSA, jose.RS256})
	if err != nil {
		t.Fatalf("parse logout token: %v", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(ring.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	h := jws.Signatures[0].Header
	jwks := set.Key(h.KeyID)
	if len(jwks) != 1 {
		t.Fatalf("kid %q: %d keys in the JWKS", h.KeyID, len(jwks))
	}
	payload, err := jws.Verify(jwks[0])
	if err != nil {
		t.Fatalf("verify logout token: %v", err)
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	typ, _ = h.ExtraHeaders[jose.HeaderType].(string)
	return h.Algorithm, typ, claims
}

func TestSessionEndedDeliversToEveryClient(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s provider.Store) {
		f := newFixture(t, s)
		chat, todo, admin := newReceiver(t), newReceiver(t), newReceiver(t)
		todo.status.Store(http.StatusNoContent)
		f.client(t, "chat", chat.URL+"/backchannel", "") // EdDSA by default
		f.client(t, "todo", todo.URL+"/logout?x=1", provider.AlgRS256)
		f.client(t, "notes", "", provider.AlgEdDSA) // no back-channel logout
		f.client(t, "admin", admin.URL, provider.AlgEdDSA)
		f.grant(t, "chat", "sess-1", true)
		f.grant(t, "chat", "sess-1", false)
		f.grant(t, "todo", "sess-1", false) // revoked tokens still mean a signed-in app
		f.grant(t, "notes", "sess-1", true)
		f.grant(t, "admin", "sess-2", true) // another session

		n := f.notifier(nil)
		if err := n.SessionEnded(t.Context(), "", "user-1"); err != nil {
			t.Fatal(err)
		}
		if err := n.SessionEnded(t.Context(), "sess-1", "user-1"); err != nil {
			t.Fatal(err)
		}
		deliverDue(t, n, 2)
		deliverDue(t, n, 0) // completed: nothing left
		if left := f.remaining(t); len(left) != 0 {
			t.Fatalf("%d jobs left after delivery", len(left))
		}

		jtis := map[string]bool{}
		for _, tc := range []struct {
			rc       *receiver
			clientID string
			alg      string
		}{
			{chat, "chat", provider.AlgEdDSA},
			{todo, "todo", provider.AlgRS256},
		} {
			reqs := tc.rc.requests()
			if len(reqs) != 1 {
				t.Fatalf("%s got %d POSTs, want 1", tc.clientID, len(reqs))
			}
			r := reqs[0]
			if r.method != http.MethodPost || r.contentType != "application/x-www-form-urlencoded" ||
				r.cacheControl != "no-store" || len(r.form) != 1 {
				t.Errorf("%s: request %s %q %q with form keys %v", tc.clientID, r.method, r.contentType, r.cacheControl, r.form)
			}
			alg, typ, claims := verify(t, f.ring, r.token)
			if alg != tc.alg || typ != "logout+jwt" {
				t.Errorf("%s: header alg %q typ %q, want %q logout+jwt", tc.clientID, alg, typ, tc.alg)
			}
			jti, _ := claims["jti"].(string)
			if jti == "" || jtis[jti] {
				t.Errorf("%s: jti %q, want a fresh one", tc.clientID, jti)
			}
			jtis[jti] = true
			delete(claims, "jti")
			want := map[string]any{
				"iss": issuer, "aud": tc.clientID, "sub": "user-1", "sid": "sess-1",
				"iat": float64(t0.Unix()), "exp": float64(t0.Add(2 * time.Minute).Unix()),
				"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
			}
			if fmt.Sprint(claims) != fmt.Sprint(want) {
				t.Errorf("%s: claims %v, want %v (and no nonce)", tc.clientID, claims, want)
			}
		}
		if admin.count() != 0 {
			t.Errorf("client of another session got %d POSTs", admin.count())
		}
	})
}

// A relying party that fails is retried after the backoff (2s, then 4s)
// and not before, and succeeds on a later pass.
func TestRetryAfterBackoff(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s provider.Store) {
		f := newFixture(t, s)
		rc := newReceiver(t)
		rc.status.Store(http.StatusInternalServerError)
		f.client(t, "chat", rc.URL, "")
		f.grant(t, "chat", "sess-1", true)
		var sent, failed atomic.Int64 // issue 13: every attempt is observed
		n := f.notifier(func(c *backchannel.Config) {
			c.Observe = func(ok bool) {
				if ok {
					sent.Add(1)
				} else {
					failed.Add(1)
				}
			}
		})
		if err := n.SessionEnded(t.Context(), "sess-1", "user-1"); err != nil {
			t.Fatal(err)
		}

		for _, step := range []struct {
			at   time.Duration
			hits int
		}{
			{0, 1},                       // fails: next at +2s
			{time.Second, 1},             // not due
			{2 * time.Second, 2},         // fails: next at +6s
			{5999 * time.Millisecond, 2}, // not due, to the millisecond
		} {
			f.clock.Set(t0.Add(step.at))
			deliverDue(t, n, 0)
			if rc.count() != step.hits {
				t.Fatalf("at +%v: %d POSTs, want %d", step.at, rc.count(), step.hits)
			}
		}
		rc.status.Store(http.StatusNoContent)
		f.clock.Set(t0.Add(6 * time.Second))
		deliverDue(t, n, 1)
		if rc.count() != 3 {
			t.Fatalf("%d POSTs, want 3", rc.count())
		}
		if sent.Load() != 1 || failed.Load() != 2 {
			t.Fatalf("observed %d sent, %d failed; want 1, 2", sent.Load(), failed.Load())
		}
		if left := f.remaining(t); len(left) != 0 {
			t.Fatalf("%d jobs left after delivery", len(left))
		}
	})
}

// A dead endpoint is tried MaxAttempts times, then the job is dropped
// with an error log.
func TestGivesUpAfterMaxAttempts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s provider.Store) {
		f := newFixture(t, s)
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close() // nothing listens there any more
		f.client(t, "chat", dead.URL+"/backchannel", "")
		f.grant(t, "chat", "sess-1", true)
		n := f.notifier(func(c *backchannel.Config) { c.MaxAttempts = 3 })
		if err := n.SessionEnded(t.Context(), "sess-1", "user-1"); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			// An hour apart: always past the backoff (at most 10 minutes).
			f.clock.Set(t0.Add(time.Duration(i) * time.Hour))
			deliverDue(t, n, 0)
		}
		if got := strings.Count(f.logs.String(), "will retry"); got != 2 {
			t.Errorf("%d retries logged, want 2", got)
		}
		if got := strings.Count(f.logs.String(), "given up"); got != 1 {
			t.Errorf("%d give-ups logged, want 1:\n%s", got, f.logs.String())
		}
		if left := f.remaining(t); len(left) != 0 {
			t.Fatalf("%d jobs left after giving up", len(left))
		}
	})
}

// The job records why the last attempt failed and how often it did.
func TestFailureIsRecorded(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s provider.Store) {
		f := newFixture(t, s)
		rc := newReceiver(t)
		rc.status.Store(http.StatusServiceUnavailable)
		f.client(t, "chat", rc.URL, "")
		f.grant(t, "chat", "sess-1", true)
		n := f.notifier(func(c *backchannel.Config) { c.RetryBase = time.Second })
		if err := n.SessionEnded(t.Context(), "sess-1", "user-1"); err != nil {
			t.Fatal(err)
		}
		deliverDue(t, n, 0)
		f.clock.Set(t0.Add(time.Second))
		deliverDue(t, n, 0)
		left := f.remaining(t)
		if len(left) != 1 {
			t.Fatalf("%d jobs left, want 1", len(left))
		}
		j := left[0]
		if j.Attempts != 2 || j.LastError != "HTTP 503" || j.ClientID != "chat" || j.URI != rc.URL ||
			j.SessionID != "sess-1" || j.Subject != "user-1" || !j.CreatedAt.Equal(t0) {
			t.Fatalf("job %+v", j)
		}
	})
}

// A client deleted (or no longer registering a URI) after the session
// ended is not notified; its job is dropped.
func TestClientGoneDropsJob(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s provider.Store) {
		f := newFixture(t, s)
		gone, unregistered := newReceiver(t), newReceiver(t)
		f.client(t, "gone", gone.URL, "")
		f.client(t, "unregistered", unregistered.URL, "")
		f.grant(t, "gone", "sess-1", true)
		f.grant(t, "unregistered", "sess-1", true)
		n := f.notifier(nil)
		if err := n.SessionEnded(t.Context(), "sess-1", "user-1"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteClient(t.Context(), "gone"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteClient(t.Context(), "unregistered"); err != nil {
			t.Fatal(err)
		}
		f.client(t, "unregistered", "", "")
		deliverDue(t, n, 0)
		if gone.count()+unregistered.count() != 0 {
			t.Fatalf("POSTs to clients that are gone: %d, %d", gone.count(), unregistered.count())
		}
		if left := f.remaining(t); len(left) != 0 {
			t.Fatalf("%d jobs left, want them dropped", len(left))
		}
	})
}

// A relying party must answer itself: a redirect is a failure, and the
// target is never contacted.
func TestRedirectNotFollowed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s provider.Store) {
		f := newFixture(t, s)
		target := newReceiver(t)
		redirector := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
		t.Cleanup(redirector.Close)
		f.client(t, "chat", redirector.URL, "")
		f.grant(t, "chat", "sess-1", true)
		n := f.notifier(func(c *backchannel.Config) { c.Client = &http.Client{} })
		if err := n.SessionEnded(t.Context(), "sess-1", "user-1"); err != nil {
			t.Fatal(err)
		}
		deliverDue(t, n, 0)
		if target.count() != 0 {
			t.Fatal("redirect followed")
		}
		left := f.remaining(t)
		if len(left) != 1 || !strings.Contains(left[0].LastError, "307") {
			t.Fatalf("queue %+v, want the job with the redirect as its error", left)
		}
	})
}

// A relying party slower than Timeout counts as a failure.
func TestTimeout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s provider.Store) {
		f := newFixture(t, s)
		rc := newReceiver(t)
		rc.delay = 5 * time.Second
		f.client(t, "chat", rc.URL, "")
		f.grant(t, "chat", "sess-1", true)
		n := f.notifier(func(c *backchannel.Config) { c.Timeout = 200 * time.Millisecond })
		if err := n.SessionEnded(t.Context(), "sess-1", "user-1"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		deliverDue(t, n, 0)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("pass took %v with a 200ms timeout", d)
		}
		if left := f.remaining(t); len(left) != 1 || left[0].Attempts != 1 {
			t.Fatalf("queue %+v, want the job after one failed attempt", left)
		}
	})
}

// Jobs live in the database: a Notifier that never ran (the process
// stopped) leaves them to the next one.
func TestRestartDelivers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s provider.Store) {
		f := newFixture(t, s)
		chat, todo := newReceiver(t), newReceiver(t)
		f.client(t, "chat", chat.URL, "")
		f.client(t, "todo", todo.URL, provider.AlgRS256)
		f.grant(t, "chat", "sess-1", true)
		f.grant(t, "todo", "sess-1", true)
		if err := f.notifier(nil).SessionEnded(t.Context(), "sess-1", "user-1"); err != nil {
			t.Fatal(err)
		}
		deliverDue(t, f.notifier(nil), 2)
		if chat.count() != 1 || todo.count() != 1 {
			t.Fatalf("POSTs after restart: chat %d, todo %d; want 1 each", chat.count(), todo.count())
		}
	})
}

// Run delivers a logout queued in this process at once and one queued by
// another replica within a poll, and stops when ctx ends.
func TestRunDeliversAndStops(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s provider.Store) {
		f := newFixture(t, s)
		rc := newReceiver(t)
		f.client(t, "chat", rc.URL, "")
		f.grant(t, "chat", "sess-1", true)
		f.grant(t, "chat", "sess-2", true)
		n := f.notifier(func(c *backchannel.Config) { c.Now = time.Now })
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			n.Run(ctx)
			close(done)
		}()

		waitFor := func(what string, want int, within time.Duration) {
			t.Helper()
			deadline := time.Now().Add(within)
			for rc.count() < want {
				if time.Now().After(deadline) {
					t.Fatalf("%s: %d POSTs after %v, want %d", what, rc.count(), within, want)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		start := time.Now()
		if err := n.SessionEnded(t.Context(), "sess-1", "user-1"); err != nil {
			t.Fatal(err)
		}
		waitFor("same process", 1, time.Second)
		t.Logf("delivered in %v", time.Since(start))

		other := f.notifier(func(c *backchannel.Config) { c.Now = time.Now })
		if err := other.SessionEnded(t.Context(), "sess-2", "user-1"); err != nil {
			t.Fatal(err)
		}
		waitFor("other replica", 2, 1500*time.Millisecond) // one PollEvery, plus slack

		cancel()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Fatal("Run did not return after ctx ended")
		}
		if rc.count() != 2 {
			t.Fatalf("%d POSTs, want 2", rc.count())
		}
	})
}

// Deliveries run in parallel: 8 relying parties taking 300ms each are
// done in about 300ms, not 2.4s.
func TestParallelDelivery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s provider.Store) {
		f := newFixture(t, s)
		var rcs []*receiver
		for i := range 8 {
			rc := newReceiver(t)
			rc.delay = 300 * time.Millisecond
			rcs = append(rcs, rc)
			id := fmt.Sprintf("app-%d", i)
			f.client(t, id, rc.URL, "")
			f.grant(t, id, "sess-1", true)
		}
		n := f.notifier(nil)
		if err := n.SessionEnded(t.Context(), "sess-1", "user-1"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		deliverDue(t, n, 8)
		elapsed := time.Since(start)
		t.Logf("8 deliveries of 300ms in %v", elapsed)
		if elapsed > 1200*time.Millisecond {
			t.Fatalf("8 deliveries of 300ms took %v: not parallel", elapsed)
		}
		for i, rc := range rcs {
			if rc.count() != 1 {
				t.Errorf("receiver %d got %d POSTs", i, rc.count())
			}
		}
	})
}

// issue 13 (replicas): a replica shutting down mid-delivery hands the job
// back, so another replica delivers it at once instead of after the lease.
func TestShutdownHandsJobBack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s provider.Store) {
		f := newFixture(t, s)
		started := make(chan struct{})
		var once sync.Once
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm() // so the server notices the client going away
			once.Do(func() { close(started) })
			<-r.Context().Done()
		}))
		t.Cleanup(slow.Close)
		f.client(t, "chat", slow.URL, "")
		f.grant(t, "chat", "sess-1", true)
		n := f.notifier(func(c *backchannel.Config) { c.Now = time.Now; c.Timeout = time.Minute })
		if err := n.SessionEnded(t.Context(), "sess-1", "user-1"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { n.Run(ctx); close(done) }()
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatal("delivery did not start")
		}
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after ctx ended")
		}
		// Leased for 2 minutes (2×Timeout), yet due now.
		jobs, err := s.ClaimLogoutJobs(t.Context(), time.Now(), 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) != 1 || jobs[0].ClientID != "chat" || jobs[0].Attempts != 0 {
			t.Fatalf("after shutdown the queue hands out %+v, want chat's job at once, with no failed attempt", jobs)
		}
	})
}

// issue 13 (review): a logout the relying party acknowledged just as the
// replica began shutting down is recorded as delivered, not handed back:
// another replica does not POST it again.
func TestShutdownAfterDeliveryRecordsIt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s provider.Store) {
		f := newFixture(t, s)
		rc := newReceiver(t)
		f.client(t, "chat", rc.URL, "")
		f.grant(t, "chat", "sess-1", true)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var sent, failed atomic.Int64
		n := f.notifier(func(c *backchannel.Config) {
			c.Client = &http.Client{Transport: faultproxy.CancelAfterResponse{Cancel: cancel}}
			c.Observe = func(ok bool) {
				if ok {
					sent.Add(1)
				} else {
					failed.Add(1)
				}
			}
		})
		if err := n.SessionEnded(t.Context(), "sess-1", "user-1"); err != nil {
			t.Fatal(err)
		}
		got, err := n.DeliverDue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ctx.Err() == nil {
			t.Fatal("the answer did not start the shutdown")
		}
		if got != 1 || sent.Load() != 1 || failed.Load() != 0 {
			t.Errorf("delivered %d (observed %d sent, %d failed), want the acknowledged POST counted once", got, sent.Load(), failed.Load())
		}
		// Another replica finds nothing to deliver.
		deliverDue(t, f.notifier(nil), 0)
		if rc.count() != 1 {
			t.Errorf("the relying party got %d POSTs, want 1", rc.count())
		}
		if jobs := f.remaining(t); len(jobs) != 0 {
			t.Errorf("jobs left: %+v", jobs)
		}
	})
}

// brokenClients is the real store whose client lookup fails, as when the
// database is briefly unreachable.
type brokenClients struct{ provider.Store }

func (brokenClients) GetClient(context.Context, string) (*provider.Client, error) {
	return nil, fmt.Errorf("database unreachable")
}

// issue 13 (review): a failed client lookup is retried but is not a
// delivery attempt, so the metrics do not count it as a failed delivery.
func TestClientLookupFailureIsNotADelivery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s provider.Store) {
		f := newFixture(t, s)
		rc := newReceiver(t)
		f.client(t, "chat", rc.URL, "")
		f.grant(t, "chat", "sess-1", true)
		if err := f.notifier(nil).SessionEnded(t.Context(), "sess-1", "user-1"); err != nil {
			t.Fatal(err)
		}
		var observed atomic.Int64
		n := backchannel.New(backchannel.Config{Issuer: issuer, Now: f.clock.Now,
			Observe: func(bool) { observed.Add(1) }}, brokenClients{s}, f.ring)
		deliverDue(t, n, 0)
		if observed.Load() != 0 || rc.count() != 0 {
			t.Errorf("observed %d delivery attempts, receiver got %d POSTs; want none", observed.Load(), rc.count())
		}
		jobs := f.remaining(t)
		if len(jobs) != 1 || jobs[0].Attempts != 1 || !strings.Contains(jobs[0].LastError, "database unreachable") {
			t.Errorf("after the failed lookup the queue holds %+v, want the job with one failed attempt", jobs)
		}
	})
}
