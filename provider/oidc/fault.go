package oidc

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/ory/fosite"

	"github.com/manacore/mana-core-auth/provider"
)

// fosite turns whatever its storage returns into the protocol error of the
// step that asked: a failed client lookup becomes invalid_client, a failed
// token lookup an inactive token, and the introspection endpoint keeps no
// trace of the cause at all. A database outage would then look to every
// relying party like revoked credentials, and compliant ones drop their
// tokens. So the storage adapter notes, in a per-request record carried by
// the context, every store error that is not a definitive answer; a
// request that failed after such an error is answered as unavailable,
// whatever fosite made of it.

type faultKey struct{}

// storageFault is the first non-definitive store error of one request.
type storageFault struct {
	mu  sync.Mutex
	err error
}

// watchStorage returns a context in which the storage adapter records
// store failures, and the record. A context already watched is reused, so
// nested public methods share one record.
func watchStorage(ctx context.Context) (context.Context, *storageFault) {
	if f, ok := ctx.Value(faultKey{}).(*storageFault); ok {
		return ctx, f
	}
	f := &storageFault{}
	return context.WithValue(ctx, faultKey{}, f), f
}

// noteFault records err in ctx's record unless it is a definitive answer
// of the store (not found, taken, or a lost race the caller handles).
func noteFault(ctx context.Context, err error) {
	if err == nil || errors.Is(err, provider.ErrNotFound) || errors.Is(err, provider.ErrAlreadyExists) ||
		errors.Is(err, provider.ErrConflict) {
		return
	}
	if f, ok := ctx.Value(faultKey{}).(*storageFault); ok {
		f.mu.Lock()
		if f.err == nil {
			f.err = err
		}
		f.mu.Unlock()
	}
}

// ErrUnavailable is a request that failed because storage failed (an
// outage, a timeout): an answer about the provider, not the credentials.
// Errors of Token, RefreshFirstParty, Introspect and the introspection and
// revocation requests wrap it (as fosite's temporarily_unavailable, HTTP
// 503) in that case.
var ErrUnavailable = errors.New("storage unavailable")

// settle replaces err, when the request met a storage failure, by
// temporarily_unavailable carrying the failure.
func (f *storageFault) settle(err error) error {
	if err == nil {
		return nil
	}
	f.mu.Lock()
	cause := f.err
	f.mu.Unlock()
	if cause == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	return fosite.ErrTemporarilyUnavailable.
		WithHint("The authorization server cannot reach its storage; try again shortly.").
		WithWrap(errors.Join(ErrUnavailable, cause)).
		WithDebug(cause.Error())
}

// NewIntrospectionRequest answers an introspection request (see
// newIntrospectionRequest), with storage failures reported as
// ErrUnavailable rather than as an inactive token or a bad client.
func (p *Provider) NewIntrospectionRequest(ctx context.Context, r *http.Request, sess fosite.Session) (fosite.IntrospectionResponder, error) {
	ctx, fault := watchStorage(ctx)
	ir, err := p.newIntrospectionRequest(ctx, r, sess)
	err = fault.settle(err)
	// Counted once the caller authenticated: an answer about a token,
	// not a refused client or an outage.
	switch {
	case err == nil:
		p.observe.Introspected(true)
	case errors.Is(err, fosite.ErrInactiveToken) && !errors.Is(err, ErrUnavailable):
		p.observe.Introspected(false)
	}
	return ir, err
}

// NewRevocationRequest is fosite's, with storage failures reported as
// ErrUnavailable rather than as a bad client.
func (p *Provider) NewRevocationRequest(ctx context.Context, r *http.Request) error {
	ctx, fault := watchStorage(ctx)
	return fault.settle(p.OAuth2Provider.NewRevocationRequest(ctx, r))
}

// NewAuthorizeRequest is fosite's, with storage failures (the client
// lookup) reported as ErrUnavailable rather than as an unknown client.
func (p *Provider) NewAuthorizeRequest(ctx context.Context, r *http.Request) (fosite.AuthorizeRequester, error) {
	ctx, fault := watchStorage(ctx)
	ar, err := p.OAuth2Provider.NewAuthorizeRequest(ctx, r)
	return ar, fault.settle(err)
}
