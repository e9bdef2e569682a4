// Package websession owns the life of a login session, from the browser's
// cookie to the API's token pair: starting one, continuing it (the one
// expiry rule every path applies), and ending one, some or all of them
// (delete, revoke the tokens issued from it, notify the apps through
// back-channel logout, audit). A gorilla/sessions secure cookie carries
// only the session id; the session row in the store is the truth, so
// sessions can be listed and revoked and a revocation takes effect at
// once.
package websession
