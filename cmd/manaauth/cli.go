package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/manacore/mana-core-auth/internal/app"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/oidc"
)

// multiFlag collects a repeatable flag (--redirect-uri a --redirect-uri b).
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*m = append(*m, p)
		}
	}
	return nil
}

func newSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func cmdUsers(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "set-role" {
		return usersSetRole(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "usage: manaauth users create --email E --password P [--name N] [--admin] [--verified]")
		fmt.Fprintln(stderr, "       manaauth users set-role ID admin|user")
		return errUsage
	}
	fs := flag.NewFlagSet("users create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "email address (required)")
	password := fs.String("password", "", "password, 8 to 128 characters (required)")
	name := fs.String("name", "", "display name")
	admin := fs.Bool("admin", false, "give the user the admin role")
	verified := fs.Bool("verified", false, "mark the email as verified")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	// The same rules as registration, so no account exists that the
	// pages would have refused.
	var problems []string
	if !account.ValidNewEmail(account.NormalizeEmail(*email)) {
		problems = append(problems, fmt.Sprintf("--email %q is not an email address", *email))
	}
	if !account.CheckPassword(*password) {
		problems = append(problems, "--password must be 8 to 128 characters")
	}
	if !account.ValidName(strings.TrimSpace(*name)) {
		problems = append(problems, "--name must be at most 255 characters of plain text, without links")
	}
	if len(problems) > 0 {
		return app.ProblemsError(problems)
	}
	t, err := openTool(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	hash, err := t.hasher().Hash(ctx, *password)
	if err != nil {
		return err
	}
	role := provider.RoleUser
	if *admin {
		role = provider.RoleAdmin
	}
	now := time.Now().UTC()
	u := &provider.User{ID: account.NewID(), Email: account.NormalizeEmail(*email), EmailVerified: *verified,
		Name: strings.TrimSpace(*name), Role: role, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := t.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, provider.ErrAlreadyExists) {
			return fmt.Errorf("a user with email %s already exists", u.Email)
		}
		return err
	}
	fmt.Fprintf(stdout, "user created\n  id:    %s\n  email: %s\n  role:  %s\n", u.ID, u.Email, u.Role)
	return nil
}

// usersSetRole makes a user an admin or takes the role away (issue 11
// part A): the way to name the first admin, or a new one when the last
// admin is gone, without the admin API.
func usersSetRole(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) != 2 || (args[1] != provider.RoleAdmin && args[1] != provider.RoleUser) {
		fmt.Fprintln(stderr, "usage: manaauth users set-role ID admin|user")
		return errUsage
	}
	id, role := args[0], args[1]
	t, err := openTool(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	u, err := t.store.GetUser(ctx, id)
	if errors.Is(err, provider.ErrNotFound) || err == nil && u.DeletedAt != nil {
		return fmt.Errorf("no user with id %q", id)
	}
	if err != nil {
		return err
	}
	u.Role, u.UpdatedAt = role, time.Now().UTC()
	if err := t.store.UpdateUser(ctx, u); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user %s (%s) now has the role %s\n", u.ID, u.Email, role)
	return nil
}

func cmdClients(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const usage = "usage: manaauth clients create|list|delete"
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "create":
		return clientsCreate(ctx, args[1:], getenv, stdout, stderr)
	case "list":
		t, err := openTool(ctx, getenv, stderr)
		if err != nil {
			return err
		}
		defer t.Close()
		cs, err := t.store.ListClients(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tTYPE\tTRUSTED\tGRANTS\tREDIRECT URIS")
		for _, c := range cs {
			typ := "confidential"
			if c.Public {
				typ = "public"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\n", c.ID, c.Name, typ, c.Trusted, strings.Join(c.GrantTypes, ","), strings.Join(c.RedirectURIs, " "))
		}
		return tw.Flush()
	case "delete":
		if len(args) != 2 {
			fmt.Fprintln(stderr, "usage: manaauth clients delete ID")
			return errUsage
		}
		t, err := openTool(ctx, getenv, stderr)
		if err != nil {
			return err
		}
		defer t.Close()
		if err := t.store.DeleteClient(ctx, args[1]); err != nil {
			if errors.Is(err, provider.ErrNotFound) {
				return fmt.Errorf("no client with id %q", args[1])
			}
			return err
		}
		fmt.Fprintf(stdout, "client %s deleted\n", args[1])
		return nil
	default:
		fmt.Fprintln(stderr, usage)
		return errUsage
	}
}

func clientsCreate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("clients create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.String("id", "", "client id (required)")
	secret := fs.String("secret", "", "client secret (generated when omitted for a confidential client)")
	public := fs.Bool("public", false, "public client (no secret, PKCE required)")
	var redirects, postLogout multiFlag
	fs.Var(&redirects, "redirect-uri", "redirect URI (repeatable)")
	fs.Var(&postLogout, "post-logout-redirect-uri", "post-logout redirect URI (repeatable)")
	grants := fs.String("grant-types", provider.GrantAuthorizationCode+","+provider.GrantRefreshToken,
		"comma-separated grant types: "+strings.Join(provider.GrantTypes(), ", "))
	scopes := fs.String("scopes", "openid profile email offline_access", "space-separated scopes the client may request")
	trusted := fs.Bool("trusted", false, "first-party client: skip the consent page")
	name := fs.String("name", "", "display name shown on the login and consent pages")
	backchannel := fs.String("backchannel-logout-uri", "", "back-channel logout URI")
	alg := fs.String("id-token-alg", provider.AlgEdDSA, "ID token algorithm: EdDSA or RS256")
	logo := fs.String("logo-uri", "", "https URL of the client's logo")
	audience := fs.String("audience", "", "comma-separated extra audiences the client may request")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	c := &provider.Client{ID: strings.TrimSpace(*id), Name: *name, Public: *public, RedirectURIs: redirects,
		PostLogoutRedirectURIs: postLogout, Trusted: *trusted, BackchannelLogoutURI: *backchannel,
		IDTokenAlg: *alg, LogoURI: *logo, ResponseTypes: []string{"code"}, CreatedAt: time.Now().UTC()}
	for _, g := range strings.Split(*grants, ",") {
		if g = strings.TrimSpace(g); g != "" {
			c.GrantTypes = append(c.GrantTypes, g)
		}
	}
	c.Scopes = strings.Fields(*scopes)
	for _, a := range strings.Split(*audience, ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.Audience = append(c.Audience, a)
		}
	}
	var problems []string
	plain := ""
	switch {
	case c.Public && *secret != "":
		problems = append(problems, "--secret and --public exclude each other")
	case !c.Public && *secret != "":
		if err := provider.ValidateClientSecret(*secret); err != nil {
			problems = append(problems, err.Error())
		}
		plain = *secret
	case !c.Public:
		plain = newSecret()
	}
	if plain != "" {
		c.SecretHash = oidc.HashSecret(plain)
	}
	var cp provider.ClientProblems
	if err := c.Validate(); errors.As(err, &cp) {
		problems = append(problems, cp...)
	}
	if len(problems) > 0 {
		return app.ProblemsError(problems)
	}
	t, err := openTool(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	if err := t.store.CreateClient(ctx, c); err != nil {
		if errors.Is(err, provider.ErrAlreadyExists) {
			return fmt.Errorf("a client with id %q already exists", c.ID)
		}
		return err
	}
	fmt.Fprintf(stdout, "client created\n  client_id:     %s\n", c.ID)
	if plain != "" {
		fmt.Fprintf(stdout, "  client_secret: %s\n", plain)
	}
	return nil
}

func cmdKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "rotate") {
		fmt.Fprintln(stderr, "usage: manaauth keys list | keys rotate [--alg EdDSA|RS256|all] [--delay 1h]")
		return errUsage
	}
	fs := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	alg := fs.String("alg", "all", "algorithm to rotate: EdDSA, RS256 or all")
	delay := fs.Duration("delay", -1, "how long the new key is published before it signs (default KEY_ROTATION_DELAY, 1h)")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	t, err := openTool(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	ring, err := t.ring(ctx, "keys "+args[0])
	if err != nil {
		return err
	}
	if args[0] == "rotate" {
		d := *delay
		if d < 0 {
			d = t.cfg.KeyRotationDelay
		}
		algs := []string{provider.AlgEdDSA, provider.AlgRS256}
		switch *alg {
		case "all":
		case provider.AlgEdDSA, provider.AlgRS256:
			algs = []string{*alg}
		default:
			return fmt.Errorf("--alg must be EdDSA, RS256 or all")
		}
		for _, al := range algs {
			k, err := ring.Rotate(ctx, al, d)
			if err != nil {
				return fmt.Errorf("rotate %s key: %w", al, err)
			}
			fmt.Fprintf(stdout, "new %s key %s published; signs from %s\n", al, k.ID, k.ActiveAt.UTC().Format(time.RFC3339))
		}
		// issue 13 (replicas): running servers reload now, not at their
		// next periodic reload.
		if err := app.NotifyReplicas(ctx, t.cfg.RedisURL); err != nil {
			fmt.Fprintf(stderr, "warning: %v (servers pick the new keys up within seconds anyway)\n", err)
		}
	}
	// issue 14 (keys import): keys imported from the old service have no
	// private half; they are listed as such, never as signing or next, and
	// without a "signs from" time of ours.
	ks, err := ring.KeyInfos(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tSIGNS FROM\tRETIRED\tUNPUBLISHED")
	for _, k := range ks {
		state, signsFrom := keyState(k.Key, now), fmtTime(&k.ActiveAt)
		if k.Imported {
			signsFrom = "-"
			if state != "expired" {
				state = "imported, verifies only (published)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Alg, state, fmtTime(&k.CreatedAt), signsFrom, fmtTime(k.RetiredAt), fmtTime(k.ExpiresAt))
	}
	// end issue 14 (keys import)
	return tw.Flush()
}

func keyState(k *provider.Key, now time.Time) string {
	switch {
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return "expired"
	case k.RetiredAt != nil && !now.Before(*k.RetiredAt):
		return "retired (published)"
	case now.Before(k.ActiveAt):
		return "next (published)"
	default:
		return "signing"
	}
}

func fmtTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
