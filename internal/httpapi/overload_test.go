package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/internal/httpapi"
)

// busy is a refusal for overload, as account.BusyError is.
type busy struct{ after time.Duration }

func (b busy) Error() string             { return "busy" }
func (b busy) RetryAfter() time.Duration { return b.after }

// TestInternalErrorOverload: an overload refusal, however wrapped, is 503
// overloaded with Retry-After rounded up to whole seconds (at least 1),
// and is not logged.
func TestInternalErrorOverload(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		after time.Duration
		want  string
	}{{1500 * time.Millisecond, "2"}, {time.Second, "1"}, {0, "1"}} {
		var logs bytes.Buffer
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/api/v1/auth/login", nil)
		httpapi.InternalError(w, r, slog.New(slog.NewTextHandler(&logs, nil)), "login", fmt.Errorf("login: %w", busy{c.after}))
		var env struct {
			StatusCode int    `json:"statusCode"`
			Code       string `json:"code"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &env)
		if w.Code != http.StatusServiceUnavailable || env.StatusCode != 503 || env.Code != "overloaded" {
			t.Errorf("after %v: %d %s, want 503 overloaded", c.after, w.Code, w.Body)
		}
		if got := w.Header().Get("Retry-After"); got != c.want {
			t.Errorf("after %v: Retry-After %q, want %q", c.after, got, c.want)
		}
		if logs.Len() > 0 {
			t.Errorf("an overload refusal was logged: %s", logs.String())
		}
	}
	if _, ok := httpapi.OverloadOf(fmt.Errorf("plain")); ok {
		t.Error("a plain error taken for an overload")
	}
}
