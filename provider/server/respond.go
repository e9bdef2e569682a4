package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/a-h/templ"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/internal/httpapi"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/oidc"
	"github.com/manacore/mana-core-auth/templates"
)

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
	l := lang(r)
	s.render(r.Context(), w, status, templates.ErrorPage(templates.ErrorView{
		Lang:    l,
		Status:  status,
		Title:   templates.T(l, templates.KeyErrorTitle),
		Message: templates.T(l, msgKey),
		// Issue 12 (part A): the ID the log lines of this request carry.
		RequestID: requestID(r.Context()),
	}))
}

// errBadRequest marks a page request the client got wrong (a form that
// does not parse).
var errBadRequest = errors.New("bad request")

// pageError answers a page request that failed with err, the one mapping
// from errors to pages: a client's mistake gets its status and message; a
// dependency's failure is logged and shown as an internal error that
// reveals nothing of its cause.
func (s *server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errBadRequest):
		s.errorPage(w, r, http.StatusBadRequest, templates.KeyErrorBadRequest)
	case errors.Is(err, provider.ErrNotFound):
		s.errorPage(w, r, http.StatusNotFound, templates.KeyErrorNotFound)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The browser went away; nobody reads the answer.
	case isOverload(err):
		s.overloadPage(w, r, err)
	case database.Unavailable(err) || errors.Is(err, oidc.ErrUnavailable):
		s.Logger.ErrorContext(r.Context(), "page: storage unavailable", "path", r.URL.Path, "error", err)
		w.Header().Set("Retry-After", httpapi.RetryAfter)
		s.errorPage(w, r, http.StatusServiceUnavailable, templates.KeyErrorUnavailable)
	default:
		s.Logger.ErrorContext(r.Context(), "page", "path", r.URL.Path, "error", err)
		s.errorPage(w, r, http.StatusInternalServerError, templates.KeyErrorInternal)
	}
}

// isOverload reports whether err is a refusal for overload (the password
// hashing queue is full).
func isOverload(err error) bool {
	_, ok := httpapi.OverloadOf(err)
	return ok
}

// setOverloadRetry sets the Retry-After an overload refusal asks for.
func setOverloadRetry(w http.ResponseWriter, err error) {
	after, _ := httpapi.OverloadOf(err)
	httpapi.SetRetryAfter(w, after)
}

// overloadPage answers a page whose work was refused for overload: 503
// with Retry-After and a message that asks to try again and blames nobody.
func (s *server) overloadPage(w http.ResponseWriter, r *http.Request, err error) {
	setOverloadRetry(w, err)
	s.errorPage(w, r, http.StatusServiceUnavailable, templates.KeyErrorBusy)
}

// parseForm parses a page's form; false after answering the error.
func (s *server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		s.pageError(w, r, fmt.Errorf("%w: %w", errBadRequest, err))
		return false
	}
	return true
}

func (s *server) handleNotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.statusError(w, r, http.StatusNotFound)
	})
}

func (s *server) handleCSRFDenied() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusForbidden, templates.KeyErrorCSRF)
	})
}

// staticFiles serves the files of fsys and nothing else: a directory
// (whose listing http.FileServer would write) is notFound's.
func staticFiles(fsys fs.FS, notFound http.Handler) http.Handler {
	fileServer := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name == "" {
			name = "."
		}
		if fi, err := fs.Stat(fsys, name); err != nil || fi.IsDir() {
			notFound.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		fileServer.ServeHTTP(w, r)
	})
}
