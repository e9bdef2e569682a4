package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ory/fosite"

	"github.com/manacore/mana-core-auth/provider"
)

// issue 14: refresh tokens imported from the old service.
//
// The apps hold the old service's refresh tokens in their storage. The
// import stores each live one (hashed) with its session, and the first
// use at the first-party refresh exchanges it for a token pair of ours
// bound to that session, so nobody signs in again because of the move.
// From then on the pair is an ordinary grant family: rotation, grace
// window and reuse detection as for any refresh token. The old token is
// single use: presented again after the grace window, it is reuse, and
// the family it became is revoked, as fosite does for our own tokens.

// ImportedRefreshTokenShape reports whether t looks like the old service's refresh
// tokens, nanoid(64): 64 characters of A–Z a–z 0–9 _ -. Ours are
// "<key>.<signature>" and always hold a dot, so the two never mix.
func ImportedRefreshTokenShape(t string) bool {
	if len(t) != 64 {
		return false
	}
	for i := range len(t) {
		c := t[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// ImportedTokenHash is how an imported refresh token is stored: its hex
// SHA-256 (a 64-character random token needs no slow hash).
func ImportedTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// importedGraceSignature keys the grace entry of an exchanged token apart
// from our refresh token signatures.
func importedGraceSignature(hash string) string { return "imported:" + hash }

func (p *Provider) exchangeImported(ctx context.Context, token string, caller Caller, admit Admit) (*Refreshed, error) {
	invalid := fosite.ErrInvalidGrant.WithHint("The refresh token is malformed or not valid.")
	hash := ImportedTokenHash(token)
	now := p.Config.Now().UTC()
	row, err := p.Store.ImportedRefreshToken(ctx, hash, now)
	switch {
	case errors.Is(err, provider.ErrNotFound):
		return nil, invalid
	case err != nil:
		noteFault(ctx, err)
		return nil, fosite.ErrServerError.WithWrap(fmt.Errorf("look up imported refresh token: %w", err))
	}
	if row.UsedAt != nil {
		return p.importedReused(ctx, row, caller)
	}
	sess, err := p.Store.GetSession(ctx, row.SessionID, now)
	switch {
	case errors.Is(err, provider.ErrNotFound):
		// Signed out (or swept) since the import: the token died with it.
		return nil, fosite.ErrInvalidGrant.WithHint("The login session has ended.").WithWrap(ErrSessionEnded)
	case err != nil:
		noteFault(ctx, err)
		return nil, fosite.ErrServerError.WithWrap(fmt.Errorf("load imported session: %w", err))
	}
	// The same checks as any first-party refresh: the user may sign in,
	// the session continues by the one expiry rule.
	u, err := p.firstPartyAlive(ctx, &Session{Subject: sess.UserID, SessionID: sess.ID})
	if err != nil {
		return nil, err
	}
	if err := admit(ctx, FirstPartyClientID); err != nil {
		return nil, err
	}

	requestID := randomID()
	tx, err := p.Store.BeginTx(ctx)
	if err != nil {
		noteFault(ctx, err)
		return nil, fosite.ErrServerError.WithWrap(err)
	}
	defer func() { _ = p.Store.Rollback(tx) }()
	if err := p.Store.UseImportedRefreshToken(tx, hash, requestID, now); err != nil {
		_ = p.Store.Rollback(tx)
		if errors.Is(err, provider.ErrConflict) { // a concurrent exchange won
			return p.importedReplay(ctx, hash)
		}
		noteFault(ctx, err)
		return nil, fosite.ErrServerError.WithWrap(err)
	}
	pair, err := p.issueFirstParty(tx, u, sess, provider.GrantRefreshToken, requestID)
	switch {
	case errors.Is(err, ErrSessionEnded):
		return nil, fosite.ErrInvalidGrant.WithHint("The login session has ended.").WithWrap(ErrSessionEnded)
	case err != nil:
		noteFault(ctx, err)
		return nil, fosite.ErrServerError.WithWrap(fmt.Errorf("exchange imported refresh token: %w", err))
	}
	if err := p.saveImportedGrace(tx, hash, u.ID, sess.ID, requestID, pair); err != nil {
		noteFault(ctx, err)
		return nil, fosite.ErrServerError.WithWrap(fmt.Errorf("save refresh grace entry: %w", err))
	}
	if err := p.Store.Commit(tx); err != nil {
		noteFault(ctx, err)
		return nil, fosite.ErrServerError.WithWrap(fmt.Errorf("exchange imported refresh token: %w", err))
	}
	return &Refreshed{User: u, SessionID: sess.ID, Pair: *pair}, nil
}

// saveImportedGrace remembers the pair an imported token became, so a
// retry within the grace window (two tabs of an app refreshing at once
// after the switch) gets the same pair instead of tripping reuse detection.
func (p *Provider) saveImportedGrace(ctx context.Context, hash, subject, sessionID, requestID string, pair *TokenPair) error {
	if p.Config.RefreshGrace <= 0 {
		return nil
	}
	body, err := json.Marshal(map[string]string{"access_token": pair.AccessToken, "refresh_token": pair.RefreshToken})
	if err != nil {
		return err
	}
	entry, err := json.Marshal(&graceEntry{ClientID: FirstPartyClientID, Subject: subject, SessionID: sessionID, Body: body})
	if err != nil {
		return err
	}
	sig := importedGraceSignature(hash)
	return p.Store.PutGrace(ctx, &provider.GraceEntry{
		Signature: sig, RequestID: requestID,
		Payload:   p.grace.Seal(entry, []byte(sig)),
		ExpiresAt: p.Config.Now().Add(p.Config.RefreshGrace),
	})
}

// importedReplay answers with the pair the token became when that
// happened within the grace window; otherwise the token was used.
func (p *Provider) importedReplay(ctx context.Context, hash string) (*Refreshed, error) {
	used := fosite.ErrInvalidGrant.WithHint("The refresh token was already used.")
	if p.Config.RefreshGrace <= 0 {
		return nil, used
	}
	g, err := p.lookupGrace(ctx, importedGraceSignature(hash), FirstPartyClientID)
	if err != nil {
		return nil, err
	}
	return p.refreshed(ctx, g)
}

// importedReused answers a token presented after its exchange: within the
// grace window with the same pair, after it as reuse — the family it
// became is revoked (someone else may hold the old token) and the owner
// sees it in the security log.
func (p *Provider) importedReused(ctx context.Context, row *provider.ImportedRefreshToken, caller Caller) (*Refreshed, error) {
	out, err := p.importedReplay(ctx, row.TokenHash)
	if err == nil || !errors.Is(err, fosite.ErrInvalidGrant) {
		return out, err
	}
	if err := p.storage.RevokeRefreshToken(ctx, row.RequestID); err != nil {
		noteFault(ctx, err)
		return nil, fosite.ErrServerError.WithWrap(fmt.Errorf("revoke the family of a reused imported token: %w", err))
	}
	if err := p.storage.RevokeAccessToken(ctx, row.RequestID); err != nil {
		noteFault(ctx, err)
		return nil, fosite.ErrServerError.WithWrap(fmt.Errorf("revoke the family of a reused imported token: %w", err))
	}
	p.observe.RefreshTokenReused()
	if sess, serr := p.Store.GetSession(ctx, row.SessionID, p.Config.Now()); serr == nil {
		p.audit.Record(ctx, &provider.SecurityEvent{UserID: sess.UserID, Type: provider.EventRefreshReuse,
			IP: caller.IP, UserAgent: caller.UserAgent, Detail: map[string]string{"client_id": FirstPartyClientID, "token": "imported"}})
	}
	return nil, err
}
