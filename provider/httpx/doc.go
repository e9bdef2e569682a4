// Package httpx holds the small HTTP building blocks the server's
// middleware needs for abuse protection: which address a request really
// comes from (ClientIP, behind TRUSTED_PROXIES) and which browser origins
// may call the API with credentials (CORS, from CORS_ORIGINS).
//
// Both are security decisions on attacker-controlled headers, so both are
// strict: X-Forwarded-For is read only from a trusted peer and only as far
// as the trusted hops go, and an Origin is allowed only when it parses as a
// scheme://host[:port] serialisation that matches a configured origin
// exactly or a "*." pattern label by label. Anything malformed falls back
// to the safe answer (the peer address; not allowed) instead of an error,
// because a request cannot be refused for what a proxy or browser in front
// of it got wrong.
package httpx
