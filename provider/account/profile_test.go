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
			got, err := f.svc.UpdateProfile(ctx, u.ID, nameChange("  Ada Lovelace  "), testIP, testUA)
			if err != nil || got.Name != "Ada Lovelace" {
				t.Fatalf("UpdateProfile = %+v, %v", got, err)
			}
			stored := f.mustUser(t, u.ID)
			if stored.Name != "Ada Lovelace" || !stored.UpdatedAt.Equal(f.clock.Now()) {
				t.Errorf("stored %q updated %s", stored.Name, stored.UpdatedAt)
			}
			// The same name again changes nothing and audits nothing.
			if _, err := f.svc.UpdateProfile(ctx, u.ID, nameChange("Ada Lovelace"), testIP, testUA); err != nil {
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
				if _, err := f.svc.UpdateProfile(ctx, u.ID, nameChange(bad), testIP, testUA); !errors.As(err, &ve) || ve.Fields["name"] != code {
					t.Errorf("name %q: %v, want %s", bad, err, code)
				}
			}
			if f.mustUser(t, u.ID).Name != "Ada Lovelace" {
				t.Error("a refused name was stored")
			}
			if _, err := f.svc.UpdateProfile(ctx, "nobody", nameChange("X"), testIP, testUA); !errors.Is(err, provider.ErrNotFound) {
				t.Errorf("unknown user: %v", err)
			}
		})
	}
}

func nameChange(name string) account.ProfileChange { return account.ProfileChange{Name: &name} }

// TestUpdatePicture (issue 12): the picture is set, replaced and removed
// through UpdateProfile, moving updated_at; refused URLs change nothing.
func TestUpdatePicture(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			f := newFixture(t, b)
			ctx := t.Context()
			u := f.createUser(t, "picture@example.com", password, true)
			pic := "https://img.example.com/ada.png"
			f.clock.Advance(time.Minute)
			got, err := f.svc.UpdateProfile(ctx, u.ID, account.ProfileChange{Picture: &pic}, testIP, testUA)
			if err != nil || got.Picture != pic || got.Name != u.Name {
				t.Fatalf("UpdateProfile(picture) = %+v, %v", got, err)
			}
			if s := f.mustUser(t, u.ID); s.Picture != pic || !s.UpdatedAt.Equal(f.clock.Now()) {
				t.Errorf("stored %q updated %s", s.Picture, s.UpdatedAt)
			}
			name, bad := "Ada", "http://img.example.com/ada.png"
			var ve *account.ValidationError
			if _, err := f.svc.UpdateProfile(ctx, u.ID, account.ProfileChange{Name: &name, Picture: &bad}, testIP, testUA); !errors.As(err, &ve) ||
				ve.Fields["picture"] != "invalid_picture" {
				t.Errorf("http picture: %v", err)
			}
			if s := f.mustUser(t, u.ID); s.Picture != pic || s.Name != u.Name {
				t.Errorf("a refused change was partly stored: %+v", s)
			}
			empty := ""
			f.clock.Advance(time.Minute)
			if _, err := f.svc.UpdateProfile(ctx, u.ID, account.ProfileChange{Picture: &empty}, testIP, testUA); err != nil {
				t.Fatal(err)
			}
			if s := f.mustUser(t, u.ID); s.Picture != "" || !s.UpdatedAt.Equal(f.clock.Now()) {
				t.Errorf("picture not removed: %+v", s)
			}
			f.wantEvents(t, u.ID, map[string]int{provider.EventProfileUpdated: 2})
		})
	}
}

func TestPictureProblem(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, url string
		ok        bool
	}{
		{"none", "", true},
		{"https", "https://img.example.com/a.png", true},
		{"query and port", "https://img.example.com:8443/a?size=96&v=2", true},
		{"at the cap", "https://x.example/" + strings.Repeat("a", account.MaxPictureLength-len("https://x.example/")), true},
		{"over the cap", "https://x.example/" + strings.Repeat("a", account.MaxPictureLength), false},
		{"http", "http://img.example.com/a.png", false},
		{"javascript", "javascript:alert(1)", false},
		{"data", "data:image/png;base64,AAAA", false},
		{"relative", "/static/a.png", false},
		{"scheme-relative", "//img.example.com/a.png", false},
		{"no host", "https:///a.png", false},
		{"credentials", "https://user:pw@img.example.com/a.png", false},
		{"fragment", "https://img.example.com/a.png#x", false},
		{"space", "https://img.example.com/a b.png", false},
		{"newline", "https://img.example.com/a.png\nX", false},
		{"nul", "https://img.example.com/\x00", false},
		{"bad utf-8", "https://img.example.com/\xff", false},
		{"upper-case scheme", "HTTPS://img.example.com/a.png", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := account.PictureProblem(tc.url) == ""; got != tc.ok {
				t.Errorf("PictureProblem(%q) ok = %v, want %v", tc.url, got, tc.ok)
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
