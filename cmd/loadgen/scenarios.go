package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"
)

// op is one measured unit of work (a request, or a whole code flow).
type op func(ctx context.Context) error

// scenario is a named load with its target rate. prepare runs before the
// clock starts and returns one op per worker, so an op can carry state of
// its own (the refresh chain) while stateless scenarios share one func.
type scenario struct {
	Name    string
	Target  float64
	prepare func(ctx context.Context, l *loader, workers int) ([]op, error)
	P99     time.Duration // most the 99th latency percentile may be; 0 = no target
}

var scenarios = []scenario{
	{"discovery", 10_000, prepareGet("/.well-known/openid-configuration"), 0},
	{"jwks", 10_000, prepareGet("/.well-known/jwks.json"), 0},
	{"client_credentials", 1_200, prepareClientCredentials, 0},
	{"introspection", 5_000, prepareIntrospection, 0},
	{"refresh", 1_000, prepareRefresh, 0},
	{"code_flow", 50, prepareCodeFlow, 0},
	{"spend_distinct", spendTarget, prepareSpend(false), spendP99},
	{"spend_shared", spendTarget, prepareSpend(true), spendP99},
	{"session", 0, prepareSession, 0},
	{"login_flood", 0, prepareLoginFlood, 0},
}

// loader sends the requests. All scenarios share one transport so
// keep-alive connections are reused, as a real relying party would.
type loader struct {
	base      string
	transport *http.Transport
	// tokenURL and introspectURL are the protocol endpoints: manaauth's
	// under base, or another server's (-hydra).
	tokenURL, introspectURL string
	client                  *http.Client // never follows redirects
	basicAuth               string       // precomputed client_secret_basic header

	// cli runs a manaauth subcommand against the run's database and
	// returns its combined output; the spend scenarios seed with it.
	cli      func(ctx context.Context, args ...string) ([]byte, error)
	spenders spenders
	// people are the seeded users and sessions the session and login
	// scenarios use (see seed.go).
	people people
}

func newLoader(base string, workers int, id, secret string) *loader {
	workers = max(workers, spendUsers, floodWorkers) // some scenarios fix their own concurrency
	tr := &http.Transport{
		Proxy:               nil, // loopback only, whatever HTTP_PROXY says
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * workers,
		MaxIdleConnsPerHost: workers, // every worker keeps its connection
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // measure the server, not gzip
	}
	req, _ := http.NewRequest(http.MethodGet, base, nil)
	req.SetBasicAuth(id, secret) // both are URL-safe, so no form-encoding is needed
	return &loader{
		base:          base,
		tokenURL:      base + "/oauth2/token",
		introspectURL: base + "/oauth2/introspect",
		transport:     tr,
		client: &http.Client{Transport: tr, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		basicAuth: req.Header.Get("Authorization"),
	}
}

// send performs req, reads the whole body (so the connection is reused) and
// fails unless the status is want.
func send(c *http.Client, req *http.Request, want int) (*http.Response, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode == http.StatusServiceUnavailable && want != http.StatusServiceUnavailable {
		// Load shedding (a full password-hash queue): counted apart.
		return nil, nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, errRejected)
	}
	if resp.StatusCode != want {
		return nil, nil, fmt.Errorf("%s %s: status %d, want %d: %.300s", req.Method, req.URL.Path, resp.StatusCode, want, body)
	}
	return resp, body, nil
}

// postForm sends an authenticated form post to a protocol endpoint.
func (l *loader) postForm(ctx context.Context, endpoint string, form url.Values) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", l.basicAuth)
	_, body, err := send(l.client, req, http.StatusOK)
	return body, err
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
}

// token calls the token endpoint and checks the tokens the grant must yield.
func (l *loader) token(ctx context.Context, form url.Values, wantRefresh bool) (tokenResponse, error) {
	var tr tokenResponse
	body, err := l.postForm(ctx, l.tokenURL, form)
	if err != nil {
		return tr, err
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return tr, fmt.Errorf("token response: %w", err)
	}
	if tr.AccessToken == "" || (wantRefresh && tr.RefreshToken == "") {
		return tr, fmt.Errorf("token response lacks a token: %.300s", body)
	}
	return tr, nil
}

func same(o op, n int) []op {
	ops := make([]op, n)
	for i := range ops {
		ops[i] = o
	}
	return ops
}

func prepareGet(path string) func(context.Context, *loader, int) ([]op, error) {
	return func(_ context.Context, l *loader, workers int) ([]op, error) {
		return same(func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.base+path, nil)
			if err != nil {
				return err
			}
			_, _, err = send(l.client, req, http.StatusOK)
			return err
		}, workers), nil
	}
}

var clientCredentialsForm = url.Values{"grant_type": {"client_credentials"}}

func prepareClientCredentials(_ context.Context, l *loader, workers int) ([]op, error) {
	return same(func(ctx context.Context) error {
		_, err := l.token(ctx, clientCredentialsForm, false)
		return err
	}, workers), nil
}

// introspectionPool is how many distinct access tokens are introspected:
// enough that no single row or cache entry is all that is exercised.
const introspectionPool = 256

func prepareIntrospection(ctx context.Context, l *loader, workers int) ([]op, error) {
	pool := make([]string, introspectionPool)
	var wg sync.WaitGroup
	errs := make([]error, len(pool))
	sem := make(chan struct{}, 8)
	for i := range pool {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			tr, err := l.token(ctx, clientCredentialsForm, false)
			pool[i], errs[i] = tr.AccessToken, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("issue tokens to introspect: %w", err)
	}
	ops := make([]op, workers)
	for w := range ops {
		next := w // workers start at different tokens and step round-robin
		ops[w] = func(ctx context.Context) error {
			tok := pool[next%len(pool)]
			next++
			body, err := l.postForm(ctx, l.introspectURL, url.Values{"token": {tok}})
			if err != nil {
				return err
			}
			var r struct {
				Active bool `json:"active"`
			}
			if err := json.Unmarshal(body, &r); err != nil || !r.Active {
				return fmt.Errorf("introspection: not active: %.300s", body)
			}
			return nil
		}
	}
	return ops, nil
}

// prepareRefresh gives every worker its own refresh-token chain. Each
// successor is used exactly once: reusing one would revoke the family.
func prepareRefresh(ctx context.Context, l *loader, workers int) ([]op, error) {
	ops := make([]op, workers)
	for w := range ops {
		tr, err := l.codeFlow(ctx)
		if err != nil {
			return nil, fmt.Errorf("start refresh chain: %w", err)
		}
		current := tr.RefreshToken
		ops[w] = func(ctx context.Context) error {
			tr, err := l.token(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {current}}, true)
			if err != nil {
				// The chain may be broken now; start a new one so the
				// remaining iterations still measure refreshes.
				if fresh, ferr := l.codeFlow(ctx); ferr == nil {
					current = fresh.RefreshToken
				}
				return err
			}
			current = tr.RefreshToken
			return nil
		}
	}
	return ops, nil
}

func prepareCodeFlow(_ context.Context, l *loader, workers int) ([]op, error) {
	return same(func(ctx context.Context) error {
		_, err := l.codeFlow(ctx)
		return err
	}, workers), nil
}

// codeFlow signs in like a browser with an empty cookie jar and exchanges
// the code like a confidential relying party with PKCE S256.
func (l *loader) codeFlow(ctx context.Context) (tokenResponse, error) {
	var none tokenResponse
	jar, _ := cookiejar.New(nil) // never fails without options
	browser := &http.Client{Transport: l.transport, Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), redirectURI) {
				return http.ErrUseLastResponse // the relying party takes over here
			}
			if len(via) >= 10 {
				return errors.New("too many redirects")
			}
			return nil
		}}

	verifier := randomHex(32)
	sum := sha256.Sum256([]byte(verifier))
	state := randomHex(8)
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {clientID},
		"redirect_uri":          {redirectURI},
		"scope":                 {allScopes},
		"state":                 {state},
		"nonce":                 {randomHex(8)},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	// 1. authorize, redirected to the login page.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.base+"/oauth2/authorize?"+q.Encode(), nil)
	if err != nil {
		return none, err
	}
	resp, _, err := send(browser, req, http.StatusOK)
	if err != nil {
		return none, fmt.Errorf("authorize: %w", err)
	}
	returnTo := resp.Request.URL.Query().Get("return_to")
	if resp.Request.URL.Path != "/login" || returnTo == "" {
		return none, fmt.Errorf("authorize ended at %s, want /login?return_to=…", resp.Request.URL)
	}
	// 2. log in; the redirects run through authorize up to the redirect URI.
	form := url.Values{"email": {userEmail}, "password": {userPassword}, "return_to": {returnTo}}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, l.base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return none, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, _, err = send(browser, req, http.StatusSeeOther)
	if err != nil {
		return none, fmt.Errorf("login: %w", err)
	}
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(cb.String(), redirectURI) {
		return none, fmt.Errorf("login ended at %q, want the redirect URI", resp.Header.Get("Location"))
	}
	cq := cb.Query()
	if cq.Get("code") == "" || cq.Get("state") != state || cq.Get("iss") != l.base {
		return none, fmt.Errorf("bad authorization response %s", cb.RawQuery)
	}
	// 3. exchange the code.
	tr, err := l.token(ctx, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {cq.Get("code")},
		"redirect_uri":  {redirectURI},
		"code_verifier": {verifier},
	}, true)
	if err == nil && tr.IDToken == "" {
		err = errors.New("code exchange returned no id_token")
	}
	return tr, err
}

// runScenario drives workers ops for duration. Workers stop starting new
// iterations at the deadline rather than cancelling in-flight requests, so
// the end of the run does not count as failures.
func runScenario(ctx context.Context, sc scenario, ops []op, duration time.Duration, stderr io.Writer) result {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		samples  []string
		lats     = make([][]time.Duration, len(ops))
		failures = make([]int, len(ops))
		rejected = make([]int, len(ops))
	)
	start := time.Now()
	deadline := start.Add(duration)
	for w, o := range ops {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				err := o(ctx)
				d := time.Since(t0)
				if err == nil {
					lats[w] = append(lats[w], d)
					continue
				}
				if ctx.Err() != nil {
					break // interrupted, not a failure of the server
				}
				if errors.Is(err, errRejected) {
					rejected[w]++
					continue
				}
				failures[w]++
				mu.Lock()
				if len(samples) < 3 {
					samples = append(samples, err.Error())
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r := result{Name: sc.Name, Workers: len(ops), Target: sc.Target, P99Target: sc.P99, Elapsed: time.Since(start)}
	for w := range ops {
		r.OK += len(lats[w])
		r.Failed += failures[w]
		r.Rejected += rejected[w]
		r.Latencies = append(r.Latencies, lats[w]...)
	}
	for _, s := range samples {
		fmt.Fprintf(stderr, "  %s failure: %s\n", sc.Name, s)
	}
	return r
}
