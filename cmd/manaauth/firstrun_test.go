package main

// Issue 12, the command line and first run: every item is checked through
// run(), the way a newcomer meets it.

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/manacore/mana-core-auth/internal/database/databasetest"
)

func prodEnv(dir string) map[string]string {
	return map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(dir, "m.db"), "SECRET_KEY": strings.Repeat("s", 48),
		"SMTP_HOST": "127.0.0.1", "SMTP_PORT": "2525", "LOG_LEVEL": "warn"}
}

// TestServeListsEveryProblem: no SECRET_KEY and no SMTP_HOST are both
// named in one run, with the other bad values.
func TestServeListsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	_, _, err := runCmd(t, map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(dir, "m.db"),
		"LISTEN_ADDR": "nonsense", "PORT": "http"}, "serve")
	if err == nil {
		t.Fatal("serve started without SECRET_KEY and SMTP_HOST")
	}
	for _, want := range []string{"SECRET_KEY is required", "SMTP_HOST is required", "LISTEN_ADDR", "PORT"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problem %q not reported: %v", want, err)
		}
	}
}

// TestDevIssuerFollowsPort: PORT alone moves the issuer, the discovery
// document and the demo block in --dev, and the printed address is the
// loopback socket really bound.
func TestDevIssuerFollowsPort(t *testing.T) {
	port := strconv.Itoa(freePort(t))
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "m.db"), "PORT": port}
	base, out := startServe(t, env, "--dev")
	issuer := "http://localhost:" + port
	if base != "http://127.0.0.1:"+port {
		t.Errorf("serve --dev bound %s, want 127.0.0.1:%s", base, port)
	}
	for _, want := range []string{"issuer " + issuer + ")", "discovery:     " + issuer + "/.well-known/openid-configuration", "open:          " + issuer + "/demo"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	doc := getJSON(t, base+"/.well-known/openid-configuration")
	if doc["issuer"] != issuer {
		t.Errorf("issuer = %v, want %s", doc["issuer"], issuer)
	}
}

// TestListenAddr: production listens on every interface by default and
// says so; LISTEN_ADDR picks the socket; a malformed one is refused.
func TestListenAddr(t *testing.T) {
	env := prodEnv(t.TempDir())
	env["PORT"] = "0"
	_, out := startServe(t, env)
	if !regexp.MustCompile(`listening on \[::\]:\d+ \(every interface|listening on 0\.0\.0\.0:\d+ \(every interface`).MatchString(out.String()) {
		t.Errorf("production default should bind every interface and say so:\n%s", out.String())
	}

	env = prodEnv(t.TempDir())
	env["LISTEN_ADDR"] = "127.0.0.1:0"
	base, out := startServe(t, env)
	if !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.Contains(out.String(), "listening on http://127.0.0.1:") {
		t.Errorf("LISTEN_ADDR=127.0.0.1:0: bound %s\n%s", base, out.String())
	}
	if r := getJSON(t, base+"/.well-known/openid-configuration"); r["issuer"] != "http://localhost:"+base[strings.LastIndex(base, ":")+1:] {
		t.Errorf("production issuer without BASE_URL = %v", r["issuer"])
	}

	env["LISTEN_ADDR"] = "localhost"
	if _, _, err := runCmd(t, env, "serve"); err == nil || !strings.Contains(err.Error(), "LISTEN_ADDR") {
		t.Errorf("LISTEN_ADDR without a port: %v", err)
	}
}

// TestBusyPortSaidFirst: a busy port stops serve before the demo block,
// with the hint to set PORT.
func TestBusyPortSaidFirst(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	out, _, err := runCmd(t, map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "m.db"), "PORT": port}, "serve", "--dev")
	if err == nil || !strings.Contains(err.Error(), "already in use") || !strings.Contains(err.Error(), "PORT=") {
		t.Fatalf("busy port: %v", err)
	}
	if strings.Contains(out, "Demo") || strings.Contains(out, "password") {
		t.Errorf("the demo block was printed before the busy port was noticed:\n%s", out)
	}
}

// TestHelpExitsZero: --help on every command prints its usage and
// succeeds; a wrong flag still fails.
func TestHelpExitsZero(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "m.db")}
	for _, args := range [][]string{
		{"serve", "--help"}, {"serve", "-h"}, {"migrate", "--help"}, {"users", "create", "--help"}, {"users", "--help"},
		{"clients", "create", "--help"}, {"clients", "--help"}, {"keys", "rotate", "--help"},
		{"credits", "grant", "--help"}, {"credits", "--help"}, {"--help"}, {"help"},
	} {
		out, errOut, err := runCmd(t, env, args...)
		if err != nil {
			t.Errorf("%v: %v", args, err)
		}
		if !strings.Contains(out+errOut, "usage") && !strings.Contains(out+errOut, "Usage") {
			t.Errorf("%v printed no usage: %q %q", args, out, errOut)
		}
	}
	_, errOut, err := runCmd(t, env, "serve", "--help")
	if err != nil || !strings.Contains(errOut, "-dev") {
		t.Errorf("serve --help does not list --dev: %v %q", err, errOut)
	}
	if _, _, err := runCmd(t, env, "serve", "--nope"); err == nil {
		t.Error("serve --nope succeeded")
	}
	if _, _, err := runCmd(t, env, "migrate", "extra"); err == nil {
		t.Error("migrate with a stray argument succeeded")
	}
}

// TestVersion prints the module and the revision (or why there is none:
// go test builds carry no VCS stamp).
func TestVersion(t *testing.T) {
	out, _, err := runCmd(t, nil, "version")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"manaauth ", "module:   github.com/manacore/mana-core-auth", "revision: ", "go:       go1."} {
		if !strings.Contains(out, want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}
}

// TestMigrateNamesDatabaseAndVersions on both backends: where, and from
// which schema version to which; never the password.
func TestMigrateNamesDatabaseAndVersions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	out, _, err := runCmd(t, map[string]string{"DATABASE_URL": "sqlite:" + path}, "migrate")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`schema version 0 \(empty\) -> (\d+): migrations applied`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "database: SQLite "+path) {
		t.Fatalf("first migrate:\n%s", out)
	}
	out, _, err = runCmd(t, map[string]string{"DATABASE_URL": "sqlite:" + path}, "migrate")
	if err != nil || !strings.Contains(out, "schema version "+m[1]+": up to date") {
		t.Fatalf("second migrate: %v\n%s", err, out)
	}

	dsn := databasetest.NewPostgresDatabase(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err = runCmd(t, map[string]string{"DATABASE_URL": dsn}, "migrate")
	if err != nil {
		t.Fatal(err)
	}
	dbName := strings.TrimPrefix(u.Path, "/")
	if !strings.Contains(out, fmt.Sprintf("PostgreSQL database %q on %s", dbName, u.Hostname())) ||
		!regexp.MustCompile(`schema version (0 \(empty\)|\d+) -> \d+: migrations applied|schema version \d+: up to date`).MatchString(out) {
		t.Fatalf("postgres migrate:\n%s", out)
	}
	if pw, ok := u.User.Password(); ok && pw != "" && strings.Contains(out, pw) {
		t.Errorf("migrate printed the password:\n%s", out)
	}

	where, err := describeDatabase("postgres://auth:s3cr3t-pw@db.example:5433/manaauth?sslmode=require")
	if err != nil || strings.Contains(where, "s3cr3t") || where != `PostgreSQL database "manaauth" on db.example:5433 (user auth)` {
		t.Errorf("describeDatabase = %q, %v", where, err)
	}
}

// TestMakeRunEndsInDemoSignIn is `make run` followed by a newcomer's
// clicks: serve --dev on an empty data directory, open the printed demo
// app, sign in as the printed demo user, and see the ID token claims, the
// userinfo and the credits balance. On both backends.
func TestMakeRunEndsInDemoSignIn(t *testing.T) {
	backends := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "data", "manaauth.db") },
		"postgres": func(t *testing.T) string { return databasetest.NewPostgresDatabase(t) },
	}
	for name, dsn := range backends {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{"DATABASE_URL": dsn(t), "PORT": strconv.Itoa(freePort(t)), "LOG_LEVEL": "warn"}
			if name == "postgres" {
				env["SECRET_KEY"] = strings.Repeat("d", 48) // --dev keeps a generated key beside SQLite files only
			}
			_, out := startServe(t, env, "--dev")
			demoURL := regexp.MustCompile(`open:\s+(\S+/demo)`).FindStringSubmatch(out.String())
			password := regexp.MustCompile(`password:\s+(\S+)`).FindStringSubmatch(out.String())
			if demoURL == nil || password == nil {
				t.Fatalf("the demo block names no demo app or password:\n%s", out.String())
			}
			walkDemoSignIn(t, demoURL[1], demoEmail, password[1])
		})
	}
}

var hiddenInputRE = regexp.MustCompile(`<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"`)

func walkDemoSignIn(t *testing.T, demoURL, email, password string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	origin := strings.TrimSuffix(demoURL, "/demo")
	fetch := func(method, target string, form url.Values) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, target, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", origin)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	resp, body := fetch(http.MethodGet, demoURL, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `action="/demo/login"`) {
		t.Fatalf("demo app home: %d\n%.600s", resp.StatusCode, body)
	}
	// "Sign in with Mana" lands on the provider's login page.
	resp, body = fetch(http.MethodPost, origin+"/demo/login", url.Values{})
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/login" || !strings.Contains(body, `name="password"`) {
		t.Fatalf("sign-in did not reach the login page: %d %s\n%.600s", resp.StatusCode, resp.Request.URL, body)
	}
	form := url.Values{"email": {email}, "password": {password}}
	for _, m := range hiddenInputRE.FindAllStringSubmatch(body, -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	if form.Get("return_to") == "" {
		form.Set("return_to", resp.Request.URL.Query().Get("return_to"))
	}
	resp, body = fetch(http.MethodPost, origin+"/login", form)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/demo" || !strings.Contains(body, `id="signed-in"`) {
		t.Fatalf("after login: %d at %s, want the signed-in demo page\n%.1500s", resp.StatusCode, resp.Request.URL, body)
	}
	for _, want := range []string{`id="claims"`, "&#34;email&#34;: &#34;" + email, "&#34;iss&#34;: &#34;" + origin,
		`id="userinfo"`, `id="credits"`, "&#34;balance&#34;"} {
		if !strings.Contains(body, want) {
			t.Errorf("signed-in demo page lacks %s:\n%.2500s", want, body)
		}
	}
	if strings.Contains(body, `class="error"`) {
		t.Errorf("the demo page reports a problem:\n%.2500s", body)
	}
	// Sign out forgets the demo session.
	fetch(http.MethodPost, origin+"/demo/logout", url.Values{})
	if _, body := fetch(http.MethodGet, demoURL, nil); strings.Contains(body, `id="signed-in"`) {
		t.Error("still signed in to the demo app after signing out")
	}
}

func getJSON(t *testing.T, target string) map[string]any {
	t.Helper()
	resp, err := http.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	return m
}

// TestDemoAppDevOnlyAndFollowsPort: production never serves /demo, even on
// a database with the demo data; a second --dev start on another port
// registers that port's demo callback, and signing in works there.
func TestDemoAppDevOnlyAndFollowsPort(t *testing.T) {
	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "m.db")
	secret := strings.Repeat("p", 48)
	_, out := startServe(t, map[string]string{"DATABASE_URL": dsn, "SECRET_KEY": secret, "PORT": "0", "LOG_LEVEL": "warn"}, "--dev")
	password := regexp.MustCompile(`password:\s+(\S+)`).FindStringSubmatch(out.String())
	if password == nil {
		t.Fatalf("no demo password printed:\n%s", out.String())
	}

	prod := prodEnv(dir)
	prod["SECRET_KEY"], prod["PORT"] = secret, "0"
	base, _ := startServe(t, prod)
	resp, err := http.Get(base + "/demo")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK || strings.Contains(string(body), "Demo app") {
		t.Errorf("production serves the demo app: %d %.300s", resp.StatusCode, body)
	}

	port := strconv.Itoa(freePort(t))
	_, out = startServe(t, map[string]string{"DATABASE_URL": dsn, "SECRET_KEY": secret, "PORT": port, "LOG_LEVEL": "warn"}, "--dev")
	if !strings.Contains(out.String(), "http://localhost:"+port+"/demo") {
		t.Errorf("the second start prints no demo app on port %s:\n%s", port, out.String())
	}
	out2, _, err := runCmd(t, map[string]string{"DATABASE_URL": dsn}, "clients", "list")
	if err != nil || !strings.Contains(out2, "http://localhost:"+port+"/demo/callback") || !strings.Contains(out2, "http://localhost:8080/callback") {
		t.Fatalf("demo client redirect URIs after a start on port %s: %v\n%s", port, err, out2)
	}
	walkDemoSignIn(t, "http://localhost:"+port+"/demo", demoEmail, password[1])
}
