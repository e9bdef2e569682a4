package websession_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
	"github.com/manacore/mana-core-auth/provider/websession"
)

// recorder is a Notifier and Auditor that keeps what it is told.
type recorder struct {
	mu     sync.Mutex
	ended  []string // "sid/subject"
	events []*provider.SecurityEvent
	fail   error
}

func (r *recorder) SessionEnded(_ context.Context, sid, subject string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.ended = append(r.ended, sid+"/"+subject)
	return nil
}

func (r *recorder) Wake() {}

func (r *recorder) Record(_ context.Context, e *provider.SecurityEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) eventTypes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, e.Type+":"+e.Detail["reason"])
	}
	return out
}

// recorded is a manager on a fresh store of b whose notifications and
// audit events go to a recorder.
func recorded(t *testing.T, b storetest.Backend) (provider.Store, *websession.Manager, *recorder) {
	t.Helper()
	st := b.Open(t)
	rec := &recorder{}
	m, err := websession.New(websession.Config{SecretKey: secret, Notifier: rec, Audit: rec}, st)
	if err != nil {
		t.Fatal(err)
	}
	return st, m, rec
}

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// grantOf stores an active refresh grant of session sid, as a login would.
func grantOf(t *testing.T, st provider.Store, sig, sid, sub string, now time.Time) {
	t.Helper()
	if err := st.CreateGrant(t.Context(), &provider.Grant{Kind: provider.KindRefreshToken, Signature: sig, RequestID: "req-" + sig,
		ClientID: "c", Subject: sub, SessionID: sid, Active: true, RequestedAt: now, ExpiresAt: now.Add(24 * time.Hour), Data: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
}

func active(t *testing.T, st provider.Store, sig string) bool {
	t.Helper()
	g, err := st.GetGrant(t.Context(), provider.KindRefreshToken, sig)
	if err != nil {
		t.Fatal(err)
	}
	return g.Active
}

// TestEndingIsOneOperation checks every way of ending sessions does the
// same four things: the row goes, its tokens are revoked, the apps are
// notified (with the subject) and the owner's audit log says why.
func TestEndingIsOneOperation(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			st, m, rec := recorded(t, b)
			ctx := t.Context()
			start := func(user string) *provider.Session {
				s, err := m.Start(ctx, websession.LoginInfo{UserID: user, Methods: []string{"pwd"}, Via: "api"})
				if err != nil {
					t.Fatal(err)
				}
				grantOf(t, st, "g-"+s.ID, s.ID, user, time.Now())
				return s
			}
			a1, a2, a3, b1 := start("alice"), start("alice"), start("alice"), start("bob")
			if got := rec.eventTypes(); !slices.Equal(got, []string{"login_success:", "login_success:", "login_success:", "login_success:"}) {
				t.Errorf("start events: %v", got)
			}
			rec.events = nil

			// End one, vouched for by a token.
			ended, err := m.End(ctx, "alice", a1.ID, websession.Ending{Reason: websession.EndLogout, IP: "192.0.2.1", UserAgent: "UA"})
			if err != nil || !ended {
				t.Fatalf("End = %v, %v", ended, err)
			}
			if _, err := st.GetSession(ctx, a1.ID, time.Now()); !errors.Is(err, provider.ErrNotFound) {
				t.Errorf("ended session still there: %v", err)
			}
			if active(t, st, "g-"+a1.ID) {
				t.Error("tokens of the ended session still active")
			}
			// Ending it again ends nothing and announces nothing.
			if ended, err := m.End(ctx, "alice", a1.ID, websession.Ending{Reason: websession.EndLogout}); err != nil || ended {
				t.Errorf("second End = %v, %v; want false, nil", ended, err)
			}

			// A device sign-out only ends the user's own sessions.
			if err := m.EndOwn(ctx, "alice", b1.ID, websession.Ending{Reason: websession.EndRevoked}); !errors.Is(err, provider.ErrNotFound) {
				t.Errorf("alice ended bob's session: %v", err)
			}
			if !active(t, st, "g-"+b1.ID) {
				t.Error("bob's tokens revoked by alice")
			}
			for _, bad := range []string{"", "a\x00b", "\xff"} {
				if err := m.EndOwn(ctx, "alice", bad, websession.Ending{Reason: websession.EndRevoked}); !errors.Is(err, provider.ErrNotFound) {
					t.Errorf("EndOwn(%q) = %v, want ErrNotFound", bad, err)
				}
			}
			if err := m.EndOwn(ctx, "alice", a2.ID, websession.Ending{Reason: websession.EndRevoked}); err != nil {
				t.Fatal(err)
			}

			// Everything else of alice, keeping nothing.
			ids, err := m.EndAll(ctx, "alice", "", websession.Ending{Reason: websession.EndPasswordReset})
			if err != nil || !slices.Equal(ids, []string{a3.ID}) {
				t.Fatalf("EndAll = %v, %v", ids, err)
			}
			for _, s := range []*provider.Session{a2, a3} {
				if active(t, st, "g-"+s.ID) {
					t.Errorf("tokens of %s survived", s.ID)
				}
			}
			if !active(t, st, "g-"+b1.ID) {
				t.Error("another user's tokens revoked")
			}
			wantEnded := []string{a1.ID + "/alice", a2.ID + "/alice", a3.ID + "/alice"}
			if !slices.Equal(rec.ended, wantEnded) {
				t.Errorf("notified %v, want %v", rec.ended, wantEnded)
			}
			wantEvents := []string{"logout:logout", "session_revoked:revoked", "session_revoked:password_reset"}
			if got := rec.eventTypes(); !slices.Equal(got, wantEvents) {
				t.Errorf("events %v, want %v", got, wantEvents)
			}
			if e := rec.events[0]; e.UserID != "alice" || e.IP != "192.0.2.1" || e.UserAgent != "UA" || e.Detail["session"] != a1.ID[:8] {
				t.Errorf("logout event %+v", e)
			}
		})
	}
}

// TestEndingIsAtomic: when the notification cannot be queued, nothing is
// ended, so no session is ever gone while its apps were never told.
func TestEndingIsAtomic(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			st, m, rec := recorded(t, b)
			ctx := t.Context()
			s, err := m.Start(ctx, websession.LoginInfo{UserID: "u"})
			if err != nil {
				t.Fatal(err)
			}
			grantOf(t, st, "g1", s.ID, "u", time.Now())
			rec.fail = errors.New("queue unavailable")
			if _, err := m.End(ctx, "u", s.ID, websession.Ending{Reason: websession.EndLogout}); err == nil {
				t.Fatal("End succeeded although the logout could not be queued")
			}
			if _, err := st.GetSession(ctx, s.ID, time.Now()); err != nil {
				t.Errorf("session deleted by a failed End: %v", err)
			}
			if !active(t, st, "g1") {
				t.Error("tokens revoked by a failed End")
			}
			if _, err := m.EndAll(ctx, "u", "", websession.Ending{Reason: websession.EndAllRevoked}); err == nil {
				t.Fatal("EndAll succeeded although the logout could not be queued")
			}
			if _, err := st.GetSession(ctx, s.ID, time.Now()); err != nil {
				t.Errorf("session deleted by a failed EndAll: %v", err)
			}
			for _, e := range rec.events {
				if e.Type != provider.EventLoginSuccess {
					t.Errorf("failed ending audited as %s", e.Type)
				}
			}
		})
	}
}

// TestMaxLifetimeNeverExceeded drives every path that starts or continues
// a session (API start, browser login, re-login as the same user, the
// cookie, Continue as the API refresh calls it) with remember-me and
// without, and checks no session ever expires later than
// SESSION_MAX_LIFETIME after it was created, and that remember-me keeps
// its long idle timeout on every path.
func TestMaxLifetimeNeverExceeded(t *testing.T) {
	const (
		idle     = 2 * time.Hour
		remember = 10 * time.Hour
		maxLife  = 24 * time.Hour
	)
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			st := b.Open(t)
			ctx := t.Context()
			clock := &testClock{t: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
			m, err := websession.New(websession.Config{SecretKey: secret, IdleTimeout: idle, RememberTimeout: remember,
				MaxLifetime: maxLife, Now: clock.now}, st)
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, s *provider.Session, rememberMe bool) {
				t.Helper()
				stored, err := st.GetSession(ctx, s.ID, clock.now())
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				limit := stored.CreatedAt.Add(maxLife)
				if stored.ExpiresAt.After(limit) {
					t.Errorf("%s: expires %s, past the max lifetime %s", what, stored.ExpiresAt, limit)
				}
				timeout := idle
				if rememberMe {
					timeout = remember
				}
				want := clock.now().Add(timeout)
				if want.After(limit) {
					want = limit
				}
				if d := stored.ExpiresAt.Sub(want); d < -time.Second || d > time.Second {
					t.Errorf("%s: expires %s, want %s (remember=%v)", what, stored.ExpiresAt, want, rememberMe)
				}
			}
			for _, rememberMe := range []bool{false, true} {
				clock.advance(time.Minute)
				api, err := m.Start(ctx, websession.LoginInfo{UserID: "api-user", RememberMe: rememberMe})
				if err != nil {
					t.Fatal(err)
				}
				check("start", api, rememberMe)
				rec := httptest.NewRecorder()
				br, _, err := m.Login(ctx, rec, httptest.NewRequest(http.MethodPost, "/login", nil),
					websession.LoginInfo{UserID: "browser-user", RememberMe: rememberMe})
				if err != nil {
					t.Fatal(err)
				}
				check("login", br, rememberMe)
				// Active every 90 minutes until the lifetime is over: every
				// continuation slides by the right timeout and stops at the limit.
				for step := 1; ; step++ {
					clock.advance(90 * time.Minute)
					alive := clock.now().Before(api.CreatedAt.Add(maxLife))
					got, err := m.Continue(ctx, api.ID)
					if alive != (err == nil) {
						t.Fatalf("continue step %d (remember=%v): alive=%v err=%v", step, rememberMe, alive, err)
					}
					if !alive {
						break
					}
					check("continue", got, rememberMe)
					cur, err := m.Current(ctx, withCookies(rec))
					if err != nil {
						t.Fatalf("cookie step %d: %v", step, err)
					}
					check("cookie", cur, rememberMe)
					if step == 3 {
						// A new sign-in of the same user refreshes auth, not lifetime.
						again, _, err := m.Login(ctx, httptest.NewRecorder(), withCookies(rec),
							websession.LoginInfo{UserID: "browser-user", RememberMe: rememberMe})
						if err != nil || again.ID != br.ID {
							t.Fatalf("re-login: %v (same session: %v)", err, again != nil && again.ID == br.ID)
						}
						check("re-login", again, rememberMe)
					}
				}
				if _, err := m.Current(ctx, withCookies(rec)); !errors.Is(err, provider.ErrNotFound) {
					t.Errorf("cookie session alive past the max lifetime: %v", err)
				}
			}
		})
	}
}

// TestReplacedSessionIsEnded: another account signing in in the same
// browser ends the old session like any other ending: tokens revoked,
// apps notified, the old owner's log says why.
func TestReplacedSessionIsEnded(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			st, m, rec := recorded(t, b)
			ctx := t.Context()
			w1 := httptest.NewRecorder()
			first, _, err := m.Login(ctx, w1, httptest.NewRequest(http.MethodPost, "/login", nil), websession.LoginInfo{UserID: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			grantOf(t, st, "g-replaced", first.ID, "alice", time.Now())
			_, replaced, err := m.Login(ctx, httptest.NewRecorder(), withCookies(w1), websession.LoginInfo{UserID: "bob", IP: "198.51.100.2"})
			if err != nil || replaced != first.ID {
				t.Fatalf("login as bob: replaced %q, %v", replaced, err)
			}
			if active(t, st, "g-replaced") {
				t.Error("alice's tokens survived bob signing in in her browser")
			}
			if !slices.Equal(rec.ended, []string{first.ID + "/alice"}) {
				t.Errorf("notified %v", rec.ended)
			}
			var found bool
			for _, e := range rec.events {
				if e.UserID == "alice" && e.Type == provider.EventLogout && e.Detail["reason"] == websession.EndReplaced && e.IP == "198.51.100.2" {
					found = true
				}
			}
			if !found {
				t.Errorf("no logout event for alice with reason replaced: %v", rec.eventTypes())
			}
		})
	}
}
