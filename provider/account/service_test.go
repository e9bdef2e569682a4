package account_test

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

var (
	uuidRE  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	tokenRE = regexp.MustCompile(`^[A-Z2-7]{52}$`) // 256 bits, base32 without padding
)

const hashPrefix = "$argon2id$v=19$m=1024,t=1,p=1$"

func TestRegister(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		f := newFixture(t, b)

		t.Run("Valid", func(t *testing.T) {
			ctx := t.Context()
			u, err := f.svc.Register(ctx, account.RegisterInput{
				Email: "  Alice@Example.COM ", Password: password, Name: "  Alice Müller ",
				Lang: "en", IP: testIP, UserAgent: testUA,
			})
			if err != nil {
				t.Fatalf("Register: %v", err)
			}
			const email = "alice@example.com"
			if u.Email != email || u.Name != "Alice Müller" || u.EmailVerified || u.Role != provider.RoleUser {
				t.Errorf("returned user email=%q name=%q verified=%v role=%q, want %q, %q, false, user",
					u.Email, u.Name, u.EmailVerified, u.Role, email, "Alice Müller")
			}
			if !uuidRE.MatchString(u.ID) {
				t.Errorf("id %q is not a UUID v4", u.ID)
			}
			got := f.mustUser(t, u.ID)
			if got.Email != email || got.Name != "Alice Müller" || got.EmailVerified || !got.CreatedAt.Equal(start) {
				t.Errorf("stored user email=%q name=%q verified=%v created=%v", got.Email, got.Name, got.EmailVerified, got.CreatedAt)
			}
			if !strings.HasPrefix(got.PasswordHash, hashPrefix) || strings.Contains(got.PasswordHash, password) {
				t.Errorf("stored password hash %q: want an argon2id hash (%s...) without the password", got.PasswordHash, hashPrefix)
			}
			if err := f.svc.Hasher().Verify(ctx, got.PasswordHash, password); err != nil {
				t.Errorf("stored hash does not verify the password: %v", err)
			}

			f.wantEvents(t, u.ID, map[string]int{provider.EventRegistered: 1})
			evs, err := f.store.ListEvents(ctx, u.ID, 10)
			if err != nil {
				t.Fatal(err)
			}
			if e := evs[0]; e.IP != testIP || e.UserAgent != testUA || !e.CreatedAt.Equal(start) {
				t.Errorf("registered event ip=%q ua=%q at %v, want %q, %q, %v", e.IP, e.UserAgent, e.CreatedAt, testIP, testUA, start)
			}

			m := f.mail.wait(t, email, 1)
			if m.Subject != "Confirm your email address" || !strings.Contains(m.Text, "The link is valid for 24 hours.") {
				t.Errorf("verification mail subject %q, text:\n%s", m.Subject, m.Text)
			}
			link := mustLink(t, m, "/api/auth/verify-email")
			if link.Scheme+"://"+link.Host != baseURL {
				t.Errorf("link %s does not point at %s", link, baseURL)
			}
			if tok := link.Query().Get("token"); !tokenRE.MatchString(tok) || link.RawQuery != "token="+tok {
				t.Errorf("link query %q: want token=<52 base32 chars> and nothing else", link.RawQuery)
			}
			if strings.Contains(m.Text, password) || strings.Contains(m.HTML, password) {
				t.Error("the mail contains the password")
			}
			f.settle(t)
			if n := len(f.mail.to(email)); n != 1 {
				t.Errorf("%d mails to %s, want 1", n, email)
			}
		})

		t.Run("InvalidFields", func(t *testing.T) {
			for i, tc := range []struct {
				name string
				mod  func(*account.RegisterInput)
				want map[string]string // nil: registration succeeds
			}{
				{"every field at once", func(in *account.RegisterInput) {
					in.Email, in.Password, in.Name = "not-an-email", "short", strings.Repeat("n", 256)
				}, map[string]string{"email": "invalid_email", "password": "length", "name": "length"}},
				{"empty", func(in *account.RegisterInput) { *in = account.RegisterInput{} },
					map[string]string{"email": "invalid_email", "password": "length"}},
				{"password of 7 runes in 14 bytes", func(in *account.RegisterInput) { in.Password = "äöüäöüä" },
					map[string]string{"password": "length"}},
				{"password of 8 runes", func(in *account.RegisterInput) { in.Password = "äöüäöüäö" }, nil},
				{"password of 128 runes in 256 bytes", func(in *account.RegisterInput) { in.Password = strings.Repeat("ä", 128) }, nil},
				{"password of 129 runes", func(in *account.RegisterInput) { in.Password = strings.Repeat("a", 129) },
					map[string]string{"password": "length"}},
				{"name of 255 runes in 510 bytes", func(in *account.RegisterInput) { in.Name = strings.Repeat("é", 255) }, nil},
				{"name of 256 runes", func(in *account.RegisterInput) { in.Name = strings.Repeat("é", 256) },
					map[string]string{"name": "length"}},
				{"name with a trailing newline (trimmed)", func(in *account.RegisterInput) { in.Name = "Alice\n" }, nil},
				{"name with LF", func(in *account.RegisterInput) { in.Name = "Al\nice" }, map[string]string{"name": "invalid_name"}},
				{"name with CR", func(in *account.RegisterInput) { in.Name = "Al\rice" }, map[string]string{"name": "invalid_name"}},
				{"name with NUL", func(in *account.RegisterInput) { in.Name = "Al\x00ice" }, map[string]string{"name": "invalid_name"}},
				{"name with invalid UTF-8", func(in *account.RegisterInput) { in.Name = "Al\xffice" }, map[string]string{"name": "invalid_name"}},
				{"email with NUL", func(in *account.RegisterInput) { in.Email = "a\x00b@example.com" },
					map[string]string{"email": "invalid_email"}},
				// strings.ToLower turns invalid bytes into U+FFFD; normalizing
				// must not make such an address valid.
				{"email with invalid UTF-8", func(in *account.RegisterInput) { in.Email = "B\xffb@example.com" },
					map[string]string{"email": "invalid_email"}},
				{"email with a display name", func(in *account.RegisterInput) { in.Email = "Bob <bob@example.com>" },
					map[string]string{"email": "invalid_email"}},
				{"email without a dot in the domain", func(in *account.RegisterInput) { in.Email = "bob@example" },
					map[string]string{"email": "invalid_email"}},
				{"name with a link", func(in *account.RegisterInput) { in.Name = "Reset at evil.com/reset" },
					map[string]string{"name": "invalid_name"}},
				{"address literal", func(in *account.RegisterInput) { in.Email = "a@[127.0.0.1]" },
					map[string]string{"email": "invalid_email"}},
				{"mixed-script look-alike", func(in *account.RegisterInput) { in.Email = "\u0430lice@example.com" },
					map[string]string{"email": "invalid_email"}},
				{"email over 254 bytes", func(in *account.RegisterInput) { in.Email = strings.Repeat("a", 243) + "@example.com" },
					map[string]string{"email": "invalid_email"}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					in := account.RegisterInput{Email: "case" + string(rune('a'+i)) + "@example.com", Password: password, Name: "Case"}
					tc.mod(&in)
					before := f.countUsers(t)
					u, err := f.svc.Register(t.Context(), in)
					if tc.want == nil {
						if err != nil {
							t.Fatalf("Register: %v, want success", err)
						}
						got := f.mustUser(t, u.ID)
						if got.Name != strings.TrimSpace(in.Name) {
							t.Errorf("stored name %q, want %q", got.Name, strings.TrimSpace(in.Name))
						}
						if err := f.svc.Hasher().Verify(t.Context(), got.PasswordHash, in.Password); err != nil {
							t.Errorf("stored hash does not verify the password: %v", err)
						}
						return
					}
					if u != nil {
						t.Errorf("Register returned user %+v with an error", u)
					}
					wantValidation(t, "Register", err, tc.want)
					if after := f.countUsers(t); after != before {
						t.Errorf("%d users after a refused registration, want %d", after, before)
					}
				})
			}
		})

		t.Run("DuplicateEmail", func(t *testing.T) {
			ctx := t.Context()
			first, _ := f.mustRegister(t, "bob@example.com")
			before := f.countUsers(t)
			u, err := f.svc.Register(ctx, account.RegisterInput{Email: " BOB@Example.Com", Password: password2, Name: "Impostor"})
			wantErr(t, "Register(same email, other case)", err, account.ErrEmailTaken)
			if u != nil {
				t.Errorf("Register returned user %+v with ErrEmailTaken", u)
			}
			if after := f.countUsers(t); after != before {
				t.Errorf("%d users, want %d", after, before)
			}
			got, err := f.store.GetUserByEmail(ctx, "bob@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != first.ID || got.Name != "Test" || got.PasswordHash != first.PasswordHash {
				t.Errorf("the first account changed: %+v", got)
			}
			f.wantEvents(t, first.ID, map[string]int{provider.EventRegistered: 1})
			f.settle(t)
			if n := len(f.mail.to("bob@example.com")); n != 1 {
				t.Errorf("%d mails to bob, want 1 (none for the refused registration)", n)
			}
		})

		t.Run("RedirectInLink", func(t *testing.T) {
			for i, tc := range []struct {
				name, source, want string
				loopback           bool
			}{
				{name: "none", source: "", want: ""},
				{name: "subdomain, path and query reduced to the origin", source: "https://chat.mana.how/welcome?ref=mail#top", want: "https://chat.mana.how"},
				{name: "parent domain", source: "https://mana.how", want: "https://mana.how"},
				{name: "parent domain over http dropped", source: "http://chat.mana.how/", want: ""},
				{name: "lookalike domain dropped", source: "https://mana.how.evil.example/", want: ""},
				{name: "foreign origin dropped", source: "https://evil.example/cb", want: ""},
				{name: "userinfo dropped", source: "https://user@chat.mana.how/", want: ""},
				{name: "own origin", source: baseURL + "/settings?tab=1", want: baseURL},
				{name: "CORS origin", source: partnerOrigin + "/app", want: partnerOrigin},
				{name: "loopback dropped when not allowed", source: "http://localhost:5173/", want: ""},
				{name: "loopback when allowed", source: "http://localhost:5173/x?y=1", want: "http://localhost:5173", loopback: true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					svc := f.svc
					if tc.loopback {
						svc = f.service(t, withLoopback)
					}
					email := "redirect" + string(rune('a'+i)) + "@example.com"
					if _, err := svc.Register(t.Context(), account.RegisterInput{Email: email, Password: password, SourceAppURL: tc.source}); err != nil {
						t.Fatalf("Register: %v", err)
					}
					link := mustLink(t, f.mail.wait(t, email, 1), "/api/auth/verify-email")
					tok := link.Query().Get("token")
					wantQuery := "token=" + tok
					if tc.want != "" {
						wantQuery += "&redirectTo=" + url.QueryEscape(tc.want)
					}
					if link.RawQuery != wantQuery {
						t.Errorf("link query %q, want %q", link.RawQuery, wantQuery)
					}
					// The token remembers the same origin for after verification.
					_, redirect, err := svc.VerifyEmail(t.Context(), tok)
					if err != nil {
						t.Fatalf("VerifyEmail: %v", err)
					}
					if redirect != tc.want {
						t.Errorf("VerifyEmail redirect %q, want %q", redirect, tc.want)
					}
				})
			}
		})
	})
}

func TestVerifyEmail(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		f := newFixture(t, b)

		t.Run("Once", func(t *testing.T) {
			ctx := t.Context()
			reg, err := f.svc.Register(ctx, account.RegisterInput{Email: "carol@example.com", Password: password, SourceAppURL: "https://chat.mana.how/start"})
			if err != nil {
				t.Fatal(err)
			}
			tok := mustLink(t, f.mail.wait(t, reg.Email, 1), "/api/auth/verify-email").Query().Get("token")
			if u, err := f.svc.Authenticate(ctx, reg.Email, password); !errors.Is(err, account.ErrEmailNotVerified) || u == nil {
				t.Fatalf("Authenticate before verification: %v, %v; want the user with ErrEmailNotVerified", u, err)
			}

			// Tokens that are not the one sent change nothing and burn nothing.
			for _, bad := range []string{"", "nope", strings.ToLower(tok), tok + "A", strings.Repeat("A", 52)} {
				_, _, err := f.svc.VerifyEmail(ctx, bad)
				wantErr(t, "VerifyEmail(garbage "+bad+")", err, account.ErrInvalidToken)
			}
			if f.mustUser(t, reg.ID).EmailVerified {
				t.Fatal("garbage tokens verified the address")
			}

			f.clock.Advance(time.Minute)
			u, redirect, err := f.svc.VerifyEmail(ctx, tok)
			if err != nil {
				t.Fatalf("VerifyEmail: %v", err)
			}
			if u.ID != reg.ID || !u.EmailVerified || redirect != "https://chat.mana.how" {
				t.Errorf("VerifyEmail = user %s verified=%v, redirect %q; want %s, true, https://chat.mana.how", u.ID, u.EmailVerified, redirect, reg.ID)
			}
			got := f.mustUser(t, reg.ID)
			if !got.EmailVerified || !got.UpdatedAt.Equal(start.Add(time.Minute)) {
				t.Errorf("stored user verified=%v updated=%v, want true, %v", got.EmailVerified, got.UpdatedAt, start.Add(time.Minute))
			}
			f.wantEvents(t, reg.ID, map[string]int{provider.EventRegistered: 1, provider.EventEmailVerified: 1})

			_, _, err = f.svc.VerifyEmail(ctx, tok)
			wantErr(t, "VerifyEmail(used token)", err, account.ErrInvalidToken)
			f.wantEvents(t, reg.ID, map[string]int{provider.EventRegistered: 1, provider.EventEmailVerified: 1})
			if u, err := f.svc.Authenticate(ctx, reg.Email, password); err != nil || u.ID != reg.ID {
				t.Errorf("Authenticate after verification: %v, %v", u, err)
			}
		})

		t.Run("ResetTokenIsNoVerifyToken", func(t *testing.T) {
			u, _ := f.mustRegister(t, "dan@example.com")
			reset := f.mustForgot(t, u.Email)
			_, _, err := f.svc.VerifyEmail(t.Context(), reset)
			wantErr(t, "VerifyEmail(reset token)", err, account.ErrInvalidToken)
			if f.mustUser(t, u.ID).EmailVerified {
				t.Error("a reset token verified the address through VerifyEmail")
			}
		})

		t.Run("Expiry", func(t *testing.T) {
			early, earlyTok := f.mustRegister(t, "early@example.com")
			late, lateTok := f.mustRegister(t, "late@example.com")

			f.clock.Advance(verifyTTL - time.Second)
			if _, _, err := f.svc.VerifyEmail(t.Context(), earlyTok); err != nil {
				t.Fatalf("VerifyEmail one second before expiry: %v", err)
			}
			f.clock.Advance(time.Second) // now == ExpiresAt: expired
			_, _, err := f.svc.VerifyEmail(t.Context(), lateTok)
			wantErr(t, "VerifyEmail(expired)", err, account.ErrInvalidToken)

			if !f.mustUser(t, early.ID).EmailVerified {
				t.Error("the token used in time did not verify")
			}
			if f.mustUser(t, late.ID).EmailVerified {
				t.Error("an expired token verified the address")
			}
			f.wantEvents(t, late.ID, map[string]int{provider.EventRegistered: 1})
		})
	})
}

func TestResendVerification(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		f := newFixture(t, b)
		ctx := t.Context()
		u, oldTok := f.mustRegister(t, "erin@example.com")

		if err := f.svc.ResendVerification(ctx, " ERIN@Example.com ", "https://chat.mana.how/x", "de"); err != nil {
			t.Fatalf("ResendVerification(unverified): %v", err)
		}
		m := f.mail.wait(t, u.Email, 2)
		if m.Subject != "Bestätige deine E-Mail-Adresse" {
			t.Errorf("resent mail subject %q, want the German one", m.Subject)
		}
		link := mustLink(t, m, "/api/auth/verify-email")
		newTok := link.Query().Get("token")
		if !tokenRE.MatchString(newTok) || newTok == oldTok || link.Query().Get("redirectTo") != "https://chat.mana.how" {
			t.Errorf("resent link %s: want a new token and redirectTo=https://chat.mana.how", link)
		}

		_, _, err := f.svc.VerifyEmail(ctx, oldTok)
		wantErr(t, "VerifyEmail(token of the first mail)", err, account.ErrInvalidToken)
		_, redirect, err := f.svc.VerifyEmail(ctx, newTok)
		if err != nil || redirect != "https://chat.mana.how" {
			t.Fatalf("VerifyEmail(new token) = %q, %v", redirect, err)
		}

		// Verified and unknown addresses (including ones no account can
		// have, which the database would refuse): nil, and no mail.
		for _, email := range []string{u.Email, "nobody@example.com", "NoBody@example.com", "erin\x00@example.com", "erin\xff@example.com"} {
			if err := f.svc.ResendVerification(ctx, email, "", "en"); err != nil {
				t.Errorf("ResendVerification(%s): %v, want nil", email, err)
			}
		}
		f.settle(t)
		if n := len(f.mail.to(u.Email)); n != 2 {
			t.Errorf("%d mails to %s, want 2 (none after verification)", n, u.Email)
		}
		if n := len(f.mail.to("nobody@example.com")); n != 0 {
			t.Errorf("%d mails to an address without an account", n)
		}
	})
}

func TestPasswordReset(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		f := newFixture(t, b)

		t.Run("MailOnlyForAccounts", func(t *testing.T) {
			ctx := t.Context()
			u := f.createUser(t, "frank@example.com", password, true)
			for _, email := range []string{"nobody@example.com", "frank\x00@example.com", "fr\xffank@example.com", " FRANK@Example.com "} {
				if err := f.svc.ForgotPassword(ctx, email, "", "en"); err != nil {
					t.Errorf("ForgotPassword(%q): %v, want nil", email, err)
				}
			}
			m := f.mail.wait(t, u.Email, 1)
			if m.Subject != "Reset your password" || !strings.Contains(m.Text, "The link is valid for 1 hour.") {
				t.Errorf("reset mail subject %q, text:\n%s", m.Subject, m.Text)
			}
			link := mustLink(t, m, "/reset-password")
			if link.Scheme+"://"+link.Host != baseURL || !tokenRE.MatchString(link.Query().Get("token")) || len(link.Query()) != 1 {
				t.Errorf("reset link %s: want %s/reset-password?token=<token>", link, baseURL)
			}
			f.settle(t)
			if n := len(f.mail.to("nobody@example.com")); n != 0 {
				t.Errorf("%d mails to an address without an account", n)
			}
			if n := len(f.mail.to(u.Email)); n != 1 {
				t.Errorf("%d mails to %s, want 1", n, u.Email)
			}
		})

		t.Run("Reset", func(t *testing.T) {
			ctx := t.Context()
			u, _ := f.mustRegister(t, "grace@example.com") // unverified
			oldHash := f.mustUser(t, u.ID).PasswordHash
			for _, s := range []*provider.Session{newSession(f, u.ID), newSession(f, u.ID), newSession(f, f.sentinel.ID)} {
				if err := f.store.CreateSession(ctx, s); err != nil {
					t.Fatalf("CreateSession: %v", err)
				}
			}

			older := f.mustForgot(t, u.Email)
			f.clock.Advance(time.Minute)
			tok := f.mustForgot(t, u.Email)

			_, err := f.svc.ResetPassword(ctx, older, password2, testIP, testUA)
			wantErr(t, "ResetPassword(superseded link)", err, account.ErrInvalidToken)

			// A refused password leaves the token usable.
			for _, short := range []string{"", "short", "äöüäöüä", strings.Repeat("x", 129)} {
				_, err := f.svc.ResetPassword(ctx, tok, short, testIP, testUA)
				wantValidation(t, "ResetPassword(bad length)", err, map[string]string{"newPassword": "length"})
			}
			if got := f.mustUser(t, u.ID); got.PasswordHash != oldHash || got.EmailVerified {
				t.Fatalf("refused resets changed the user: %+v", got)
			}

			f.clock.Advance(time.Minute)
			got, err := f.svc.ResetPassword(ctx, tok, password2, testIP, testUA)
			if err != nil {
				t.Fatalf("ResetPassword: %v", err)
			}
			if got.ID != u.ID || !got.EmailVerified {
				t.Errorf("ResetPassword returned %s verified=%v, want %s verified", got.ID, got.EmailVerified, u.ID)
			}
			stored := f.mustUser(t, u.ID)
			if !stored.EmailVerified || stored.PasswordHash == oldHash || !strings.HasPrefix(stored.PasswordHash, hashPrefix) ||
				!stored.UpdatedAt.Equal(f.clock.Now()) {
				t.Errorf("stored user after reset: verified=%v hash changed=%v updated=%v", stored.EmailVerified, stored.PasswordHash != oldHash, stored.UpdatedAt)
			}
			if a, err := f.svc.Authenticate(ctx, u.Email, password2); err != nil || a.ID != u.ID {
				t.Errorf("Authenticate(new password): %v, %v", a, err)
			}
			_, err = f.svc.Authenticate(ctx, u.Email, password)
			wantErr(t, "Authenticate(old password)", err, account.ErrInvalidCredentials)

			// Whoever knew the old password is signed out; nobody else is.
			if ss, err := f.store.ListSessions(ctx, u.ID, f.clock.Now()); err != nil || len(ss) != 0 {
				t.Errorf("sessions after reset: %d (%v), want none", len(ss), err)
			}
			if ss, err := f.store.ListSessions(ctx, f.sentinel.ID, f.clock.Now()); err != nil || len(ss) != 1 {
				t.Errorf("another user's sessions after reset: %d (%v), want 1", len(ss), err)
			}
			evs := f.events(t, u.ID)
			if evs[provider.EventPasswordReset] != 1 {
				t.Errorf("events %v, want one %s", evs, provider.EventPasswordReset)
			}

			_, err = f.svc.ResetPassword(ctx, tok, "yet another password", testIP, testUA)
			wantErr(t, "ResetPassword(used token)", err, account.ErrInvalidToken)
			// A reset token is no verification token either.
			_, _, err = f.svc.VerifyEmail(ctx, tok)
			wantErr(t, "VerifyEmail(reset token)", err, account.ErrInvalidToken)
		})

		t.Run("Expiry", func(t *testing.T) {
			ctx := t.Context()
			inTime := f.createUser(t, "intime@example.com", password, true)
			late := f.createUser(t, "late@example.com", password, true)
			inTimeTok, lateTok := f.mustForgot(t, inTime.Email), f.mustForgot(t, late.Email)

			f.clock.Advance(resetTTL - time.Second)
			if _, err := f.svc.ResetPassword(ctx, inTimeTok, password2, "", ""); err != nil {
				t.Fatalf("ResetPassword one second before expiry: %v", err)
			}
			f.clock.Advance(time.Second)
			_, err := f.svc.ResetPassword(ctx, lateTok, password2, "", "")
			wantErr(t, "ResetPassword(expired)", err, account.ErrInvalidToken)
			if _, err := f.svc.Authenticate(ctx, late.Email, password); err != nil {
				t.Errorf("Authenticate(unchanged password) after an expired reset: %v", err)
			}
			if n := f.events(t, late.ID)[provider.EventPasswordReset]; n != 0 {
				t.Errorf("%d password_reset events after an expired reset", n)
			}
		})
	})
}

// newSession returns a live session of userID at the fixture's time.
func newSession(f *fixture, userID string) *provider.Session {
	now := f.clock.Now()
	return &provider.Session{ID: account.NewID(), UserID: userID, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(24 * time.Hour), AuthTime: now, AuthMethods: []string{"pwd"}}
}

func TestChangePassword(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		f := newFixture(t, b)
		ctx := t.Context()
		u := f.createUser(t, "henry@example.com", password, true)
		if err := f.store.CreateSession(ctx, newSession(f, u.ID)); err != nil {
			t.Fatal(err)
		}

		err := f.svc.ChangePassword(ctx, u.ID, "wrong password", password2, testIP, testUA)
		wantErr(t, "ChangePassword(wrong current)", err, account.ErrInvalidCredentials)
		err = f.svc.ChangePassword(ctx, u.ID, "wrong password", "short", testIP, testUA)
		wantErr(t, "ChangePassword(wrong current, short new)", err, account.ErrInvalidCredentials)
		for _, bad := range []string{"short", strings.Repeat("ü", 129)} {
			err = f.svc.ChangePassword(ctx, u.ID, password, bad, testIP, testUA)
			wantValidation(t, "ChangePassword(bad length)", err, map[string]string{"newPassword": "length"})
		}
		err = f.svc.ChangePassword(ctx, "no-such-user", password, password2, testIP, testUA)
		wantErr(t, "ChangePassword(unknown user)", err, provider.ErrNotFound)
		if got := f.mustUser(t, u.ID); got.PasswordHash != u.PasswordHash {
			t.Fatal("a refused change altered the password hash")
		}
		f.wantEvents(t, u.ID, map[string]int{})

		f.clock.Advance(time.Minute)
		if err := f.svc.ChangePassword(ctx, u.ID, password, password2, testIP, testUA); err != nil {
			t.Fatalf("ChangePassword: %v", err)
		}
		got := f.mustUser(t, u.ID)
		if got.PasswordHash == u.PasswordHash || !strings.HasPrefix(got.PasswordHash, hashPrefix) || !got.UpdatedAt.Equal(f.clock.Now()) {
			t.Errorf("stored user after change: hash %q updated %v", got.PasswordHash, got.UpdatedAt)
		}
		if a, err := f.svc.Authenticate(ctx, u.Email, password2); err != nil || a.ID != u.ID {
			t.Errorf("Authenticate(new password): %v, %v", a, err)
		}
		_, err = f.svc.Authenticate(ctx, u.Email, password)
		wantErr(t, "Authenticate(old password)", err, account.ErrInvalidCredentials)
		f.wantEvents(t, u.ID, map[string]int{provider.EventPasswordChanged: 1})
		evs, err := f.store.ListEvents(ctx, u.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		if evs[0].IP != testIP || evs[0].UserAgent != testUA {
			t.Errorf("password_changed event ip=%q ua=%q", evs[0].IP, evs[0].UserAgent)
		}
		// Documented: changing (not recovering) keeps the other sessions.
		if ss, err := f.store.ListSessions(ctx, u.ID, f.clock.Now()); err != nil || len(ss) != 1 {
			t.Errorf("sessions after a change: %d (%v), want 1", len(ss), err)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		f := newFixture(t, b)
		verified := f.createUser(t, "ivy@example.com", password, true)
		unverified := f.createUser(t, "jack@example.com", password, false)
		noPassword := f.createUser(t, "nopassword@example.com", password, true)
		noPassword.PasswordHash = ""
		if err := f.store.UpdateUser(t.Context(), noPassword); err != nil {
			t.Fatal(err)
		}
		// Longer than registration allows, to reach Authenticate's own limits.
		pw1024, pw1025 := strings.Repeat("p", 1024), strings.Repeat("p", 1025)
		long1024 := f.createUser(t, "pw1024@example.com", pw1024, true)
		f.createUser(t, "pw1025@example.com", pw1025, true)
		email320 := strings.Repeat("e", 320-len("@example.com")) + "@example.com"
		email321 := "f" + email320
		long320 := f.createUser(t, email320, password, true)
		f.createUser(t, email321, password, true)

		for _, tc := range []struct {
			name, email, password string
			wantUser              string // "" wants a nil user
			wantErr               error
		}{
			{"verified", verified.Email, password, verified.ID, nil},
			{"email normalized", "  IVY@Example.COM ", password, verified.ID, nil},
			{"wrong password", verified.Email, password2, "", account.ErrInvalidCredentials},
			{"empty password", verified.Email, "", "", account.ErrInvalidCredentials},
			{"unknown email", "nobody@example.com", password, "", account.ErrInvalidCredentials},
			{"unverified, right password", unverified.Email, password, unverified.ID, account.ErrEmailNotVerified},
			{"unverified, wrong password", unverified.Email, password2, "", account.ErrInvalidCredentials},
			{"account without a password", noPassword.Email, "", "", account.ErrInvalidCredentials},
			{"password of 1024 bytes", long1024.Email, pw1024, long1024.ID, nil},
			{"password over 1024 bytes refused", "pw1025@example.com", pw1025, "", account.ErrInvalidCredentials},
			{"email of 320 bytes", email320, password, long320.ID, nil},
			{"email over 320 bytes refused", email321, password, "", account.ErrInvalidCredentials},
			{"email with NUL", "ivy\x00@example.com", password, "", account.ErrInvalidCredentials},
			{"email with invalid UTF-8", "ivy\xff@example.com", password, "", account.ErrInvalidCredentials},
		} {
			t.Run(tc.name, func(t *testing.T) {
				u, err := f.svc.Authenticate(t.Context(), tc.email, tc.password)
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Authenticate: error %v, want %v", err, tc.wantErr)
				}
				switch {
				case tc.wantUser == "" && u != nil:
					t.Errorf("Authenticate returned user %s, want none", u.ID)
				case tc.wantUser != "" && (u == nil || u.ID != tc.wantUser):
					t.Errorf("Authenticate returned %+v, want user %s", u, tc.wantUser)
				}
			})
		}
	})
}
