package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	fstorage "github.com/ory/fosite/storage"

	"github.com/manacore/mana-core-auth/provider"
)

// errRotatedInGrace marks a refresh token that was rotated moments ago: the
// token endpoint answers such a retry with the cached successor instead of
// treating it as reuse.
var errRotatedInGrace = errors.New("refresh token rotated within the grace window")

// storage adapts provider.Store to the storage interfaces of the fosite
// handlers we compose.
type storage struct {
	store   provider.Store
	clients *clientCache
	grace   time.Duration
	now     func() time.Time
	// decoded spares access-token lookups the JSON decoding (decoded.go).
	decoded decodedGrants
	// rev and active answer repeated access-token checks from memory
	// within one revocation epoch and activeTTL (revocations.go); rev nil
	// turns that off.
	rev    *Revocations
	active activeGrants
}

var (
	_ fosite.ClientManager               = (*storage)(nil)
	_ oauth2.CoreStorage                 = (*storage)(nil)
	_ oauth2.TokenRevocationStorage      = (*storage)(nil)
	_ openid.OpenIDConnectRequestStorage = (*storage)(nil)
	_ pkce.PKCERequestStorage            = (*storage)(nil)
	_ fstorage.Transactional             = (*storage)(nil)
)

// storedRequest is the JSON form of a fosite requester. The client is not
// stored: it is re-read on restore so a deleted or changed client takes
// effect on its existing grants.
type storedRequest struct {
	ID                string          `json:"id"`
	RequestedAt       time.Time       `json:"requested_at"`
	ClientID          string          `json:"client_id"`
	RequestedScope    []string        `json:"requested_scope"`
	GrantedScope      []string        `json:"granted_scope"`
	RequestedAudience []string        `json:"requested_audience,omitempty"`
	GrantedAudience   []string        `json:"granted_audience,omitempty"`
	Form              url.Values      `json:"form,omitempty"`
	Session           json.RawMessage `json:"session"`
}

// secretFormFields never reach the database.
var secretFormFields = []string{"client_secret", "client_assertion", "password", "code_verifier", "refresh_token", "code"}

func (s *storage) encode(r fosite.Requester) (*provider.Grant, error) {
	form := url.Values{}
	for k, v := range r.GetRequestForm() {
		form[k] = append([]string(nil), v...)
	}
	for _, k := range secretFormFields {
		delete(form, k)
	}
	sess, _ := r.GetSession().(*Session)
	if sess == nil {
		return nil, fmt.Errorf("encode request: unexpected session type %T", r.GetSession())
	}
	sessJSON, err := json.Marshal(sess)
	if err != nil {
		return nil, fmt.Errorf("encode session: %w", err)
	}
	data, err := json.Marshal(storedRequest{
		ID:                r.GetID(),
		RequestedAt:       r.GetRequestedAt(),
		ClientID:          r.GetClient().GetID(),
		RequestedScope:    r.GetRequestedScopes(),
		GrantedScope:      r.GetGrantedScopes(),
		RequestedAudience: r.GetRequestedAudience(),
		GrantedAudience:   r.GetGrantedAudience(),
		Form:              form,
		Session:           sessJSON,
	})
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return &provider.Grant{
		RequestID:   r.GetID(),
		ClientID:    r.GetClient().GetID(),
		Subject:     sess.Subject,
		SessionID:   sess.SessionID,
		Active:      true,
		RequestedAt: r.GetRequestedAt(),
		Data:        data,
	}, nil
}

func (s *storage) decode(ctx context.Context, g *provider.Grant, proto fosite.Session) (*fosite.Request, error) {
	var sr storedRequest
	if err := json.Unmarshal(g.Data, &sr); err != nil {
		return nil, fmt.Errorf("decode grant %s: %w", g.Kind, err)
	}
	client, err := s.GetClient(ctx, sr.ClientID)
	if err != nil {
		return nil, err
	}
	sess, _ := proto.(*Session)
	if sess == nil {
		sess = NewSession()
	}
	if err := json.Unmarshal(sr.Session, sess); err != nil {
		return nil, fmt.Errorf("decode grant session: %w", err)
	}
	if sr.Form == nil {
		sr.Form = url.Values{}
	}
	return &fosite.Request{
		ID:                sr.ID,
		RequestedAt:       sr.RequestedAt,
		Client:            client,
		RequestedScope:    sr.RequestedScope,
		GrantedScope:      sr.GrantedScope,
		RequestedAudience: sr.RequestedAudience,
		GrantedAudience:   sr.GrantedAudience,
		Form:              sr.Form,
		Session:           sess,
	}, nil
}

func (s *storage) create(ctx context.Context, kind, signature string, r fosite.Requester, expires time.Time, paired ...string) error {
	g, err := s.encode(r)
	if err != nil {
		return err
	}
	g.Kind, g.Signature = kind, signature
	if len(paired) > 0 {
		g.PairedSignature = paired[0]
	}
	g.ExpiresAt = expires
	if g.ExpiresAt.IsZero() {
		g.ExpiresAt = s.now().Add(24 * time.Hour)
	}
	if err := s.store.CreateGrant(ctx, g); err != nil {
		return mapErr(ctx, err)
	}
	return nil
}

func (s *storage) get(ctx context.Context, kind, signature string, proto fosite.Session) (*provider.Grant, fosite.Requester, error) {
	if !provider.CleanText(signature) {
		// No grant has such a key, and PostgreSQL would refuse to even
		// look (invalid UTF-8, NUL), which must not read as an outage.
		return nil, nil, fosite.ErrNotFound
	}
	g, err := s.store.GetGrant(ctx, kind, signature)
	if err != nil {
		return nil, nil, mapErr(ctx, err)
	}
	var r *fosite.Request
	if kind == provider.KindAccessToken {
		r, err = s.decodeAccess(ctx, g, proto)
	} else {
		r, err = s.decode(ctx, g, proto)
	}
	if err != nil {
		return g, nil, err
	}
	return g, r, nil
}

// mapErr turns a store error into what fosite expects, and notes any
// that is not a definitive answer for the request's fault record.
func mapErr(ctx context.Context, err error) error {
	noteFault(ctx, err)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, provider.ErrNotFound):
		return fosite.ErrNotFound.WithWrap(err)
	case errors.Is(err, provider.ErrConflict):
		return fosite.ErrSerializationFailure.WithWrap(err)
	default:
		return err
	}
}

// --- fosite.ClientManager ---

func (s *storage) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := s.clients.get(ctx, id)
	if err != nil {
		return nil, mapErr(ctx, err)
	}
	return c, nil
}

func (s *storage) ClientAssertionJWTValid(context.Context, string) error { return nil }

func (s *storage) SetClientAssertionJWT(context.Context, string, time.Time) error { return nil }

// --- authorization codes ---

func (s *storage) CreateAuthorizeCodeSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, provider.KindAuthorizeCode, signature, r, r.GetSession().GetExpiresAt(fosite.AuthorizeCode))
}

func (s *storage) GetAuthorizeCodeSession(ctx context.Context, signature string, proto fosite.Session) (fosite.Requester, error) {
	g, r, err := s.get(ctx, provider.KindAuthorizeCode, signature, proto)
	if err != nil {
		return nil, err
	}
	if !g.Active {
		// Returning the request lets fosite revoke the tokens issued for it.
		return r, fosite.ErrInvalidatedAuthorizeCode
	}
	return r, nil
}

func (s *storage) InvalidateAuthorizeCodeSession(ctx context.Context, signature string) error {
	return mapErr(ctx, s.store.DeactivateGrant(ctx, provider.KindAuthorizeCode, signature))
}

// --- access tokens ---

func (s *storage) CreateAccessTokenSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, provider.KindAccessToken, signature, r, r.GetSession().GetExpiresAt(fosite.AccessToken))
}

func (s *storage) GetAccessTokenSession(ctx context.Context, signature string, proto fosite.Session) (fosite.Requester, error) {
	if s.rev != nil && provider.CleanText(signature) {
		return s.getAccessCached(ctx, signature, proto)
	}
	g, r, err := s.get(ctx, provider.KindAccessToken, signature, proto)
	if err != nil {
		return nil, err
	}
	if !g.Active {
		return r, fosite.ErrInactiveToken
	}
	return r, nil
}

// getAccessCached is GetAccessTokenSession through the active-grant cache.
// The mark is taken before the row is read: a revocation that commits
// after the read is recorded after the mark, so what was read is never
// used past that revocation.
func (s *storage) getAccessCached(ctx context.Context, signature string, proto fosite.Session) (fosite.Requester, error) {
	mark, now := s.rev.Mark(), s.now()
	rg := readGrant{d: s.active.get(s.rev, signature, now), active: true}
	if rg.d == nil {
		var err error
		rg, err = s.active.read(signature, mark, func() (readGrant, error) {
			g, err := s.store.GetGrant(ctx, provider.KindAccessToken, signature)
			if err != nil {
				return readGrant{}, mapErr(ctx, err)
			}
			d, err := s.decodedOf(ctx, g)
			if err != nil {
				return readGrant{}, err
			}
			if g.Active {
				s.active.put(signature, d, mark, now)
			}
			return readGrant{d: d, active: g.Active}, nil
		})
		if err != nil {
			return nil, err
		}
	}
	r, err := s.request(ctx, rg.d, proto)
	if err != nil {
		return nil, err
	}
	if !rg.active {
		return r, fosite.ErrInactiveToken
	}
	return r, nil
}

func (s *storage) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	return mapErr(ctx, s.store.DeleteGrant(ctx, provider.KindAccessToken, signature))
}

func (s *storage) RevokeAccessToken(ctx context.Context, requestID string) error {
	return mapErr(ctx, s.store.RevokeRequest(ctx, provider.KindAccessToken, requestID))
}

// --- refresh tokens ---

func (s *storage) CreateRefreshTokenSession(ctx context.Context, signature, accessSignature string, r fosite.Requester) error {
	return s.create(ctx, provider.KindRefreshToken, signature, r, r.GetSession().GetExpiresAt(fosite.RefreshToken), accessSignature)
}

func (s *storage) GetRefreshTokenSession(ctx context.Context, signature string, proto fosite.Session) (fosite.Requester, error) {
	g, r, err := s.get(ctx, provider.KindRefreshToken, signature, proto)
	if err != nil {
		return nil, err
	}
	if !g.Active {
		if g.RotatedAt != nil && s.now().Sub(*g.RotatedAt) < s.grace {
			return nil, errRotatedInGrace
		}
		if g.RotatedAt == nil {
			// Never exchanged: a logout or revocation ended it, which is
			// no reuse; fosite still sees an inactive token.
			return r, fosite.ErrInactiveToken.WithWrap(ErrTokenRevoked)
		}
		return r, fosite.ErrInactiveToken
	}
	return r, nil
}

func (s *storage) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	err := s.store.DeleteGrant(ctx, provider.KindRefreshToken, signature)
	if errors.Is(err, provider.ErrNotFound) {
		return nil
	}
	return mapErr(ctx, err)
}

func (s *storage) RevokeRefreshToken(ctx context.Context, requestID string) error {
	return mapErr(ctx, s.store.RevokeRequest(ctx, provider.KindRefreshToken, requestID))
}

// RotateRefreshToken retires the presented refresh token (keeping its row,
// so later reuse is recognised) and the access tokens issued before it.
func (s *storage) RotateRefreshToken(ctx context.Context, requestID, signature string) error {
	paired, err := s.store.RotateGrant(ctx, provider.KindRefreshToken, signature, s.now())
	if err != nil {
		return mapErr(ctx, err)
	}
	if paired == "" {
		// No pairing recorded: fall back to revoking every access token of
		// the family.
		return mapErr(ctx, s.store.RevokeRequest(ctx, provider.KindAccessToken, requestID))
	}
	// The family's only live access token is the one issued with this
	// refresh token; revoking it by key keeps rotation O(1) in the chain length.
	if err := s.store.DeactivateGrant(ctx, provider.KindAccessToken, paired); err != nil && !errors.Is(err, provider.ErrNotFound) {
		return mapErr(ctx, err)
	}
	return nil
}

// --- OpenID Connect and PKCE requests ---

// The OpenID Connect handler keys its request by the raw authorization
// code (not its signature); hash it so a database leak reveals no code.
func codeKey(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

func (s *storage) CreateOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) error {
	return s.create(ctx, provider.KindOIDC, codeKey(code), r, r.GetSession().GetExpiresAt(fosite.AuthorizeCode))
}

func (s *storage) GetOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) (fosite.Requester, error) {
	_, req, err := s.get(ctx, provider.KindOIDC, codeKey(code), r.GetSession())
	if err != nil {
		return nil, err
	}
	return req, nil
}

func (s *storage) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	return mapErr(ctx, s.store.DeleteGrant(ctx, provider.KindOIDC, codeKey(code)))
}

func (s *storage) CreatePKCERequestSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, provider.KindPKCE, signature, r, r.GetSession().GetExpiresAt(fosite.AuthorizeCode))
}

func (s *storage) GetPKCERequestSession(ctx context.Context, signature string, proto fosite.Session) (fosite.Requester, error) {
	_, r, err := s.get(ctx, provider.KindPKCE, signature, proto)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (s *storage) DeletePKCERequestSession(ctx context.Context, signature string) error {
	return mapErr(ctx, s.store.DeleteGrant(ctx, provider.KindPKCE, signature))
}

// --- transactions ---

func (s *storage) BeginTX(ctx context.Context) (context.Context, error) {
	tx, err := s.store.BeginTx(ctx)
	noteFault(ctx, err)
	return tx, err
}
func (s *storage) Commit(ctx context.Context) error   { return mapErr(ctx, s.store.Commit(ctx)) }
func (s *storage) Rollback(ctx context.Context) error { return s.store.Rollback(ctx) }

// --- client secrets ---

// HashSecret returns the stored form of a client secret.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// secretHasher compares client secrets against their SHA-256. Secrets are
// 256-bit random strings we generate, so bcrypt (fosite's default) would
// only cap client_credentials throughput.
type secretHasher struct{}

func (secretHasher) Compare(_ context.Context, hash, data []byte) error {
	want := []byte(HashSecret(string(data)))
	if len(hash) == 0 || subtle.ConstantTimeCompare(hash, want) != 1 {
		return fosite.ErrInvalidClient
	}
	return nil
}

func (secretHasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	return []byte(HashSecret(string(data))), nil
}
