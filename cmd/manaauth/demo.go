package main

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"time"

	creditsapi "github.com/manacore/mana-core-auth/credits/api"
	"github.com/manacore/mana-core-auth/internal/app"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/oidc"
)

const (
	demoClientID    = "demo-app"
	demoRedirectURI = "http://localhost:8080/callback"
	demoEmail       = "demo@mana.how"
)

// demoSecret derives the demo credentials from SECRET_KEY, so every
// `make run` can print them again although only their hashes are stored,
// and no two installations share them.
func demoSecret(secret []byte, purpose string, n int) string {
	b, err := hkdf.Key(sha256.New, secret, nil, "manaauth/demo/"+purpose, n)
	if err != nil {
		panic(err) // only fails for absurd lengths
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// ensureDemo creates the demo client and user on an empty database (no
// users, no clients but the built-in first-party one) and prints their
// credentials while they still have the derived values. It returns the
// demo app to serve at /demo (nil when the demo client is gone or its
// secret was changed), which dials the provider at addr.
func ensureDemo(ctx context.Context, a *app.App, addr net.Addr, stdout io.Writer) (http.Handler, error) {
	clientSecret := demoSecret(a.Config.SecretKey, "client", 24)
	password := demoSecret(a.Config.SecretKey, "password", 9)

	users, err := a.Store.CountUsers(ctx)
	if err != nil {
		return nil, err
	}
	clients, err := a.Store.ListClients(ctx)
	if err != nil {
		return nil, err
	}
	clients = slices.DeleteFunc(clients, func(c *provider.Client) bool { return oidc.BuiltIn(c.ID) })
	now := time.Now().UTC()
	if users == 0 && len(clients) == 0 {
		hash, err := a.Hasher.Hash(ctx, password)
		if err != nil {
			return nil, err
		}
		if err := a.Store.CreateUser(ctx, &provider.User{
			ID: account.NewID(), Email: demoEmail, EmailVerified: true, Name: "Demo User",
			Role: provider.RoleUser, PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
		}); err != nil {
			return nil, err
		}
		if err := a.Store.CreateClient(ctx, &provider.Client{
			ID: demoClientID, Name: "Demo App", SecretHash: oidc.HashSecret(clientSecret),
			RedirectURIs:           []string{demoRedirectURI},
			PostLogoutRedirectURIs: []string{"http://localhost:8080/"},
			GrantTypes:             []string{"authorization_code", "refresh_token", "client_credentials"},
			Scopes:                 []string{"openid", "profile", "email", "offline_access", creditsapi.ScopeRead},
			Trusted:                true, IDTokenAlg: provider.AlgEdDSA, CreatedAt: now,
		}); err != nil {
			return nil, err
		}
	}
	c, err := a.Store.GetClient(ctx, demoClientID)
	if err != nil {
		if errors.Is(err, provider.ErrNotFound) {
			return nil, nil // not a demo installation
		}
		return nil, err
	}
	u, err := a.Store.GetUserByEmail(ctx, demoEmail)
	if err != nil {
		if errors.Is(err, provider.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	// The demo app is served only while the demo client still has the
	// derived secret, and its callback follows the issuer (PORT).
	var demo http.Handler
	appURL := a.Config.BaseURL + demoAppPath
	if c.SecretHash == oidc.HashSecret(clientSecret) {
		ok, err := allowDemoApp(ctx, a, c)
		if err != nil {
			return nil, err
		}
		if ok {
			// A demo client made before the app existed may lack
			// credits:read (scopes cannot be changed): the page says so.
			scopes := []string{"openid", "profile", "email"}
			if slices.Contains(c.Scopes, creditsapi.ScopeRead) {
				scopes = append(scopes, creditsapi.ScopeRead)
			}
			demo = newDemoApp(a.Config.BaseURL, demoClientID, clientSecret, scopes, dialListener(a.Config.BaseURL, addr))
		}
	}
	fmt.Fprintln(stdout, "")
	fmt.Fprintln(stdout, "  Demo client (development only)")
	fmt.Fprintf(stdout, "    client_id:     %s\n", c.ID)
	if c.SecretHash == oidc.HashSecret(clientSecret) {
		fmt.Fprintf(stdout, "    client_secret: %s\n", clientSecret)
	}
	fmt.Fprintf(stdout, "    redirect_uri:  %s\n", demoRedirectURI)
	fmt.Fprintf(stdout, "    discovery:     %s/.well-known/openid-configuration\n", a.Config.BaseURL)
	fmt.Fprintln(stdout, "  Demo user")
	fmt.Fprintf(stdout, "    email:         %s\n", u.Email)
	if a.Hasher.Verify(ctx, u.PasswordHash, password) == nil {
		fmt.Fprintf(stdout, "    password:      %s\n", password)
	}
	if demo != nil {
		fmt.Fprintln(stdout, "  Demo app (sign in there as the demo user)")
		fmt.Fprintf(stdout, "    open:          %s\n", appURL)
	}
	fmt.Fprintln(stdout, "")
	return demo, nil
}

// allowDemoApp registers the demo app's callback and return address with
// the demo client, for installations made before it existed or on another
// port. An issuer the client rules refuse (http on a host other than
// localhost) gets no demo app.
func allowDemoApp(ctx context.Context, a *app.App, c *provider.Client) (bool, error) {
	base := a.Config.BaseURL
	cb, back := base+demoAppPath+"/callback", base+demoAppPath
	if slices.Contains(c.RedirectURIs, cb) && slices.Contains(c.PostLogoutRedirectURIs, back) {
		return true, nil
	}
	up := *c
	up.RedirectURIs = appendMissing(slices.Clone(c.RedirectURIs), cb)
	up.PostLogoutRedirectURIs = appendMissing(slices.Clone(c.PostLogoutRedirectURIs), back)
	if err := up.Validate(); err != nil {
		return false, nil
	}
	if err := a.Store.UpdateClient(ctx, &up); err != nil {
		return false, fmt.Errorf("register the demo app's callback: %w", err)
	}
	return true, nil
}

func appendMissing(list []string, v string) []string {
	if slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}
