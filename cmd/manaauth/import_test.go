package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/manacore/mana-core-auth/internal/betterauth/betterauthtest"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/store"
)

// betterAuthHashes are password hashes made by the old service's own
// library (provider/account/testdata/better-auth: gen-hashes.mjs run with
// better-auth 1.4.4, output committed), so the import is tested against
// real hashes, not our reading of the algorithm.
func betterAuthHashes(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "provider", "account", "testdata", "better-auth", "hashes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Generator string `json:"generator"`
		Hashes    []struct{ Password, Hash string }
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if f.Generator != "better-auth@1.4.4 hashPassword" {
		t.Fatalf("hashes.json was made by %q, want better-auth@1.4.4", f.Generator)
	}
	out := map[string]string{}
	for _, h := range f.Hashes {
		out[h.Password] = h.Hash
	}
	return out
}

// The old service's refresh tokens are nanoid(64).
var (
	liveToken    = strings.Repeat("AbC_-9xY", 8)
	revokedToken = strings.Repeat("rEvOkEd1", 8)
	expiredToken = strings.Repeat("eXpIrEd2", 8)
)

// oldFixtures fills the old database: users of every kind the import must
// handle, their sessions and the OAuth applications.
func oldFixtures(t *testing.T, hashes map[string]string, oldKey ed25519.PrivateKey) (dsn string) {
	t.Helper()
	dsn, conn := betterauthtest.OldDatabase(t)
	exec := func(sql string, args ...any) { betterauthtest.Exec(t, conn, sql, args...) }
	exec(`INSERT INTO auth.users (id, name, email, email_verified, image, role, created_at, updated_at, deleted_at) VALUES
		('u-alice', 'Alice', 'Alice@Example.com', true, 'https://cdn.mana.how/alice.png', 'admin', '2025-01-02T03:04:05Z', '2025-06-01T00:00:00Z', NULL),
		('u-bob', 'Bob', 'bob@example.com', true, 'data:image/png;base64,AAAA', 'service', '2025-02-01T00:00:00Z', '2025-02-01T00:00:00Z', NULL),
		('u-carol', 'Carol', 'carol@example.com', true, NULL, 'user', '2025-03-01T00:00:00Z', '2025-03-01T00:00:00Z', NULL),
		('u-dave', 'Dave', 'dave@example.com', true, NULL, 'user', '2025-04-01T00:00:00Z', '2025-04-01T00:00:00Z', '2025-05-01T00:00:00Z'),
		('u-erin', 'Erin', 'erin@example.com', false, NULL, 'user', '2025-05-01T00:00:00Z', '2025-05-01T00:00:00Z', NULL)`)
	exec(`INSERT INTO auth.accounts (id, account_id, provider_id, user_id, password) VALUES
		('a1', 'u-alice', 'credential', 'u-alice', $1),
		('a2', 'u-bob', 'credential', 'u-bob', $2),
		('a3', 'u-carol', 'credential', 'u-carol', 'not-a-better-auth-hash'),
		('a4', 'u-dave', 'credential', 'u-dave', $1)`,
		hashes["correct horse battery staple"], hashes["Grüße aus Köln"])
	exec(`INSERT INTO auth.sessions (id, token, user_id, expires_at, created_at, updated_at, ip_address, user_agent,
			refresh_token, refresh_token_expires_at, device_id, device_name, revoked_at) VALUES
		('s-live', 'tok-live', 'u-alice', now() + interval '15 minutes', now() - interval '1 hour', now() - interval '1 hour',
			'203.0.113.9', 'ManaApp/1.0 (iPhone)', $1, now() + interval '6 days', 'dev-1', 'Alice''s iPhone', NULL),
		('s-revoked', 'tok-revoked', 'u-alice', now(), now() - interval '2 hours', now(), NULL, NULL,
			$2, now() + interval '6 days', NULL, NULL, now() - interval '1 hour'),
		('s-expired', 'tok-expired', 'u-alice', now(), now() - interval '8 days', now(), NULL, NULL,
			$3, now() - interval '1 day', NULL, NULL, NULL),
		('s-cookie', 'tok-cookie', 'u-alice', now() + interval '7 days', now(), now(), NULL, NULL, NULL, NULL, NULL, NULL, NULL),
		('s-short', 'tok-short', 'u-bob', now() + interval '7 days', now(), now(), NULL, NULL,
			'too-short', now() + interval '6 days', NULL, NULL, NULL),
		('s-dave', 'tok-dave', 'u-dave', now() + interval '7 days', now(), now(), NULL, NULL,
			$4, now() + interval '6 days', NULL, NULL, NULL)`,
		liveToken, revokedToken, expiredToken, strings.Repeat("dAvE", 16))
	exec(`INSERT INTO auth.oauth_applications (id, name, icon, metadata, client_id, client_secret, redirect_urls, type, disabled) VALUES
		('app1', 'Synapse', 'https://matrix.org/logo.png', '{"trusted":true,"skipConsent":true}', 'synapse', 'old-synapse-secret-1234',
			'https://matrix.mana.how/_synapse/client/oidc/callback', 'web', false),
		('app2', 'Todo SPA', NULL, NULL, 'todo-spa', 'unused', 'https://todo.mana.how/callback, https://todo.mana.how/silent', 'user-agent-based', false),
		('app3', 'Evil', NULL, NULL, 'plain-http', 'secret-secret-secret', 'http://evil.example/cb', 'web', false)`)
	// Alice's credits: 120 paid, 30 free, a purchase and a spend.
	exec(`INSERT INTO credits.packages (id, name, credits, price_euro_cents, active, sort_order) VALUES
		('6f1c2a3e-0000-4000-8000-000000000001', '100 Mana', 100, 100, true, 1)`)
	exec(`INSERT INTO credits.balances (user_id, balance, free_credits_remaining, total_earned, total_spent, last_daily_reset_at) VALUES
		('u-alice', 120, 30, 250, 100, now() - interval '2 days')`)
	exec(`INSERT INTO credits.transactions (id, user_id, type, status, amount, balance_before, balance_after, app_id, description, created_at) VALUES
		('7a000000-0000-4000-8000-000000000001', 'u-alice', 'purchase', 'completed', 100, 50, 150, 'system', 'Purchase 100 Mana', '2025-07-01T10:00:00Z'),
		('7a000000-0000-4000-8000-000000000002', 'u-alice', 'usage', 'completed', -20, 170, 150, 'chat', 'Chat message', '2025-07-02T10:00:00Z')`)
	exec(`INSERT INTO credits.purchases (id, user_id, package_id, credits, price_euro_cents, stripe_payment_intent_id, status, created_at, completed_at) VALUES
		('8b000000-0000-4000-8000-000000000001', 'u-alice', '6f1c2a3e-0000-4000-8000-000000000001', 100, 100, 'pi_old_1', 'completed', '2025-07-01T10:00:00Z', '2025-07-01T10:00:05Z')`)
	exec(`INSERT INTO credits.usage_stats (user_id, app_id, credits_used, date) VALUES ('u-alice', 'chat', 20, '2025-07-02T10:00:00Z')`)
	// The old signing key as Better Auth's jwt plugin stored it (jose's
	// exportJWK of the public half; the private half encrypted with the
	// old secret, which the import does not need), and one that is not
	// Ed25519.
	x := base64.RawURLEncoding.EncodeToString(oldKey.Public().(ed25519.PublicKey))
	exec(`INSERT INTO auth.jwks (id, public_key, private_key, created_at) VALUES
		('old-kid-1', $1, 'encrypted-with-the-old-secret', now() - interval '30 days'),
		('old-rsa', '{"kty":"RSA","n":"AQAB","e":"AQAB"}', 'x', now() - interval '30 days')`,
		`{"crv":"Ed25519","x":"`+x+`","kty":"OKP"}`)
	return dsn
}

// oldServiceJWT is an access token as the old service signed it just
// before the switch: EdDSA, kid = the jwks row id, no iat.
func oldServiceJWT(t *testing.T, key ed25519.PrivateKey) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "old-kid-1"))
	if err != nil {
		t.Fatal(err)
	}
	claims, _ := json.Marshal(map[string]any{"sub": "u-alice", "email": "alice@example.com", "role": "user",
		"sid": "s-live", "iss": "http://localhost:3001", "aud": "manacore", "exp": time.Now().Add(10 * time.Minute).Unix()})
	jws, err := signer.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// targetState is what the import writes, read back through the store, to
// compare before and after a run.
func targetState(t *testing.T, databaseURL string) string {
	t.Helper()
	db := databasetest.Connect(t, databaseURL)
	st, err := store.New(db)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var b strings.Builder
	users, n, err := st.SearchUsers(ctx, provider.UserSearch{IncludeDeleted: true, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "%d users\n", n)
	for _, l := range users {
		// SearchUsers leaves out the picture: read the whole row.
		u, err := st.GetUser(ctx, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%+v\n", *u)
		ss, err := st.ListSessions(ctx, u.ID, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ss {
			fmt.Fprintf(&b, "  %+v\n", *s)
		}
	}
	cs, err := st.ListClients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		fmt.Fprintf(&b, "%+v\n", *c)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestImportBetterAuth: the whole move on each target backend — a dry
// run writes nothing, the import keeps ids and passwords, a second run
// changes nothing, and then over HTTP: the old passwords sign in (and are
// re-hashed), an imported refresh token works once and then rotates like
// ours, reuse revokes its family, revoked and expired ones were never
// imported, and the clients keep their secrets.
func TestImportBetterAuth(t *testing.T) {
	hashes := betterAuthHashes(t)
	for _, d := range databasetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			_, oldKey, err := ed25519.GenerateKey(nil)
			if err != nil {
				t.Fatal(err)
			}
			from := oldFixtures(t, hashes, oldKey)
			target := databasetest.URL(t, d)
			env := map[string]string{"DATABASE_URL": target, "SECRET_KEY": strings.Repeat("s", 48), "PORT": "0",
				"LOG_LEVEL": "warn", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": "2525", "REFRESH_GRACE": "1s",
				"SYNAPSE_OIDC_CLIENT_SECRET": "the-matrix-synapse-secret"}
			importCmd := func(extra ...string) string {
				t.Helper()
				out, errOut, err := runCmd(t, env, append([]string{"import", "better-auth", "--from", from}, extra...)...)
				if err != nil {
					t.Fatalf("import %v: %v\n%s\n%s", extra, err, out, errOut)
				}
				return out
			}
			wantLines := func(out string, lines ...string) {
				t.Helper()
				for _, l := range lines {
					if !regexp.MustCompile(l).MatchString(out) {
						t.Errorf("import output lacks %q:\n%s", l, out)
					}
				}
			}

			out := importCmd("--dry-run")
			wantLines(out, `dry run: nothing was written`, `users:\s+would import 4, already present 0, skipped 1`,
				`sessions:\s+would import 1, already present 0, skipped 5`)
			if st := targetState(t, target); !strings.HasPrefix(st, "0 users\n") || strings.Contains(st, "synapse") {
				t.Fatalf("the dry run wrote:\n%s", st)
			}

			out = importCmd()
			wantLines(out,
				`users:\s+imported 4, already present 0, skipped 1`,
				`passwords:\s+imported 2, already present 0, skipped 2`,
				`clients:\s+imported 3, already present 0, skipped 1`,
				`sessions:\s+imported 1, already present 0, skipped 5`,
				`signing keys:\s+imported 1, already present 0, skipped 1`, `signing key old-rsa: .*RSA`,
				`credit balances:\s+imported 1, already present 0`, `credit transactions:\s+imported 2, already present 0`,
				`credit purchases:\s+imported 1, already present 0`, `credit packages:\s+imported 1, already present 0`,
				`1 refresh token revoked`, `1 refresh token expired`, `1 user not imported`,
				`user u-dave: soft-deleted in the old service`,
				`password u-carol: unreadable Better Auth hash`,
				`client plain-http: invalid client: redirect_uris`,
				`session s-short: refresh token is not 64 characters`,
				`user u-bob: role "service" does not exist here`, `user u-bob: image is not an https URL`)
			if strings.Contains(out, liveToken) || strings.Contains(out, "too-short") {
				t.Error("the report prints a refresh token")
			}
			before := targetState(t, target)
			for _, want := range []string{"ID:u-alice Email:alice@example.com EmailVerified:true Name:Alice Picture:https://cdn.mana.how/alice.png Role:admin",
				"ID:u-bob Email:bob@example.com EmailVerified:true Name:Bob Picture: Role:user", "ID:s-live UserID:u-alice",
				"DeviceName:Alice's iPhone", "ID:synapse Name:Synapse", "Trusted:true", "ID:matrix-synapse", "ID:todo-spa", "Public:true"} {
				if !strings.Contains(before, want) {
					t.Errorf("imported state lacks %q:\n%s", want, before)
				}
			}
			if !strings.Contains(before, "CreatedAt:2025-01-02 03:04:05 +0000 UTC") {
				t.Errorf("the creation time was not kept:\n%s", before)
			}

			out = importCmd()
			wantLines(out, `users:\s+imported 0, already present 4`, `clients:\s+imported 0, already present 3`,
				`signing keys:\s+imported 0, already present 1`, `credit balances:\s+imported 0, already present 1`,
				`credit transactions:\s+imported 0, already present 2`,
				`sessions:\s+imported 0, already present 1`)
			if after := targetState(t, target); after != before {
				t.Fatalf("a second import changed the target:\nbefore:\n%s\nafter:\n%s", before, after)
			}

			base, _ := startServe(t, env)
			api := func(method, path, bearer string, body any) (int, map[string]any) {
				t.Helper()
				var rd io.Reader
				if body != nil {
					raw, _ := json.Marshal(body)
					rd = bytes.NewReader(raw)
				}
				req, _ := http.NewRequest(method, base+path, rd)
				req.Header.Set("Content-Type", "application/json")
				if bearer != "" {
					req.Header.Set("Authorization", "Bearer "+bearer)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var m map[string]any
				_ = json.NewDecoder(resp.Body).Decode(&m)
				return resp.StatusCode, m
			}
			userID := func(m map[string]any) any {
				u, _ := m["user"].(map[string]any)
				return u["id"]
			}

			// A token the old service signed just before the switch verifies
			// against our JWKS with an independent relying-party library.
			keySet := oidc.NewRemoteKeySet(t.Context(), base+"/.well-known/jwks.json")
			if _, err := keySet.VerifySignature(t.Context(), oldServiceJWT(t, oldKey)); err != nil {
				t.Errorf("a token of the old service does not verify against the JWKS: %v", err)
			}

			// The original passwords sign in, under the same ids.
			code, m := api("POST", "/api/v1/auth/login", "", map[string]string{"email": "alice@example.com", "password": "correct horse battery staple"})
			if code != http.StatusOK || userID(m) != "u-alice" {
				t.Fatalf("alice's login: %d %v", code, m)
			}
			code, m = api("POST", "/api/v1/auth/login", "", map[string]string{"email": "BOB@example.com", "password": "Gru\u0308ße aus Ko\u0308ln"})
			if code != http.StatusOK || userID(m) != "u-bob" {
				t.Fatalf("bob's login (decomposed umlauts, NFKC): %d %v", code, m)
			}
			if code, m := api("POST", "/api/v1/auth/login", "", map[string]string{"email": "alice@example.com", "password": "wrong password"}); code != http.StatusUnauthorized {
				t.Errorf("a wrong password: %d %v", code, m)
			}
			if code, m := api("POST", "/api/v1/auth/login", "", map[string]string{"email": "carol@example.com", "password": "anything at all"}); code != http.StatusUnauthorized {
				t.Errorf("carol (unreadable hash, imported without a password): %d %v", code, m)
			}
			if st := targetState(t, target); !regexp.MustCompile(`ID:u-alice [^\n]*PasswordHash:\$argon2id\$`).MatchString(st) {
				t.Errorf("alice's hash was not upgraded to argon2id at login:\n%s", st)
			}

			// The app's stored refresh token: exchanged once for our pair,
			// bound to the imported session.
			code, m = api("POST", "/api/v1/auth/refresh", "", map[string]string{"refreshToken": liveToken})
			if code != http.StatusOK || userID(m) != "u-alice" {
				t.Fatalf("imported refresh token: %d %v", code, m)
			}
			access, refresh := m["accessToken"].(string), m["refreshToken"].(string)
			if refresh == "" || refresh == liveToken || access == "" {
				t.Fatalf("exchange answered %v", m)
			}
			// Her credits came along: the old balances exactly, the history
			// in her list, and no second signup bonus.
			code, m = api("GET", "/api/v1/credits/balance", access, nil)
			if code != http.StatusOK || m["balance"] != float64(120) || m["freeCreditsRemaining"] != float64(30+5) {
				t.Errorf("alice's balance after the import (120 paid, 30 free + today's 5): %d %v", code, m)
			}
			req, _ := http.NewRequest("GET", base+"/api/v1/credits/transactions", nil)
			req.Header.Set("Authorization", "Bearer "+access)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			history, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !bytes.Contains(history, []byte(`"id":"7a000000-0000-4000-8000-000000000002"`)) ||
				!bytes.Contains(history, []byte("Chat message")) {
				t.Errorf("alice's history after the import: %d %s", resp.StatusCode, history)
			}
			if _, errOut, err := runCmd(t, env, "credits", "verify"); err != nil {
				t.Errorf("credits verify after the import: %v %s", err, errOut)
			}
			code, m = api("GET", "/api/v1/auth/sessions", access, nil)
			if code != http.StatusOK || !strings.Contains(fmt.Sprint(m), "Alice's iPhone") {
				t.Errorf("the new access token does not list the imported session: %d %v", code, m)
			}
			// A retry within the grace window (two tabs) gets the same pair.
			code, m = api("POST", "/api/v1/auth/refresh", "", map[string]string{"refreshToken": liveToken})
			if code != http.StatusOK || m["refreshToken"] != refresh {
				t.Fatalf("retry within the grace window: %d %v", code, m)
			}
			// Our token rotates as ours do.
			code, m = api("POST", "/api/v1/auth/refresh", "", map[string]string{"refreshToken": refresh})
			if code != http.StatusOK || m["refreshToken"] == refresh {
				t.Fatalf("rotating the exchanged token: %d %v", code, m)
			}
			rotated := m["refreshToken"].(string)
			// After the grace window the old token is reuse: refused, and
			// the family it became is revoked.
			time.Sleep(1100 * time.Millisecond)
			if code, m := api("POST", "/api/v1/auth/refresh", "", map[string]string{"refreshToken": liveToken}); code != http.StatusUnauthorized {
				t.Fatalf("imported token reused after the grace window: %d %v", code, m)
			}
			if code, m := api("POST", "/api/v1/auth/refresh", "", map[string]string{"refreshToken": rotated}); code != http.StatusUnauthorized {
				t.Errorf("the family of a reused imported token still refreshes: %d %v", code, m)
			}
			for name, tok := range map[string]string{"revoked": revokedToken, "expired": expiredToken, "soft-deleted user's": strings.Repeat("dAvE", 16)} {
				if code, m := api("POST", "/api/v1/auth/refresh", "", map[string]string{"refreshToken": tok}); code != http.StatusUnauthorized {
					t.Errorf("%s old refresh token: %d %v", name, code, m)
				}
			}

			// The clients keep their secrets, now stored hashed.
			revoke := func(client, secret string) int {
				req, _ := http.NewRequest("POST", base+"/oauth2/revoke", strings.NewReader(url.Values{"token": {"nothing"}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(client, secret)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			for _, c := range []struct {
				id, secret string
				want       int
			}{
				{"synapse", "old-synapse-secret-1234", http.StatusOK},
				{"matrix-synapse", "the-matrix-synapse-secret", http.StatusOK},
				{"matrix-synapse", "old-synapse-secret-1234", http.StatusUnauthorized},
			} {
				if got := revoke(c.id, c.secret); got != c.want {
					t.Errorf("client %s authenticating: %d, want %d", c.id, got, c.want)
				}
			}
			if st := targetState(t, target); strings.Contains(st, "old-synapse-secret-1234") {
				t.Error("a client secret is stored in plain text")
			}
		})
	}
}

// TestImportRefusesBadSource: the source must be a PostgreSQL URL; an
// unreachable one is an error that names it, and nothing is written.
func TestImportRefusesBadSource(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "m.db"), "SECRET_KEY": strings.Repeat("s", 48)}
	if _, _, err := runCmd(t, env, "import", "better-auth", "--from", "sqlite:/tmp/x.db"); err == nil {
		t.Error("a SQLite source was accepted")
	}
	if _, _, err := runCmd(t, env, "import", "better-auth"); err == nil {
		t.Error("a missing --from was accepted")
	}
	if _, _, err := runCmd(t, env, "import", "other"); err == nil {
		t.Error("an unknown source kind was accepted")
	}
	_, _, err := runCmd(t, env, "import", "better-auth", "--from", "postgres://nobody@127.0.0.1:1/old?connect_timeout=2")
	if err == nil || !strings.Contains(err.Error(), "old database") {
		t.Errorf("unreachable source: %v", err)
	}
}
