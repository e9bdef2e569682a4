package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/manacore/mana-core-auth/internal/database"
)

// envelope is the error answer the Mana apps parse. Message is a string,
// or the list of readable messages of a validation answer.
type envelope struct {
	StatusCode int               `json:"statusCode"`
	Message    any               `json:"message"`
	Error      string            `json:"error"`
	Code       string            `json:"code,omitempty"`
	Errors     map[string]string `json:"errors,omitempty"`
}

// WriteJSON answers status with v as JSON. Every answer of these APIs may
// carry user data or tokens, so none is stored by a browser or a proxy;
// cacheable documents (discovery, JWKS) do not belong here.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only a response type that cannot be encoded gets here, a bug the
		// tests of its handler show; the client still gets valid JSON.
		status = http.StatusInternalServerError
		body, _ = json.Marshal(envelope{StatusCode: status, Message: "Internal server error",
			Error: http.StatusText(status), Code: "internal_error"})
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// WriteError answers status with the error envelope; code is the
// machine-readable reason, msg the sentence shown to people.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	WriteJSON(w, status, envelope{StatusCode: status, Message: msg, Error: http.StatusText(status), Code: code})
}

// InternalError answers 500 without a hint of the cause, which goes to log
// under the message what; or 503 (Unavailable) when the cause is that the
// database could not be reached or did not answer in time. A request whose client has gone away is neither
// logged nor answered: nobody reads the answer, and a cancelled request is
// not a fault of the server.
func InternalError(w http.ResponseWriter, r *http.Request, log *slog.Logger, what string, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return
	}
	if after, ok := OverloadOf(err); ok {
		// Not logged: a flood would flood the log too; the refusals are
		// counted where they happen.
		Overloaded(w, after)
		return
	}
	if database.Unavailable(err) {
		log.ErrorContext(r.Context(), what+": storage unavailable", "error", err)
		Unavailable(w)
		return
	}
	log.ErrorContext(r.Context(), what, "error", err)
	WriteError(w, http.StatusInternalServerError, "internal_error", "Internal server error")
}

// RetryAfter is the Retry-After of a 503 for an outage of storage: short,
// since most outages are a failover or a restart, and clients that retry
// sooner than that only add load.
const RetryAfter = "5"

// Unavailable answers 503 with Retry-After: the server cannot answer now,
// and nothing about the request was wrong. Clients must not take it for a
// refusal of their credentials.
func Unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", RetryAfter)
	WriteError(w, http.StatusServiceUnavailable, "temporarily_unavailable",
		"The service is temporarily unavailable; please try again shortly")
}

// overload is an error by which the server refused work to stay within
// its capacity (account.BusyError: the password hashing queue is full).
type overload interface {
	error
	RetryAfter() time.Duration
}

// OverloadOf reports whether err is a refusal for overload, and when the
// client should try again.
func OverloadOf(err error) (time.Duration, bool) {
	var o overload
	if !errors.As(err, &o) {
		return 0, false
	}
	return o.RetryAfter(), true
}

// SetRetryAfter sets Retry-After to after in whole seconds, at least 1.
func SetRetryAfter(w http.ResponseWriter, after time.Duration) {
	secs := max(int((after+time.Second-1)/time.Second), 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
}

// Overloaded answers 503 overloaded with Retry-After: the server is at
// capacity and refused the request before looking at it. Nothing about
// the request (its credentials least of all) was wrong.
func Overloaded(w http.ResponseWriter, after time.Duration) {
	SetRetryAfter(w, after)
	WriteError(w, http.StatusServiceUnavailable, "overloaded",
		"The service is busy right now; please try again in a few seconds")
}

// ValidationMessage is the readable message the apps show for field
// failing with code. The one table for both APIs, so a code reads the same
// everywhere; an unknown code reads as "invalid".
func ValidationMessage(field, code string) string {
	switch code {
	case "required":
		return field + " should not be empty"
	case "not_allowed":
		return "property " + field + " should not exist"
	case "invalid_email":
		return field + " must be an email"
	case "length":
		return field + " has an invalid length"
	case "positive":
		return field + " must be a positive integer"
	case "integer":
		return field + " must be an integer"
	case "object":
		return field + " must be an object"
	case "invalid_picture": // issue 12: account.PictureProblem
		return field + " must be an https URL of at most 2048 characters"
	default:
		return field + " is invalid"
	}
}

// WriteValidation answers 400 validation_failed naming every bad field at
// once: errors maps field to code, message lists the readable messages
// sorted by field.
func WriteValidation(w http.ResponseWriter, fields map[string]string) {
	msgs := make([]string, 0, len(fields))
	for _, f := range slices.Sorted(maps.Keys(fields)) {
		msgs = append(msgs, ValidationMessage(f, fields[f]))
	}
	WriteJSON(w, http.StatusBadRequest, envelope{StatusCode: http.StatusBadRequest, Message: msgs,
		Error: http.StatusText(http.StatusBadRequest), Code: "validation_failed", Errors: fields})
}

// RequireFields records "required" in fields for each of vals (field name
// to value) that is empty or only white space.
func RequireFields(fields, vals map[string]string) {
	for k, v := range vals {
		if strings.TrimSpace(v) == "" {
			fields[k] = "required"
		}
	}
}
