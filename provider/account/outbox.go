package account

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/manacore/mana-core-auth/provider"
	pmail "github.com/manacore/mana-core-auth/provider/mail"
	"github.com/manacore/mana-core-auth/provider/seal"
)

// OutboxConfig tunes the mail outbox; zero fields take their defaults.
type OutboxConfig struct {
	Timeout     time.Duration // per send, default 30s; a claim's lease is twice this
	MaxAttempts int           // default 10, then the mail is given up (error log, Failed)
	RetryBase   time.Duration // default 5s, doubling, at most 10 min
	Parallel    int           // mails sent at once, default 8
	PollEvery   time.Duration // default 1s
}

const (
	defaultMailTimeout     = 30 * time.Second
	defaultMailMaxAttempts = 10
	defaultMailRetryBase   = 5 * time.Second
	defaultMailParallel    = 8
	defaultMailPollEvery   = time.Second
	maxMailBackoff         = 10 * time.Minute
	maxMailLastError       = 512
)

// Job kinds. A request names an address; the outbox resolves it (finds
// the account, voids its older links, makes the new one) into a message,
// which it then sends.
const (
	jobResetRequest  = "reset_password"
	jobVerifyRequest = "verify_email"
	jobMessage       = "message"
)

// mailRequest is a request job's payload: everything the request path
// knows, and nothing it had to look up, so a request costs the same
// whether or not the address has an account.
type mailRequest struct {
	Email    string `json:"email"`
	Lang     string `json:"lang,omitempty"`
	Redirect string `json:"redirect,omitempty"`
	// Continue is where the browser goes on after the link (a safe
	// continuation on our origin), carried in the link.
	Continue string `json:"continue,omitempty"`
}

// mailMessage is a resolved job's payload: the rendered mail, link
// included, so every retry sends the link the store knows.
type mailMessage struct {
	UserID  string        `json:"user_id"`
	Message pmail.Message `json:"message"`
}

// Outbox sends the account mails from the durable queue in the database
// (provider.MailQueue): accepted mail survives a full relay, a slow relay
// and a restart, and is retried with backoff until MaxAttempts.
//
// Payloads are sealed (AES-GCM under SECRET_KEY, bound to the job's id and
// kind): a request holds an address, a message a reset or verification
// link that signs its reader in as the account's owner, and a database
// dump or backup must yield neither. Storing the message rather than
// rebuilding it at each attempt keeps one link per request: a retry after
// a send whose outcome was lost does not void the link already sent.
type Outbox struct {
	cfg    OutboxConfig
	svc    *Service
	sealer *seal.Sealer
	log    *slog.Logger
	wake   chan struct{} // capacity 1: one pending wake-up is enough
	sent   atomic.Int64
	failed atomic.Int64
}

func newOutbox(cfg OutboxConfig, svc *Service) (*Outbox, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultMailTimeout
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = defaultMailMaxAttempts
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = defaultMailRetryBase
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = defaultMailParallel
	}
	if cfg.PollEvery <= 0 {
		cfg.PollEvery = defaultMailPollEvery
	}
	s, err := seal.New(svc.cfg.SecretKey, "manaauth/mail-outbox/v1")
	if err != nil {
		return nil, err
	}
	return &Outbox{cfg: cfg, svc: svc, sealer: s, log: svc.cfg.Logger.With("component", "mail_outbox"),
		wake: make(chan struct{}, 1)}, nil
}

// Sent and Failed count the mails handed to the relay and the mails given
// up since the process started.
func (o *Outbox) Sent() int64   { return o.sent.Load() }
func (o *Outbox) Failed() int64 { return o.failed.Load() }

// Wake makes Run look for due jobs now.
func (o *Outbox) Wake() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// enqueue stores a job of kind with the sealed payload v and wakes Run.
func (o *Outbox) enqueue(ctx context.Context, kind string, v any) error {
	now := o.svc.cfg.Now().UTC()
	j := &provider.MailJob{ID: rand.Text(), Kind: kind, NextAttemptAt: now, CreatedAt: now}
	payload, err := o.seal(j.ID, kind, v)
	if err != nil {
		return err
	}
	j.Payload = payload
	if err := o.svc.store.EnqueueMail(ctx, j); err != nil {
		return fmt.Errorf("queue %s mail: %w", kind, err)
	}
	o.Wake()
	return nil
}

func (o *Outbox) seal(id, kind string, v any) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s mail job: %w", kind, err)
	}
	return o.sealer.Seal(plain, []byte(id+"\x00"+kind)), nil
}

func (o *Outbox) open(j *provider.MailJob, v any) error {
	plain, err := o.sealer.Open(j.Payload, []byte(j.ID+"\x00"+j.Kind))
	if err != nil {
		return err
	}
	return json.Unmarshal(plain, v)
}

// Run sends until ctx ends: it claims due jobs, resolves requests one by
// one in claim order, sends the messages in parallel, then completes or
// reschedules each. It polls every PollEvery and at once after an
// enqueue, and goes on without pause while full batches keep coming. It
// returns when ctx ends and the sends in flight have stopped; an
// interrupted job is claimed again when its lease ends.
func (o *Outbox) Run(ctx context.Context) {
	timer := time.NewTimer(o.cfg.PollEvery)
	defer timer.Stop()
	for {
		claimed, _, err := o.pass(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			o.log.ErrorContext(ctx, "mail outbox pass failed", "error", err)
		} else if claimed == o.cfg.Parallel {
			continue // more may be due
		}
		timer.Reset(o.cfg.PollEvery)
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		case <-timer.C:
		}
	}
}

// SendDue runs one claim-and-send pass and returns how many mails it
// handed to the relay.
func (o *Outbox) SendDue(ctx context.Context) (int, error) {
	_, sent, err := o.pass(ctx)
	return sent, err
}

func (o *Outbox) pass(ctx context.Context) (claimed, sent int, err error) {
	jobs, err := o.svc.store.ClaimMailJobs(ctx, o.svc.cfg.Now(), o.cfg.Parallel, 2*o.cfg.Timeout)
	if err != nil {
		return 0, 0, fmt.Errorf("mail outbox: %w", err)
	}
	// Requests are resolved in order, not in parallel: each voids the
	// older links of its account, so the last request's link is the one
	// that stays valid. (Two replicas resolving requests of one account at
	// the same instant may both leave theirs valid; each is a link the
	// owner asked for.)
	type ready struct {
		job *provider.MailJob
		msg mailMessage
	}
	var out []ready
	for i, j := range jobs {
		if ctx.Err() != nil {
			// Shutting down: hand back what is not sent (issue 13, replicas):
			// the prepared messages and the jobs not looked at yet.
			for _, r := range out {
				o.handBack(ctx, r.job)
			}
			for _, j := range jobs[i:] {
				o.handBack(ctx, j)
			}
			return len(jobs), 0, nil
		}
		if m, ok := o.prepare(ctx, j); ok {
			out = append(out, ready{j, m})
		}
	}
	var (
		wg sync.WaitGroup
		ok atomic.Int64
	)
	for _, r := range out {
		wg.Go(func() {
			if o.send(ctx, r.job, r.msg) {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	return len(jobs), int(ok.Load()), nil
}

// prepare returns the message of j, resolving a request first; false when
// there is nothing to send now (no such account, retry later, given up).
func (o *Outbox) prepare(ctx context.Context, j *provider.MailJob) (mailMessage, bool) {
	log := o.log.With("job_id", j.ID, "kind", j.Kind)
	switch j.Kind {
	case jobMessage:
		var m mailMessage
		if err := o.open(j, &m); err != nil {
			o.giveUp(ctx, log, j, fmt.Errorf("open payload: %w", err))
			return mailMessage{}, false
		}
		// issue 11, part B (erasure): a mail queued before its account was
		// erased is not sent: its address must not be used any more, and
		// its link died with the account's tokens.
		switch erased, err := o.svc.erased(ctx, m.UserID); {
		case ctx.Err() != nil:
			o.handBack(ctx, j)
			return mailMessage{}, false
		case err != nil:
			o.retry(ctx, log, j, err)
			return mailMessage{}, false
		case erased:
			log.InfoContext(ctx, "mail to an erased account dropped")
			o.complete(ctx, log, j)
			return mailMessage{}, false
		}
		return m, true
	case jobResetRequest, jobVerifyRequest:
		var req mailRequest
		if err := o.open(j, &req); err != nil {
			o.giveUp(ctx, log, j, fmt.Errorf("open payload: %w", err))
			return mailMessage{}, false
		}
		m, err := o.svc.resolve(ctx, j, req, func(m mailMessage) ([]byte, error) { return o.seal(j.ID, jobMessage, m) })
		switch {
		case ctx.Err() != nil:
			o.handBack(ctx, j)
			return mailMessage{}, false
		case err != nil:
			o.retry(ctx, log, j, err)
			return mailMessage{}, false
		case m == nil:
			// No account, or nothing to do for it: the request is answered.
			o.complete(ctx, log, j)
			return mailMessage{}, false
		}
		j.Kind = jobMessage
		return *m, true
	}
	o.giveUp(ctx, log, j, fmt.Errorf("unknown kind %q", j.Kind))
	return mailMessage{}, false
}

// handBack returns a claimed job this process is shutting down before
// finishing, so another replica sends it at once instead of after the
// lease (issue 13, replicas). A mail whose sending the shutdown cut off
// may then go out twice, as after an expired lease.
func (o *Outbox) handBack(ctx context.Context, j *provider.MailJob) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := o.svc.store.ReleaseMailJob(sctx, j.ID, j.NextAttemptAt, o.svc.cfg.Now()); err != nil && !errors.Is(err, provider.ErrNotFound) {
		o.log.WarnContext(sctx, "mail job not handed back; retried after its lease", "job_id", j.ID, "error", err)
	}
}

// send makes one attempt at a message and records the outcome.
func (o *Outbox) send(ctx context.Context, j *provider.MailJob, m mailMessage) bool {
	log := o.log.With("job_id", j.ID, "user_id", m.UserID)
	sctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	err := o.svc.mailer.Send(sctx, m.Message)
	cancel()
	if err != nil && ctx.Err() != nil {
		// The shutdown cut the attempt off. Only then: a mail the relay
		// accepted as shutdown began is recorded below, not sent again.
		o.handBack(ctx, j)
		return false
	}
	// The outcome is recorded even if ctx ends now, so the mail is not
	// sent twice.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.cfg.Timeout)
	defer cancel()
	if err != nil {
		o.svc.cfg.Observer.Mail(false) // every failed attempt, retried or not
	}
	switch {
	case errors.Is(err, pmail.ErrInvalidMessage):
		o.giveUp(rctx, log, j, err) // retrying will not help
		return false
	case err != nil:
		o.retry(rctx, log, j, err)
		return false
	}
	o.complete(rctx, log, j)
	o.sent.Add(1)
	o.svc.cfg.Observer.Mail(true)
	log.DebugContext(ctx, "mail sent", "attempts", j.Attempts+1)
	return true
}

// retry reschedules j with backoff, or gives it up after MaxAttempts.
func (o *Outbox) retry(ctx context.Context, log *slog.Logger, j *provider.MailJob, cause error) {
	attempts := j.Attempts + 1
	if attempts >= o.cfg.MaxAttempts {
		o.giveUp(ctx, log, j, cause)
		return
	}
	next := o.svc.cfg.Now().Add(o.backoff(attempts))
	msg := lastMailError(cause)
	log.WarnContext(ctx, "mail failed, will retry", "attempts", attempts, "next_attempt_at", next.UTC(), "error", msg)
	if err := o.svc.store.RetryMailJob(ctx, j.ID, next, msg); err != nil && !errors.Is(err, provider.ErrNotFound) {
		log.ErrorContext(ctx, "mail retry not recorded", "error", err)
	}
}

// giveUp drops a mail that will not be sent, loudly: the user is waiting
// for it.
func (o *Outbox) giveUp(ctx context.Context, log *slog.Logger, j *provider.MailJob, cause error) {
	log.ErrorContext(ctx, "mail given up", "attempts", j.Attempts+1, "error", lastMailError(cause))
	o.complete(ctx, log, j)
	o.failed.Add(1) // after the job is gone, so the count never runs ahead of the queue
}

func (o *Outbox) complete(ctx context.Context, log *slog.Logger, j *provider.MailJob) {
	// ErrNotFound: another replica finished the job after our lease ran out.
	if err := o.svc.store.CompleteMailJob(ctx, j.ID); err != nil && !errors.Is(err, provider.ErrNotFound) {
		log.ErrorContext(ctx, "mail job not removed", "error", err)
	}
}

// backoff is RetryBase after the first failure, doubling after each
// further one, at most maxMailBackoff.
func (o *Outbox) backoff(attempts int) time.Duration {
	d := o.cfg.RetryBase
	for i := 1; i < attempts && d < maxMailBackoff; i++ {
		d *= 2
	}
	return min(d, maxMailBackoff)
}

// lastMailError is what a failure stores and logs: bounded, valid UTF-8
// without NUL. Relay and store errors carry no link: the SMTP sender
// reports the recipient's domain only.
func lastMailError(err error) string {
	s := err.Error()
	if len(s) > maxMailLastError {
		s = s[:maxMailLastError]
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, ""), "\x00", "")
}

// erased says whether the account a resolved mail belongs to was erased
// (or is gone).
func (s *Service) erased(ctx context.Context, userID string) (bool, error) {
	u, err := s.store.GetUser(ctx, userID)
	switch {
	case errors.Is(err, provider.ErrNotFound):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("load account of mail: %w", err)
	}
	return u.DeletedAt != nil, nil
}
