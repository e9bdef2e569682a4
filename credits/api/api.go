// Package api is the credits module's HTTP API (the old service's paths
// and shapes). It trusts only access tokens, through the TokenVerifier the
// provider hands it; it never imports the provider.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/manacore/mana-core-auth/credits"
)

// Principal is the verified caller of the API.
type Principal struct {
	Subject, SessionID, ClientID string
	Scopes                       []string
}

// TokenVerifier checks a bearer access token. Its errors wrap
// ErrUnauthorized (answered 401) or ErrForbidden (403); any other error is
// an internal one (500).
type TokenVerifier interface {
	Verify(ctx context.Context, bearer string) (Principal, error)
}

// Reasons a TokenVerifier refuses a token.
var (
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
)

// Scopes the API requires.
const (
	ScopeRead  = "credits:read"
	ScopeWrite = "credits:write"
)

// API makes the credits handlers.
type API struct {
	svc    *credits.Service
	verify TokenVerifier
	log    *slog.Logger
}

// New returns the API on svc; logger may be nil.
func New(svc *credits.Service, v TokenVerifier, logger *slog.Logger) *API {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &API{svc: svc, verify: v, log: logger}
}

// apiError is the provider's error envelope, which the Mana apps parse.
type apiError struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
	Error      string `json:"error"`
	Code       string `json:"code,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{StatusCode: status, Message: msg, Error: http.StatusText(status), Code: code})
}

var validationMessages = map[string]string{
	"required":    "%s should not be empty",
	"not_allowed": "property %s should not exist",
	"positive":    "%s must be a positive integer",
	"integer":     "%s must be an integer",
	"length":      "%s has an invalid length",
	"object":      "%s must be an object",
	"invalid":     "%s is invalid",
}

// writeValidation answers 400 listing every bad field, as the provider does.
func writeValidation(w http.ResponseWriter, fields map[string]string) {
	names := make([]string, 0, len(fields))
	for f := range fields {
		names = append(names, f)
	}
	sort.Strings(names)
	msgs := make([]string, 0, len(names))
	for _, f := range names {
		tmpl, ok := validationMessages[fields[f]]
		if !ok {
			tmpl = "%s is invalid"
		}
		msgs = append(msgs, strings.Replace(tmpl, "%s", f, 1))
	}
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"statusCode": http.StatusBadRequest, "message": msgs, "error": "Bad Request",
		"code": "validation_failed", "errors": fields,
	})
}

func (a *API) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	a.log.ErrorContext(r.Context(), "credits: "+what, "error", err)
	writeError(w, http.StatusInternalServerError, "internal_error", "Internal server error")
}

// authorize verifies the bearer token and the scope; it answers the error
// itself and reports whether the request may go on.
func (a *API) authorize(w http.ResponseWriter, r *http.Request, scope string) (Principal, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	token = strings.TrimSpace(token)
	if !ok || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer`)
		writeError(w, http.StatusUnauthorized, "missing_token", "No token provided")
		return Principal{}, false
	}
	p, err := a.verify.Verify(r.Context(), token)
	switch {
	case errors.Is(err, ErrUnauthorized):
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "invalid_token", "Invalid token")
		return Principal{}, false
	case errors.Is(err, ErrForbidden):
		writeError(w, http.StatusForbidden, "insufficient_scope", "This token may not use the credits API")
		return Principal{}, false
	case err != nil:
		a.internal(w, r, "verify token", err)
		return Principal{}, false
	case p.Subject == "":
		writeError(w, http.StatusUnauthorized, "invalid_token", "Invalid token")
		return Principal{}, false
	}
	if !slices.Contains(p.Scopes, scope) {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+scope+`"`)
		writeError(w, http.StatusForbidden, "insufficient_scope", "Missing scope "+scope)
		return Principal{}, false
	}
	return p, true
}

// balanceJSON is the old service's balance shape.
type balanceJSON struct {
	Balance              int64 `json:"balance"`
	FreeCreditsRemaining int64 `json:"freeCreditsRemaining"`
	TotalEarned          int64 `json:"totalEarned"`
	TotalSpent           int64 `json:"totalSpent"`
	DailyFreeCredits     int64 `json:"dailyFreeCredits"`
}

// transactionJSON is the old service's transaction shape.
type transactionJSON struct {
	ID             string          `json:"id"`
	Type           credits.Type    `json:"type"`
	Amount         int64           `json:"amount"`
	AppID          string          `json:"appId"`
	Description    string          `json:"description"`
	IdempotencyKey *string         `json:"idempotencyKey"`
	Metadata       json.RawMessage `json:"metadata"`
	CreatedAt      time.Time       `json:"createdAt"`
}

func toTransactionJSON(tx credits.Transaction) transactionJSON {
	out := transactionJSON{ID: tx.ID, Type: tx.Type, Amount: tx.Amount, AppID: tx.AppID, Description: tx.Description,
		Metadata: tx.Metadata, CreatedAt: tx.CreatedAt.UTC()}
	if tx.IdempotencyKey != "" {
		k := tx.IdempotencyKey
		out.IdempotencyKey = &k
	}
	if len(out.Metadata) == 0 {
		out.Metadata = json.RawMessage("null")
	}
	return out
}

// Balance is GET /api/v1/credits/balance.
func (a *API) Balance() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.authorize(w, r, ScopeRead)
		if !ok {
			return
		}
		b, err := a.svc.Balance(r.Context(), p.Subject)
		if err != nil {
			a.internal(w, r, "balance", err)
			return
		}
		writeJSON(w, http.StatusOK, balanceJSON{Balance: b.Paid, FreeCreditsRemaining: b.Free, TotalEarned: b.TotalEarned,
			TotalSpent: b.TotalSpent, DailyFreeCredits: a.svc.Config().DailyFree})
	})
}

// Limits of the use request.
const (
	maxAppID       = 100
	maxDescription = 1000
	maxKey         = 255
)

// Use is POST /api/v1/credits/use.
func (a *API) Use() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.authorize(w, r, ScopeWrite)
		if !ok {
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
			writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json")
			return
		}
		var raw map[string]json.RawMessage
		dec := json.NewDecoder(r.Body)
		if err := dec.Decode(&raw); err != nil || raw == nil || dec.More() {
			var mbe *http.MaxBytesError
			switch {
			case errors.As(err, &mbe):
				writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", "Request body too large")
			case errors.Is(err, io.EOF) || err == nil && raw == nil:
				writeError(w, http.StatusBadRequest, "invalid_json", "Request body must be a JSON object")
			default:
				writeError(w, http.StatusBadRequest, "invalid_json", "Request body must be a single JSON object")
			}
			return
		}
		in, fields := parseUse(raw)
		if len(fields) > 0 {
			writeValidation(w, fields)
			return
		}
		in.UserID = p.Subject
		tx, after, replay, err := a.svc.Spend(r.Context(), in)
		switch {
		case errors.Is(err, credits.ErrInsufficientCredits):
			writeError(w, http.StatusBadRequest, "insufficient_credits", "Insufficient credits")
			return
		case errors.Is(err, credits.ErrInvalidAmount):
			writeValidation(w, map[string]string{"amount": "positive"})
			return
		case err != nil:
			a.internal(w, r, "spend", err)
			return
		}
		out := map[string]any{
			"success":     true,
			"transaction": toTransactionJSON(tx),
			"newBalance":  map[string]int64{"balance": after.Paid, "freeCreditsRemaining": after.Free, "totalSpent": after.TotalSpent},
		}
		if replay {
			out["message"] = "Transaction already processed"
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// parseUse validates every field of a use request at once.
func parseUse(raw map[string]json.RawMessage) (credits.SpendInput, map[string]string) {
	var in credits.SpendInput
	fields := map[string]string{}
	str := func(name string, required bool, maxLen int) string {
		v, ok := raw[name]
		if !ok || string(v) == "null" {
			if required {
				fields[name] = "required"
			}
			return ""
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			fields[name] = "invalid"
			return ""
		}
		switch {
		case required && strings.TrimSpace(s) == "":
			fields[name] = "required"
		case len(s) > maxLen:
			fields[name] = "length"
		}
		return s
	}
	for k := range raw {
		switch k {
		case "amount", "appId", "description", "idempotencyKey", "metadata":
		default:
			fields[k] = "not_allowed"
		}
	}
	if v, ok := raw["amount"]; !ok || string(v) == "null" {
		fields["amount"] = "required"
	} else if n, err := strconv.ParseInt(string(v), 10, 64); err != nil {
		fields["amount"] = "integer"
	} else if n <= 0 {
		fields["amount"] = "positive"
	} else {
		in.Amount = n
	}
	in.AppID = strings.TrimSpace(str("appId", true, maxAppID))
	in.Description = str("description", true, maxDescription)
	in.IdempotencyKey = str("idempotencyKey", false, maxKey)
	if v, ok := raw["metadata"]; ok && string(v) != "null" {
		if t := strings.TrimSpace(string(v)); !strings.HasPrefix(t, "{") {
			fields["metadata"] = "object"
		} else {
			in.Metadata = json.RawMessage(t)
		}
	}
	return in, fields
}

// Transactions is GET /api/v1/credits/transactions?limit&offset.
func (a *API) Transactions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.authorize(w, r, ScopeRead)
		if !ok {
			return
		}
		q := r.URL.Query()
		fields := map[string]string{}
		num := func(name string, def, lo, hi int) int {
			s := q.Get(name)
			if s == "" {
				return def
			}
			n, err := strconv.Atoi(s)
			if err != nil || n < lo || n > hi {
				fields[name] = "invalid"
				return def
			}
			return n
		}
		limit := min(num("limit", credits.DefaultLimit, 1, 1<<30), credits.MaxLimit)
		offset := num("offset", 0, 0, 1<<30)
		if len(fields) > 0 {
			writeValidation(w, fields)
			return
		}
		txs, err := a.svc.Transactions(r.Context(), p.Subject, limit, offset)
		if err != nil {
			a.internal(w, r, "transactions", err)
			return
		}
		out := make([]transactionJSON, 0, len(txs))
		for _, tx := range txs {
			out = append(out, toTransactionJSON(tx))
		}
		writeJSON(w, http.StatusOK, out)
	})
}
