// Package keys holds the provider's token signing keys: it generates them,
// keeps their private halves encrypted at rest, rotates them, publishes the
// JWKS and signs and verifies compact JWS.
//
// It exists as its own package because every token the provider issues
// (ID tokens, RFC 9068 access tokens) and every token it accepts back
// (id_token_hint, introspected access tokens) goes through it, so it is the
// one place that must get the security-critical parts right: the private
// keys never leave it unencrypted, Verify never lets a token choose its own
// algorithm (no "none", no RSA/EdDSA confusion), and a new key is published
// before it signs while an old one stays published until every token it
// signed has expired. fosite's own signer cannot verify EdDSA and uses
// go-jose v3, so the JWS handling here is deliberately small and
// self-contained: it only ever produces and accepts the compact
// serialisation with alg, kid and typ.
//
// # Storage
//
// A key's kid is its RFC 7638 JWK thumbprint (SHA-256, base64url): it is
// derived from the public key, so it cannot collide, needs no extra
// randomness and can be recomputed by anyone holding the JWKS. PublicJWK is
// the public JWK as served in the JWKS (kid, alg, use "sig"). PrivateEnc is
// nonce || AES-256-GCM(PKCS#8 DER of the private key) with the kid as
// additional data, so a ciphertext copied onto another row does not open.
// The AES key is derived from SECRET_KEY with HKDF-SHA256 (info
// "manaauth/keys/v1"); changing SECRET_KEY makes every stored key
// unreadable, which Init reports as ErrSecretMismatch instead of silently
// generating new keys and invalidating every token in circulation.
//
// # Lifecycle
//
// A key is published (in the JWKS, accepted by Verify) from the moment it is
// stored until its ExpiresAt. It signs from ActiveAt until RetiredAt; among
// the keys of one algorithm that may sign at a given instant the one with
// the latest ActiveAt wins, so Sign switches to a rotated key exactly at its
// ActiveAt, on every replica, without waiting for a reload. Rotate retires
// every older key of the algorithm at the new key's ActiveAt, which also
// cleans up the duplicate keys two replicas create when they start on an
// empty database at the same moment.
//
// # Imported keys (issue 14)
//
// ImportPublicKey stores a key of the service this one replaced with its
// public half only (empty PrivateEnc) and the old kid, so the tokens it
// signed before the switch verify until the key's ExpiresAt. Such a key is
// published and accepted by Verify like a retired key, and is otherwise
// invisible to the lifecycle: it never signs, it is never the newest key
// of its algorithm when Init or RotateIfDue decide whether a key is
// needed, and rotation never changes its times.
//
// # Concurrency
//
// Readers (Sign, Verify, JWKS, PublicKeys) load one immutable snapshot
// through an atomic pointer and never touch the store or a lock; writers
// (Init, Reload, Rotate) are serialised by a mutex and publish a new
// snapshot when done.
package keys
