package oidc_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/keys"
	"github.com/manacore/mana-core-auth/provider/oidc"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
	"github.com/manacore/mana-core-auth/provider/websession"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type firstParty struct {
	store    provider.Store
	op       *oidc.Provider
	sessions *websession.Manager
	user     *provider.User
	clock    *clock
}

func admitAll(context.Context, string) error { return nil }

// login starts a session for the fixture user and issues its first-party
// token pair, as /api/v1/auth/login does.
func (fp *firstParty) login(t *testing.T, info websession.LoginInfo) (*provider.Session, *oidc.TokenPair) {
	t.Helper()
	info.UserID = fp.user.ID
	sess, err := fp.sessions.Start(t.Context(), info)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := fp.op.IssueFirstParty(t.Context(), fp.user, sess, oidc.GrantPassword)
	if err != nil {
		t.Fatal(err)
	}
	return sess, pair
}

func newFirstParty(t *testing.T, b storetest.Backend, sc websession.Config) *firstParty {
	t.Helper()
	ctx := t.Context()
	st := b.Open(t)
	secret := []byte("0123456789abcdef0123456789abcdef-oidc")
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	ring, err := keys.New(st, secret, keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ring.Init(ctx); err != nil {
		t.Fatal(err)
	}
	sc.SecretKey, sc.Now = secret, c.now
	sessions, err := websession.New(sc, st)
	if err != nil {
		t.Fatal(err)
	}
	op, err := oidc.New(oidc.Config{Issuer: "https://auth.mana.test", SecretKey: secret, Audience: []string{"manacore"},
		RefreshTokenTTL: 7 * 24 * time.Hour, RememberRefreshTTL: 30 * 24 * time.Hour, Now: c.now, Sessions: sessions}, st, ring)
	if err != nil {
		t.Fatal(err)
	}
	if err := oidc.EnsureFirstPartyClient(ctx, st); err != nil {
		t.Fatal(err)
	}
	u := &provider.User{ID: "user-1", Email: "u@mana.test", EmailVerified: true, Role: provider.RoleUser, CreatedAt: c.now(), UpdatedAt: c.now()}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	return &firstParty{store: st, op: op, sessions: sessions, user: u, clock: c}
}

// TestAPIRefreshKeepsSessionRules: the first-party refresh continues the
// login session by the one expiry rule. A remember-me session stays alive
// across refreshes more than the plain idle timeout apart (the old API
// refresh cut it to seven days), and no refresh keeps a session past its
// maximum lifetime: then the refresh fails and the tokens are revoked.
func TestAPIRefreshKeepsSessionRules(t *testing.T) {
	const (
		idle     = 7 * 24 * time.Hour
		remember = 30 * 24 * time.Hour
		maxLife  = 40 * 24 * time.Hour
	)
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			fp := newFirstParty(t, b, websession.Config{IdleTimeout: idle, RememberTimeout: remember, MaxLifetime: maxLife})
			ctx := t.Context()
			sess, pair := fp.login(t, websession.LoginInfo{RememberMe: true, Methods: []string{"pwd"}})
			refresh := pair.RefreshToken
			// Refresh every ten days: longer than the idle timeout, shorter
			// than the remember-me one.
			for day := 10; day < 40; day += 10 {
				fp.clock.advance(10 * 24 * time.Hour)
				res, err := fp.op.RefreshFirstParty(ctx, refresh, oidc.Caller{}, admitAll)
				if err != nil {
					t.Fatalf("day %d: refresh: %v", day, err)
				}
				if res.SessionID != sess.ID || res.User.ID != fp.user.ID || res.Pair.AccessToken == "" {
					t.Fatalf("day %d: refresh result %+v", day, res)
				}
				refresh = res.Pair.RefreshToken
				got, err := fp.store.GetSession(ctx, sess.ID, fp.clock.now())
				if err != nil {
					t.Fatalf("day %d: session gone after a refresh: %v", day, err)
				}
				want := fp.clock.now().Add(remember)
				if limit := sess.CreatedAt.Add(maxLife); want.After(limit) {
					want = limit
				}
				if !got.ExpiresAt.Equal(want) {
					t.Errorf("day %d: session expires %s, want %s", day, got.ExpiresAt, want)
				}
				if got.ExpiresAt.After(sess.CreatedAt.Add(maxLife)) {
					t.Errorf("day %d: session expires past its maximum lifetime", day)
				}
			}
			// Day 41: past the maximum lifetime. The refresh token itself is
			// still valid (30 days), the session is not.
			fp.clock.advance(11 * 24 * time.Hour)
			if _, err := fp.op.RefreshFirstParty(ctx, refresh, oidc.Caller{}, admitAll); !errors.Is(err, oidc.ErrSessionEnded) {
				t.Fatalf("refresh past the maximum lifetime: %v, want ErrSessionEnded", err)
			}
			if _, err := fp.op.RefreshFirstParty(ctx, refresh, oidc.Caller{}, admitAll); err == nil {
				t.Fatal("the tokens of the ended session still refresh")
			}
		})
	}
}

// TestAPIRefreshIsTheTokenEndpointRefresh: rotation, the grace window and
// reuse detection behave at the first-party refresh as at /oauth2/token.
func TestAPIRefreshIsTheTokenEndpointRefresh(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			fp := newFirstParty(t, b, websession.Config{})
			ctx := t.Context()
			_, pair := fp.login(t, websession.LoginInfo{})
			first, err := fp.op.RefreshFirstParty(ctx, pair.RefreshToken, oidc.Caller{}, admitAll)
			if err != nil {
				t.Fatal(err)
			}
			if first.Pair.RefreshToken == pair.RefreshToken {
				t.Fatal("refresh token not rotated")
			}
			// A retry within the grace window gets the same successor.
			again, err := fp.op.RefreshFirstParty(ctx, pair.RefreshToken, oidc.Caller{}, admitAll)
			if err != nil || again.Pair != first.Pair {
				t.Fatalf("retry in the grace window: %v, same pair %v", err, err == nil && again.Pair == first.Pair)
			}
			// Past the window the old token is reuse: the family is revoked.
			fp.clock.advance(10 * time.Second)
			if _, err := fp.op.RefreshFirstParty(ctx, pair.RefreshToken, oidc.Caller{}, admitAll); !errors.Is(err, fosite.ErrInvalidGrant) {
				t.Fatalf("reuse: %v, want invalid_grant", err)
			}
			if _, err := fp.op.RefreshFirstParty(ctx, first.Pair.RefreshToken, oidc.Caller{}, admitAll); err == nil {
				t.Fatal("successor survived the reuse of its predecessor")
			}
			// The limiter's verdict is returned as it is.
			_, pair2 := fp.login(t, websession.LoginInfo{})
			limited := errors.New("slow down")
			if _, err := fp.op.RefreshFirstParty(ctx, pair2.RefreshToken, oidc.Caller{}, func(context.Context, string) error { return limited }); !errors.Is(err, limited) {
				t.Fatalf("admit error: %v", err)
			}
			// Malformed input is a refused grant, never a database error.
			for _, bad := range []string{"", "a\x00b", "\xff\xfe", "no-dot"} {
				_, err := fp.op.RefreshFirstParty(ctx, bad, oidc.Caller{}, admitAll)
				if rfc := fosite.ErrorToRFC6749Error(err); err == nil || rfc.CodeField >= 500 {
					t.Errorf("refresh %q: %v", bad, err)
				}
			}
		})
	}
}

// pausingStore stops a rotation inside its transaction, after the grace
// entry is written and before the commit, until released.
type pausingStore struct {
	provider.Store
	paused  chan struct{}
	release chan struct{}
	getErr  error // returned by GetGrace when set
}

func (s *pausingStore) PutGrace(ctx context.Context, e *provider.GraceEntry) error {
	if err := s.Store.PutGrace(ctx, e); err != nil {
		return err
	}
	if s.paused != nil {
		s.paused <- struct{}{}
		<-s.release
	}
	return nil
}

func (s *pausingStore) GetGrace(ctx context.Context, sig string, now time.Time) (*provider.GraceEntry, error) {
	if s.getErr != nil {
		return nil, s.getErr
	}
	return s.Store.GetGrace(ctx, sig, now)
}

func newPausing(t *testing.T, b storetest.Backend) (*firstParty, *pausingStore) {
	t.Helper()
	ps := &pausingStore{}
	fp := newFirstParty(t, storetest.Backend{Name: b.Name, Dialect: b.Dialect, Open: func(tb testing.TB) provider.Store {
		ps.Store = b.Open(tb)
		return ps
	}}, websession.Config{})
	return fp, ps
}

// TestEndWaitsForRotationInFlight: a session ended while one of its
// refresh tokens is being rotated ends the new tokens too. The rotation
// locks the session first, so the ending waits for it and then revokes
// what it committed; neither fails.
func TestEndWaitsForRotationInFlight(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			fp, ps := newPausing(t, b)
			ctx := t.Context()
			sess, pair := fp.login(t, websession.LoginInfo{})
			ps.paused, ps.release = make(chan struct{}), make(chan struct{})
			type result struct {
				r   *oidc.Refreshed
				err error
			}
			rotated := make(chan result, 1)
			go func() {
				r, err := fp.op.RefreshFirstParty(context.WithoutCancel(ctx), pair.RefreshToken, oidc.Caller{}, admitAll)
				rotated <- result{r, err}
			}()
			<-ps.paused // the rotation holds its transaction open
			ended := make(chan error, 1)
			go func() {
				_, err := fp.sessions.End(context.WithoutCancel(ctx), fp.user.ID, sess.ID, websession.Ending{Reason: websession.EndLogout})
				ended <- err
			}()
			select {
			case err := <-ended:
				t.Fatalf("the session ended (%v) while a rotation of its tokens was uncommitted", err)
			case <-time.After(300 * time.Millisecond):
			}
			ps.paused = nil
			close(ps.release)
			res := <-rotated
			if err := <-ended; err != nil {
				t.Fatalf("End: %v", err)
			}
			if res.err != nil {
				t.Fatalf("rotation: %v", res.err)
			}
			// The successor the rotation committed died with the session.
			if _, err := fp.op.VerifyAccessToken(ctx, res.r.Pair.AccessToken, ""); !errors.Is(err, oidc.ErrTokenRevoked) {
				t.Errorf("access token issued during the ending: %v, want revoked", err)
			}
			fp.clock.advance(10 * time.Second)
			if _, err := fp.op.RefreshFirstParty(ctx, res.r.Pair.RefreshToken, oidc.Caller{}, admitAll); err == nil {
				t.Error("refresh token issued during the ending still works")
			}
		})
	}
}

// TestGraceLookupFailureIsNotReuse: a retry within the grace window that
// cannot read the grace cache (the database fails) is told to try again,
// not that its token was used, which would make the app sign the user out.
func TestGraceLookupFailureIsNotReuse(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			fp, ps := newPausing(t, b)
			ctx := t.Context()
			_, pair := fp.login(t, websession.LoginInfo{})
			if _, err := fp.op.RefreshFirstParty(ctx, pair.RefreshToken, oidc.Caller{}, admitAll); err != nil {
				t.Fatal(err)
			}
			ps.getErr = errors.New("connection reset")
			_, err := fp.op.RefreshFirstParty(ctx, pair.RefreshToken, oidc.Caller{}, admitAll)
			if !errors.Is(err, fosite.ErrTemporarilyUnavailable) {
				t.Fatalf("retry with the grace cache unreadable: %v, want temporarily_unavailable", err)
			}
			ps.getErr = nil
			if _, err := fp.op.RefreshFirstParty(ctx, pair.RefreshToken, oidc.Caller{}, admitAll); err != nil {
				t.Errorf("the retry once the database is back: %v", err)
			}
		})
	}
}

// TestExpiredSessionEndedAtTokenEndpoint: a first-party refresh token used
// at /oauth2/token after its session expired is a refused grant (400
// invalid_grant), not a server error, and the session is ended properly.
func TestExpiredSessionEndedAtTokenEndpoint(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			fp := newFirstParty(t, b, websession.Config{IdleTimeout: time.Hour})
			ctx := t.Context()
			sess, pair := fp.login(t, websession.LoginInfo{})
			fp.clock.advance(2 * time.Hour)
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {pair.RefreshToken}, "client_id": {oidc.FirstPartyClientID}}
			r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			_, _, err := fp.op.Token(ctx, r, oidc.Caller{}, admitAll)
			rfc := fosite.ErrorToRFC6749Error(err)
			if rfc.ErrorField != "invalid_grant" || rfc.CodeField != http.StatusBadRequest || !errors.Is(err, oidc.ErrSessionEnded) {
				t.Fatalf("token endpoint: %v (%s %d), want invalid_grant 400", err, rfc.ErrorField, rfc.CodeField)
			}
			if err := fp.store.LockSession(ctx, sess.ID); !errors.Is(err, provider.ErrNotFound) {
				t.Errorf("the expired session's row is still there: %v", err)
			}
			if _, err := fp.op.VerifyAccessToken(ctx, pair.AccessToken, ""); !errors.Is(err, oidc.ErrTokenRevoked) && !errors.Is(err, oidc.ErrTokenExpired) {
				t.Errorf("access token of the ended session: %v", err)
			}
		})
	}
}
