package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
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

// decodeBody reads a JSON object into dst, refusing unknown fields (as the
// old service's validation did) and trailing data. It answers the error
// itself and reports whether decoding succeeded.
func decodeBody(w http.ResponseWriter, r *http.Request, dst any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeAPIError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json")
		return false
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			writeAPIError(w, http.StatusRequestEntityTooLarge, "body_too_large", "Request body too large")
		case errors.Is(err, io.EOF):
			writeAPIError(w, http.StatusBadRequest, "invalid_json", "Request body must be a JSON object")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			writeValidation(w, map[string]string{strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`): "not_allowed"})
		default:
			writeAPIError(w, http.StatusBadRequest, "invalid_json", "Request body must be a JSON object with the documented fields")
		}
		return false
	}
	if dec.More() {
		writeAPIError(w, http.StatusBadRequest, "invalid_json", "Request body must be a single JSON object")
		return false
	}
	return true
}

// validationMessages turns field codes into the readable list the apps show.
var validationMessages = map[string]string{
	"invalid_email": "%s must be an email",
	"length":        "%s has an invalid length",
	"required":      "%s should not be empty",
	"not_allowed":   "property %s should not exist",
	"invalid":       "%s is invalid",
}

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
		msgs = append(msgs, fmt.Sprintf(tmpl, f))
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"statusCode": http.StatusBadRequest, "message": msgs, "error": "Bad Request",
		"code": "validation_failed", "errors": fields,
	})
}

func requireFields(fields map[string]string, vals map[string]string) {
	for k, v := range vals {
		if strings.TrimSpace(v) == "" {
			fields[k] = "required"
		}
	}
}

// internalError logs a server-side failure and answers a generic 500: the
// client learns nothing about the database or the code.
func (s *server) internalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	s.Logger.ErrorContext(r.Context(), what, "error", err)
	writeAPIError(w, http.StatusInternalServerError, "internal_error", "Internal server error")
}
