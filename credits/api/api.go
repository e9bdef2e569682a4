// Package api is the credits module's HTTP API (the old service's paths
// and shapes). It trusts only access tokens, through the TokenVerifier the
// provider hands it; it never imports the provider.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/internal/httpapi"
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

// authorize verifies the bearer token and the scope; it answers the error
// itself and reports whether the request may go on.
func (a *API) authorize(w http.ResponseWriter, r *http.Request, scope string) (Principal, bool) {
	token := httpapi.BearerToken(r)
	if token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer`)
		httpapi.WriteError(w, http.StatusUnauthorized, "missing_token", "No token provided")
		return Principal{}, false
	}
	p, err := a.verify.Verify(r.Context(), token)
	switch {
	case errors.Is(err, ErrUnauthorized):
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		httpapi.WriteError(w, http.StatusUnauthorized, "invalid_token", "Invalid token")
		return Principal{}, false
	case errors.Is(err, ErrForbidden):
		httpapi.WriteError(w, http.StatusForbidden, "insufficient_scope", "This token may not use the credits API")
		return Principal{}, false
	case err != nil:
		httpapi.InternalError(w, r, a.log, "verify token", err)
		return Principal{}, false
	case p.Subject == "":
		httpapi.WriteError(w, http.StatusUnauthorized, "invalid_token", "Invalid token")
		return Principal{}, false
	}
	if !slices.Contains(p.Scopes, scope) {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+scope+`"`)
		httpapi.WriteError(w, http.StatusForbidden, "insufficient_scope", "Missing scope "+scope)
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
			httpapi.InternalError(w, r, a.log, "balance", err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, balanceJSON{Balance: b.Paid, FreeCreditsRemaining: b.Free, TotalEarned: b.TotalEarned,
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
		raw, ok := httpapi.DecodeObject(w, r)
		if !ok {
			return
		}
		in, fields := parseUse(raw)
		if len(fields) > 0 {
			httpapi.WriteValidation(w, fields)
			return
		}
		in.UserID = p.Subject
		tx, after, replay, err := a.svc.Spend(r.Context(), in)
		if writeInvalid(w, err) {
			return
		}
		switch {
		case errors.Is(err, credits.ErrIdempotencyKeyReused):
			httpapi.WriteError(w, http.StatusConflict, "idempotency_key_reused",
				"This idempotency key was already used for a different request")
			return
		case errors.Is(err, credits.ErrInsufficientCredits):
			httpapi.WriteError(w, http.StatusBadRequest, "insufficient_credits", "Insufficient credits")
			return
		case errors.Is(err, credits.ErrInvalidAmount):
			httpapi.WriteValidation(w, map[string]string{"amount": "positive"})
			return
		case err != nil:
			httpapi.InternalError(w, r, a.log, "spend", err)
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
		httpapi.WriteJSON(w, http.StatusOK, out)
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
			httpapi.WriteValidation(w, fields)
			return
		}
		txs, err := a.svc.Transactions(r.Context(), p.Subject, limit, offset)
		if err != nil {
			httpapi.InternalError(w, r, a.log, "transactions", err)
			return
		}
		out := make([]transactionJSON, 0, len(txs))
		for _, tx := range txs {
			out = append(out, toTransactionJSON(tx))
		}
		httpapi.WriteJSON(w, http.StatusOK, out)
	})
}
