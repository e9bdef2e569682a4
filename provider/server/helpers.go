package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/httpx"
	"github.com/manacore/mana-core-auth/provider/oidc"
	"github.com/manacore/mana-core-auth/provider/websession"
	"github.com/manacore/mana-core-auth/templates"
)

// Helpers every area of the HTTP layer shares.

// lang is the page language the request asks for.
func lang(r *http.Request) string { return templates.PickLang(r.Header.Get("Accept-Language")) }

// clientIP is the caller's address: the peer, or the forwarding chain's
// client when the peer is a trusted proxy.
func (s *server) clientIP(r *http.Request) string {
	return httpx.ClientIP(r, s.Config.TrustedProxies)
}

// caller identifies the request for the audit log.
func (s *server) caller(r *http.Request) oidc.Caller {
	return oidc.Caller{IP: s.clientIP(r), UserAgent: r.UserAgent()}
}

// ending is how this request ends sessions, for the audit log.
func (s *server) ending(r *http.Request, reason string) websession.Ending {
	return websession.Ending{Reason: reason, IP: s.clientIP(r), UserAgent: r.UserAgent()}
}

// currentUser returns the browser's live session and its user, or nils.
//
// Only a definitive answer (no such session, no such user) means signed
// out; a storage failure is returned, so that an outage is answered as one
// and does not send a signed-in user to the login page.
func (s *server) currentUser(ctx context.Context, r *http.Request) (*provider.Session, *provider.User, error) {
	sess, err := s.Sessions.Current(ctx, r)
	if errors.Is(err, provider.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load session: %w", err)
	}
	user, err := s.Store.GetUser(ctx, sess.UserID)
	if errors.Is(err, provider.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load user of session: %w", err)
	}
	if user.CanSignIn() != nil {
		return nil, nil, nil // disabling ended its sessions; one that raced it counts as none
	}
	return sess, user, nil
}

// safeReturnTo is where a form may send the browser back to: the safe
// continuation (account.SafeContinuation), else our start page.
func safeReturnTo(raw string) string {
	if p := account.SafeContinuation(raw); p != "" {
		return p
	}
	return "/"
}

// isAuthorizePath reports whether a return target resumes an authorization.
func isAuthorizePath(p string) bool {
	path, _, _ := strings.Cut(p, "?")
	return strings.HasSuffix(path, "/authorize")
}

// ownOrigin is the issuer's origin.
func (s *server) ownOrigin() string {
	u, err := url.Parse(s.Config.Issuer)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// clientView is what the pages show of a client: its name (its id when it
// has none) and logo.
func clientView(c *oidc.Client) (name, logo string) {
	if c == nil {
		return "", ""
	}
	name = c.Model.Name
	if name == "" {
		name = c.GetID()
	}
	return name, c.Model.LogoURI
}

// covers reports whether granted includes every scope in requested.
func covers(granted, requested []string) bool {
	for _, r := range requested {
		if !slices.Contains(granted, r) {
			return false
		}
	}
	return true
}
