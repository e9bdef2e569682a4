package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/manacore/mana-core-auth/internal/httpapi"
	"github.com/manacore/mana-core-auth/provider/httpx"
	"github.com/manacore/mana-core-auth/templates"
)

// Errors a browser can read: what no route took, and the request ID that
// ties an error page to its log lines.

// requestID is the ID common gave the request; "" outside it. It is ours,
// or a trusted proxy's (httpx.IncomingRequestID), never a client's.
func requestID(ctx context.Context) string { return httpx.RequestID(ctx) }

// wantsJSON reports whether an error is answered as JSON: always for the
// API, protocol and discovery paths (their clients are programs), and
// elsewhere when the caller asks for JSON and not for HTML. Everything
// else gets the error page.
func wantsJSON(r *http.Request) bool {
	p := r.URL.Path
	for _, prefix := range []string{"/api/", "/oauth2/", "/.well-known/"} {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}

// probeMethods are the methods a path's routes are looked up with to tell
// a wrong method (405) from an unknown path (404).
var probeMethods = [...]string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// handleUnmatched answers what no route of mux took: 405 with Allow when
// the path has routes for other methods, else 404.
func (s *server) handleUnmatched(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range probeMethods {
			if m == r.Method {
				continue
			}
			probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.statusError(w, r, http.StatusMethodNotAllowed)
			return
		}
		s.statusError(w, r, http.StatusNotFound)
	})
}

// statusError answers a request no handler could serve (404, 405, a
// recovered panic's 500): JSON for programs, the error page in the
// reader's language otherwise.
func (s *server) statusError(w http.ResponseWriter, r *http.Request, status int) {
	if wantsJSON(r) {
		switch status {
		case http.StatusNotFound:
			httpapi.WriteError(w, status, "not_found", "Cannot "+r.Method+" "+r.URL.Path)
		case http.StatusMethodNotAllowed:
			httpapi.WriteError(w, status, "method_not_allowed", "Method "+r.Method+" not allowed for "+r.URL.Path)
		default:
			httpapi.WriteError(w, status, "internal_error", "Internal server error")
		}
		return
	}
	l := lang(r)
	v := templates.ErrorView{Lang: l, Status: status, Title: templates.T(l, templates.KeyErrorTitle), RequestID: requestID(r.Context())}
	switch status {
	case http.StatusNotFound:
		v.Title, v.Message = templates.T(l, templates.KeyErrorNotFoundTitle), templates.T(l, templates.KeyErrorNotFound)
	case http.StatusMethodNotAllowed:
		v.Message = templates.T(l, templates.KeyErrorMethodNotAllowed)
	default:
		v.Message = templates.T(l, templates.KeyErrorInternal)
	}
	s.render(r.Context(), w, status, templates.ErrorPage(v))
}
