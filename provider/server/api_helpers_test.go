package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net"
	"net/http"
	netmail "net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/manacore/mana-core-auth/internal/mailtest"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/mail"
)

// --- an in-process SMTP server ------------------------------------------------

// mailbox is a real SMTP server (go-smtp) on a loopback port that keeps
// every message it accepts; the provider sends to it with mail.NewSMTP.
type mailbox struct {
	mu   sync.Mutex
	msgs []gotMail
	// delay slows every accepted message down, as a busy relay would.
	delay time.Duration
	// failing makes the server refuse every message with a temporary
	// error (451) and count the refusals, until it is switched off.
	failing  atomic.Bool
	refusals atomic.Int64
}

type gotMail struct {
	to      string
	subject string
	text    string
}

func (m *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mboxSession{m: m}, nil }

type mboxSession struct {
	m  *mailbox
	to []string
}

func (s *mboxSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mboxSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *mboxSession) Reset()        { s.to = nil }
func (s *mboxSession) Logout() error { return nil }
func (s *mboxSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.m.failing.Load() {
		s.m.refusals.Add(1)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	time.Sleep(s.m.delay)
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	text := mailtest.PlainText(msg)
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	for _, to := range s.to {
		s.m.msgs = append(s.m.msgs, gotMail{to: strings.ToLower(to), subject: subject, text: text})
	}
	return nil
}

// startMailbox runs the SMTP server and returns it with a sender for setup.
func startMailbox(t testing.TB) (*mailbox, mail.Sender) {
	t.Helper()
	return startMailboxOf(t, &mailbox{})
}

// startMailboxOf runs mb (set up slow or failing) as the SMTP server.
func startMailboxOf(t testing.TB, mb *mailbox) (*mailbox, mail.Sender) {
	t.Helper()
	srv := smtp.NewServer(mb)
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 5*time.Second, 5*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen smtp: %v", err)
	}
	go srv.Serve(l) //nolint:errcheck // returns when closed
	t.Cleanup(func() { srv.Close() })
	sender, err := mail.NewSMTP(mail.SMTPConfig{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port,
		From: "Mana <noreply@mana.test>", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	return mb, sender
}

// count is how many messages went to addr.
func (m *mailbox) count(addr string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, g := range m.msgs {
		if g.to == strings.ToLower(addr) {
			n++
		}
	}
	return n
}

// wait returns the n-th (1-based) message to addr, waiting for it.
func (m *mailbox) wait(t testing.TB, addr string, n int) gotMail {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		m.mu.Lock()
		var got []gotMail
		for _, g := range m.msgs {
			if g.to == strings.ToLower(addr) {
				got = append(got, g)
			}
		}
		m.mu.Unlock()
		if len(got) >= n {
			return got[n-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail #%d to %s (have %d)", n, addr, len(got))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var linkRE = regexp.MustCompile(`https?://[^\s<>"]+`)

// link returns the URL in the mail whose path is path.
func (g gotMail) link(t testing.TB, path string) *url.URL {
	t.Helper()
	for _, l := range linkRE.FindAllString(g.text, -1) {
		u, err := url.Parse(l)
		if err == nil && u.Path == path {
			return u
		}
	}
	t.Fatalf("mail %q to %s has no %s link:\n%s", g.subject, g.to, path, g.text)
	return nil
}

// --- a controllable clock -----------------------------------------------------

// clock is real time plus an offset the test moves forward.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// --- a store whose users can be made to vanish ----------------------------------

// hidingStore reports hidden users as not found: a deleted user, as far as
// every component can tell (the store has no DeleteUser).
type hidingStore struct {
	provider.Store
	mu     sync.Mutex
	hidden map[string]bool
}

func (s *hidingStore) hide(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hidden == nil {
		s.hidden = map[string]bool{}
	}
	s.hidden[id] = true
}

func (s *hidingStore) isHidden(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hidden[id]
}

func (s *hidingStore) GetUser(ctx context.Context, id string) (*provider.User, error) {
	if s.isHidden(id) {
		return nil, provider.ErrNotFound
	}
	return s.Store.GetUser(ctx, id)
}

func (s *hidingStore) GetUserByEmail(ctx context.Context, email string) (*provider.User, error) {
	u, err := s.Store.GetUserByEmail(ctx, email)
	if err == nil && s.isHidden(u.ID) {
		return nil, provider.ErrNotFound
	}
	return u, err
}

// --- options ------------------------------------------------------------------

func withMailer(m mail.Sender) func(*setupOpts)  { return func(o *setupOpts) { o.mailer = m } }
func withClock(c *clock) func(*setupOpts)        { return func(o *setupOpts) { o.now = c.now } }
func withGrace(d time.Duration) func(*setupOpts) { return func(o *setupOpts) { o.grace = d } }
func withOutbox(c account.OutboxConfig) func(*setupOpts) {
	return func(o *setupOpts) { o.outbox = c }
}

// --- JSON API calls -------------------------------------------------------------

// api calls the JSON API. body is nil (no body), a string or []byte (sent
// as is), or a value to marshal. hdr are header name/value pairs.
func (e *env) api(t testing.TB, method, path, bearer string, body any, hdr ...string) *tokenResp {
	t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ctype = strings.NewReader(b), "application/json"
	case []byte:
		rd, ctype = bytes.NewReader(b), "application/json"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, e.issuer+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("User-Agent", testUserAgent)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := &tokenResp{status: resp.StatusCode, header: resp.Header, body: string(raw)}
	_ = json.Unmarshal(raw, &out.json)
	return out
}

func (e *env) post(t testing.TB, path string, body any, hdr ...string) *tokenResp {
	t.Helper()
	return e.api(t, http.MethodPost, path, "", body, hdr...)
}

// want asserts the status and returns r for chaining.
func (r *tokenResp) want(t testing.TB, what string, status int) *tokenResp {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %.600s", what, r.status, status, r.body)
	}
	return r
}

// obj returns the JSON object under key.
func (r *tokenResp) obj(k string) map[string]any { m, _ := r.json[k].(map[string]any); return m }

// wantError asserts the error envelope.
func (r *tokenResp) wantError(t testing.TB, what string, status int, code, message string) {
	t.Helper()
	r.want(t, what, status)
	if got, _ := r.json["statusCode"].(float64); int(got) != status {
		t.Errorf("%s: statusCode %v, want %d", what, r.json["statusCode"], status)
	}
	if r.str("error") != http.StatusText(status) {
		t.Errorf("%s: error %q, want %q", what, r.str("error"), http.StatusText(status))
	}
	if code != "" && r.str("code") != code {
		t.Errorf("%s: code %q, want %q (%s)", what, r.str("code"), code, r.body)
	}
	if message != "" && r.str("message") != message {
		t.Errorf("%s: message %q, want %q", what, r.str("message"), message)
	}
	noLeak(t, what, r.body)
}

// loginResult is a successful first-party login.
type loginResult struct {
	access, refresh string
	user            map[string]any
	resp            *tokenResp
}

func (e *env) apiLogin(t testing.TB, email, password string, extra ...string) *loginResult {
	t.Helper()
	body := map[string]string{"email": email, "password": password}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i]] = extra[i+1]
	}
	r := e.post(t, "/api/v1/auth/login", body).want(t, "login "+email, http.StatusOK)
	return tokensOf(t, r)
}

func tokensOf(t testing.TB, r *tokenResp) *loginResult {
	t.Helper()
	l := &loginResult{access: r.str("accessToken"), refresh: r.str("refreshToken"), user: r.obj("user"), resp: r}
	if l.access == "" || l.refresh == "" {
		t.Fatalf("no token pair in %.500s", r.body)
	}
	if got, _ := r.json["expiresIn"].(float64); got != 900 {
		t.Errorf("expiresIn = %v, want 900", r.json["expiresIn"])
	}
	if r.str("tokenType") != "Bearer" {
		t.Errorf("tokenType = %q, want Bearer", r.str("tokenType"))
	}
	return l
}

func (e *env) apiRefresh(t testing.TB, refresh string) *tokenResp {
	t.Helper()
	return e.post(t, "/api/v1/auth/refresh", map[string]string{"refreshToken": refresh})
}

// valid asks /validate about an access token.
func (e *env) valid(t testing.TB, token string) (bool, *tokenResp) {
	t.Helper()
	r := e.post(t, "/api/v1/auth/validate", map[string]string{"token": token}).want(t, "validate", http.StatusOK)
	v, ok := r.json["valid"].(bool)
	if !ok {
		t.Fatalf("validate without valid: %s", r.body)
	}
	if !v && r.str("error") == "" {
		t.Errorf("validate false without error: %s", r.body)
	}
	return v, r
}

// createVerifiedUser adds a verified user straight to the store.
func (e *env) createVerifiedUser(t testing.TB, id, email, password string) *provider.User {
	t.Helper()
	hash, err := e.hasher.Hash(context.Background(), password)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	u := &provider.User{ID: id, Email: email, EmailVerified: true, Name: "User " + id, Role: provider.RoleUser,
		PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := e.store.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("create user: %v", err)
	}
	return u
}

// eventTypes lists the types of the user's audit events.
func (e *env) eventTypes(t testing.TB, userID string) map[string]int {
	t.Helper()
	evs, err := e.store.ListEvents(context.Background(), userID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, ev := range evs {
		m[ev.Type]++
	}
	return m
}
