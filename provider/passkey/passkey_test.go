package passkey_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/audit"
	"github.com/manacore/mana-core-auth/provider/mail"
	"github.com/manacore/mana-core-auth/provider/passkey"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
	"github.com/manacore/mana-core-auth/provider/websession"
)

// The account service is the Notifier the server wires in.
var _ passkey.Notifier = (*account.Service)(nil)

const (
	issuer = "https://auth.mana.how"
	testIP = "203.0.113.9"
	testUA = "passkey-test/1.0"
)

var (
	secretKey = []byte("0123456789abcdef0123456789abcdef")
	start     = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
)

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

// sender keeps the mail the account outbox hands it.
type sender struct {
	mu   sync.Mutex
	msgs []mail.Message
}

func (s *sender) Send(_ context.Context, m mail.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	return nil
}

func (s *sender) wait(t *testing.T, to string) mail.Message {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		for _, m := range s.msgs {
			if m.To == to {
				s.mu.Unlock()
				return m
			}
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no mail to %s within 5s", to)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fixture is the service on a fresh store of one backend, with the real
// audit log and the real account service (and its outbox) as Notifier.
type fixture struct {
	store provider.Store
	svc   *passkey.Service
	clock *clock
	mail  *sender
	// acct is the Notifier; audit the log (for services of another
	// configuration on the same store).
	acct  *account.Service
	audit *audit.Log
}

func newFixture(t *testing.T, b storetest.Backend) *fixture {
	t.Helper()
	f := &fixture{store: b.Open(t), clock: &clock{t: start}, mail: &sender{}}
	sessions, err := websession.New(websession.Config{SecretKey: secretKey, Now: f.clock.Now}, f.store)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := account.NewService(account.Config{BaseURL: issuer, SecretKey: secretKey, Sessions: sessions, Now: f.clock.Now},
		f.store, account.NewHasher(account.Params{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}, 1), f.mail)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); acct.Outbox().Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	rpID, err := passkey.RPID(".mana.how", issuer)
	if err != nil {
		t.Fatal(err)
	}
	f.acct, f.audit = acct, audit.New(f.store, f.clock.Now, nil)
	f.svc, err = passkey.New(passkey.Config{RPID: rpID, Origins: []string{issuer}, Now: f.clock.Now},
		f.store, f.audit, acct)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) user(t *testing.T, id, email string) *provider.User {
	t.Helper()
	u := &provider.User{ID: id, Email: email, EmailVerified: true, Name: "Kim", Role: provider.RoleUser,
		CreatedAt: start, UpdatedAt: start}
	if err := f.store.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// register adds a passkey of a to u.
func (f *fixture) register(t *testing.T, u *provider.User, a *authenticator, name string) *provider.Passkey {
	t.Helper()
	c, err := f.svc.BeginRegistration(t.Context(), u)
	if err != nil {
		t.Fatalf("BeginRegistration: %v", err)
	}
	p, err := f.svc.FinishRegistration(t.Context(), u, c.ChallengeID, name, a.register(t, c.Options), testIP, testUA, "")
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	return p
}

func (f *fixture) login(t *testing.T, a *authenticator) (*passkey.Login, error) {
	t.Helper()
	c, err := f.svc.BeginLogin(t.Context())
	if err != nil {
		t.Fatalf("BeginLogin: %v", err)
	}
	return f.svc.FinishLogin(t.Context(), c.ChallengeID, a.assert(t, c.Options), testIP, testUA)
}

func (f *fixture) secondFactor(t *testing.T, userID string, a *authenticator) (*passkey.Login, error) {
	t.Helper()
	c, err := f.svc.BeginSecondFactor(t.Context(), userID)
	if err != nil {
		t.Fatalf("BeginSecondFactor: %v", err)
	}
	return f.svc.FinishSecondFactor(t.Context(), userID, c.ChallengeID, a.assert(t, c.Options), testIP, testUA)
}

func (f *fixture) events(t *testing.T, userID, typ string) []*provider.SecurityEvent {
	t.Helper()
	es, err := f.store.ListEvents(t.Context(), userID, 100)
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(es, func(e *provider.SecurityEvent) bool { return e.Type != typ })
}

func forEachBackend(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) { fn(t, newFixture(t, b)) })
	}
}

func TestRegisterAndSignIn(t *testing.T) {
	for _, tc := range []struct {
		name, format string
		synced       bool
		wantMethods  []string
	}{
		{"none/hardware", "none", false, []string{"hwk", "user"}},
		{"packed-self/hardware", "packed", false, []string{"hwk", "user"}},
		{"none/synced", "none", true, []string{"swk", "user"}},
		{"packed-self/synced", "packed", true, []string{"swk", "user"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, f *fixture) {
				ctx := t.Context()
				// Our ids may be up to 255 bytes; the handle is their hash.
				u := f.user(t, strings.Repeat("u", 255), "kim@example.com")
				a := newAuthenticator(t, issuer, tc.format)
				if tc.synced {
					a.be, a.bs, a.step = true, true, 0 // synced keys keep their counter at 0
				}

				c, err := f.svc.BeginRegistration(ctx, u)
				if err != nil {
					t.Fatal(err)
				}
				o := parseOptions(t, c.Options)
				if o.RP.ID != "mana.how" || len(unb64(t, o.User.ID)) != 32 || o.Selection.ResidentKey != "required" ||
					o.Selection.UserVerification != "preferred" || strings.Contains(string(c.Options), "kim") && o.User.ID == "kim" {
					t.Errorf("creation options: %s", c.Options)
				}
				p, err := f.svc.FinishRegistration(ctx, u, c.ChallengeID, "  My phone ", a.register(t, c.Options), testIP, testUA, "")
				if err != nil {
					t.Fatalf("FinishRegistration: %v", err)
				}
				if p.Name != "My phone" || p.UserID != u.ID || p.AttestationType != tc.format ||
					p.BackupEligible != tc.synced || p.BackupState != tc.synced || string(p.AAGUID) != string(a.aaguid) ||
					!slices.Equal(p.Transports, []string{"internal", "hybrid"}) {
					t.Errorf("stored passkey %+v", p)
				}
				if ev := f.events(t, u.ID, provider.EventPasskeyAdded); len(ev) != 1 || ev[0].Detail["passkey_id"] != p.ID ||
					ev[0].IP != testIP {
					t.Errorf("added events %+v", ev)
				}
				if m := f.mail.wait(t, u.Email); m.Subject != "A passkey was added" || !strings.Contains(m.Text, issuer+"/account") {
					t.Errorf("mail %q:\n%s", m.Subject, m.Text)
				}

				// Discoverable sign-in, twice (the counter moves on, or
				// stays 0 for a synced key).
				for i := range 2 {
					l, err := f.login(t, a)
					if err != nil {
						t.Fatalf("login %d: %v", i, err)
					}
					if l.User.ID != u.ID || l.Passkey.ID != p.ID || !slices.Equal(l.Methods, tc.wantMethods) {
						t.Errorf("login %d: user %q passkey %q methods %v", i, l.User.ID, l.Passkey.ID, l.Methods)
					}
				}
				// Second factor.
				c, err = f.svc.BeginSecondFactor(ctx, u.ID)
				if err != nil {
					t.Fatal(err)
				}
				if o := parseOptions(t, c.Options); len(o.AllowCredentials) != 1 || string(unb64(t, o.AllowCredentials[0].ID)) != string(a.credID) {
					t.Errorf("second factor allows %s", c.Options)
				}
				l, err := f.svc.FinishSecondFactor(ctx, u.ID, c.ChallengeID, a.assert(t, c.Options), testIP, testUA)
				if err != nil {
					t.Fatalf("FinishSecondFactor: %v", err)
				}
				if l.User.ID != u.ID || !slices.Equal(l.Methods, tc.wantMethods) {
					t.Errorf("second factor: %q %v", l.User.ID, l.Methods)
				}

				ps, err := f.svc.List(ctx, u.ID)
				if err != nil || len(ps) != 1 {
					t.Fatalf("List: %v, %v", ps, err)
				}
				if ps[0].SignCount != a.count || ps[0].LastUsedAt == nil || !ps[0].LastUsedAt.Equal(start) {
					t.Errorf("after use: count %d (authenticator %d), last used %v", ps[0].SignCount, a.count, ps[0].LastUsedAt)
				}
			})
		})
	}
}

func TestUserVerificationAbsent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		u := f.user(t, "u1", "kim@example.com")
		a := newAuthenticator(t, issuer, "none")
		a.uv = false // a security key without a PIN: preferred, not required
		f.register(t, u, a, "")
		l, err := f.login(t, a)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(l.Methods, []string{"hwk"}) {
			t.Errorf("methods %v, want [hwk]", l.Methods)
		}
	})
}

func TestDefaultName(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		u := f.user(t, "u1", "kim@example.com")
		p := f.register(t, u, newAuthenticator(t, issuer, "none"), "")
		if p.Name != "Passkey 2026-03-02" {
			t.Errorf("default name %q", p.Name)
		}
	})
}

// TestRefused: every answer that must not sign anyone in, with the error
// the handlers map.
func TestRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		kim := f.user(t, "kim", "kim@example.com")
		ada := f.user(t, "ada", "ada@example.com")
		ka := newAuthenticator(t, issuer, "packed")
		f.register(t, kim, ka, "Kim's key")
		aa := newAuthenticator(t, issuer, "none")
		f.register(t, ada, aa, "Ada's key")

		t.Run("WrongOrigin", func(t *testing.T) {
			ka.origin = "https://auth.mana.how.evil.example"
			defer func() { ka.origin = issuer }()
			_, err := f.login(t, ka)
			wantReason(t, err, passkey.ErrCeremony, "origin")
			// Registration too.
			b := newAuthenticator(t, "https://evil.example", "none")
			c, err := f.svc.BeginRegistration(ctx, kim)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.FinishRegistration(ctx, kim, c.ChallengeID, "", b.register(t, c.Options), testIP, testUA, "")
			wantReason(t, err, passkey.ErrCeremony, "origin")
		})
		t.Run("WrongRPID", func(t *testing.T) {
			ka.rpID = "evil.example"
			defer func() { ka.rpID = "" }()
			_, err := f.login(t, ka)
			wantReason(t, err, passkey.ErrCeremony, "RP Hash mismatch")
			b := newAuthenticator(t, issuer, "packed")
			b.rpID = "auth.mana.how" // a subdomain's hash is not the RP id's
			c, err := f.svc.BeginRegistration(ctx, kim)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.FinishRegistration(ctx, kim, c.ChallengeID, "", b.register(t, c.Options), testIP, testUA, "")
			wantReason(t, err, passkey.ErrCeremony, "RP Hash mismatch")
		})
		t.Run("ReplayedChallenge", func(t *testing.T) {
			c, err := f.svc.BeginLogin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.FinishLogin(ctx, c.ChallengeID, ka.assert(t, c.Options), testIP, testUA); err != nil {
				t.Fatal(err)
			}
			// The same challenge id again, with a fresh, valid signature.
			_, err = f.svc.FinishLogin(ctx, c.ChallengeID, ka.assert(t, c.Options), testIP, testUA)
			wantReason(t, err, passkey.ErrCeremony, "challenge")
			// A failed finish uses the challenge up too.
			c, err = f.svc.BeginLogin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.FinishLogin(ctx, c.ChallengeID, []byte(`{}`), testIP, testUA)
			wantErr(t, err, passkey.ErrCeremony)
			_, err = f.svc.FinishLogin(ctx, c.ChallengeID, ka.assert(t, c.Options), testIP, testUA)
			wantReason(t, err, passkey.ErrCeremony, "challenge")
		})
		t.Run("ExpiredChallenge", func(t *testing.T) {
			c, err := f.svc.BeginLogin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(5 * time.Minute)
			_, err = f.svc.FinishLogin(ctx, c.ChallengeID, ka.assert(t, c.Options), testIP, testUA)
			wantReason(t, err, passkey.ErrCeremony, "challenge")
			// Just before the end it still works.
			c, err = f.svc.BeginLogin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(5*time.Minute - time.Millisecond)
			if _, err := f.svc.FinishLogin(ctx, c.ChallengeID, ka.assert(t, c.Options), testIP, testUA); err != nil {
				t.Errorf("within the TTL: %v", err)
			}
		})
		t.Run("OtherKind", func(t *testing.T) {
			// A sign-in challenge does not finish a second factor, nor a
			// second factor's a sign-in or a registration.
			c, err := f.svc.BeginLogin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.FinishSecondFactor(ctx, kim.ID, c.ChallengeID, ka.assert(t, c.Options), testIP, testUA)
			wantReason(t, err, passkey.ErrCeremony, "challenge")
			c, err = f.svc.BeginSecondFactor(ctx, kim.ID)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.FinishLogin(ctx, c.ChallengeID, ka.assert(t, c.Options), testIP, testUA)
			wantReason(t, err, passkey.ErrCeremony, "challenge")
			_, err = f.svc.FinishRegistration(ctx, kim, c.ChallengeID, "", newAuthenticator(t, issuer, "none").register(t, c.Options), testIP, testUA, "")
			wantReason(t, err, passkey.ErrCeremony, "challenge")
			// Another user's second-factor challenge.
			c, err = f.svc.BeginSecondFactor(ctx, ada.ID)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.FinishSecondFactor(ctx, kim.ID, c.ChallengeID, ka.assert(t, c.Options), testIP, testUA)
			wantReason(t, err, passkey.ErrCeremony, "challenge of another user")
		})
		t.Run("CounterRegression", func(t *testing.T) {
			// A clone of Kim's key that lags behind the original.
			clone := *ka
			if _, err := f.login(t, ka); err != nil {
				t.Fatal(err)
			}
			before := len(f.events(t, kim.ID, provider.EventPasskeyCounter))
			_, err := f.login(t, &clone)
			wantErr(t, err, passkey.ErrCounterRegression)
			clone.count = ka.count - 2 // the next answer is one below the stored count
			_, err = f.secondFactor(t, kim.ID, &clone)
			wantErr(t, err, passkey.ErrCounterRegression)
			ev := f.events(t, kim.ID, provider.EventPasskeyCounter)
			if len(ev)-before != 2 || ev[0].Detail["stored"] == "" || ev[0].Detail["received"] == "" {
				t.Errorf("counter events %+v", ev)
			}
			// A counter reset to 0 is refused as well.
			zero := *ka
			zero.count, zero.step = 0, 0
			_, err = f.login(t, &zero)
			wantErr(t, err, passkey.ErrCounterRegression)
			// The original goes on.
			if _, err := f.login(t, ka); err != nil {
				t.Errorf("original after the clone: %v", err)
			}
		})
		t.Run("UnknownCredential", func(t *testing.T) {
			_, err := f.login(t, newAuthenticator(t, issuer, "none"))
			wantErr(t, err, passkey.ErrUnknownPasskey)
		})
		t.Run("OtherUsersCredentialAtSecondFactor", func(t *testing.T) {
			_, err := f.secondFactor(t, kim.ID, aa)
			wantErr(t, err, passkey.ErrUnknownPasskey)
		})
		t.Run("BadSignature", func(t *testing.T) {
			forged := *ka
			forged.key = newAuthenticator(t, issuer, "none").key // the right credential id, another key
			_, err := f.login(t, &forged)
			wantReason(t, err, passkey.ErrCeremony, "ignature")
		})
		t.Run("UserHandleMismatch", func(t *testing.T) {
			forged := *ka
			forged.userHandle = passkey.UserHandle(ada.ID)
			_, err := f.login(t, &forged)
			wantReason(t, err, passkey.ErrCeremony, "user handle")
		})
		t.Run("ExistingCredentialAgain", func(t *testing.T) {
			c, err := f.svc.BeginRegistration(ctx, kim)
			if err != nil {
				t.Fatal(err)
			}
			if o := parseOptions(t, c.Options); len(o.ExcludeCredentials) != 1 || string(unb64(t, o.ExcludeCredentials[0].ID)) != string(ka.credID) {
				t.Errorf("exclude list %s", c.Options)
			}
			// Ada's authenticator's key is taken; so is Kim's own.
			for _, a := range []*authenticator{aa, ka} {
				c, err := f.svc.BeginRegistration(ctx, kim)
				if err != nil {
					t.Fatal(err)
				}
				again := *a
				_, err = f.svc.FinishRegistration(ctx, kim, c.ChallengeID, "", again.register(t, c.Options), testIP, testUA, "")
				wantErr(t, err, passkey.ErrCeremony)
				wantErr(t, err, provider.ErrAlreadyExists)
			}
		})
		t.Run("DisabledUser", func(t *testing.T) {
			ada.Disabled = true
			if err := f.store.UpdateUser(ctx, ada); err != nil {
				t.Fatal(err)
			}
			_, err := f.login(t, aa)
			wantErr(t, err, provider.ErrAccountDisabled)
			_, err = f.svc.BeginRegistration(ctx, ada)
			wantErr(t, err, provider.ErrAccountDisabled)
		})
		t.Run("NoPasskeyNoSecondFactor", func(t *testing.T) {
			bob := f.user(t, "bob", "bob@example.com")
			_, err := f.svc.BeginSecondFactor(ctx, bob.ID)
			wantErr(t, err, passkey.ErrUnknownPasskey)
		})
	})
}

func TestRenameRemove(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		kim := f.user(t, "kim", "kim@example.com")
		ada := f.user(t, "ada", "ada@example.com")
		ka := newAuthenticator(t, issuer, "none")
		p := f.register(t, kim, ka, "Laptop")

		wantErr(t, f.svc.Rename(ctx, kim.ID, p.ID, ""), passkey.ErrInvalidName)
		wantErr(t, f.svc.Rename(ctx, kim.ID, p.ID, strings.Repeat("x", 65)), passkey.ErrInvalidName)
		wantErr(t, f.svc.Rename(ctx, ada.ID, p.ID, "Mine"), passkey.ErrUnknownPasskey)
		if err := f.svc.Rename(ctx, kim.ID, p.ID, strings.Repeat("ü", 64)); err != nil {
			t.Errorf("64 characters: %v", err)
		}
		c, err := f.svc.BeginRegistration(ctx, kim)
		if err != nil {
			t.Fatal(err)
		}
		// A bad name leaves the challenge for a corrected retry.
		b := newAuthenticator(t, issuer, "none")
		resp := b.register(t, c.Options)
		_, err = f.svc.FinishRegistration(ctx, kim, c.ChallengeID, "bad\x00name", resp, testIP, testUA, "")
		wantErr(t, err, passkey.ErrInvalidName)
		if _, err := f.svc.FinishRegistration(ctx, kim, c.ChallengeID, "Phone", resp, testIP, testUA, ""); err != nil {
			t.Errorf("retry with a good name: %v", err)
		}

		wantErr(t, f.svc.Remove(ctx, ada.ID, p.ID, testIP, testUA), passkey.ErrUnknownPasskey)
		if err := f.svc.Remove(ctx, kim.ID, p.ID, testIP, testUA); err != nil {
			t.Fatal(err)
		}
		if ev := f.events(t, kim.ID, provider.EventPasskeyRemoved); len(ev) != 1 || ev[0].Detail["passkey_id"] != p.ID {
			t.Errorf("removed events %+v", ev)
		}
		wantErr(t, f.svc.Remove(ctx, kim.ID, p.ID, testIP, testUA), passkey.ErrUnknownPasskey)
		// A removed passkey no longer signs in.
		_, err = f.login(t, ka)
		wantErr(t, err, passkey.ErrUnknownPasskey)
		ps, err := f.svc.List(ctx, kim.ID)
		if err != nil || len(ps) != 1 || ps[0].Name != "Phone" {
			t.Errorf("List after remove: %v, %v", ps, err)
		}
	})
}

func TestRPID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cookieDomain, issuer, want string
		wantErr                    bool
	}{
		{".mana.how", "https://auth.mana.how", "mana.how", false},
		{"mana.how", "https://auth.mana.how/", "mana.how", false},
		{".Mana.How", "https://AUTH.mana.how:8443", "mana.how", false},
		{"", "https://auth.mana.how", "auth.mana.how", false},
		{"", "http://localhost:8080", "localhost", false},
		{"mana.how", "https://mana.how", "mana.how", false},
		{".mana.how", "https://auth.example.com", "", true}, // not a suffix: browsers would refuse it
		{".ana.how", "https://auth.mana.how", "", true},     // a suffix of the string, not of the labels
		{"", "not a url", "", true},
	} {
		got, err := passkey.RPID(tc.cookieDomain, tc.issuer)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("RPID(%q, %q) = %q, %v; want %q (error %v)", tc.cookieDomain, tc.issuer, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestCleanName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		" Laptop ": "Laptop", "Kims iPhone": "Kims iPhone", strings.Repeat("é", 64): strings.Repeat("é", 64),
		"": "", "   ": "", strings.Repeat("a", 65): "", "a\nb": "", "a\x00b": "", "\xff": "",
	} {
		got, err := passkey.CleanName(in)
		if got != want || (want == "") != errors.Is(err, passkey.ErrInvalidName) {
			t.Errorf("CleanName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestUserHandle(t *testing.T) {
	t.Parallel()
	h := passkey.UserHandle(strings.Repeat("x", 255))
	if len(h) != 32 || string(h) == string(passkey.UserHandle("y")) {
		t.Errorf("handle %x", h)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	s := storetest.OpenSQLite(t)
	log := audit.New(s, nil, nil)
	var n passkey.Notifier = nopNotifier{}
	for name, cfg := range map[string]passkey.Config{
		"no RP id":   {Origins: []string{issuer}},
		"no origins": {RPID: "mana.how"},
	} {
		if _, err := passkey.New(cfg, s, log, n); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := passkey.New(passkey.Config{RPID: "mana.how", Origins: []string{issuer}}, s, nil, n); err == nil {
		t.Error("no audit log: no error")
	}
	// A development setup: the issuer on localhost (as the browser tests run).
	rpID, err := passkey.RPID("", "http://localhost:8080")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := passkey.New(passkey.Config{RPID: rpID, Origins: []string{"http://localhost:8080"}}, s, log, n)
	if err != nil {
		t.Fatalf("localhost: %v", err)
	}
	if _, err := svc.BeginLogin(t.Context()); err != nil {
		t.Errorf("localhost BeginLogin: %v", err)
	}
}

type nopNotifier struct{}

func (nopNotifier) PasskeyAdded(context.Context, *provider.User, string, string) error { return nil }

// wantReason checks err is want and says why (its text, or the debug info
// of go-webauthn's error).
func wantReason(t *testing.T, err, want error, reason string) {
	t.Helper()
	wantErr(t, err, want)
	if !strings.Contains(err.Error(), reason) {
		t.Fatalf("error %q does not say %q", err, reason)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

// TestConcurrentFinish: one challenge, the same valid answer sent at once
// from many replicas' worth of goroutines: exactly one sign-in.
func TestConcurrentFinish(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		u := f.user(t, "kim", "kim@example.com")
		a := newAuthenticator(t, issuer, "none")
		f.register(t, u, a, "")
		c, err := f.svc.BeginLogin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		resp := a.assert(t, c.Options)
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, errs[i] = f.svc.FinishLogin(ctx, c.ChallengeID, resp, testIP, testUA) })
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, passkey.ErrCeremony):
				t.Errorf("loser: %v", err)
			}
		}
		if won != 1 {
			t.Errorf("%d sign-ins from one challenge, want 1", won)
		}
	})
}

// TestUncleanIDs: a challenge or passkey id with a NUL byte or invalid
// UTF-8 (none we hand out has either) is unknown, on both backends,
// rather than an internal error from PostgreSQL, which refuses such text.
func TestUncleanIDs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		u := f.user(t, "kim", "kim@example.com")
		a := newAuthenticator(t, issuer, "none")
		p := f.register(t, u, a, "Laptop")
		for _, id := range []string{"abc\x00def", "\xff\xfe", p.ID + "\x00"} {
			c, err := f.svc.BeginLogin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			resp := a.assert(t, c.Options)
			_, err = f.svc.FinishLogin(ctx, id, resp, testIP, testUA)
			wantReason(t, err, passkey.ErrCeremony, "not clean text")
			_, err = f.svc.FinishSecondFactor(ctx, u.ID, id, resp, testIP, testUA)
			wantReason(t, err, passkey.ErrCeremony, "not clean text")
			_, err = f.svc.FinishRegistration(ctx, u, id, "", newAuthenticator(t, issuer, "none").register(t, c.Options), testIP, testUA, "")
			wantReason(t, err, passkey.ErrCeremony, "not clean text")
			wantErr(t, f.svc.Rename(ctx, u.ID, id, "Phone"), passkey.ErrUnknownPasskey)
			wantErr(t, f.svc.Remove(ctx, u.ID, id, testIP, testUA), passkey.ErrUnknownPasskey)
			// The unclean attempt did not use up the real challenge.
			if _, err := f.svc.FinishLogin(ctx, c.ChallengeID, resp, testIP, testUA); err != nil {
				t.Errorf("the real challenge after %q: %v", id, err)
			}
		}
		ps, err := f.svc.List(ctx, u.ID)
		if err != nil || len(ps) != 1 || ps[0].Name != "Laptop" {
			t.Errorf("passkeys after unclean ids: %v, %v", ps, err)
		}
	})
}

// TestPasskeyAddedMailLanguage: the mail about a new passkey is in the
// language of the call that added it (the page's or API call's
// Accept-Language, as the handlers pass it), English by default.
func TestPasskeyAddedMailLanguage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		for i, tc := range []struct{ lang, subject, greeting string }{
			{"de", "Ein Passkey wurde hinzugefügt", "Hallo Kim,"},
			{"en", "A passkey was added", "Hi Kim,"},
			{"", "A passkey was added", "Hi Kim,"},
		} {
			u := f.user(t, "u"+strconv.Itoa(i), "kim"+strconv.Itoa(i)+"@example.com")
			c, err := f.svc.BeginRegistration(t.Context(), u)
			if err != nil {
				t.Fatal(err)
			}
			a := newAuthenticator(t, issuer, "none")
			if _, err := f.svc.FinishRegistration(t.Context(), u, c.ChallengeID, "", a.register(t, c.Options), testIP, testUA, tc.lang); err != nil {
				t.Fatal(err)
			}
			if m := f.mail.wait(t, u.Email); m.Subject != tc.subject || !strings.HasPrefix(m.Text, tc.greeting) {
				t.Errorf("lang %q: mail %q:\n%s", tc.lang, m.Subject, m.Text)
			}
		}
	})
}
