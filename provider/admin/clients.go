package admin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/oidc"
)

// Security events of client administration; the detail names the client.
const (
	EventClientCreated = "admin_client_created"
	EventClientUpdated = "admin_client_updated"
	EventClientDeleted = "admin_client_deleted"
)

var (
	ErrClientExists  = errors.New("client id already taken")
	ErrBuiltInClient = errors.New("built-in client cannot be changed")
)

// ClientCache is the provider's in-memory client cache, told about every
// change so this process never serves a stale client.
type ClientCache interface {
	ForgetClient(id string)
}

// ClientView is a registered client as the admin sees it (never its secret).
type ClientView struct {
	ID                     string    `json:"id"`
	Name                   string    `json:"name"`
	Public                 bool      `json:"public"`
	Trusted                bool      `json:"trusted"`
	Disabled               bool      `json:"disabled"`
	BuiltIn                bool      `json:"builtIn"`
	RedirectURIs           []string  `json:"redirectUris"`
	PostLogoutRedirectURIs []string  `json:"postLogoutRedirectUris"`
	GrantTypes             []string  `json:"grantTypes"`
	Scopes                 []string  `json:"scopes"`
	LogoURI                string    `json:"logoUri,omitempty"`
	BackchannelLogoutURI   string    `json:"backchannelLogoutUri,omitempty"`
	CreatedAt              time.Time `json:"createdAt"`
}

// ClientInput registers a client, as `manaauth clients create` does.
type ClientInput struct {
	ID, Name               string
	Public, Trusted        bool
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes, Scopes     []string // empty = the CLI's defaults
	LogoURI                string
	BackchannelLogoutURI   string
}

// ClientPatch changes a client; nil leaves a field unchanged.
type ClientPatch struct {
	Name                   *string
	RedirectURIs           *[]string
	PostLogoutRedirectURIs *[]string
	Disabled               *bool
}

// The CLI's defaults for a new client.
var (
	defaultGrantTypes = []string{provider.GrantAuthorizationCode, provider.GrantRefreshToken}
	defaultScopes     = []string{"openid", "profile", "email", "offline_access"}
)

func clientView(c *provider.Client) ClientView {
	orEmpty := func(l []string) []string {
		if l == nil {
			return []string{}
		}
		return l
	}
	return ClientView{ID: c.ID, Name: c.Name, Public: c.Public, Trusted: c.Trusted, Disabled: c.Disabled,
		BuiltIn: oidc.BuiltIn(c.ID), RedirectURIs: orEmpty(c.RedirectURIs), PostLogoutRedirectURIs: orEmpty(c.PostLogoutRedirectURIs),
		GrantTypes: orEmpty(c.GrantTypes), Scopes: orEmpty(c.Scopes), LogoURI: c.LogoURI,
		BackchannelLogoutURI: c.BackchannelLogoutURI, CreatedAt: c.CreatedAt}
}

// ListClients returns every registered client ordered by id.
func (s *Service) ListClients(ctx context.Context, actor Actor) ([]ClientView, error) {
	cs, err := s.deps.Store.ListClients(ctx)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	out := make([]ClientView, 0, len(cs))
	for _, c := range cs {
		out = append(out, clientView(c))
	}
	return out, nil
}

// CreateClient registers a client with the CLI's defaults and validation
// (provider.Client.Validate) and returns the generated secret once (empty
// for public clients); only its hash is stored.
func (s *Service) CreateClient(ctx context.Context, actor Actor, in ClientInput) (*ClientView, string, error) {
	id := strings.TrimSpace(in.ID)
	if oidc.BuiltIn(id) {
		return nil, "", ErrBuiltInClient
	}
	c := &provider.Client{ID: id, Name: strings.TrimSpace(in.Name), Public: in.Public, Trusted: in.Trusted,
		RedirectURIs: in.RedirectURIs, PostLogoutRedirectURIs: in.PostLogoutRedirectURIs, GrantTypes: in.GrantTypes,
		Scopes: in.Scopes, ResponseTypes: []string{"code"}, LogoURI: in.LogoURI, BackchannelLogoutURI: in.BackchannelLogoutURI,
		IDTokenAlg: provider.AlgEdDSA, CreatedAt: s.cfg.Now().UTC()}
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = slices.Clone(defaultGrantTypes)
	}
	if len(c.Scopes) == 0 {
		c.Scopes = slices.Clone(defaultScopes)
	}
	secret := ""
	if !c.Public {
		secret = newClientSecret()
		c.SecretHash = oidc.HashSecret(secret)
	}
	if err := validateClient(c); err != nil {
		return nil, "", err
	}
	if err := s.deps.Store.CreateClient(ctx, c); err != nil {
		if errors.Is(err, provider.ErrAlreadyExists) {
			return nil, "", ErrClientExists
		}
		return nil, "", fmt.Errorf("create client %q: %w", c.ID, err)
	}
	s.forgetClient(c.ID)
	s.recordDetail(ctx, actor, EventClientCreated, map[string]string{"client": c.ID})
	v := clientView(c)
	return &v, secret, nil
}

// UpdateClient changes name, redirect URIs, post-logout URIs and status.
// A disabled client is an unknown one to the provider at once.
func (s *Service) UpdateClient(ctx context.Context, actor Actor, id string, p ClientPatch) (*ClientView, error) {
	if oidc.BuiltIn(id) {
		return nil, ErrBuiltInClient
	}
	c, err := s.client(ctx, id)
	if err != nil {
		return nil, err
	}
	var changed []string
	if p.Name != nil {
		c.Name, changed = strings.TrimSpace(*p.Name), append(changed, "name")
	}
	if p.RedirectURIs != nil {
		c.RedirectURIs, changed = *p.RedirectURIs, append(changed, "redirectUris")
	}
	if p.PostLogoutRedirectURIs != nil {
		c.PostLogoutRedirectURIs, changed = *p.PostLogoutRedirectURIs, append(changed, "postLogoutRedirectUris")
	}
	if p.Disabled != nil {
		c.Disabled, changed = *p.Disabled, append(changed, "disabled")
	}
	if err := validateClient(c); err != nil {
		return nil, err
	}
	if len(changed) > 0 {
		if err := s.deps.Store.UpdateClient(ctx, c); err != nil {
			return nil, fmt.Errorf("update client %q: %w", id, err)
		}
		s.forgetClient(id)
		s.recordDetail(ctx, actor, EventClientUpdated, map[string]string{"client": id, "fields": strings.Join(changed, ",")})
	}
	v := clientView(c)
	return &v, nil
}

// DeleteClient removes the client with its grants and consents.
func (s *Service) DeleteClient(ctx context.Context, actor Actor, id string) error {
	if oidc.BuiltIn(id) {
		return ErrBuiltInClient
	}
	if id == "" || !provider.CleanText(id) {
		return provider.ErrNotFound
	}
	if err := s.deps.Store.DeleteClient(ctx, id); err != nil {
		return fmt.Errorf("delete client %q: %w", id, err)
	}
	s.forgetClient(id)
	s.recordDetail(ctx, actor, EventClientDeleted, map[string]string{"client": id})
	return nil
}

func (s *Service) client(ctx context.Context, id string) (*provider.Client, error) {
	if id == "" || !provider.CleanText(id) {
		return nil, provider.ErrNotFound
	}
	c, err := s.deps.Store.GetClient(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("load client %q: %w", id, err)
	}
	return c, nil
}

func (s *Service) forgetClient(id string) {
	if s.deps.Clients != nil {
		s.deps.Clients.ForgetClient(id)
	}
}

// validateClient runs the one client validation and names its problems
// by the API's (camelCase) field names: "redirect_uris: ..." becomes
// field "redirectUris" with the message.
func validateClient(c *provider.Client) error {
	var cp provider.ClientProblems
	if err := c.Validate(); !errors.As(err, &cp) {
		return err
	}
	fields := map[string]string{}
	for _, p := range cp {
		name, msg, ok := strings.Cut(p, ": ")
		if !ok {
			name, msg = "client", p
		}
		name = camelCase(name)
		if prev, dup := fields[name]; dup {
			msg = prev + "; " + msg
		}
		fields[name] = msg
	}
	return &ValidationError{Fields: fields}
}

func camelCase(snake string) string {
	parts := strings.Split(snake, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

func newClientSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
