package account_test

import (
	"context"
	"errors"
	"maps"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/mail"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
	"github.com/manacore/mana-core-auth/provider/websession"
)

// Shared fixtures of the service tests: a real store of each backend, a
// clock the test moves, and an outbox that keeps the mail.

const (
	baseURL   = "https://accounts.example.com" // deliberately not under redirectDomain, so Self is told apart
	password  = "correct horse battery"
	password2 = "another horse battery"
	testIP    = "203.0.113.7"
	testUA    = "account-test/1.0"

	// The documented defaults the fixture relies on (Config leaves them zero).
	verifyTTL = 24 * time.Hour
	resetTTL  = time.Hour

	redirectDomain = "mana.how"
	partnerOrigin  = "https://partner.example.org" // allowed by RedirectPolicy.Extra (CORS_ORIGINS)
)

// cheapParams keep argon2id fast in tests; the format is the same.
var cheapParams = account.Params{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

// secretKey seals TOTP secrets (seal.MinSecretLen bytes).
var secretKey = []byte("0123456789abcdef0123456789abcdef")

// start is the fixture clock's first reading: UTC and on a TOTP step
// boundary, so codes generated for it are those of a known step.
var start = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// clock is a controllable time source for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// outbox is a mail.Sender that keeps every message it is handed.
type outbox struct {
	mu   sync.Mutex
	msgs []mail.Message
}

var _ mail.Sender = (*outbox)(nil)

func (o *outbox) Send(_ context.Context, m mail.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, m)
	return nil
}

// to returns the messages delivered to addr so far.
func (o *outbox) to(addr string) []mail.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []mail.Message
	for _, m := range o.msgs {
		if m.To == addr {
			out = append(out, m)
		}
	}
	return out
}

// wait returns the n-th (1-based) message to addr. The outbox sends in the
// background, so it polls, for at most five seconds.
func (o *outbox) wait(t *testing.T, addr string, n int) mail.Message {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got := o.to(addr); len(got) >= n {
			return got[n-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail #%d to %s within 5s (have %d)", n, addr, len(o.to(addr)))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fixture is one service on a fresh store of one backend.
type fixture struct {
	store provider.Store
	svc   *account.Service
	mail  *outbox
	clock *clock
	// sentinel is an account whose reset mails settle() waits for.
	sentinel *provider.User
	settled  int
}

type fixtureOpt func(*account.Config)

func withLoopback(c *account.Config) { c.Redirects.AllowLoopback = true }

func newFixture(t *testing.T, b storetest.Backend, opts ...fixtureOpt) *fixture {
	t.Helper()
	f := &fixture{store: b.Open(t), mail: &outbox{}, clock: &clock{t: start}}
	f.svc = f.service(t, opts...)
	f.sentinel = f.createUser(t, "sentinel@example.net", password, true)
	return f
}

// service returns another service on the fixture's store, clock and outbox.
func (f *fixture) service(t *testing.T, opts ...fixtureOpt) *account.Service {
	t.Helper()
	// The real session service: a password reset ends sessions through it.
	sessions, err := websession.New(websession.Config{SecretKey: secretKey, Now: f.clock.Now}, f.store)
	if err != nil {
		t.Fatalf("websession.New: %v", err)
	}
	cfg := account.Config{
		BaseURL:   baseURL,
		SecretKey: secretKey,
		Sessions:  sessions,
		Redirects: &account.RedirectPolicy{
			Domain: redirectDomain,
			Extra:  func(origin string) bool { return origin == partnerOrigin },
		},
		Now: f.clock.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := account.NewService(cfg, f.store, account.NewHasher(cheapParams, 4), f.mail)
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	runOutbox(t, svc.Outbox())
	return svc
}

// runOutbox runs the outbox until the test ends, and stops it before the
// store (opened earlier, so cleaned up later) closes.
func runOutbox(t *testing.T, o *account.Outbox) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); o.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// createUser puts a user with password straight into the store.
func (f *fixture) createUser(t *testing.T, email, pw string, verified bool) *provider.User {
	t.Helper()
	hash, err := account.NewHasher(cheapParams, 1).Hash(t.Context(), pw)
	if err != nil {
		t.Fatalf("hash: %v", err)
	}
	now := f.clock.Now()
	u := &provider.User{ID: account.NewID(), Email: email, EmailVerified: verified, Name: "Test",
		Role: provider.RoleUser, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := f.store.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%s): %v", email, err)
	}
	return u
}

// mustRegister registers email with password and returns the user and the
// token of the verification mail it was sent.
func (f *fixture) mustRegister(t *testing.T, email string) (*provider.User, string) {
	t.Helper()
	n := len(f.mail.to(account.NormalizeEmail(email))) // before: delivery may beat Register's return
	u, err := f.svc.Register(t.Context(), account.RegisterInput{Email: email, Password: password, Name: "Test", IP: testIP, UserAgent: testUA})
	if err != nil {
		t.Fatalf("Register(%s): %v", email, err)
	}
	m := f.mail.wait(t, u.Email, n+1)
	return u, mustLink(t, m, "/api/auth/verify-email").Query().Get("token")
}

// mustForgot asks for a reset link for email and returns its token.
func (f *fixture) mustForgot(t *testing.T, email string) string {
	t.Helper()
	n := len(f.mail.to(account.NormalizeEmail(email)))
	if err := f.svc.ForgotPassword(t.Context(), email, "", "en"); err != nil {
		t.Fatalf("ForgotPassword(%s): %v", email, err)
	}
	return mustLink(t, f.mail.wait(t, email, n+1), "/reset-password").Query().Get("token")
}

// settle returns once the mails the service queued so far have most
// likely reached the outbox, so a test can assert that nothing else was
// sent without sleeping: it queues one more mail (a reset link for the
// sentinel account) and waits for it. The outbox resolves requests in the
// order they were queued; only the sends of one batch run in parallel, so
// a run could at worst miss a stray mail of the sentinel's batch; a
// correct service never fails because of it.
func (f *fixture) settle(t *testing.T) {
	t.Helper()
	f.settled++
	if err := f.svc.ForgotPassword(t.Context(), f.sentinel.Email, "", "en"); err != nil {
		t.Fatalf("ForgotPassword(sentinel): %v", err)
	}
	f.mail.wait(t, f.sentinel.Email, f.settled)
}

// events counts the user's security events by type.
func (f *fixture) events(t *testing.T, userID string) map[string]int {
	t.Helper()
	evs, err := f.store.ListEvents(t.Context(), userID, 1000)
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	got := map[string]int{}
	for _, e := range evs {
		got[e.Type]++
	}
	return got
}

func (f *fixture) wantEvents(t *testing.T, userID string, want map[string]int) {
	t.Helper()
	if got := f.events(t, userID); !maps.Equal(got, want) {
		t.Errorf("events of %s = %v, want %v", userID, got, want)
	}
}

func (f *fixture) mustUser(t *testing.T, id string) *provider.User {
	t.Helper()
	u, err := f.store.GetUser(t.Context(), id)
	if err != nil {
		t.Fatalf("GetUser(%s): %v", id, err)
	}
	return u
}

func (f *fixture) countUsers(t *testing.T) int {
	t.Helper()
	n, err := f.store.CountUsers(t.Context())
	if err != nil {
		t.Fatalf("CountUsers: %v", err)
	}
	return n
}

var linkRE = regexp.MustCompile(`https?://[^\s<>"]+`)

// mustLink returns the link of the mail's text body whose path is path.
func mustLink(t *testing.T, m mail.Message, path string) *url.URL {
	t.Helper()
	for _, l := range linkRE.FindAllString(m.Text, -1) {
		u, err := url.Parse(l)
		if err == nil && u.Path == path {
			return u
		}
	}
	t.Fatalf("mail %q to %s has no %s link:\n%s", m.Subject, m.To, path, m.Text)
	return nil
}

// wantErr fails unless errors.Is(err, want).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// wantValidation fails unless err is a *ValidationError with exactly fields.
func wantValidation(t *testing.T, what string, err error, fields map[string]string) {
	t.Helper()
	var ve *account.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("%s: got error %v, want a *ValidationError", what, err)
	}
	if !maps.Equal(ve.Fields, fields) {
		t.Fatalf("%s: invalid fields %v, want %v", what, ve.Fields, fields)
	}
}

// forEachBackend runs test against a fresh fixture of every backend.
func forEachBackend(t *testing.T, test func(t *testing.T, b storetest.Backend)) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) { test(t, b) })
	}
}
