package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/manacore/mana-core-auth/provider/httpx"
)

// TestNewLogger: serve logs JSON lines outside --dev and text in --dev,
// and both carry the request id of the context they are logged with.
func TestNewLogger(t *testing.T) {
	ctx := httpx.WithRequestID(t.Context(), "req-42")
	var prod bytes.Buffer
	newLogger(&prod, slog.LevelInfo, false).InfoContext(ctx, "hello", "k", "v")
	var line map[string]any
	if err := json.Unmarshal(prod.Bytes(), &line); err != nil {
		t.Fatalf("production log is not a JSON line: %q", prod.String())
	}
	if line["msg"] != "hello" || line["request_id"] != "req-42" || line["k"] != "v" {
		t.Errorf("production log line %v", line)
	}
	var dev bytes.Buffer
	newLogger(&dev, slog.LevelInfo, true).With("component", "x").InfoContext(ctx, "hello")
	if s := dev.String(); strings.HasPrefix(s, "{") || !strings.Contains(s, "msg=hello") || !strings.Contains(s, "request_id=req-42") {
		t.Errorf("--dev log line %q", s)
	}
	prod.Reset()
	newLogger(&prod, slog.LevelInfo, false).Info("no request")
	if strings.Contains(prod.String(), "request_id") {
		t.Errorf("request_id outside a request: %q", prod.String())
	}
}
