// Package websession ties the browser to a server-side login session: a
// gorilla/sessions secure cookie carries only the session id, and the
// session row in the store is the truth, so sessions can be listed and
// revoked.
package websession
