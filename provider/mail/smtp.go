package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// The client is the standard library's net/smtp rather than
// github.com/emersion/go-smtp: it covers everything a submission client needs
// (STARTTLS, AUTH PLAIN, DATA with dot-stuffing), keeps the
// production binary free of another dependency, and is frozen, so it will not
// shift under us. Neither client takes a context, so context handling is done
// on the connection (deadline plus close-on-cancel) and works the same either
// way. go-smtp is used only by the tests, as the server.

const (
	defaultPort     = 587
	implicitTLSPort = 465
	defaultTimeout  = 10 * time.Second
)

// ErrNoTLS is returned when credentials are configured but the server offers
// no STARTTLS: sending them anyway would put the password on the wire in clear.
var ErrNoTLS = errors.New("smtp server does not offer STARTTLS; refusing to send credentials unencrypted")

// SMTPConfig configures [NewSMTP].
type SMTPConfig struct {
	Host, User, Password, From string // From like `Mana <noreply@mana.how>`
	// Port defaults to 587. 465 means implicit TLS; any other port upgrades
	// with STARTTLS when offered, and requires it when User is set.
	Port int
	// Timeout bounds one Send end to end (dial to QUIT); default 10s. A
	// shorter ctx deadline wins.
	Timeout time.Duration
	// TLSConfig is optional; it is cloned and ServerName defaults to Host.
	TLSConfig *tls.Config
}

// SMTP delivers messages through one SMTP submission server, one connection
// per message. Transactional mail is rare and latency-tolerant, so a pool
// would only add stale-connection handling for no gain.
type SMTP struct {
	cfg  SMTPConfig
	from *mail.Address
	// implicitTLS is derived from the port in NewSMTP and kept separately so
	// tests can use it on a port they can bind.
	implicitTLS bool
	now         func() time.Time
}

// NewSMTP validates cfg and fills in defaults. It does not connect: a mail
// server that is briefly down must not stop the identity provider from
// starting.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	if cfg.Host == "" {
		return nil, errors.New("smtp config: host is required")
	}
	if strings.ContainsAny(cfg.Host, " \t\r\n/") {
		return nil, fmt.Errorf("smtp config: invalid host %q", cfg.Host)
	}
	if cfg.Port == 0 {
		cfg.Port = defaultPort
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("smtp config: invalid port %d", cfg.Port)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("smtp config: negative timeout %s", cfg.Timeout)
	}
	if cfg.Password != "" && cfg.User == "" {
		return nil, errors.New("smtp config: password set without user")
	}
	if strings.ContainsAny(cfg.From, "\r\n") {
		return nil, errors.New("smtp config: CR or LF in from")
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("smtp config: parse from %q: %w", cfg.From, err)
	}
	return &SMTP{cfg: cfg, from: from, implicitTLS: cfg.Port == implicitTLSPort, now: time.Now}, nil
}

// Send delivers m. Errors name the recipient's domain only, never the full
// address, so callers may log and store them as they are: the server's
// replies keep their codes and text, but an address they quote is cut to
// its domain (see serverReply).
func (s *SMTP) Send(ctx context.Context, m Message) error {
	p, err := validate(m)
	if err != nil {
		return err
	}
	raw, err := buildMessage(s.from, p, s.now())
	if err != nil {
		return fmt.Errorf("build mail: %w", err)
	}
	if err := s.send(ctx, p.to.Address, raw); err != nil {
		return fmt.Errorf("smtp send to domain %q via %s: %w", domainOf(p.to.Address), s.addr(), err)
	}
	return nil
}

func (s *SMTP) addr() string { return net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port)) }

func (s *SMTP) send(ctx context.Context, rcpt string, raw []byte) (err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()

	conn, err := s.dial(ctx)
	if err != nil {
		return s.ctxErr(ctx, fmt.Errorf("dial: %w", err))
	}
	// net/smtp knows nothing of contexts. The deadline bounds every read and
	// write (a server that accepts and then stalls), and closing the
	// connection on cancellation unblocks whatever call is in flight.
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		conn.Close()
		return fmt.Errorf("set deadline: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	if err := s.deliver(conn, rcpt, raw); err != nil {
		return s.ctxErr(ctx, err)
	}
	return nil
}

// ctxErr puts the context's error in front when it caused err, so callers can
// tell "cancelled" and "timed out" from "server said no" with errors.Is.
func (s *SMTP) ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}

func (s *SMTP) dial(ctx context.Context) (net.Conn, error) {
	if s.implicitTLS {
		d := tls.Dialer{Config: s.tlsConfig()}
		return d.DialContext(ctx, "tcp", s.addr())
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", s.addr())
}

func (s *SMTP) tlsConfig() *tls.Config {
	c := &tls.Config{}
	if s.cfg.TLSConfig != nil {
		c = s.cfg.TLSConfig.Clone()
	}
	if c.ServerName == "" {
		c.ServerName = s.cfg.Host
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

// deliver runs one SMTP transaction on conn and closes it.
func (s *SMTP) deliver(conn net.Conn, rcpt string, raw []byte) error {
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("greeting: %w", serverReply(err))
	}
	defer c.Close()

	// Extension sends EHLO first. The greeting name is net/smtp's default
	// "localhost"; submission servers authenticate users, not HELO names.
	if !s.implicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig()); err != nil {
				return fmt.Errorf("starttls: %w", serverReply(err))
			}
		} else if s.cfg.User != "" {
			return ErrNoTLS
		}
	}
	if s.cfg.User != "" {
		a, err := s.auth(c)
		if err != nil {
			return err
		}
		if err := c.Auth(a); err != nil {
			// The user name stays out of the error: some providers (Postmark)
			// use the API token as user name.
			return fmt.Errorf("auth: %w", serverReply(err))
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return fmt.Errorf("mail from: %w", serverReply(err))
	}
	if err := c.Rcpt(rcpt); err != nil {
		return fmt.Errorf("rcpt to: %w", serverReply(err))
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", serverReply(err))
	}
	if _, err := w.Write(raw); err != nil {
		return fmt.Errorf("write data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("end data: %w", serverReply(err))
	}
	// The server has accepted the message once DATA is closed. A failed QUIT
	// must not turn that into an error, or a retrying caller would send the
	// mail twice.
	_ = c.Quit()
	return nil
}

// serverReply is err with the addresses quoted in the server's reply cut
// to their domain. Servers commonly quote the recipient ("550 5.1.1
// <alice@example.com>: Recipient address rejected"), and the outbox stores
// and logs errors although it seals the address everywhere else. The code,
// the enhanced status and the rest of the text stay for the operator.
func serverReply(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		return &textproto.Error{Code: te.Code, Msg: redactAddresses(te.Msg)}
	}
	// A malformed reply is quoted in the error as received.
	var pe textproto.ProtocolError
	if errors.As(err, &pe) {
		return textproto.ProtocolError(redactAddresses(string(pe)))
	}
	return err
}

// redactAddresses replaces the local part of every address in s with "…":
// "<alice@example.com>" becomes "<…@example.com>". A local part runs back
// from the "@" to a space, bracket, quote or other separator; a quoted one
// ("a b"@example.com) to its opening quote.
func redactAddresses(s string) string {
	var b strings.Builder
	rest := s
	for {
		at := strings.IndexByte(rest, '@')
		if at < 0 {
			b.WriteString(rest)
			return b.String()
		}
		start := at
		if at > 0 && rest[at-1] == '"' {
			if q := strings.LastIndexByte(rest[:at-1], '"'); q >= 0 {
				start = q
			}
		} else {
			for start > 0 && !strings.ContainsRune(" \t<>()[]\"',;:=", rune(rest[start-1])) {
				start--
			}
		}
		b.WriteString(rest[:start])
		if start < at {
			b.WriteString("…")
		}
		b.WriteByte('@')
		rest = rest[at+1:]
	}
}

// auth picks PLAIN, or LOGIN for servers that only offer that (Microsoft 365
// among them).
func (s *SMTP) auth(c *smtp.Client) (smtp.Auth, error) {
	ok, params := c.Extension("AUTH")
	if !ok {
		return nil, errors.New("server does not offer AUTH")
	}
	mechs := strings.Fields(strings.ToUpper(params))
	for _, m := range mechs {
		if m == "PLAIN" {
			return smtp.PlainAuth("", s.cfg.User, s.cfg.Password, s.cfg.Host), nil
		}
	}
	for _, m := range mechs {
		if m == "LOGIN" {
			return &loginAuth{user: s.cfg.User, pass: s.cfg.Password}, nil
		}
	}
	return nil, fmt.Errorf("server offers no supported AUTH mechanism (offered: %s)", params)
}

// loginAuth is the non-standard but widespread LOGIN mechanism, which
// net/smtp does not ship: the server prompts for user name, then password.
type loginAuth struct {
	user, pass string
	step       int
}

func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	// Same rule as net/smtp's PlainAuth, minus its localhost exception:
	// deliver already demands TLS whenever there are credentials.
	if !server.TLS {
		return "", nil, errors.New("unencrypted connection")
	}
	a.step = 0
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(_ []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	a.step++
	switch a.step {
	case 1:
		return []byte(a.user), nil
	case 2:
		return []byte(a.pass), nil
	default:
		return nil, errors.New("unexpected LOGIN challenge")
	}
}
