package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// The picture and updated_at claims (issue 12), read by a relying party
// built from go-oidc and x/oauth2.

type profileClaims struct {
	Name      string  `json:"name"`
	Picture   *string `json:"picture"`
	UpdatedAt *int64  `json:"updated_at"`
	Email     string  `json:"email"`
}

func TestPictureClaims(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		ctx := context.Background()
		l := e.apiLogin(t, userEmail, userPassword)
		pic := "https://img.example.com/alice.png?size=96"

		e.api(t, http.MethodPatch, "/api/v1/auth/profile", "", map[string]any{"picture": pic}).
			wantError(t, "anonymous", http.StatusUnauthorized, "missing_token", "")
		for name, bad := range map[string]string{"http": "http://img.example.com/a.png", "javascript": "javascript:alert(1)",
			"too long": "https://img.example.com/" + strings.Repeat("a", 2048)} {
			r := e.api(t, http.MethodPatch, "/api/v1/auth/profile", l.access, map[string]any{"picture": bad})
			r.wantError(t, name, http.StatusBadRequest, "validation_failed", "")
			if errs, _ := r.json["errors"].(map[string]any); errs["picture"] != "invalid_picture" {
				t.Errorf("%s: errors %v", name, r.json["errors"])
			}
		}
		r := e.api(t, http.MethodPatch, "/api/v1/auth/profile", l.access, map[string]any{"picture": pic}).want(t, "set picture", http.StatusOK)
		if r.str("picture") != pic || r.str("name") != userName {
			t.Fatalf("profile answer %s", r.body)
		}
		stored, err := e.store.GetUser(ctx, e.user.ID)
		if err != nil || stored.Picture != pic {
			t.Fatalf("stored picture %q (%v)", stored.Picture, err)
		}
		if got := e.api(t, http.MethodGet, "/api/v1/auth/profile", l.access, nil).want(t, "get profile", http.StatusOK); got.str("picture") != pic {
			t.Errorf("GET profile %s", got.body)
		}

		// ID token and userinfo, scope profile.
		rp := e.rp(t, trustedID)
		f := e.codeFlow(t, e.browser(t), rp)
		var idc profileClaims
		if err := f.idToken.Claims(&idc); err != nil {
			t.Fatal(err)
		}
		if idc.Picture == nil || *idc.Picture != pic || idc.UpdatedAt == nil || *idc.UpdatedAt != stored.UpdatedAt.Unix() || idc.Name != userName {
			t.Errorf("ID token profile claims %+v, want picture %s updated_at %d", idc, pic, stored.UpdatedAt.Unix())
		}
		ui, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(f.tok))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		var uic profileClaims
		if err := ui.Claims(&uic); err != nil {
			t.Fatal(err)
		}
		if uic.Picture == nil || *uic.Picture != pic || uic.UpdatedAt == nil || *uic.UpdatedAt != *idc.UpdatedAt {
			t.Errorf("userinfo profile claims %+v", uic)
		}

		// Without the profile scope: neither claim.
		rp.cfg.Scopes = []string{gooidc.ScopeOpenID, "email"}
		f = e.codeFlow(t, e.browser(t), rp)
		var noProfile map[string]any
		if err := f.idToken.Claims(&noProfile); err != nil {
			t.Fatal(err)
		}
		if _, ok := noProfile["picture"]; ok {
			t.Errorf("picture released without the profile scope: %v", noProfile)
		}
		if _, ok := noProfile["updated_at"]; ok {
			t.Errorf("updated_at released without the profile scope: %v", noProfile)
		}

		// Removed: the claim goes, updated_at stays.
		e.api(t, http.MethodPatch, "/api/v1/auth/profile", l.access, map[string]any{"picture": ""}).want(t, "remove picture", http.StatusOK)
		rp.cfg.Scopes = strings.Fields(allScopes)
		f = e.codeFlow(t, e.browser(t), rp)
		var after map[string]any
		if err := f.idToken.Claims(&after); err != nil {
			t.Fatal(err)
		}
		if _, ok := after["picture"]; ok {
			t.Errorf("a removed picture is still claimed: %v", after)
		}
		if _, ok := after["updated_at"]; !ok {
			t.Errorf("no updated_at with the profile scope: %v", after)
		}

		// Discovery says it.
		var disc struct {
			Claims []string `json:"claims_supported"`
		}
		if err := rp.provider.Claims(&disc); err != nil || !strings.Contains(strings.Join(disc.Claims, " "), "picture") {
			t.Errorf("claims_supported %v (%v)", disc.Claims, err)
		}
	})
}

func TestAccountPicturePage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		br := e.browser(t)
		br.login(t, br.get(t, "/account"), false)
		pic := "https://img.example.com/alice.png"
		p := br.post(t, "/account/profile", url.Values{"name": {userName}, "picture": {pic}})
		if p.status != http.StatusOK || !strings.Contains(p.body, `data-testid="picture-preview"`) || !strings.Contains(p.body, `value="`+pic+`"`) {
			t.Fatalf("after saving a picture: %d %s", p.status, p.url)
		}
		p = br.post(t, "/account/profile", url.Values{"name": {userName}, "picture": {"http://img.example.com/x.png"}})
		if p.status != http.StatusBadRequest || !strings.Contains(p.body, "must be an https:// address") {
			t.Errorf("an http picture: %d", p.status)
		}
		// A form without the field (an older page) leaves the picture alone.
		br.post(t, "/account/profile", url.Values{"name": {"Alice B"}})
		if u, err := e.store.GetUser(context.Background(), e.user.ID); err != nil || u.Picture != pic || u.Name != "Alice B" {
			t.Errorf("stored %+v (%v)", u, err)
		}
	})
}
