package server

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/manacore/mana-core-auth/provider/httpx"
)

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// common wraps every route: security headers, a body limit, panic
// recovery and an access log. The log has the path but never the query,
// which can hold codes, tokens and hints.
func (s *server) common(next http.Handler) http.Handler {
	csp := "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; " +
		"object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if s.HTTP != nil {
			s.HTTP.RequestStarted()
		}
		id := httpx.IncomingRequestID(r, s.Config.TrustedProxies)
		if id == "" {
			id = httpx.NewRequestID()
		}
		// Every log line written with this context carries the id
		// (httpx.LogRequestIDs).
		r = r.WithContext(httpx.WithRequestID(r.Context(), id))
		h := w.Header()
		h.Set("X-Request-Id", id)
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		// Authorization codes travel in URLs: no Referer leaves our origin.
		// Not "no-referrer": it also makes browsers send "Origin: null" on
		// our own form posts, which cross-origin protection must refuse.
		h.Set("Referrer-Policy", "same-origin")
		if s.secure {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.Config.MaxBodyBytes)
		}
		// The mux writes the matched pattern into the request it is given,
		// which a middleware between (tracing) may have copied: the
		// innermost wrapper hands it out here (recordPattern).
		var pattern string
		if s.HTTP != nil {
			r = r.WithContext(context.WithValue(r.Context(), patternKey{}, &pattern))
		}
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					if s.HTTP != nil { // keep in-flight right before net/http drops the connection
						s.HTTP.RequestDone(routeLabel(pattern), methodLabel(r.Method), max(sw.status, http.StatusInternalServerError), time.Since(start))
					}
					panic(v)
				}
				s.Logger.ErrorContext(r.Context(), "panic", "error", v, "path", r.URL.Path, "stack", string(debug.Stack()))
				if sw.status == 0 {
					s.statusError(sw, r, http.StatusInternalServerError)
				}
			}
			level := slog.LevelDebug
			if sw.status >= 500 {
				level = slog.LevelError
			}
			elapsed := time.Since(start)
			s.Logger.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path,
				"status", sw.status, "duration_ms", float64(elapsed.Microseconds())/1000)
			if s.HTTP != nil {
				status := sw.status
				if status == 0 {
					status = http.StatusOK // the handler wrote nothing: net/http answers 200
				}
				s.HTTP.RequestDone(routeLabel(pattern), methodLabel(r.Method), status, elapsed)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

type patternKey struct{}

// recordPattern serves next (the mux) and reports the pattern it matched
// to common, for the route label.
func recordPattern(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { // deferred: a panicking handler keeps its route
			if p, ok := r.Context().Value(patternKey{}).(*string); ok {
				*p = r.Pattern
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// routeLabel is the metrics label of a matched pattern; the catch-all "/"
// (404 and 405 pages) and the mux's own redirects are "unmatched".
func routeLabel(pattern string) string {
	if pattern == "" || pattern == "/" {
		return "unmatched"
	}
	return pattern
}

// methodLabel keeps the method label to the methods HTTP defines: a
// client can send any token as the method.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}
