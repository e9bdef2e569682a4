package app_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/manacore/mana-core-auth/internal/app"
	"github.com/manacore/mana-core-auth/internal/database"
)

// syncBuffer collects log output written from the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines are the JSON records logged so far.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

func getWithID(t *testing.T, url, incoming string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if incoming != "" {
		req.Header.Set("X-Request-Id", incoming)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("X-Request-Id")
}

// TestRequestIDInLogs: the log line of a request carries request_id equal
// to the X-Request-Id answered; a client's own X-Request-Id is ignored,
// a trusted proxy's is adopted when it is a sane token.
func TestRequestIDInLogs(t *testing.T) {
	for _, c := range []struct {
		name     string
		trusted  []netip.Prefix
		incoming string
		adopted  bool
	}{
		{"none", nil, "", false},
		{"untrusted peer", nil, "from-the-client-123", false},
		{"trusted proxy", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "traefik-4bf92f3577b34da6", true},
		{"trusted proxy, unsafe id", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "x\" injected=1", false},
		{"trusted proxy, too long", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, strings.Repeat("a", 129), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			logs := &syncBuffer{}
			cfg := testConfig(t, database.SQLite)
			cfg.TrustedProxies = c.trusted
			_, base := serveApp(t, cfg, app.Options{Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			answered := getWithID(t, base+"/no-such-page", c.incoming)
			if answered == "" {
				t.Fatal("no X-Request-Id answered")
			}
			if c.adopted != (answered == c.incoming) {
				t.Errorf("answered X-Request-Id %q for incoming %q, adopted=%v wanted", answered, c.incoming, c.adopted)
			}
			var line map[string]any
			waitUntil(t, "the access log line", func() bool {
				for _, l := range logs.lines(t) {
					if l["msg"] == "request" && l["path"] == "/no-such-page" {
						line = l
						return true
					}
				}
				return false
			})
			if line["request_id"] != answered {
				t.Errorf("log line request_id %v, response header %q: %v", line["request_id"], answered, line)
			}
		})
	}
}
