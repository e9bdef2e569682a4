package httpx

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/netip"
)

// issue 13 (observability): the request id that ties a response, its
// error page and every log line written while serving it together.

type requestIDKey struct{}

// NewRequestID names a request.
func NewRequestID() string { return rand.Text()[:16] }

// WithRequestID returns ctx carrying id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID is the id ctx carries; "" outside a request.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// maxRequestID bounds an adopted id: long enough for a UUID or a W3C
// trace id with a prefix, short enough to keep log lines small.
const maxRequestID = 128

// IncomingRequestID is the X-Request-Id a trusted proxy (Traefik, nginx)
// set, so one id follows the request through the proxy's and our logs;
// "" when the direct peer is not one of trusted or the value is not a
// sane token (1 to 128 of A-Z a-z 0-9 - _ . : /). A header from any other
// peer is never adopted; a trusted proxy that passes a client's header
// through must remove it (deploy/traefik/dynamic.yml does).
func IncomingRequestID(r *http.Request, trusted []netip.Prefix) string {
	peer, ok := parseHost(r.RemoteAddr)
	if !ok || !isTrusted(peer, trusted) {
		return ""
	}
	id := r.Header.Get("X-Request-Id")
	if id == "" || len(id) > maxRequestID {
		return ""
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == ':', c == '/':
		default:
			return ""
		}
	}
	return id
}

// LogRequestIDs wraps h so every record logged with a request's context
// carries its request_id, whoever logs it (handlers, domain services,
// stores). Wrapping twice is harmless.
func LogRequestIDs(h slog.Handler) slog.Handler {
	if _, ok := h.(requestIDHandler); ok {
		return h
	}
	return requestIDHandler{h}
}

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
