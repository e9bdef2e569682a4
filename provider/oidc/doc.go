// Package oidc composes the fosite OAuth 2.0 / OpenID Connect provider:
// the Session type persisted with every grant, the EdDSA-capable signer
// fosite's own cannot provide, the JWT access-token strategy (RFC 9068),
// and the adapter from fosite's storage interfaces onto provider.Store.
package oidc
