// Package httpapi is the JSON plumbing both HTTP layers share, the
// provider's first-party API under /api/v1/auth and the credits API under
// /api/v1/credits: the error envelope the Mana apps parse, the validation
// answer, strict decoding of a JSON request body, and bearer token parsing.
//
// It lives outside provider/ because credits must never import the
// provider, and it imports only the standard library so that both can
// depend on it. One copy means the two APIs cannot drift apart again in
// headers, status codes or what a well-formed request is.
package httpapi
