package mail

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testLink has a query with & (escaped in HTML, must survive) and is longer
// than a quoted-printable line, so it gets soft-wrapped and must be rejoined.
const testLink = "https://auth.mana.how/verify-email?token=Zx9_kP-3vQ7mN2bR8sT4wY6uA1cE5gH0jL&next=%2Faccount%2Fsettings"

// --- test SMTP server -------------------------------------------------------

type received struct {
	from string
	to   []string
	data []byte
	tls  bool
	user string
}

// backend records every accepted message. When user is set, MAIL is refused
// until the session authenticated.
type backend struct {
	user, pass string
	mechs      []string // AUTH mechanisms offered; PLAIN when empty
	// rejectRcpt refuses every recipient, quoting it as Postfix does.
	rejectRcpt bool

	mu        sync.Mutex
	msgs      []received
	authTries int
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{b: b, c: c}, nil
}

func (b *backend) messages() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.msgs...)
}

func (b *backend) tries() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.authTries
}

type session struct {
	b    *backend
	c    *smtp.Conn
	user string
	cur  received
}

var _ smtp.AuthSession = (*session)(nil)

func (s *session) AuthMechanisms() []string {
	if len(s.b.mechs) > 0 {
		return s.b.mechs
	}
	return []string{sasl.Plain}
}

func (s *session) check(username, password string) error {
	s.b.mu.Lock()
	s.b.authTries++
	s.b.mu.Unlock()
	if username != s.b.user || password != s.b.pass {
		return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
	}
	s.user = username
	return nil
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, username, password string) error {
			return s.check(username, password)
		}), nil
	case sasl.Login:
		return &loginServer{check: s.check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.user != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.cur = received{from: from, user: s.user}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.b.rejectRcpt {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
			Message: "<" + to + ">: Recipient address rejected: User unknown in virtual mailbox table"}
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = data
	_, s.cur.tls = s.c.TLSConnectionState()
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, s.cur)
	s.b.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.cur = received{} }
func (s *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN, which go-sasl only has as a
// client.
type loginServer struct {
	check      func(user, pass string) error
	step       int
	user, pass string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	default:
		l.pass = string(resp)
		return nil, true, l.check(l.user, l.pass)
	}
}

// summary describes received messages without dumping their bytes.
func summary(msgs []received) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, fmt.Sprintf("from=%s to=%v tls=%v user=%q", m.from, m.to, m.tls, m.user))
	}
	return out
}

type serverOpts struct {
	noTLS        bool     // do not offer STARTTLS
	insecureAuth bool     // offer AUTH without TLS
	implicitTLS  bool     // TLS from the first byte (port 465 style)
	user, pass   string   // require AUTH with these
	mechs        []string // AUTH mechanisms offered
	rejectRcpt   bool     // refuse every recipient, quoting it
}

type testServer struct {
	addr      *net.TCPAddr
	be        *backend
	clientTLS *tls.Config // trusts the server's self-signed cert
}

func startServer(t *testing.T, o serverOpts) *testServer {
	t.Helper()
	serverTLS, clientTLS := selfSignedTLS(t)
	be := &backend{user: o.user, pass: o.pass, mechs: o.mechs, rejectRcpt: o.rejectRcpt}
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.ReadTimeout = 5 * time.Second
	srv.WriteTimeout = 5 * time.Second
	srv.AllowInsecureAuth = o.insecureAuth
	if !o.noTLS {
		srv.TLSConfig = serverTLS
	}
	var l net.Listener
	var err error
	if o.implicitTLS {
		l, err = tls.Listen("tcp", "127.0.0.1:0", serverTLS)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	go srv.Serve(l) //nolint:errcheck // returns when closed
	t.Cleanup(func() { srv.Close() })
	return &testServer{addr: l.Addr().(*net.TCPAddr), be: be, clientTLS: clientTLS}
}

// selfSignedTLS returns a server config with a fresh cert for 127.0.0.1 and a
// client config that trusts exactly that cert.
func selfSignedTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mail test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create cert: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse cert: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

func (ts *testServer) config(user, pass string) SMTPConfig {
	return SMTPConfig{
		Host:      "127.0.0.1",
		Port:      ts.addr.Port,
		User:      user,
		Password:  pass,
		From:      "Mana <noreply@mana.how>",
		Timeout:   5 * time.Second,
		TLSConfig: ts.clientTLS,
	}
}

func newSMTP(t *testing.T, cfg SMTPConfig) *SMTP {
	t.Helper()
	s, err := NewSMTP(cfg)
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	return s
}

// --- parsing helpers ----------------------------------------------------------

type parsedMail struct {
	header     mail.Header
	subject    string
	from, to   *mail.Address
	text, html string
}

// parseMail reads raw like a mail client would and checks the structure the
// package promises: 7-bit clean, multipart/alternative, both parts UTF-8
// quoted-printable.
func parseMail(t *testing.T, raw []byte) parsedMail {
	t.Helper()
	for i, b := range raw {
		if b >= 0x80 {
			t.Fatalf("byte %d is 8-bit (%#x); message must be 7-bit clean", i, b)
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("ReadMessage: %v", err)
	}
	var p parsedMail
	p.header = msg.Header
	p.subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode subject: %v", err)
	}
	if p.from, err = mail.ParseAddress(msg.Header.Get("From")); err != nil {
		t.Fatalf("parse From: %v", err)
	}
	if p.to, err = mail.ParseAddress(msg.Header.Get("To")); err != nil {
		t.Fatalf("parse To: %v", err)
	}
	for _, h := range []string{"Date", "Message-Id", "Mime-Version"} {
		if msg.Header.Get(h) == "" {
			t.Errorf("header %s missing", h)
		}
	}
	if _, err := msg.Header.Date(); err != nil {
		t.Errorf("Date header: %v", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		// NextRawPart: NextPart would decode quoted-printable itself and hide
		// the header we want to check.
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		if cte := part.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
			t.Errorf("part %s: Content-Transfer-Encoding = %q", part.Header.Get("Content-Type"), cte)
		}
		body, err := io.ReadAll(quotedprintable.NewReader(part))
		if err != nil {
			t.Fatalf("decode part: %v", err)
		}
		switch ct := part.Header.Get("Content-Type"); ct {
		case "text/plain; charset=utf-8":
			p.text = string(body)
		case "text/html; charset=utf-8":
			p.html = string(body)
		default:
			t.Errorf("unexpected part %q", ct)
		}
	}
	if p.text == "" || p.html == "" {
		t.Fatalf("want both parts, got text=%d html=%d bytes", len(p.text), len(p.html))
	}
	return p
}

// --- SMTP tests ---------------------------------------------------------------

func TestSMTPDeliversComposedMail(t *testing.T) {
	ts := startServer(t, serverOpts{user: "mana", pass: "s3cret"})
	s := newSMTP(t, ts.config("mana", "s3cret"))

	m, err := Compose("de", KindVerifyEmail, "Jürgen Größe <juergen@example.de>",
		Data{Name: "Jürgen Größe", Link: testLink, ExpiresIn: "24 Stunden"})
	if err != nil {
		t.Fatalf("Compose: %v", err)
	}
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}

	msgs := ts.be.messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages, want 1", len(msgs))
	}
	got := msgs[0]
	if got.from != "noreply@mana.how" || len(got.to) != 1 || got.to[0] != "juergen@example.de" {
		t.Errorf("envelope from=%q to=%q", got.from, got.to)
	}
	if !got.tls {
		t.Error("message was not sent over TLS although the server offered STARTTLS")
	}
	if got.user != "mana" {
		t.Errorf("authenticated user = %q, want mana", got.user)
	}

	p := parseMail(t, got.data)
	if p.subject != "Bestätige deine E-Mail-Adresse" {
		t.Errorf("Subject = %q", p.subject)
	}
	if p.from.Name != "Mana" || p.from.Address != "noreply@mana.how" {
		t.Errorf("From = %v", p.from)
	}
	if p.to.Name != "Jürgen Größe" || p.to.Address != "juergen@example.de" {
		t.Errorf("To = %v", p.to)
	}
	for name, body := range map[string]string{"text": p.text, "html": p.html} {
		if !strings.Contains(body, "Jürgen Größe") {
			t.Errorf("%s part lost the umlauts:\n%s", name, body)
		}
		if !strings.Contains(body, "24 Stunden") {
			t.Errorf("%s part lacks ExpiresIn", name)
		}
	}
	if !strings.Contains(p.text, testLink) {
		t.Errorf("text part lacks the link:\n%s", p.text)
	}
	// In HTML the & of the query is written as &amp;, which a browser reads
	// back as &: compare after unescaping, and check the href itself.
	if !strings.Contains(p.html, `href="`+html.EscapeString(testLink)+`"`) {
		t.Errorf("html part lacks href to the link:\n%s", p.html)
	}
	if !strings.Contains(html.UnescapeString(p.html), testLink) {
		t.Errorf("html part lacks the link text")
	}
	if id := p.header.Get("Message-Id"); !strings.HasSuffix(id, "@mana.how>") {
		t.Errorf("Message-ID = %q, want domain of From", id)
	}
}

func TestSMTPEscapesNameInHTML(t *testing.T) {
	ts := startServer(t, serverOpts{})
	s := newSMTP(t, ts.config("", ""))
	evil := `<script>alert("x")</script>`
	m, err := Compose("en", KindResetPassword, "a@example.com", Data{Name: evil, Link: testLink, ExpiresIn: "1 hour"})
	if err != nil {
		t.Fatalf("Compose: %v", err)
	}
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	p := parseMail(t, ts.be.messages()[0].data)
	if strings.Contains(p.html, "<script") {
		t.Errorf("html part contains an unescaped <script>:\n%s", p.html)
	}
	if !strings.Contains(p.html, "&lt;script&gt;") {
		t.Errorf("html part lacks the escaped name:\n%s", p.html)
	}
	if !strings.Contains(p.text, evil) {
		t.Errorf("text part should carry the name verbatim:\n%s", p.text)
	}
}

func TestSMTPWithoutAuthUsesSTARTTLS(t *testing.T) {
	ts := startServer(t, serverOpts{})
	s := newSMTP(t, ts.config("", ""))
	m := Message{To: "a@example.com", Subject: "Hi", Text: "hello", HTML: "<p>hello</p>"}
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := ts.be.messages(); len(got) != 1 || !got[0].tls {
		t.Fatalf("want one message over TLS, got %d (%v)", len(got), summary(got))
	}
}

func TestSMTPLoginAuth(t *testing.T) {
	ts := startServer(t, serverOpts{user: "mana", pass: "s3cret", mechs: []string{sasl.Login}})
	s := newSMTP(t, ts.config("mana", "s3cret"))
	if err := s.Send(t.Context(), Message{To: "a@example.com", Subject: "Hi", Text: "hello"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := ts.be.messages(); len(got) != 1 || got[0].user != "mana" {
		t.Fatalf("want one message authenticated as mana, got %d (%v)", len(got), summary(got))
	}
}

func TestSMTPImplicitTLS(t *testing.T) {
	// Port 465 cannot be bound in a test; switch the mode on for the test port.
	ts := startServer(t, serverOpts{implicitTLS: true, noTLS: true, user: "mana", pass: "s3cret"})
	s := newSMTP(t, ts.config("mana", "s3cret"))
	s.implicitTLS = true
	if err := s.Send(t.Context(), Message{To: "a@example.com", Subject: "Hi", Text: "hello"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := ts.be.messages(); len(got) != 1 || !got[0].tls || got[0].user != "mana" {
		t.Fatalf("want one authenticated message over TLS, got %d (%v)", len(got), summary(got))
	}
}

func TestSMTPWrongPassword(t *testing.T) {
	ts := startServer(t, serverOpts{user: "mana", pass: "s3cret"})
	s := newSMTP(t, ts.config("mana", "wrong"))
	err := s.Send(t.Context(), Message{To: "a@example.com", Subject: "Hi", Text: "hello"})
	if err == nil {
		t.Fatal("Send with a wrong password succeeded")
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error leaks the password: %v", err)
	}
	if n := len(ts.be.messages()); n != 0 {
		t.Errorf("server accepted %d messages", n)
	}
	t.Logf("error: %v", err)
}

// A refused recipient: the error keeps the server's codes and reason and
// the domain, but not the local part the reply quotes, as callers store
// and log it.
func TestSMTPRejectedRecipientIsRedacted(t *testing.T) {
	ts := startServer(t, serverOpts{rejectRcpt: true})
	s := newSMTP(t, ts.config("", ""))
	err := s.Send(t.Context(), Message{To: "alice.secret@example.com", Subject: "Hi", Text: "hello"})
	if err == nil {
		t.Fatal("Send to a refused recipient succeeded")
	}
	msg := err.Error()
	if strings.Contains(msg, "alice.secret") {
		t.Errorf("error quotes the local part: %v", err)
	}
	for _, want := range []string{"rcpt to", "550", "5.1.1", "…@example.com", "Recipient address rejected"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
}

func TestRedactAddresses(t *testing.T) {
	for in, want := range map[string]string{
		"5.1.1 <alice@example.com>: Recipient address rejected": "5.1.1 <…@example.com>: Recipient address rejected",
		"to=alice.b+tag@example.com, relay=none":                "to=…@example.com, relay=none",
		"(jürgen@bücher.de) unknown; bob@x.org too":             "(…@bücher.de) unknown; …@x.org too",
		`"a b"@example.com rejected`:                            "…@example.com rejected",
		"sendmail: alice@example.com... User unknown":           "sendmail: …@example.com... User unknown",
		"no address here, only @ signs @":                       "no address here, only @ signs @",
	} {
		if got := redactAddresses(in); got != want {
			t.Errorf("redactAddresses(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSMTPRefusesCredentialsWithoutTLS(t *testing.T) {
	// The server would take the password in clear; the client must not offer it.
	ts := startServer(t, serverOpts{noTLS: true, insecureAuth: true, user: "mana", pass: "s3cret"})
	s := newSMTP(t, ts.config("mana", "s3cret"))
	err := s.Send(t.Context(), Message{To: "a@example.com", Subject: "Hi", Text: "hello"})
	if !errors.Is(err, ErrNoTLS) {
		t.Fatalf("err = %v, want ErrNoTLS", err)
	}
	if n := ts.be.tries(); n != 0 {
		t.Errorf("client attempted AUTH %d times over a clear connection", n)
	}
}

func TestSMTPUntrustedCertificate(t *testing.T) {
	ts := startServer(t, serverOpts{user: "mana", pass: "s3cret"})
	cfg := ts.config("mana", "s3cret")
	cfg.TLSConfig = nil // system roots do not know the test cert
	s := newSMTP(t, cfg)
	if err := s.Send(t.Context(), Message{To: "a@example.com", Subject: "Hi", Text: "hello"}); err == nil {
		t.Fatal("Send trusted a self-signed certificate")
	}
	if n := ts.be.tries(); n != 0 {
		t.Errorf("client sent credentials after a failed handshake (%d tries)", n)
	}
}

func TestSMTPServerDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	s := newSMTP(t, SMTPConfig{Host: "127.0.0.1", Port: port, From: "noreply@mana.how", Timeout: 2 * time.Second})
	start := time.Now()
	err = s.Send(t.Context(), Message{To: "a@example.com", Subject: "Hi", Text: "hello"})
	if err == nil {
		t.Fatal("Send to a closed port succeeded")
	}
	if d := time.Since(start); d > 2*time.Second+time.Second {
		t.Errorf("Send took %s, longer than the timeout", d)
	}
	if strings.Contains(err.Error(), "a@example.com") {
		t.Errorf("error carries the full recipient address: %v", err)
	}
}

// silentListener accepts connections and never says a word: a server that is
// up but hung, which only a deadline can get us out of.
func silentListener(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}

func TestSMTPTimeoutOnHungServer(t *testing.T) {
	port := silentListener(t)
	s := newSMTP(t, SMTPConfig{Host: "127.0.0.1", Port: port, From: "noreply@mana.how", Timeout: 300 * time.Millisecond})
	start := time.Now()
	err := s.Send(t.Context(), Message{To: "a@example.com", Subject: "Hi", Text: "hello"})
	if err == nil {
		t.Fatal("Send to a hung server succeeded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Send took %s with a 300ms timeout", d)
	}
	t.Logf("error: %v", err)
}

func TestSMTPContextCancel(t *testing.T) {
	port := silentListener(t)
	s := newSMTP(t, SMTPConfig{Host: "127.0.0.1", Port: port, From: "noreply@mana.how", Timeout: 30 * time.Second})
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err := s.Send(ctx, Message{To: "a@example.com", Subject: "Hi", Text: "hello"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Send took %s after cancel at 100ms", d)
	}

	// A context that is already done never dials.
	err = s.Send(ctx, Message{To: "a@example.com", Subject: "Hi", Text: "hello"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("already cancelled: err = %v, want context.Canceled", err)
	}
}

func TestSMTPContextDeadlineShorterThanTimeout(t *testing.T) {
	port := silentListener(t)
	s := newSMTP(t, SMTPConfig{Host: "127.0.0.1", Port: port, From: "noreply@mana.how", Timeout: 30 * time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.Send(ctx, Message{To: "a@example.com", Subject: "Hi", Text: "hello"}); err == nil {
		t.Fatal("Send succeeded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Send took %s, ctx deadline was 200ms", d)
	}
}

func TestHeaderInjectionRejected(t *testing.T) {
	ts := startServer(t, serverOpts{})
	s := newSMTP(t, ts.config("", ""))
	dev := NewDevSender(t.TempDir(), nil)
	for name, m := range map[string]Message{
		"LF in To":         {To: "a@example.com\nBcc: victim@example.org", Subject: "Hi", Text: "x"},
		"CR in To":         {To: "a@example.com\rBcc: victim@example.org", Subject: "Hi", Text: "x"},
		"CRLF in Subject":  {To: "a@example.com", Subject: "Hi\r\nBcc: victim@example.org", Text: "x"},
		"LF in Subject":    {To: "a@example.com", Subject: "Hi\nX-Evil: 1", Text: "x"},
		"unparseable To":   {To: "not an address", Subject: "Hi", Text: "x"},
		"empty text body":  {To: "a@example.com", Subject: "Hi"},
		"folded To header": {To: "a@example.com\r\n victim@example.org", Subject: "Hi", Text: "x"},
	} {
		t.Run(name, func(t *testing.T) {
			for sname, sender := range map[string]Sender{"smtp": s, "dev": dev} {
				if err := sender.Send(t.Context(), m); !errors.Is(err, ErrInvalidMessage) {
					t.Errorf("%s: err = %v, want ErrInvalidMessage", sname, err)
				}
			}
		})
	}
	if n := len(ts.be.messages()); n != 0 {
		t.Errorf("server accepted %d messages", n)
	}
}

func TestNewSMTPValidates(t *testing.T) {
	for name, cfg := range map[string]SMTPConfig{
		"no host":          {From: "noreply@mana.how"},
		"bad from":         {Host: "smtp.example.com", From: "not an address"},
		"CRLF in from":     {Host: "smtp.example.com", From: "a@mana.how\r\nBcc: x@y.z"},
		"bad port":         {Host: "smtp.example.com", From: "noreply@mana.how", Port: 70000},
		"negative timeout": {Host: "smtp.example.com", From: "noreply@mana.how", Timeout: -time.Second},
		"password no user": {Host: "smtp.example.com", From: "noreply@mana.how", Password: "x"},
	} {
		if _, err := NewSMTP(cfg); err == nil {
			t.Errorf("%s: NewSMTP accepted %+v", name, cfg)
		}
	}
	s, err := NewSMTP(SMTPConfig{Host: "smtp.example.com", From: "Mana <noreply@mana.how>"})
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	if s.cfg.Port != 587 || s.cfg.Timeout != 10*time.Second {
		t.Errorf("defaults: port %d timeout %s, want 587 and 10s", s.cfg.Port, s.cfg.Timeout)
	}
}

// --- DevSender ----------------------------------------------------------------

func TestDevSenderWritesEML(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mails")
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(&logs, t.Output()), nil))
	d := NewDevSender(dir, logger)

	m, err := Compose("de", KindResetPassword, "Jürgen <juergen@example.de>",
		Data{Name: "Jürgen", Link: testLink, ExpiresIn: "1 Stunde"})
	if err != nil {
		t.Fatalf("Compose: %v", err)
	}
	if err := d.Send(t.Context(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}

	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", st.Mode().Perm())
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil || len(files) != 1 {
		t.Fatalf("want one .eml, got %v (%v)", files, err)
	}
	fi, err := os.Stat(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, raw)
	if p.subject != "Setze dein Passwort zurück" {
		t.Errorf("Subject = %q", p.subject)
	}
	if p.to.Address != "juergen@example.de" {
		t.Errorf("To = %v", p.to)
	}
	if !strings.Contains(p.text, testLink) || !strings.Contains(html.UnescapeString(p.html), testLink) {
		t.Error("link missing from a part")
	}

	out := logs.String()
	if !strings.Contains(out, "mail written") || !strings.Contains(out, files[0]) {
		t.Errorf("log lacks message or path:\n%s", out)
	}
	if !strings.Contains(out, testLink) {
		t.Errorf("dev log lacks the clickable link:\n%s", out)
	}
	if strings.Contains(out, "juergen@example.de") {
		t.Errorf("log carries the full recipient address:\n%s", out)
	}

	// A second mail gets its own file.
	if err := d.Send(t.Context(), m); err != nil {
		t.Fatalf("second Send: %v", err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*.eml")); len(files) != 2 {
		t.Errorf("want two files, got %d", len(files))
	}
}

func TestDevSenderCancelled(t *testing.T) {
	dir := t.TempDir()
	d := NewDevSender(dir, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := d.Send(ctx, Message{To: "a@example.com", Subject: "Hi", Text: "x"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// --- Compose ------------------------------------------------------------------

func TestComposeAllKindsAndLanguages(t *testing.T) {
	wantSubject := map[string]map[Kind]string{
		"de": {
			KindVerifyEmail:     "Bestätige deine E-Mail-Adresse",
			KindResetPassword:   "Setze dein Passwort zurück",
			KindPasswordChanged: "Dein Passwort wurde geändert",
		},
		"en": {
			KindVerifyEmail:     "Confirm your email address",
			KindResetPassword:   "Reset your password",
			KindPasswordChanged: "Your password was changed",
		},
	}
	expires := map[string]string{"de": "24 Stunden", "en": "24 hours"}
	for lang, kinds := range wantSubject {
		for kind, subject := range kinds {
			t.Run(lang+"/"+string(kind), func(t *testing.T) {
				d := Data{Name: "Kim", Link: testLink, ExpiresIn: expires[lang]}
				m, err := Compose(lang, kind, "kim@example.com", d)
				if err != nil {
					t.Fatalf("Compose: %v", err)
				}
				if m.To != "kim@example.com" || m.Subject != subject {
					t.Errorf("To %q Subject %q, want %q", m.To, m.Subject, subject)
				}
				if strings.TrimSpace(m.Text) == "" || strings.TrimSpace(m.HTML) == "" {
					t.Fatal("empty body")
				}
				for part, body := range map[string]string{"text": m.Text, "html": html.UnescapeString(m.HTML)} {
					if !strings.Contains(body, "Kim") || !strings.Contains(body, "Mana") {
						t.Errorf("%s part lacks name or product:\n%s", part, body)
					}
					hasLink := strings.Contains(body, testLink)
					if kind == KindPasswordChanged {
						if hasLink {
							t.Errorf("%s part of a notification carries a link", part)
						}
						continue
					}
					if !hasLink {
						t.Errorf("%s part lacks the link:\n%s", part, body)
					}
					if !strings.Contains(body, expires[lang]) {
						t.Errorf("%s part lacks ExpiresIn", part)
					}
				}
				if !strings.Contains(m.HTML, `<html lang="`+lang+`">`) {
					t.Errorf("html lang attribute wrong:\n%s", m.HTML)
				}
				if lang == "de" && !strings.Contains(m.Text, "dein") {
					t.Errorf("German text should use the informal du:\n%s", m.Text)
				}
				// The composed message must pass Send's own validation.
				if _, err := validate(m); err != nil {
					t.Errorf("validate: %v", err)
				}
			})
		}
	}
}

func TestComposeLanguageFallbackAndErrors(t *testing.T) {
	d := Data{Link: testLink, ExpiresIn: "1 hour"}
	for lang, want := range map[string]string{
		"de": "Setze dein Passwort zurück", "de-AT": "Setze dein Passwort zurück", "DE_ch": "Setze dein Passwort zurück",
		"en": "Reset your password", "fr": "Reset your password", "": "Reset your password", "dex": "Reset your password",
	} {
		m, err := Compose(lang, KindResetPassword, "a@example.com", d)
		if err != nil || m.Subject != want {
			t.Errorf("lang %q: subject %q (%v), want %q", lang, m.Subject, err, want)
		}
	}
	// Without a name the greeting still reads well.
	m, err := Compose("en", KindPasswordChanged, "a@example.com", Data{})
	if err != nil || !strings.HasPrefix(m.Text, "Hi,\n") {
		t.Errorf("nameless greeting: %q (%v)", m.Text, err)
	}

	for name, tc := range map[string]struct {
		kind Kind
		link string
	}{
		"unknown kind":   {"welcome", testLink},
		"missing link":   {KindVerifyEmail, ""},
		"javascript url": {KindResetPassword, "javascript:alert(1)"},
		"relative url":   {KindVerifyEmail, "/verify?token=x"},
	} {
		if _, err := Compose("en", tc.kind, "a@example.com", Data{Link: tc.link}); err == nil {
			t.Errorf("%s: Compose accepted it", name)
		}
	}
	// A bad link must not end up in the error (it may hold a token).
	_, err = Compose("en", KindVerifyEmail, "a@example.com", Data{Link: "https://x/%zz?token=SECRET"})
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("bad link error = %v", err)
	}
}

func TestTextOnlyMessage(t *testing.T) {
	d := NewDevSender(t.TempDir(), nil)
	ts := startServer(t, serverOpts{})
	s := newSMTP(t, ts.config("", ""))
	m := Message{To: "a@example.com", Subject: "Grüße", Text: "nur Text: äöüß"}
	for _, sender := range []Sender{s, d} {
		if err := sender.Send(t.Context(), m); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(ts.be.messages()[0].data))
	if err != nil {
		t.Fatal(err)
	}
	if ct := msg.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil || strings.TrimSpace(string(body)) != "nur Text: äöüß" {
		t.Errorf("body %q (%v)", body, err)
	}
}
