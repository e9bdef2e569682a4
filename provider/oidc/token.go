package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/ory/fosite"

	"github.com/manacore/mana-core-auth/provider"
)

// Caller is who sent a request, for the audit log.
type Caller struct {
	IP, UserAgent string
}

// Admit decides, once the client authenticated, whether its request may go
// on (the per-client rate limit). A non-nil error ends the request and is
// returned to the caller unchanged.
type Admit func(ctx context.Context, clientID string) error

// Errors of the first-party refresh besides fosite's.
var (
	// ErrSessionEnded: the login session the tokens belong to was signed
	// out or expired; its tokens are revoked with it.
	ErrSessionEnded = errors.New("the login session has ended")
	// ErrUserGone: the user no longer exists; their tokens are revoked.
	ErrUserGone = errors.New("the user no longer exists")
)

// graceEntry is what the grace cache holds for a rotated refresh token:
// the token response it was rotated into, for the client it belongs to.
type graceEntry struct {
	ClientID string          `json:"client_id"`
	Body     json.RawMessage `json:"body"`
}

// Token answers a request to the token endpoint: client authentication,
// the grant (authorization code, refresh with rotation, grace window and
// reuse detection, client credentials) and the response body. The error is
// a fosite error for WriteAccessError, or the one admit returned; the
// requester, when known, goes with it.
func (p *Provider) Token(ctx context.Context, r *http.Request, caller Caller, admit Admit) ([]byte, fosite.AccessRequester, error) {
	ar, err := p.NewAccessRequest(ctx, r, NewSession())
	presented := r.PostForm.Get("refresh_token")
	if err != nil {
		return p.refused(ctx, ar, presented, caller, err)
	}
	if err := admit(ctx, ar.GetClient().GetID()); err != nil {
		return nil, ar, err
	}
	body, err := p.issue(ctx, ar, presented)
	return body, ar, err
}

// Refreshed is the result of a first-party refresh.
type Refreshed struct {
	User      *provider.User
	SessionID string
	Pair      TokenPair
}

// RefreshFirstParty rotates a refresh token of the first-party client (the
// JSON API's /refresh): the very operation the token endpoint runs for a
// refresh grant, rotation, grace window and reuse detection included,
// without an HTTP request of its own.
func (p *Provider) RefreshFirstParty(ctx context.Context, refreshToken string, caller Caller, admit Admit) (*Refreshed, error) {
	if refreshToken == "" || !provider.CleanText(refreshToken) {
		return nil, fosite.ErrInvalidGrant.WithHint("The refresh token is malformed or not valid.")
	}
	client, err := p.Client(ctx, FirstPartyClientID)
	if err != nil {
		return nil, fosite.ErrServerError.WithWrap(fmt.Errorf("load first-party client: %w", err))
	}
	ar := fosite.NewAccessRequest(NewSession())
	ar.Client = client
	ar.GrantTypes = fosite.Arguments{provider.GrantRefreshToken}
	ar.Form = url.Values{"grant_type": {provider.GrantRefreshToken}, "refresh_token": {refreshToken}}
	// fosite.NewAccessRequest does this after parsing and authenticating
	// the client; a public client has nothing to authenticate.
	for _, h := range p.fosite.GetTokenEndpointHandlers(ctx) {
		if !h.CanHandleTokenEndpointRequest(ctx, ar) {
			continue
		}
		if err := h.HandleTokenEndpointRequest(ctx, ar); err != nil && !errors.Is(err, fosite.ErrUnknownRequest) {
			body, _, err := p.refused(ctx, ar, refreshToken, caller, err)
			if err != nil {
				return nil, err
			}
			return p.pairFrom(ctx, ar, body)
		}
	}
	if err := admit(ctx, client.GetID()); err != nil {
		return nil, err
	}
	body, err := p.issue(ctx, ar, refreshToken)
	if err != nil {
		return nil, err
	}
	return p.pairFrom(ctx, ar, body)
}

func (p *Provider) pairFrom(ctx context.Context, ar fosite.AccessRequester, body []byte) (*Refreshed, error) {
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		return nil, fosite.ErrServerError.WithWrap(fmt.Errorf("decode token response: %w", err))
	}
	sess, _ := ar.GetSession().(*Session)
	if sess == nil || sess.Subject == "" {
		return nil, fosite.ErrServerError.WithWrap(errors.New("first-party grant without a user session"))
	}
	u, err := p.Store.GetUser(ctx, sess.Subject)
	if err != nil {
		return nil, fosite.ErrServerError.WithWrap(fmt.Errorf("load user: %w", err))
	}
	// fosite counts expires_in down from the grant's creation, which can
	// give 899; the token lives the configured lifetime from now.
	return &Refreshed{User: u, SessionID: sess.SessionID, Pair: TokenPair{
		AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, ExpiresIn: int(p.Config.AccessTokenTTL.Seconds()),
	}}, nil
}

// refused handles a token request fosite refused: a refresh token rotated
// moments ago is answered from the grace cache (body, nil error); reuse of
// an older one is audited. Anything else is returned as it came.
func (p *Provider) refused(ctx context.Context, ar fosite.AccessRequester, presented string, caller Caller, err error) ([]byte, fosite.AccessRequester, error) {
	if errors.Is(err, errRotatedInGrace) {
		if body, ok := p.lookupGrace(ctx, ar, presented); ok {
			return body, ar, nil
		}
		return nil, ar, fosite.ErrInvalidGrant.WithHint("The refresh token was already used.")
	}
	if errors.Is(err, fosite.ErrInactiveToken) && ar != nil && ar.GetSession() != nil && ar.GetSession().GetSubject() != "" {
		// fosite has revoked the whole family; the owner sees why.
		p.audit.Record(ctx, &provider.SecurityEvent{UserID: ar.GetSession().GetSubject(), Type: provider.EventRefreshReuse,
			IP: caller.IP, UserAgent: caller.UserAgent, Detail: map[string]string{"client_id": ar.GetClient().GetID()}})
	}
	return nil, ar, err
}

// issue grants what the request may have and writes the response. A
// refresh runs in one transaction with its grace entry, so a concurrent
// retry that finds the token rotated also finds the successor: no waiting
// for the first request to finish writing.
func (p *Provider) issue(ctx context.Context, ar fosite.AccessRequester, presented string) ([]byte, error) {
	switch {
	case ar.GetGrantTypes().ExactOne(provider.GrantClientCredentials):
		// fosite checked the scopes and audiences against the client;
		// granting is left to us.
		for _, sc := range ar.GetRequestedScopes() {
			ar.GrantScope(sc)
		}
		for _, a := range ar.GetRequestedAudience() {
			ar.GrantAudience(a)
		}
	case ar.GetGrantTypes().ExactOne(provider.GrantRefreshToken):
		return p.rotate(ctx, ar, presented)
	}
	resp, err := p.NewAccessResponse(ctx, ar)
	if err != nil {
		return nil, err
	}
	return encodeResponse(resp)
}

func (p *Provider) rotate(ctx context.Context, ar fosite.AccessRequester, presented string) ([]byte, error) {
	if ar.GetClient().GetID() == FirstPartyClientID {
		if err := p.firstPartyAlive(ctx, ar); err != nil {
			return nil, err
		}
	}
	tx, err := p.Store.BeginTx(ctx)
	if err != nil {
		return nil, fosite.ErrServerError.WithWrap(err)
	}
	body, err := p.rotateTx(tx, ar, presented)
	if err != nil {
		_ = p.Store.Rollback(tx)
		// A concurrent request rotated the token between our read and our
		// rotation (the store reports that as a serialization failure):
		// its transaction committed the successor with the grace entry.
		if errors.Is(err, errRotatedInGrace) || errors.Is(err, fosite.ErrSerializationFailure) {
			if body, ok := p.lookupGrace(ctx, ar, presented); ok {
				return body, nil
			}
			return nil, fosite.ErrInvalidGrant.WithHint("The refresh token was already used.")
		}
		return nil, err
	}
	if err := p.Store.Commit(tx); err != nil {
		if errors.Is(err, provider.ErrConflict) {
			if body, ok := p.lookupGrace(ctx, ar, presented); ok {
				return body, nil
			}
			return nil, fosite.ErrInvalidGrant.WithHint("The refresh token was already used.")
		}
		return nil, fosite.ErrServerError.WithWrap(err)
	}
	return body, nil
}

func (p *Provider) rotateTx(tx context.Context, ar fosite.AccessRequester, presented string) ([]byte, error) {
	resp, err := p.NewAccessResponse(tx, ar)
	if err != nil {
		return nil, err
	}
	body, err := encodeResponse(resp)
	if err != nil {
		return nil, err
	}
	if err := p.saveGrace(tx, presented, ar, body); err != nil {
		return nil, fosite.ErrServerError.WithWrap(fmt.Errorf("save refresh grace entry: %w", err))
	}
	return body, nil
}

// firstPartyAlive enforces that first-party tokens live and die with their
// login session and their user: a refresh continues the session by the one
// expiry rule (remember-me and SESSION_MAX_LIFETIME included) and fails,
// revoking the tokens, once the session or the user is gone.
func (p *Provider) firstPartyAlive(ctx context.Context, ar fosite.AccessRequester) error {
	sess, _ := ar.GetSession().(*Session)
	if sess == nil {
		return fosite.ErrServerError.WithWrap(errors.New("unexpected session type"))
	}
	if _, err := p.Store.GetUser(ctx, sess.Subject); err != nil {
		if !errors.Is(err, provider.ErrNotFound) {
			return fosite.ErrServerError.WithWrap(fmt.Errorf("load user: %w", err))
		}
		if _, err := p.Store.RevokeSubject(ctx, sess.Subject); err != nil {
			return fosite.ErrServerError.WithWrap(fmt.Errorf("revoke tokens of a deleted user: %w", err))
		}
		return ErrUserGone
	}
	if sess.SessionID == "" || p.sessions == nil {
		return nil
	}
	if _, err := p.sessions.Continue(ctx, sess.SessionID); err != nil {
		if !errors.Is(err, provider.ErrNotFound) {
			return fosite.ErrServerError.WithWrap(fmt.Errorf("continue session: %w", err))
		}
		if _, err := p.Store.RevokeSession(ctx, sess.SessionID); err != nil {
			return fosite.ErrServerError.WithWrap(fmt.Errorf("revoke tokens of an ended session: %w", err))
		}
		return ErrSessionEnded
	}
	return nil
}

func encodeResponse(resp fosite.AccessResponder) ([]byte, error) {
	body, err := json.Marshal(resp.ToMap())
	if err != nil {
		return nil, fosite.ErrServerError.WithWrap(err)
	}
	return body, nil
}

// saveGrace remembers the response a refresh token was rotated into,
// sealed because it holds live tokens.
func (p *Provider) saveGrace(ctx context.Context, oldRefreshToken string, ar fosite.AccessRequester, body []byte) error {
	if p.Config.RefreshGrace <= 0 {
		return nil
	}
	entry, err := json.Marshal(graceEntry{ClientID: ar.GetClient().GetID(), Body: body})
	if err != nil {
		return err
	}
	sig := p.strategy.RefreshTokenSignature(ctx, oldRefreshToken)
	return p.Store.PutGrace(ctx, &provider.GraceEntry{
		Signature: sig,
		RequestID: ar.GetID(),
		Payload:   p.grace.Seal(entry, []byte(sig)),
		ExpiresAt: p.Config.Now().Add(p.Config.RefreshGrace),
	})
}

// lookupGrace returns the successor response of a refresh token rotated
// within the grace window, for the client it was issued to only.
func (p *Provider) lookupGrace(ctx context.Context, ar fosite.AccessRequester, refreshToken string) ([]byte, bool) {
	if p.Config.RefreshGrace <= 0 || refreshToken == "" || ar == nil || ar.GetClient() == nil {
		return nil, false
	}
	sig := p.strategy.RefreshTokenSignature(ctx, refreshToken)
	e, err := p.Store.GetGrace(ctx, sig, p.Config.Now())
	if err != nil {
		return nil, false
	}
	plain, err := p.grace.Open(e.Payload, []byte(sig))
	if err != nil {
		return nil, false
	}
	var g graceEntry
	if json.Unmarshal(plain, &g) != nil || g.ClientID != ar.GetClient().GetID() {
		return nil, false
	}
	return g.Body, true
}
