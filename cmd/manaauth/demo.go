package main

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

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
// credentials while they still have the derived values.
func ensureDemo(ctx context.Context, a *app.App, stdout io.Writer) error {
	clientSecret := demoSecret(a.Config.SecretKey, "client", 24)
	password := demoSecret(a.Config.SecretKey, "password", 9)

	users, err := a.Store.CountUsers(ctx)
	if err != nil {
		return err
	}
	clients, err := a.Store.ListClients(ctx)
	if err != nil {
		return err
	}
	clients = slices.DeleteFunc(clients, func(c *provider.Client) bool { return oidc.BuiltIn(c.ID) })
	now := time.Now().UTC()
	if users == 0 && len(clients) == 0 {
		hash, err := a.Hasher.Hash(ctx, password)
		if err != nil {
			return err
		}
		if err := a.Store.CreateUser(ctx, &provider.User{
			ID: account.NewID(), Email: demoEmail, EmailVerified: true, Name: "Demo User",
			Role: provider.RoleUser, PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
		}); err != nil {
			return err
		}
		if err := a.Store.CreateClient(ctx, &provider.Client{
			ID: demoClientID, Name: "Demo App", SecretHash: oidc.HashSecret(clientSecret),
			RedirectURIs:           []string{demoRedirectURI},
			PostLogoutRedirectURIs: []string{"http://localhost:8080/"},
			GrantTypes:             []string{"authorization_code", "refresh_token", "client_credentials"},
			Scopes:                 []string{"openid", "profile", "email", "offline_access"},
			Trusted:                true, IDTokenAlg: provider.AlgEdDSA, CreatedAt: now,
		}); err != nil {
			return err
		}
	}
	c, err := a.Store.GetClient(ctx, demoClientID)
	if err != nil {
		if errors.Is(err, provider.ErrNotFound) {
			return nil // not a demo installation
		}
		return err
	}
	u, err := a.Store.GetUserByEmail(ctx, demoEmail)
	if err != nil {
		if errors.Is(err, provider.ErrNotFound) {
			return nil
		}
		return err
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
	fmt.Fprintln(stdout, "")
	return nil
}
