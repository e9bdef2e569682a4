package main

// Issue 12, "Connecting an app": the README's oauth2-proxy recipe, run as
// written against `make run` (serve --dev) with the real oauth2-proxy
// binary (.ci/run installs the pinned version).

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// findOAuth2Proxy finds oauth2-proxy in $(go env GOPATH)/bin or on PATH; a
// machine without it skips, CI fails.
func findOAuth2Proxy(t *testing.T) string {
	t.Helper()
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "oauth2-proxy")
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
		}
	}
	if p, err := exec.LookPath("oauth2-proxy"); err == nil {
		return p
	}
	const reason = "oauth2-proxy is not installed (looked in $(go env GOPATH)/bin and PATH)"
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s (install it: go install github.com/oauth2-proxy/oauth2-proxy/v7@%s, see .ci/run)", reason, "v7.15.6")
	}
	fmt.Fprintf(os.Stderr, "SKIP %s: %s\n", t.Name(), reason)
	t.Skip(reason)
	return ""
}

// TestOAuth2ProxyRecipe follows the README's oauth2-proxy recipe: the
// client registered with the CLI as written, oauth2-proxy started with the
// README's flags (only ports, URLs and secrets filled in), and a person
// signing in through the proxy to an app that has no login of its own.
func TestOAuth2ProxyRecipe(t *testing.T) {
	bin := findOAuth2Proxy(t)

	// make run: serve --dev on an empty data directory.
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "data", "manaauth.db"),
		"PORT": strconv.Itoa(freePort(t)), "LOG_LEVEL": "warn"}
	_, out := startServe(t, env, "--dev")
	issuer := "http://localhost:" + env["PORT"]
	if !strings.Contains(out.String(), "discovery:     "+issuer+"/.well-known/openid-configuration") {
		t.Fatalf("serve --dev names another issuer than %s:\n%s", issuer, out.String())
	}

	// The README's registration, with the loopback redirect URI it gives
	// for `make run`. Not --trusted, so the consent page is part of the walk.
	proxyAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	proxyURL := "http://" + proxyAddr
	created, _, err := runCmd(t, env, "clients", "create", "--id", "proxy", "--name", "My app",
		"--redirect-uri", proxyURL+"/oauth2/callback")
	if err != nil {
		t.Fatalf("clients create: %v", err)
	}
	secret := regexp.MustCompile(`client_secret: (\S+)`).FindStringSubmatch(created)
	if secret == nil {
		t.Fatalf("clients create printed no client_secret:\n%s", created)
	}
	const email, password = "ada@example.com", "correct horse battery"
	if _, _, err := runCmd(t, env, "users", "create", "--email", email, "--password", password, "--name", "Ada", "--verified"); err != nil {
		t.Fatalf("users create: %v", err)
	}

	// The app behind the proxy: it only echoes who the proxy says it is.
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "email=%s user=%s\n", r.Header.Get("X-Forwarded-Email"), r.Header.Get("X-Forwarded-User"))
	}))
	t.Cleanup(upstream.Close)

	// --cookie-secret="$(openssl rand -base64 32 | tr -- '+/' '-_')"
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	cookieSecret := base64.URLEncoding.EncodeToString(raw)

	ctx, cancel := context.WithCancel(context.Background())
	// The README's flags; against `make run` the issuer is
	// http://localhost:PORT and --cookie-secure=false is added.
	cmd := exec.CommandContext(ctx, bin,
		"--provider=oidc", "--oidc-issuer-url="+issuer,
		"--client-id=proxy", "--client-secret="+secret[1],
		"--redirect-url="+proxyURL+"/oauth2/callback", "--code-challenge-method=S256",
		"--scope=openid profile email", "--email-domain=*",
		"--cookie-secret="+cookieSecret,
		"--upstream="+upstream.URL, "--http-address="+proxyAddr,
		"--cookie-secure=false")
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start oauth2-proxy: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Error("oauth2-proxy did not exit within 10s")
		}
		if t.Failed() {
			t.Logf("oauth2-proxy output:\n%s", logs.String())
		}
	})
	// oauth2-proxy fetches the discovery document at start; /ping answers
	// once it listens.
	ready := false
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		select {
		case <-exited:
			t.Fatalf("oauth2-proxy exited at start:\n%s", logs.String())
		default:
		}
		if resp, err := http.Get(proxyURL + "/ping"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ready = true
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !ready {
		t.Fatalf("oauth2-proxy did not answer /ping within 60s:\n%s", logs.String())
	}

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	fetch := func(method, target, origin string, form url.Values) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, target, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", origin) // the browser's Origin, as CrossOriginProtection expects
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, target, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	// The app without a session: oauth2-proxy's own sign-in page, whose
	// button is a GET form to /oauth2/start.
	resp, body := fetch(http.MethodGet, proxyURL+"/", "", nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `action="/oauth2/start"`) || !strings.Contains(body, "Sign in with OpenID Connect") {
		t.Fatalf("proxy without a session: %d, want its sign-in page\n%.1500s", resp.StatusCode, body)
	}
	start := url.Values{}
	for _, m := range hiddenInputRE.FindAllStringSubmatch(body, -1) {
		start.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	// The button leads through /oauth2/start to the provider's login page.
	resp, body = fetch(http.MethodGet, proxyURL+"/oauth2/start?"+start.Encode(), "", nil)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/login" || !strings.Contains(body, `name="password"`) {
		t.Fatalf("sign-in did not reach the provider's login page: %d %s\n%.1500s", resp.StatusCode, resp.Request.URL, body)
	}
	providerOrigin := resp.Request.URL.Scheme + "://" + resp.Request.URL.Host
	form := url.Values{"email": {email}, "password": {password}}
	for _, m := range hiddenInputRE.FindAllStringSubmatch(body, -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	if form.Get("return_to") == "" {
		form.Set("return_to", resp.Request.URL.Query().Get("return_to"))
	}
	resp, body = fetch(http.MethodPost, providerOrigin+"/login", providerOrigin, form)
	// "My app" is not --trusted: the provider asks for consent; "Allow".
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/consent" || !strings.Contains(body, "My app") {
		t.Fatalf("after login: %d at %s, want the consent page naming My app\n%.1500s", resp.StatusCode, resp.Request.URL, body)
	}
	consent := url.Values{"action": {"allow"}, "remember": {"1"}}
	for _, m := range hiddenInputRE.FindAllStringSubmatch(body, -1) {
		consent.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	resp, body = fetch(http.MethodPost, providerOrigin+"/consent", providerOrigin, consent)
	// Back through /oauth2/callback to the app. The client was registered
	// without --id-token-alg, so its ID token is signed with EdDSA (the
	// default); oauth2-proxy (go-oidc inside) verified that ID token before
	// it let the request through with the user's headers, so this answer
	// is the proof that it accepts EdDSA as is.
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Host != proxyAddr || resp.Request.URL.Path != "/" {
		t.Fatalf("after sign-in: %d at %s, want the app behind the proxy\n%.1500s", resp.StatusCode, resp.Request.URL, body)
	}
	if want := "email=" + email + " "; !strings.Contains(body, want) {
		t.Fatalf("the app behind the proxy answered %q, want %q", body, want)
	}
	if m := regexp.MustCompile(`user=(\S+)`).FindStringSubmatch(body); m == nil {
		t.Errorf("no X-Forwarded-User reached the app: %q", body)
	}
	t.Logf("the app behind oauth2-proxy answered: %s", strings.TrimSpace(body))

	// The session cookie carries the next request straight through.
	if resp, body := fetch(http.MethodGet, proxyURL+"/again", "", nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, "email="+email) {
		t.Errorf("second request through the proxy: %d %q", resp.StatusCode, body)
	}
}
