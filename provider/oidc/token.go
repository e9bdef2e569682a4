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
// the token response it was rotated into, for the client, user and login
// session it belongs to.
type graceEntry struct {
	ClientID  string          `json:"client_id"`
	Subject   string          `json:"sub,omitempty"`
	SessionID string          `json:"sid,omitempty"`
	Body      json.RawMessage `json:"body"`
	requestID string          // the grant family, for the store's revocation of the entry
	user      *provider.User  // loaded by the first-party check; not stored
}

// Token answers a request to the token endpoint: client authentication,
// the grant (authorization code, refresh with rotation, grace window and
// reuse detection, client credentials) and the response body. The error is
// a fosite error for WriteAccessError, or the one admit returned; the
// requester, when known, goes with it.
func (p *Provider) Token(ctx context.Context, r *http.Request, caller Caller, admit Admit) ([]byte, fosite.AccessRequester, error) {
	ctx, fault := watchStorage(ctx)
	body, ar, err := p.token(ctx, r, caller, admit)
	return body, ar, fault.settle(err)
}

func (p *Provider) token(ctx context.Context, r *http.Request, caller Caller, admit Admit) ([]byte, fosite.AccessRequester, error) {
	ar, err := p.NewAccessRequest(ctx, r, NewSession())
	presented := r.PostForm.Get("refresh_token")
	if err != nil {
		g, err := p.refused(ctx, ar, presented, caller, err)
		if err != nil {
			return nil, ar, err
		}
		return g.Body, ar, nil
	}
	if err := admit(ctx, ar.GetClient().GetID()); err != nil {
		return nil, ar, err
	}
	g, err := p.issue(ctx, ar, presented)
	if err != nil {
		return nil, ar, err
	}
	return g.Body, ar, nil
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
	ctx, fault := watchStorage(ctx)
	out, err := p.refreshFirstParty(ctx, refreshToken, caller, admit)
	return out, fault.settle(err)
}

func (p *Provider) refreshFirstParty(ctx context.Context, refreshToken string, caller Caller, admit Admit) (*Refreshed, error) {
	if refreshToken == "" || !provider.CleanText(refreshToken) {
		return nil, fosite.ErrInvalidGrant.WithHint("The refresh token is malformed or not valid.")
	}
	if ImportedRefreshTokenShape(refreshToken) { // issue 14: a token the old service issued
		return p.exchangeImported(ctx, refreshToken, caller, admit)
	}
	client, err := p.Client(ctx, FirstPartyClientID)
	if err != nil {
		noteFault(ctx, err)
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
			g, err := p.refused(ctx, ar, refreshToken, caller, err)
			if err != nil {
				return nil, err
			}
			return p.refreshed(ctx, g)
		}
	}
	if err := admit(ctx, client.GetID()); err != nil {
		return nil, err
	}
	g, err := p.issue(ctx, ar, refreshToken)
	if err != nil {
		return nil, err
	}
	return p.refreshed(ctx, g)
}

// refreshed is the first-party answer to the token response of g.
func (p *Provider) refreshed(ctx context.Context, g *graceEntry) (*Refreshed, error) {
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(g.Body, &tok); err != nil {
		return nil, fosite.ErrServerError.WithWrap(fmt.Errorf("decode token response: %w", err))
	}
	u := g.user
	if u == nil { // a replay from the grace cache: the check ran for the first request
		var err error
		switch u, err = p.Store.GetUser(ctx, g.Subject); {
		case errors.Is(err, provider.ErrNotFound):
			return nil, fosite.ErrInvalidGrant.WithHint("The user no longer exists.").WithWrap(ErrUserGone)
		case err != nil:
			return nil, fosite.ErrServerError.WithWrap(fmt.Errorf("load user: %w", err))
		}
	}
	// fosite counts expires_in down from the grant's creation, which can
	// give 899; the token lives the configured lifetime from now.
	return &Refreshed{User: u, SessionID: g.SessionID, Pair: TokenPair{
		AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, ExpiresIn: int(p.Config.AccessTokenTTL.Seconds()),
	}}, nil
}

// refused handles a token request fosite refused: a refresh token rotated
// moments ago is answered from the grace cache (body, nil error); reuse of
// an older one is audited; a revoked one says so. Anything else is
// returned as it came.
func (p *Provider) refused(ctx context.Context, ar fosite.AccessRequester, presented string, caller Caller, err error) (*graceEntry, error) {
	if errors.Is(err, errRotatedInGrace) {
		return p.replay(ctx, ar, presented)
	}
	if errors.Is(err, ErrTokenRevoked) {
		return nil, fosite.ErrInvalidGrant.WithHint("The refresh token was revoked.").WithWrap(ErrTokenRevoked)
	}
	if errors.Is(err, fosite.ErrInactiveToken) && ar != nil && ar.GetSession() != nil && ar.GetSession().GetSubject() != "" {
		// fosite has revoked the whole family; the owner sees why.
		p.observe.RefreshTokenReused()
		p.audit.Record(ctx, &provider.SecurityEvent{UserID: ar.GetSession().GetSubject(), Type: provider.EventRefreshReuse,
			IP: caller.IP, UserAgent: caller.UserAgent, Detail: map[string]string{"client_id": ar.GetClient().GetID()}})
	}
	return nil, err
}

// issue grants what the request may have and writes the response. The
// grants of a login session are issued in one transaction that first locks
// the session row: ending the session waits for the transaction, and its
// revocation then sees the new tokens, so none escapes it. A refresh writes
// its grace entry in the same transaction, so a concurrent retry that
// finds the token rotated also finds the successor, without waiting for
// the first request to finish writing.
func (p *Provider) issue(ctx context.Context, ar fosite.AccessRequester, presented string) (*graceEntry, error) {
	sess, _ := ar.GetSession().(*Session)
	if sess == nil {
		return nil, fosite.ErrServerError.WithWrap(errors.New("unexpected session type"))
	}
	g := &graceEntry{ClientID: ar.GetClient().GetID(), Subject: sess.Subject, SessionID: sess.SessionID, requestID: ar.GetID()}
	refresh := ar.GetGrantTypes().ExactOne(provider.GrantRefreshToken)
	switch {
	case ar.GetGrantTypes().ExactOne(provider.GrantClientCredentials):
		// fosite checked the scopes and audiences against the client;
		// granting is left to us. No user, no session, nothing to lock.
		for _, sc := range ar.GetRequestedScopes() {
			ar.GrantScope(sc)
		}
		for _, a := range ar.GetRequestedAudience() {
			ar.GrantAudience(a)
		}
		resp, err := p.NewAccessResponse(ctx, ar)
		if err != nil {
			return nil, err
		}
		if g.Body, err = encodeResponse(resp); err != nil {
			return nil, err
		}
		p.observe.TokenIssued(provider.GrantClientCredentials)
		return g, nil
	case refresh && g.ClientID == FirstPartyClientID:
		u, err := p.firstPartyAlive(ctx, sess)
		if err != nil {
			return nil, err
		}
		g.user = u
	}
	tx, err := p.Store.BeginTx(ctx)
	if err != nil {
		noteFault(ctx, err)
		return nil, fosite.ErrServerError.WithWrap(err)
	}
	defer func() { _ = p.Store.Rollback(tx) }()
	err = p.issueTx(tx, ar, g, presented, refresh)
	if err == nil {
		err = p.Store.Commit(tx)
		noteFault(ctx, err)
	}
	if err == nil {
		if refresh {
			p.observe.TokenIssued(provider.GrantRefreshToken)
		} else {
			p.observe.TokenIssued(provider.GrantAuthorizationCode)
		}
		return g, nil
	}
	_ = p.Store.Rollback(tx)
	// A concurrent request rotated the token between our read and our
	// rotation (the store reports that as a conflict): its transaction
	// committed the successor with the grace entry.
	if refresh && (errors.Is(err, errRotatedInGrace) || errors.Is(err, fosite.ErrSerializationFailure) || errors.Is(err, provider.ErrConflict)) {
		return p.replay(ctx, ar, presented)
	}
	var rfc *fosite.RFC6749Error
	if !errors.As(err, &rfc) {
		err = fosite.ErrServerError.WithWrap(err)
	}
	return nil, err
}

func (p *Provider) issueTx(tx context.Context, ar fosite.AccessRequester, g *graceEntry, presented string, refresh bool) error {
	if g.SessionID != "" {
		if err := p.Store.LockSession(tx, g.SessionID); err != nil {
			noteFault(tx, err)
			if !errors.Is(err, provider.ErrNotFound) {
				return fosite.ErrServerError.WithWrap(err)
			}
			// An authorization code belongs to a live login session; a
			// refresh token of an app may outlive one that expired and
			// was swept (first-party ones were checked before).
			if !refresh {
				return fosite.ErrInvalidGrant.WithHint("The login session has ended.")
			}
		}
	}
	resp, err := p.NewAccessResponse(tx, ar)
	if err != nil {
		return err
	}
	if g.Body, err = encodeResponse(resp); err != nil {
		return err
	}
	if refresh {
		if err := p.saveGrace(tx, presented, g); err != nil {
			noteFault(tx, err)
			return fosite.ErrServerError.WithWrap(fmt.Errorf("save refresh grace entry: %w", err))
		}
	}
	return nil
}

// firstPartyAlive enforces that first-party tokens live and die with their
// login session and their user: a refresh continues the session by the one
// expiry rule (remember-me and SESSION_MAX_LIFETIME included) and fails,
// ending the session and revoking the tokens, once the session or the user
// is gone.
// It returns the user, whom the first-party answer names.
func (p *Provider) firstPartyAlive(ctx context.Context, sess *Session) (*provider.User, error) {
	u, err := p.Store.GetUser(ctx, sess.Subject)
	if err != nil {
		noteFault(ctx, err)
		if !errors.Is(err, provider.ErrNotFound) {
			return nil, fosite.ErrServerError.WithWrap(fmt.Errorf("load user: %w", err))
		}
		if _, err := p.Store.RevokeSubject(ctx, sess.Subject); err != nil {
			noteFault(ctx, err)
			return nil, fosite.ErrServerError.WithWrap(fmt.Errorf("revoke tokens of a deleted user: %w", err))
		}
		return nil, fosite.ErrInvalidGrant.WithHint("The user no longer exists.").WithWrap(ErrUserGone)
	}
	if err := u.CanSignIn(); err != nil {
		// Disabling revoked the tokens already; this holds for a token
		// that raced the disabling.
		if _, rerr := p.Store.RevokeSubject(ctx, sess.Subject); rerr != nil {
			noteFault(ctx, rerr)
			return nil, fosite.ErrServerError.WithWrap(fmt.Errorf("revoke tokens of a disabled user: %w", rerr))
		}
		return nil, fosite.ErrInvalidGrant.WithHint("The account is disabled.").WithWrap(err)
	}
	if sess.SessionID == "" || p.sessions == nil {
		return u, nil
	}
	if _, err := p.sessions.Continue(ctx, sess.SessionID); err != nil {
		noteFault(ctx, err)
		if !errors.Is(err, provider.ErrNotFound) {
			return nil, fosite.ErrServerError.WithWrap(fmt.Errorf("continue session: %w", err))
		}
		if err := p.sessions.EndExpired(ctx, sess.Subject, sess.SessionID); err != nil {
			noteFault(ctx, err)
			return nil, fosite.ErrServerError.WithWrap(fmt.Errorf("end an expired session: %w", err))
		}
		return nil, fosite.ErrInvalidGrant.WithHint("The login session has ended.").WithWrap(ErrSessionEnded)
	}
	return u, nil
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
func (p *Provider) saveGrace(ctx context.Context, oldRefreshToken string, g *graceEntry) error {
	if p.Config.RefreshGrace <= 0 {
		return nil
	}
	entry, err := json.Marshal(g)
	if err != nil {
		return err
	}
	sig := p.strategy.RefreshTokenSignature(ctx, oldRefreshToken)
	return p.Store.PutGrace(ctx, &provider.GraceEntry{
		Signature: sig,
		RequestID: g.requestID,
		Payload:   p.grace.Seal(entry, []byte(sig)),
		ExpiresAt: p.Config.Now().Add(p.Config.RefreshGrace),
	})
}

// replay answers a refresh retried within the grace window with the
// successor the first request got, for the same client only. Not finding
// one is a definitive answer (the token was used); failing to look is the
// database's failure, not the caller's.
func (p *Provider) replay(ctx context.Context, ar fosite.AccessRequester, refreshToken string) (*graceEntry, error) {
	used := fosite.ErrInvalidGrant.WithHint("The refresh token was already used.")
	if p.Config.RefreshGrace <= 0 || refreshToken == "" || ar == nil || ar.GetClient() == nil {
		return nil, used
	}
	return p.lookupGrace(ctx, p.strategy.RefreshTokenSignature(ctx, refreshToken), ar.GetClient().GetID())
}

// lookupGrace returns the successor stored under the grace signature sig
// for clientID. Not finding one is a definitive "already used"; failing to
// look is the database's failure, not the caller's.
func (p *Provider) lookupGrace(ctx context.Context, sig, clientID string) (*graceEntry, error) {
	used := fosite.ErrInvalidGrant.WithHint("The refresh token was already used.")
	e, err := p.Store.GetGrace(ctx, sig, p.Config.Now())
	switch {
	case errors.Is(err, provider.ErrNotFound):
		return nil, used
	case err != nil:
		noteFault(ctx, err)
		return nil, fosite.ErrTemporarilyUnavailable.WithWrap(fmt.Errorf("look up refresh grace entry: %w", err))
	}
	plain, err := p.grace.Open(e.Payload, []byte(sig))
	if err != nil {
		return nil, used // sealed under another SECRET_KEY: not a successor we can hand out
	}
	var g graceEntry
	if json.Unmarshal(plain, &g) != nil || g.ClientID != clientID {
		return nil, used
	}
	return &g, nil
}
