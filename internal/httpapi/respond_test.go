package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/manacore/mana-core-auth/internal/httpapi"
)

// answer is a recorded response with its JSON body decoded.
type answer struct {
	status int
	header http.Header
	body   string
	json   map[string]any
}

func record(t *testing.T, write func(http.ResponseWriter)) answer {
	t.Helper()
	rec := httptest.NewRecorder()
	write(rec)
	a := answer{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
	if a.body != "" {
		if err := json.Unmarshal(rec.Body.Bytes(), &a.json); err != nil {
			t.Fatalf("answer is not a JSON object: %v: %s", err, a.body)
		}
	}
	return a
}

func (a answer) wantHeaders(t *testing.T) {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if cc := a.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
}

// wantError checks the envelope the Mana apps parse.
func (a answer) wantError(t *testing.T, status int, code, msg string) {
	t.Helper()
	a.wantHeaders(t)
	if a.status != status || a.json["statusCode"] != float64(status) || a.json["error"] != http.StatusText(status) ||
		a.json["code"] != code || (msg != "" && a.json["message"] != msg) {
		t.Errorf("answer %d %s, want %d %s %q", a.status, a.body, status, code, msg)
	}
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		status   int
		v        any
		want     int
		wantBody string
	}{
		{"object", http.StatusCreated, map[string]any{"user": map[string]string{"id": "u1"}}, http.StatusCreated, `{"user":{"id":"u1"}}`},
		{"list", http.StatusOK, []int{1, 2}, http.StatusOK, `[1,2]`},
		{"null", http.StatusOK, nil, http.StatusOK, `null`},
		{"html is escaped", http.StatusOK, map[string]string{"x": "<script>"}, http.StatusOK, `{"x":"\u003cscript\u003e"}`},
		{"unencodable", http.StatusOK, map[string]any{"f": func() {}}, http.StatusInternalServerError,
			`{"statusCode":500,"message":"Internal server error","error":"Internal Server Error","code":"internal_error"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			httpapi.WriteJSON(rec, tc.status, tc.v)
			a := answer{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
			a.wantHeaders(t)
			if a.status != tc.want || strings.TrimSpace(a.body) != tc.wantBody {
				t.Errorf("got %d %s, want %d %s", a.status, a.body, tc.want, tc.wantBody)
			}
			if cl := a.header.Get("Content-Length"); cl != fmt.Sprint(len(a.body)) {
				t.Errorf("Content-Length = %s, body has %d bytes", cl, len(a.body))
			}
		})
	}
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	a := record(t, func(w http.ResponseWriter) {
		httpapi.WriteError(w, http.StatusUnauthorized, "invalid_credentials", "Invalid email or password")
	})
	a.wantError(t, http.StatusUnauthorized, "invalid_credentials", "Invalid email or password")
	want := map[string]any{"statusCode": float64(401), "message": "Invalid email or password", "error": "Unauthorized", "code": "invalid_credentials"}
	if !reflect.DeepEqual(a.json, want) {
		t.Errorf("envelope = %v, want %v", a.json, want)
	}
}

func TestValidationMessage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ code, want string }{
		{"required", "email should not be empty"},
		{"not_allowed", "property email should not exist"},
		{"invalid_email", "email must be an email"},
		{"length", "email has an invalid length"},
		{"positive", "email must be a positive integer"},
		{"integer", "email must be an integer"},
		{"object", "email must be an object"},
		{"invalid", "email is invalid"},
		{"no_such_code", "email is invalid"},
		{"", "email is invalid"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			if got := httpapi.ValidationMessage("email", tc.code); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	// A field name the client chose is text, never a format.
	if got := httpapi.ValidationMessage("%d%s", "not_allowed"); got != "property %d%s should not exist" {
		t.Errorf("got %q", got)
	}
}

func TestWriteValidation(t *testing.T) {
	t.Parallel()
	fields := map[string]string{"password": "length", "email": "invalid_email", "isAdmin": "not_allowed", "amount": "positive"}
	a := record(t, func(w http.ResponseWriter) { httpapi.WriteValidation(w, fields) })
	a.wantError(t, http.StatusBadRequest, "validation_failed", "")
	wantMsgs := []any{"amount must be a positive integer", "email must be an email", "property isAdmin should not exist", "password has an invalid length"}
	if !reflect.DeepEqual(a.json["message"], wantMsgs) {
		t.Errorf("message = %v, want %v", a.json["message"], wantMsgs)
	}
	wantErrs := map[string]any{"password": "length", "email": "invalid_email", "isAdmin": "not_allowed", "amount": "positive"}
	if !reflect.DeepEqual(a.json["errors"], wantErrs) {
		t.Errorf("errors = %v, want %v", a.json["errors"], wantErrs)
	}
}

func TestRequireFields(t *testing.T) {
	t.Parallel()
	fields := map[string]string{"email": "invalid_email"}
	httpapi.RequireFields(fields, map[string]string{"password": "", "name": " \t\n", "code": "123456", "email": "x"})
	want := map[string]string{"email": "invalid_email", "password": "required", "name": "required"}
	if !reflect.DeepEqual(fields, want) {
		t.Errorf("fields = %v, want %v", fields, want)
	}
}

func TestInternalError(t *testing.T) {
	t.Parallel()
	secret := errors.New("pq: connection refused to 10.0.0.5")
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name      string
		ctx       context.Context
		err       error
		answered  bool
		wantInLog string
		// unavailable: the database did not answer, which is 503 with
		// Retry-After rather than 500.
		unavailable bool
	}{
		{"database error", context.Background(), secret, true, "connection refused", false},
		{"client went away", gone, fmt.Errorf("spend: %w", context.Canceled), false, "", false},
		// Cancelled by something of ours while the client still waits: a bug to see.
		{"cancelled inside the server", context.Background(), context.Canceled, true, "context canceled", false},
		{"deadline", context.Background(), fmt.Errorf("load: %w", context.DeadlineExceeded), true, "deadline exceeded", true},
		{"connection refused", context.Background(), &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true, "connection refused", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logged bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logged, nil))
			r := httptest.NewRequestWithContext(tc.ctx, http.MethodGet, "/api/v1/credits/balance", nil)
			rec := httptest.NewRecorder()
			httpapi.InternalError(rec, r, log, "balance", tc.err)
			if !tc.answered {
				if rec.Body.Len() != 0 || logged.Len() != 0 {
					t.Errorf("answered %q, logged %q; want neither", rec.Body.String(), logged.String())
				}
				return
			}
			a := answer{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
			if err := json.Unmarshal(rec.Body.Bytes(), &a.json); err != nil {
				t.Fatal(err)
			}
			if tc.unavailable {
				a.wantError(t, http.StatusServiceUnavailable, "temporarily_unavailable", "The service is temporarily unavailable; please try again shortly")
				if a.header.Get("Retry-After") == "" {
					t.Error("503 without Retry-After")
				}
			} else {
				a.wantError(t, http.StatusInternalServerError, "internal_error", "Internal server error")
			}
			if strings.Contains(a.body, "connection") || strings.Contains(a.body, "context") {
				t.Errorf("the cause leaked: %s", a.body)
			}
			if !strings.Contains(logged.String(), "level=ERROR") || !strings.Contains(logged.String(), "msg=balance") && !strings.Contains(logged.String(), `msg="balance: storage unavailable"`) ||
				!strings.Contains(logged.String(), tc.wantInLog) {
				t.Errorf("log = %q", logged.String())
			}
		})
	}
}
