package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

// issue 12: the picture column, and what connected apps need.

func testUserPicture(t *testing.T, s provider.Store) {
	ctx := t.Context()
	u := newUser("pic")
	u.Picture = "https://img.example.com/a.png?size=96&v='1'"
	must(t, s.CreateUser(ctx, u))
	got, err := s.GetUser(ctx, "pic")
	must(t, err)
	assertEqual(t, got, u)

	u.Picture, u.UpdatedAt = "", at(time.Hour)
	must(t, s.UpdateUser(ctx, u))
	got, err = s.GetUserByEmail(ctx, u.Email)
	must(t, err)
	assertEqual(t, got, u)
	u.Picture = "https://img.example.com/b.png"
	must(t, s.UpdateUser(ctx, u))
	got, err = s.GetUser(ctx, "pic")
	must(t, err)
	if got.Picture != u.Picture {
		t.Errorf("picture = %q, want %q", got.Picture, u.Picture)
	}
}

func testListConsents(t *testing.T, s provider.Store) {
	ctx := t.Context()
	got, err := s.ListConsents(ctx, "u1")
	must(t, err)
	if got != nil {
		t.Fatalf("ListConsents(none) = %+v, want nil", got)
	}
	older := &provider.Consent{UserID: "u1", ClientID: "b-app", Scopes: []string{"openid"}, GrantedAt: at(0)}
	newer := &provider.Consent{UserID: "u1", ClientID: "c-app", Scopes: []string{"openid", "profile"}, GrantedAt: at(time.Hour)}
	tie := &provider.Consent{UserID: "u1", ClientID: "a-app", Scopes: []string{"openid", "email"}, GrantedAt: at(time.Hour)}
	for _, c := range []*provider.Consent{older, newer, tie,
		{UserID: "u2", ClientID: "b-app", Scopes: []string{"openid"}, GrantedAt: at(2 * time.Hour)}} {
		must(t, s.SaveConsent(ctx, c))
	}
	got, err = s.ListConsents(ctx, "u1")
	must(t, err)
	assertConsents(t, got, tie, newer, older)

	must(t, s.DeleteConsent(ctx, "u1", "c-app"))
	got, err = s.ListConsents(ctx, "u1")
	must(t, err)
	assertConsents(t, got, tie, older)
	got, err = s.ListConsents(ctx, "x' OR '1'='1")
	must(t, err)
	if got != nil {
		t.Errorf("ListConsents(metacharacters) = %+v", got)
	}
}

func testClientSubjectSessions(t *testing.T, s provider.Store) {
	ctx := t.Context()
	mk := func(sig, client, subject, session string, active bool) {
		g := newGrant(provider.KindRefreshToken, sig, "req-"+sig)
		g.ClientID, g.Subject, g.SessionID, g.Active = client, subject, session, active
		must(t, s.CreateGrant(ctx, g))
	}
	mk("1", "app", "u1", "s-b", true)
	mk("2", "app", "u1", "s-a", false) // revoked grants still name their session
	mk("3", "app", "u1", "s-b", true)
	mk("4", "app", "u1", "", true)
	mk("5", "other", "u1", "s-c", true)
	mk("6", "app", "u2", "s-d", true)
	got, err := s.ClientSubjectSessions(ctx, "app", "u1")
	must(t, err)
	if !slices.Equal(got, []string{"s-a", "s-b"}) {
		t.Errorf("ClientSubjectSessions = %q, want [s-a s-b]", got)
	}
	got, err = s.ClientSubjectSessions(ctx, "app", "nobody")
	must(t, err)
	if got != nil {
		t.Errorf("ClientSubjectSessions(nobody) = %q, want nil", got)
	}
}

func testRevokeClientSubject(t *testing.T, s provider.Store) {
	ctx := t.Context()
	mk := func(kind, sig, client, subject string) {
		g := newGrant(kind, sig, "req-"+sig)
		g.ClientID, g.Subject = client, subject
		must(t, s.CreateGrant(ctx, g))
	}
	mk(provider.KindRefreshToken, "r", "app", "u1")
	mk(provider.KindAccessToken, "a", "app", "u1")
	mk(provider.KindRefreshToken, "other-app", "other", "u1")
	mk(provider.KindRefreshToken, "other-user", "app", "u2")
	must(t, s.PutGrace(ctx, &provider.GraceEntry{Signature: "r", RequestID: "req-r", Payload: []byte("x"), ExpiresAt: at(time.Hour)}))
	must(t, s.PutGrace(ctx, &provider.GraceEntry{Signature: "other-app", RequestID: "req-other-app", Payload: []byte("x"), ExpiresAt: at(time.Hour)}))

	for _, empty := range [][2]string{{"", "u1"}, {"app", ""}} {
		n, err := s.RevokeClientSubject(ctx, empty[0], empty[1])
		must(t, err)
		if n != 0 {
			t.Fatalf("RevokeClientSubject(%q) = %d, want 0", empty, n)
		}
	}
	n, err := s.RevokeClientSubject(ctx, "app", "u1")
	must(t, err)
	if n != 2 {
		t.Fatalf("RevokeClientSubject = %d, want 2", n)
	}
	n, err = s.RevokeClientSubject(ctx, "app", "u1")
	must(t, err)
	if n != 0 {
		t.Fatalf("RevokeClientSubject again = %d, want 0", n)
	}
	for _, tc := range []struct {
		kind, sig string
		active    bool
	}{
		{provider.KindRefreshToken, "r", false},
		{provider.KindAccessToken, "a", false},
		{provider.KindRefreshToken, "other-app", true},
		{provider.KindRefreshToken, "other-user", true},
	} {
		got, err := s.GetGrant(ctx, tc.kind, tc.sig)
		must(t, err)
		if got.Active != tc.active {
			t.Errorf("%s: active = %v, want %v", tc.sig, got.Active, tc.active)
		}
	}
	_, err = s.GetGrace(ctx, "r", at(0))
	wantErr(t, "grace of revoked", err, provider.ErrNotFound)
	_, err = s.GetGrace(ctx, "other-app", at(0))
	must(t, err)
}

func assertConsents(t *testing.T, got []*provider.Consent, want ...*provider.Consent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d consents, want %d", len(got), len(want))
	}
	for i := range want {
		assertEqual(t, got[i], want[i])
	}
}
