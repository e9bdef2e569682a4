package betterauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/oidc"
)

// SynapseClientID is the client the old service registered in code for
// the Matrix homeserver (trusted, no consent).
const SynapseClientID = "matrix-synapse"

// oldClient is a row of auth.oauth_applications.
type oldClient struct {
	id                                           string
	clientID, name, icon, metadata, secret, urls *string
	typ                                          *string
	disabled                                     *bool
	created                                      *time.Time
}

// importClients copies auth.oauth_applications. The old secrets were kept
// in plain text; ours are stored as SHA-256, so each is hashed here and
// every relying party keeps its secret. matrix-synapse lived in the old
// code, not in this table: it is created from its secret in the
// environment.
func (im *importer) importClients(ctx context.Context) error {
	rows, err := im.old.Query(ctx, `SELECT id, client_id, name, icon, metadata, client_secret, redirect_urls,
		type, disabled, created_at FROM auth.oauth_applications ORDER BY created_at, id`)
	if err != nil {
		return fmt.Errorf("read auth.oauth_applications: %w", err)
	}
	var clients []*provider.Client
	for rows.Next() {
		var o oldClient
		if err := rows.Scan(&o.id, &o.clientID, &o.name, &o.icon, &o.metadata, &o.secret, &o.urls, &o.typ, &o.disabled, &o.created); err != nil {
			rows.Close()
			return fmt.Errorf("read auth.oauth_applications: %w", err)
		}
		if c := im.client(o); c != nil {
			clients = append(clients, c)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read auth.oauth_applications: %w", err)
	}
	if !hasClient(clients, SynapseClientID) {
		if im.opts.SynapseSecret == "" {
			im.report.Skip(KindClients, SynapseClientID+": no secret given (SYNAPSE_OIDC_CLIENT_SECRET / --synapse-secret)")
		} else {
			clients = append(clients, im.validClient(SynapseClientID, &provider.Client{
				ID: SynapseClientID, Name: "Matrix", SecretHash: oidc.HashSecret(im.opts.SynapseSecret),
				RedirectURIs: []string{im.opts.SynapseRedirect}, Trusted: true, CreatedAt: im.now,
			}))
		}
	}
	for _, c := range clients {
		if c == nil {
			continue
		}
		switch _, err := im.to.Store.GetClient(ctx, c.ID); {
		case err == nil:
			im.report.Existing(KindClients, 1)
			continue
		case !errors.Is(err, provider.ErrNotFound):
			return fmt.Errorf("look up client %q: %w", c.ID, err)
		}
		if err := im.to.Store.CreateClient(ctx, c); err != nil {
			return fmt.Errorf("create client %q: %w", c.ID, err)
		}
		im.report.Imported(KindClients, 1)
	}
	return nil
}

func hasClient(cs []*provider.Client, id string) bool {
	for _, c := range cs {
		if c != nil && c.ID == id {
			return true
		}
	}
	return false
}

// client maps one old application, or returns nil (reported).
func (im *importer) client(o oldClient) *provider.Client {
	if o.clientID == nil || *o.clientID == "" {
		im.report.Reject(KindClients, o.id, "no client_id")
		return nil
	}
	id := *o.clientID
	if oidc.BuiltIn(id) {
		im.report.Reject(KindClients, id, "client id is reserved here for a built-in client")
		return nil
	}
	c := &provider.Client{ID: id, Name: deref(o.name), Disabled: o.disabled != nil && *o.disabled, CreatedAt: im.now}
	if o.created != nil {
		c.CreatedAt = o.created.UTC()
	}
	// Better Auth's types: "web" has a secret; "native" and
	// "user-agent-based" apps are public and prove themselves with PKCE.
	switch t := deref(o.typ); t {
	case "", "web":
		if deref(o.secret) == "" {
			im.report.Reject(KindClients, id, "web client without a secret")
			return nil
		}
		c.SecretHash = oidc.HashSecret(*o.secret)
	case "native", "user-agent-based", "public":
		c.Public = true
	default:
		im.report.Reject(KindClients, id, fmt.Sprintf("unknown client type %q", t))
		return nil
	}
	for _, u := range strings.Split(deref(o.urls), ",") {
		if u = strings.TrimSpace(u); u != "" {
			c.RedirectURIs = append(c.RedirectURIs, u)
		}
	}
	if icon := deref(o.icon); strings.HasPrefix(icon, "https://") {
		c.LogoURI = icon
	}
	// The old metadata said {"trusted": true, "skipConsent": true}, which
	// Better Auth ignored; it is what the operator meant.
	var meta struct {
		Trusted     bool `json:"trusted"`
		SkipConsent bool `json:"skipConsent"`
	}
	if m := deref(o.metadata); m != "" {
		if err := json.Unmarshal([]byte(m), &meta); err != nil {
			im.report.Change(KindClients, id, "metadata is not JSON: imported as not trusted")
		}
	}
	c.Trusted = meta.Trusted || meta.SkipConsent || id == SynapseClientID
	return im.validClient(id, c)
}

// validClient completes c with what the old provider allowed every client
// (code flow with refresh, the four scopes it knew) and validates it.
func (im *importer) validClient(id string, c *provider.Client) *provider.Client {
	c.GrantTypes = []string{provider.GrantAuthorizationCode, provider.GrantRefreshToken}
	c.ResponseTypes = []string{"code"}
	c.Scopes = []string{"openid", "profile", "email", "offline_access"}
	c.IDTokenAlg = provider.AlgEdDSA
	if err := c.Validate(); err != nil {
		im.report.Reject(KindClients, id, err.Error())
		return nil
	}
	return c
}
