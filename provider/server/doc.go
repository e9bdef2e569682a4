// Package server is the HTTP face of the provider: every route is in
// routes.go, handlers are maker functions returning http.Handler, and the
// middleware adds security headers, limits and request logs.
package server
