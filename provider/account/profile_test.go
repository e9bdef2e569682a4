package account_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

func TestUpdateProfile(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			f := newFixture(t, b)
			ctx := t.Context()
			u := f.createUser(t, "profile@example.com", password, true)
			f.clock.Advance(time.Minute)
			got, err := f.svc.UpdateProfile(ctx, u.ID, "  Ada Lovelace  ", testIP, testUA)
			if err != nil || got.Name != "Ada Lovelace" {
				t.Fatalf("UpdateProfile = %+v, %v", got, err)
			}
			stored := f.mustUser(t, u.ID)
			if stored.Name != "Ada Lovelace" || !stored.UpdatedAt.Equal(f.clock.Now()) {
				t.Errorf("stored %q updated %s", stored.Name, stored.UpdatedAt)
			}
			// The same name again changes nothing and audits nothing.
			if _, err := f.svc.UpdateProfile(ctx, u.ID, "Ada Lovelace", testIP, testUA); err != nil {
				t.Fatal(err)
			}
			f.wantEvents(t, u.ID, map[string]int{provider.EventProfileUpdated: 1})
			evs, _ := f.store.ListEvents(ctx, u.ID, 1)
			if evs[0].IP != testIP || evs[0].UserAgent != testUA {
				t.Errorf("event %+v", evs[0])
			}
			for bad, code := range map[string]string{strings.Repeat("x", 256): "length", "two\nlines": "invalid_name",
				"nul\x00": "invalid_name", "see www.evil.example": "invalid_name"} {
				var ve *account.ValidationError
				if _, err := f.svc.UpdateProfile(ctx, u.ID, bad, testIP, testUA); !errors.As(err, &ve) || ve.Fields["name"] != code {
					t.Errorf("name %q: %v, want %s", bad, err, code)
				}
			}
			if f.mustUser(t, u.ID).Name != "Ada Lovelace" {
				t.Error("a refused name was stored")
			}
			if _, err := f.svc.UpdateProfile(ctx, "nobody", "X", testIP, testUA); !errors.Is(err, provider.ErrNotFound) {
				t.Errorf("unknown user: %v", err)
			}
		})
	}
}

// TestResetRevokesSessionTokens: a reset ends sessions through the session
// service, so their tokens die with them, not only the rows.
func TestResetRevokesSessionTokens(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			f := newFixture(t, b)
			ctx := t.Context()
			u := f.createUser(t, "reset-tokens@example.com", password, true)
			now := f.clock.Now()
			s := &provider.Session{ID: "sess-reset-1", UserID: u.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), AuthTime: now}
			if err := f.store.CreateSession(ctx, s); err != nil {
				t.Fatal(err)
			}
			if err := f.store.CreateGrant(ctx, &provider.Grant{Kind: provider.KindRefreshToken, Signature: "sig-reset-1", RequestID: "r1",
				ClientID: "c", Subject: u.ID, SessionID: s.ID, Active: true, RequestedAt: now, ExpiresAt: now.Add(time.Hour), Data: []byte("{}")}); err != nil {
				t.Fatal(err)
			}
			token := f.mustForgot(t, u.Email)
			if _, err := f.svc.ResetPassword(ctx, token, password2, testIP, testUA); err != nil {
				t.Fatal(err)
			}
			g, err := f.store.GetGrant(ctx, provider.KindRefreshToken, "sig-reset-1")
			if err != nil || g.Active {
				t.Errorf("refresh token of a reset account still active: %+v, %v", g, err)
			}
		})
	}
}
