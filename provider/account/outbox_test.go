package account_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/mail"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
	"github.com/manacore/mana-core-auth/provider/websession"
)

// recordingStore notes the store calls a request makes that could differ
// between known and unknown addresses (lookups, token writes, queueing).
type recordingStore struct {
	provider.Store
	mu    sync.Mutex
	calls []string
}

func (s *recordingStore) note(name string) {
	s.mu.Lock()
	s.calls = append(s.calls, name)
	s.mu.Unlock()
}

func (s *recordingStore) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = nil
	return c
}

func (s *recordingStore) GetUserByEmail(ctx context.Context, email string) (*provider.User, error) {
	s.note("GetUserByEmail")
	return s.Store.GetUserByEmail(ctx, email)
}

func (s *recordingStore) GetUser(ctx context.Context, id string) (*provider.User, error) {
	s.note("GetUser")
	return s.Store.GetUser(ctx, id)
}

func (s *recordingStore) CreateToken(ctx context.Context, t *provider.OneTimeToken) error {
	s.note("CreateToken")
	return s.Store.CreateToken(ctx, t)
}

func (s *recordingStore) DeleteUserTokens(ctx context.Context, userID, purpose string) error {
	s.note("DeleteUserTokens")
	return s.Store.DeleteUserTokens(ctx, userID, purpose)
}

func (s *recordingStore) BeginTx(ctx context.Context) (context.Context, error) {
	s.note("BeginTx")
	return s.Store.BeginTx(ctx)
}

func (s *recordingStore) EnqueueMail(ctx context.Context, j *provider.MailJob) error {
	s.note("EnqueueMail")
	return s.Store.EnqueueMail(ctx, j)
}

// Forgot-password and resend-verification do the same store work for an
// address with an account and one without (one queued job), so their
// timing tells nothing; the mail goes out, or not, from the outbox.
func TestRecoveryRequestsDoTheSameWork(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		f := newFixture(t, b)
		known := f.createUser(t, "known@example.com", password, false)
		rec := &recordingStore{Store: f.store}
		// A second service on the recording store; its outbox does not run,
		// the fixture's does (on the same database), so only request-path
		// calls are recorded.
		sessions, err := websession.New(websession.Config{SecretKey: secretKey, Now: f.clock.Now}, rec)
		if err != nil {
			t.Fatal(err)
		}
		svc, err := account.NewService(account.Config{BaseURL: baseURL, SecretKey: secretKey, Sessions: sessions, Now: f.clock.Now},
			rec, account.NewHasher(cheapParams, 1), f.mail)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			call func(email string) error
		}{
			{"ForgotPassword", func(e string) error { return svc.ForgotPassword(t.Context(), e, "", "en") }},
			{"ResendVerification", func(e string) error { return svc.ResendVerification(t.Context(), e, "", "en") }},
		} {
			if err := tc.call(known.Email); err != nil {
				t.Fatalf("%s(known): %v", tc.name, err)
			}
			forKnown := rec.take()
			if err := tc.call("nobody@example.com"); err != nil {
				t.Fatalf("%s(unknown): %v", tc.name, err)
			}
			forUnknown := rec.take()
			if !slices.Equal(forKnown, forUnknown) || !slices.Equal(forKnown, []string{"EnqueueMail"}) {
				t.Errorf("%s store calls: known %v, unknown %v; want the same single EnqueueMail", tc.name, forKnown, forUnknown)
			}
		}
		// The fixture's outbox resolved the four requests: two mails to the
		// account, none to the unknown address.
		f.mail.wait(t, known.Email, 2)
		f.settle(t)
		if n := len(f.mail.to(known.Email)); n != 2 {
			t.Errorf("%d mails to the known address, want 2", n)
		}
		if n := len(f.mail.to("nobody@example.com")); n != 0 {
			t.Errorf("%d mails to the unknown address", n)
		}
	})
}

// peekingSender checks, while a mail is being sent, that its job in the
// store holds neither the address nor the link in plain text.
type peekingSender struct {
	t     *testing.T
	store provider.Store
	clock *clock
	sent  []mail.Message
}

func (p *peekingSender) Send(ctx context.Context, m mail.Message) error {
	// Past the outbox's lease; the job is completed right after anyway.
	jobs, err := p.store.ClaimMailJobs(ctx, p.clock.Now().Add(time.Hour), 10, 0)
	if err != nil {
		return err
	}
	token := mustLink(p.t, m, "/reset-password").Query().Get("token")
	for _, j := range jobs {
		if bytes.Contains(j.Payload, []byte(token)) || bytes.Contains(j.Payload, []byte(m.To)) {
			p.t.Errorf("job %s stores the address or the link in plain text", j.ID)
		}
		if j.Kind != "message" {
			p.t.Errorf("job %s kind %q while its mail is sent, want message", j.ID, j.Kind)
		}
	}
	if len(jobs) != 1 {
		p.t.Errorf("%d jobs while one mail is sent", len(jobs))
	}
	p.sent = append(p.sent, m)
	return nil
}

// The queued request and the resolved message are sealed in the store.
func TestOutboxSealsPayloads(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		s := b.Open(t)
		c := &clock{t: start}
		sessions, err := websession.New(websession.Config{SecretKey: secretKey, Now: c.Now}, s)
		if err != nil {
			t.Fatal(err)
		}
		peek := &peekingSender{t: t, store: s, clock: c}
		svc, err := account.NewService(account.Config{BaseURL: baseURL, SecretKey: secretKey, Sessions: sessions, Now: c.Now},
			s, account.NewHasher(cheapParams, 1), peek)
		if err != nil {
			t.Fatal(err)
		}
		f := &fixture{store: s, clock: c}
		u := f.createUser(t, "sealed@example.com", password, true)
		if err := svc.ForgotPassword(t.Context(), u.Email, "", "en"); err != nil {
			t.Fatal(err)
		}
		jobs, err := s.ClaimMailJobs(t.Context(), c.Now(), 10, 0)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("queued jobs = %d (%v), want 1", len(jobs), err)
		}
		if bytes.Contains(jobs[0].Payload, []byte(u.Email)) {
			t.Error("the queued request stores the address in plain text")
		}
		if n, err := svc.Outbox().SendDue(t.Context()); err != nil || n != 1 {
			t.Fatalf("SendDue = %d, %v; want 1 mail", n, err)
		}
		if len(peek.sent) != 1 || peek.sent[0].To != u.Email {
			t.Fatalf("sent %v", peek.sent)
		}
	})
}

// refusingRelay is an SMTP relay (go-smtp, on loopback) that refuses every
// recipient with a reply quoting the address, as Postfix does.
type refusingRelay struct{}

func (refusingRelay) NewSession(*smtp.Conn) (smtp.Session, error) { return refusingRelay{}, nil }
func (refusingRelay) Mail(string, *smtp.MailOptions) error        { return nil }
func (refusingRelay) Rcpt(to string, _ *smtp.RcptOptions) error {
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
		Message: "<" + to + ">: Recipient address rejected: User unknown in virtual mailbox table"}
}
func (refusingRelay) Data(io.Reader) error { return nil }
func (refusingRelay) Reset()               {}
func (refusingRelay) Logout() error        { return nil }

// A relay that refuses the recipient and quotes the address: what the
// outbox stores (last_error) and logs, on retry and when it gives up,
// names the domain but not the local part, as the payload is sealed.
func TestOutboxKeepsRefusedAddressOutOfErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(refusingRelay{})
	srv.Domain = "localhost"
	go srv.Serve(l) //nolint:errcheck // returns when closed
	t.Cleanup(func() { srv.Close() })
	relay, err := mail.NewSMTP(mail.SMTPConfig{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, From: "Mana <noreply@mana.how>", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const local = "alice.private"

	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		s := b.Open(t)
		c := &clock{t: start}
		sessions, err := websession.New(websession.Config{SecretKey: secretKey, Now: c.Now}, s)
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		svc, err := account.NewService(account.Config{BaseURL: baseURL, SecretKey: secretKey, Sessions: sessions, Now: c.Now,
			Logger: slog.New(slog.NewTextHandler(&logs, nil)), Outbox: account.OutboxConfig{MaxAttempts: 2}},
			s, account.NewHasher(cheapParams, 1), relay)
		if err != nil {
			t.Fatal(err)
		}
		f := &fixture{store: s, clock: c}
		u := f.createUser(t, local+"@example.com", password, true)
		if err := svc.ForgotPassword(t.Context(), u.Email, "", "en"); err != nil {
			t.Fatal(err)
		}
		if n, err := svc.Outbox().SendDue(t.Context()); err != nil || n != 0 {
			t.Fatalf("first pass: SendDue = %d, %v; want the relay to refuse", n, err)
		}
		// Claimed an hour ahead, past the backoff, without a lease: the job
		// is due again after the clock moves there.
		jobs, err := s.ClaimMailJobs(t.Context(), c.Now().Add(time.Hour), 10, 0)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("jobs after the refusal = %d (%v), want 1", len(jobs), err)
		}
		stored := jobs[0].LastError
		if strings.Contains(stored, local) {
			t.Errorf("last_error quotes the local part: %q", stored)
		}
		for _, want := range []string{"550", "5.1.1", "…@example.com"} {
			if !strings.Contains(stored, want) {
				t.Errorf("last_error %q lacks %q", stored, want)
			}
		}
		c.Advance(time.Hour)
		if n, err := svc.Outbox().SendDue(t.Context()); err != nil || n != 0 {
			t.Fatalf("second pass: SendDue = %d, %v; want the relay to refuse", n, err)
		}
		out := logs.String()
		if !strings.Contains(out, "mail failed, will retry") || !strings.Contains(out, "mail given up") {
			t.Errorf("log lacks the retry or the give-up line:\n%s", out)
		}
		if strings.Contains(out, local) {
			t.Errorf("log quotes the local part:\n%s", out)
		}
	})
}

// acceptingRelay is an SMTP relay (go-smtp, on loopback) that accepts
// every mail and counts them.
type acceptingRelay struct {
	mu       sync.Mutex
	accepted int
}

type acceptingSession struct{ r *acceptingRelay }

func (r *acceptingRelay) NewSession(*smtp.Conn) (smtp.Session, error) {
	return acceptingSession{r}, nil
}
func (acceptingSession) Mail(string, *smtp.MailOptions) error { return nil }
func (acceptingSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s acceptingSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.r.mu.Lock()
	s.r.accepted++
	s.r.mu.Unlock()
	return nil
}
func (acceptingSession) Reset()        {}
func (acceptingSession) Logout() error { return nil }

func (r *acceptingRelay) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.accepted
}

// cancelAfterSend hands each mail to the real relay and, once the relay
// has accepted it, cancels the outbox's context: the shutdown begins just
// as the send succeeds.
type cancelAfterSend struct {
	mail.Sender
	cancel context.CancelFunc
}

func (c cancelAfterSend) Send(ctx context.Context, m mail.Message) error {
	err := c.Sender.Send(ctx, m)
	if err == nil {
		c.cancel()
	}
	return err
}

// A mail the relay accepted just as the process began shutting down is
// recorded as sent, not handed back: another pass (another replica) does
// not send it again.
func TestOutboxRecordsMailAcceptedDuringShutdown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	relay := &acceptingRelay{}
	srv := smtp.NewServer(relay)
	srv.Domain = "localhost"
	go srv.Serve(l) //nolint:errcheck // returns when closed
	t.Cleanup(func() { srv.Close() })
	sender, err := mail.NewSMTP(mail.SMTPConfig{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, From: "Mana <noreply@mana.how>", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}

	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		s := b.Open(t)
		c := &clock{t: start}
		sessions, err := websession.New(websession.Config{SecretKey: secretKey, Now: c.Now}, s)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		newService := func(m mail.Sender) *account.Service {
			svc, err := account.NewService(account.Config{BaseURL: baseURL, SecretKey: secretKey, Sessions: sessions, Now: c.Now},
				s, account.NewHasher(cheapParams, 1), m)
			if err != nil {
				t.Fatal(err)
			}
			return svc
		}
		shuttingDown := newService(cancelAfterSend{Sender: sender, cancel: cancel})
		other := newService(sender)
		f := &fixture{store: s, clock: c}
		u := f.createUser(t, "shutdown@example.com", password, true)
		before := relay.count()
		if err := shuttingDown.ForgotPassword(t.Context(), u.Email, "", "en"); err != nil {
			t.Fatal(err)
		}
		if n, err := shuttingDown.Outbox().SendDue(ctx); err != nil || n != 1 {
			t.Errorf("SendDue as shutdown begins = %d, %v; want the accepted mail counted as sent", n, err)
		}
		if ctx.Err() == nil {
			t.Fatal("the relay's acceptance did not start the shutdown")
		}
		if n, err := other.Outbox().SendDue(t.Context()); err != nil || n != 0 {
			t.Errorf("another replica's SendDue = %d, %v; want nothing left to send", n, err)
		}
		if got := relay.count() - before; got != 1 {
			t.Errorf("the relay accepted %d mails, want 1", got)
		}
		if jobs, err := s.ClaimMailJobs(t.Context(), c.Now().Add(time.Hour), 10, 0); err != nil || len(jobs) != 0 {
			t.Errorf("jobs left = %d (%v), want none", len(jobs), err)
		}
	})
}
