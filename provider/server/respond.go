package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"strconv"

	"github.com/a-h/templ"

	"github.com/manacore/mana-core-auth/templates"
)

// apiError is the error envelope the Mana apps already parse.
type apiError struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
	Error      string `json:"error"`
	Code       string `json:"code,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeAPIError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, apiError{StatusCode: status, Message: msg, Error: http.StatusText(status), Code: code})
}

// render writes a page; rendering into memory first means a template error
// becomes a clean 500 instead of half a page.
func (s *server) render(ctx context.Context, w http.ResponseWriter, status int, c templ.Component) {
	var buf bytes.Buffer
	if err := c.Render(ctx, &buf); err != nil {
		s.Logger.ErrorContext(ctx, "render page", "error", err)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorPage renders the HTML error page with a translated title and message.
func (s *server) errorPage(w http.ResponseWriter, r *http.Request, status int, msgKey string) {
	lang := templates.PickLang(r.Header.Get("Accept-Language"))
	s.render(r.Context(), w, status, templates.ErrorPage(templates.ErrorView{
		Lang:    lang,
		Status:  status,
		Title:   templates.T(lang, "error.title"),
		Message: templates.T(lang, msgKey),
	}))
}

func (s *server) handleNotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, http.StatusNotFound, "not_found", "Cannot "+r.Method+" "+r.URL.Path)
	})
}

func (s *server) handleCSRFDenied() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusForbidden, "error.csrf")
	})
}

func staticFiles(fsys fs.FS) http.Handler {
	fileServer := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		fileServer.ServeHTTP(w, r)
	})
}
