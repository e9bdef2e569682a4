package backchannel

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

// Signer signs the logout token; *keys.Ring satisfies it.
type Signer interface {
	Sign(alg, typ string, claims any) (string, error)
}

// Config tunes a Notifier; only Issuer is required.
type Config struct {
	Issuer      string
	Timeout     time.Duration // per POST, default 5s
	MaxAttempts int           // default 8, then the job is dropped with an error log
	RetryBase   time.Duration // default 2s, doubling, capped at 10 min
	Parallel    int           // concurrent deliveries, default 8
	PollEvery   time.Duration // default 1s
	Now         func() time.Time
	Logger      *slog.Logger
	// Client sends the POSTs (default: a plain http.Client). It is copied
	// and never follows redirects: the spec has the relying party answer
	// directly.
	Client *http.Client
	// Observe counts each delivery attempt, sent or failed (issue 13,
	// metrics); nil counts nothing.
	Observe func(sent bool)
}

// Defaults and bounds of Config.
const (
	defaultTimeout     = 5 * time.Second
	defaultMaxAttempts = 8
	defaultRetryBase   = 2 * time.Second
	defaultParallel    = 8
	defaultPollEvery   = time.Second
	maxBackoff         = 10 * time.Minute

	// tokenLifetime is the logout token's exp - iat: long enough for clock
	// skew, short because each attempt signs a fresh token.
	tokenLifetime = 2 * time.Minute
	// maxLastError bounds what a failure stores in the job.
	maxLastError = 512
)

// Token header type and event (OpenID Connect Back-Channel Logout 1.0,
// section 2.4).
const (
	TokenType          = "logout+jwt"
	BackchannelEventID = "http://schemas.openid.net/event/backchannel-logout"
)

// Notifier queues and delivers back-channel logouts. See the package doc.
type Notifier struct {
	cfg    Config
	store  provider.Store
	signer Signer
	log    *slog.Logger
	client *http.Client
	wake   chan struct{} // capacity 1: one pending wake-up is enough
}

// New returns a Notifier over store; zero Config fields take their
// defaults. It delivers nothing until Run or DeliverDue is called.
func New(cfg Config, store provider.Store, signer Signer) *Notifier {
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = defaultMaxAttempts
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = defaultRetryBase
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = defaultParallel
	}
	if cfg.PollEvery <= 0 {
		cfg.PollEvery = defaultPollEvery
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Observe == nil {
		cfg.Observe = func(bool) {}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := &http.Client{}
	if cfg.Client != nil {
		c := *cfg.Client
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Notifier{
		cfg: cfg, store: store, signer: signer, client: client,
		log:  log.With("component", "logout"),
		wake: make(chan struct{}, 1),
	}
}

// SessionEnded enqueues one job per client of the session that registered
// a BackchannelLogoutURI (provider.Client.BackchannelLogoutURI) and wakes
// the worker. Call it for every ended session (logout, device sign-out,
// sign-out everywhere, password reset, admin revocation), before the
// session's grants are deleted: the clients are found through them
// (revoked grants count). An empty session id does nothing.
//
// When ctx carries a store transaction the jobs join it and become
// visible at its commit; the worker then finds them on its next poll.
func (n *Notifier) SessionEnded(ctx context.Context, sessionID, subject string) error {
	if sessionID == "" {
		return nil
	}
	ids, err := n.store.SessionClients(ctx, sessionID)
	if err != nil {
		return fmt.Errorf("back-channel logout: %w", err)
	}
	now := n.cfg.Now().UTC()
	var jobs []*provider.LogoutJob
	for _, id := range ids {
		c, err := n.store.GetClient(ctx, id)
		if errors.Is(err, provider.ErrNotFound) {
			continue // deleted since it was issued tokens
		}
		if err != nil {
			return fmt.Errorf("back-channel logout: %w", err)
		}
		if c.BackchannelLogoutURI == "" {
			continue
		}
		jobs = append(jobs, newJob(c, sessionID, subject, now))
	}
	return n.enqueue(ctx, jobs)
}

// AppRevoked enqueues the back-channel logouts of one client for a user
// who took back their consent to it: one per browser session the client
// holds grants of (revoked ones count, so call it before or after
// revoking them, not after they expired), or, when it holds none, one
// naming only the user, which ends every session of theirs at the app.
// A client without a BackchannelLogoutURI, or an unknown one, gets none.
// Like SessionEnded it joins a transaction in ctx.
func (n *Notifier) AppRevoked(ctx context.Context, clientID, subject string) error {
	c, err := n.store.GetClient(ctx, clientID)
	if errors.Is(err, provider.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("back-channel logout: %w", err)
	}
	if c.BackchannelLogoutURI == "" || subject == "" {
		return nil
	}
	sids, err := n.store.ClientSubjectSessions(ctx, clientID, subject)
	if err != nil {
		return fmt.Errorf("back-channel logout: %w", err)
	}
	if len(sids) == 0 {
		sids = []string{""}
	}
	now := n.cfg.Now().UTC()
	jobs := make([]*provider.LogoutJob, 0, len(sids))
	for _, sid := range sids {
		jobs = append(jobs, newJob(c, sid, subject, now))
	}
	return n.enqueue(ctx, jobs)
}

func newJob(c *provider.Client, sessionID, subject string, now time.Time) *provider.LogoutJob {
	return &provider.LogoutJob{
		ID: rand.Text(), ClientID: c.ID, URI: c.BackchannelLogoutURI, SessionID: sessionID,
		Subject: subject, NextAttemptAt: now, CreatedAt: now,
	}
}

func (n *Notifier) enqueue(ctx context.Context, jobs []*provider.LogoutJob) error {
	if len(jobs) == 0 {
		return nil
	}
	if err := n.store.EnqueueLogouts(ctx, jobs); err != nil {
		return fmt.Errorf("back-channel logout: %w", err)
	}
	n.log.DebugContext(ctx, "back-channel logouts queued", "jobs", len(jobs))
	n.Wake()
	return nil
}

// Wake makes Run look for due jobs now. Callers that queued jobs inside a
// transaction call it again after the commit, when the worker can see them.
func (n *Notifier) Wake() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends: claims due jobs (lease = 2×Timeout), POSTs
// them in parallel, completes or reschedules. It polls every PollEvery and
// at once after SessionEnded, and goes on without pause while full batches
// keep coming. It returns when ctx ends and the deliveries in flight have
// stopped; an interrupted job is handed back, due at once, so another
// replica takes it (after a crash, when its lease ends).
func (n *Notifier) Run(ctx context.Context) {
	timer := time.NewTimer(n.cfg.PollEvery)
	defer timer.Stop()
	for {
		claimed, _, err := n.pass(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			n.log.ErrorContext(ctx, "back-channel logout pass failed", "error", err)
		} else if claimed == n.cfg.Parallel {
			continue // more may be due
		}
		timer.Reset(n.cfg.PollEvery)
		select {
		case <-ctx.Done():
			return
		case <-n.wake:
		case <-timer.C:
		}
	}
}

// DeliverDue runs one claim-and-deliver pass and returns how many jobs it
// delivered successfully (tests, and Run uses it). One pass claims at most
// Parallel jobs.
func (n *Notifier) DeliverDue(ctx context.Context) (int, error) {
	_, delivered, err := n.pass(ctx)
	return delivered, err
}

// pass claims at most Parallel jobs, so each runs at once and finishes
// (within Timeout, plus two store calls) well inside its lease.
func (n *Notifier) pass(ctx context.Context) (claimed, delivered int, err error) {
	jobs, err := n.store.ClaimLogoutJobs(ctx, n.cfg.Now(), n.cfg.Parallel, 2*n.cfg.Timeout)
	if err != nil {
		return 0, 0, fmt.Errorf("back-channel logout: %w", err)
	}
	var (
		wg sync.WaitGroup
		ok atomic.Int64
	)
	for _, j := range jobs {
		wg.Go(func() {
			if n.deliver(ctx, j) {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	return len(jobs), int(ok.Load()), nil
}

// deliver makes one attempt at j and records the outcome; it reports
// whether the relying party acknowledged the token.
func (n *Notifier) deliver(ctx context.Context, j *provider.LogoutJob) bool {
	log := n.log.With("job_id", j.ID, "client_id", j.ClientID)
	c, err := n.store.GetClient(ctx, j.ClientID)
	if err != nil && ctx.Err() != nil {
		n.handBack(ctx, log, j) // shutting down
		return false
	}
	// Outcomes are recorded even if ctx ends now: a relying party that
	// acknowledged the token is not sent the logout again.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.cfg.Timeout)
	defer cancel()
	switch {
	case errors.Is(err, provider.ErrNotFound):
		n.drop(rctx, log, j, "client deleted")
		return false
	case err != nil:
		// A store error, not a delivery attempt: retried, not counted.
		n.failed(rctx, log, j, err)
		return false
	case c.BackchannelLogoutURI == "":
		n.drop(rctx, log, j, "client no longer registers a backchannel_logout_uri")
		return false
	}
	// The current registration wins over the URI queued with the job: a
	// relying party that moved its endpoint is reached at the new one.
	err = n.post(ctx, c, j)
	if err != nil && ctx.Err() != nil {
		// The shutdown cut the POST off. Only then: a POST that succeeded
		// as shutdown began is recorded below, not delivered again.
		n.handBack(ctx, log, j)
		return false
	}
	n.cfg.Observe(err == nil)
	rctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), n.cfg.Timeout) // fresh: the POST used up the first
	defer cancel()
	if err != nil {
		n.failed(rctx, log, j, err)
		return false
	}
	if err := n.store.CompleteLogoutJob(rctx, j.ID); err != nil && !errors.Is(err, provider.ErrNotFound) {
		log.ErrorContext(ctx, "back-channel logout delivered but not recorded", "error", err)
	}
	log.DebugContext(ctx, "back-channel logout delivered", "attempts", j.Attempts+1)
	return true
}

// handBack returns a job this process claimed but is shutting down before
// finishing, so another replica delivers it at once rather than after the
// lease. (A relying party the interrupted POST reached may get the token
// twice; the spec's receivers accept a repeated logout.) A process that
// dies without handing back leaves the job to the lease.
func (n *Notifier) handBack(ctx context.Context, log *slog.Logger, j *provider.LogoutJob) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.cfg.Timeout)
	defer cancel()
	if err := n.store.ReleaseLogoutJob(sctx, j.ID, j.NextAttemptAt, n.cfg.Now()); err != nil && !errors.Is(err, provider.ErrNotFound) {
		log.WarnContext(sctx, "back-channel logout not handed back; retried after its lease", "error", err)
	}
}

// post signs a fresh logout token for c and POSTs it (spec section 2.5).
func (n *Notifier) post(ctx context.Context, c *provider.Client, j *provider.LogoutJob) error {
	token, err := n.token(c, j)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	body := url.Values{"logout_token": {token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BackchannelLogoutURI, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cache-Control", "no-store")
	resp, err := n.client.Do(req)
	if err != nil {
		return err // *url.Error: method, URI and cause; the token is in the body only
	}
	// Drain a little so the connection can be reused; the body is not read
	// for anything else.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	_ = resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK, http.StatusNoContent:
		return nil
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return fmt.Errorf("HTTP %d: redirect not followed", resp.StatusCode)
	}
	return fmt.Errorf("HTTP %d", resp.StatusCode)
}

// claims is the logout token payload. It has no nonce: the spec forbids
// one, so a logout token can never pass for an ID token.
type claims struct {
	Issuer   string              `json:"iss"`
	Audience string              `json:"aud"`
	IssuedAt int64               `json:"iat"`
	Expiry   int64               `json:"exp"`
	ID       string              `json:"jti"`
	Subject  string              `json:"sub,omitempty"`
	Session  string              `json:"sid,omitempty"`
	Events   map[string]struct{} `json:"events"`
}

func (n *Notifier) token(c *provider.Client, j *provider.LogoutJob) (string, error) {
	alg := c.IDTokenAlg
	if alg == "" {
		alg = provider.AlgEdDSA
	}
	now := n.cfg.Now()
	tok, err := n.signer.Sign(alg, TokenType, claims{
		Issuer: n.cfg.Issuer, Audience: c.ID, IssuedAt: now.Unix(), Expiry: now.Add(tokenLifetime).Unix(),
		ID: rand.Text(), Subject: j.Subject, Session: j.SessionID,
		Events: map[string]struct{}{BackchannelEventID: {}},
	})
	if err != nil {
		return "", fmt.Errorf("sign logout token: %w", err)
	}
	return tok, nil
}

// failed reschedules j with backoff, or drops it after MaxAttempts.
func (n *Notifier) failed(ctx context.Context, log *slog.Logger, j *provider.LogoutJob, cause error) {
	attempts := j.Attempts + 1
	msg := lastError(cause)
	if attempts >= n.cfg.MaxAttempts {
		log.ErrorContext(ctx, "back-channel logout given up", "attempts", attempts, "error", msg)
		n.complete(ctx, log, j)
		return
	}
	next := n.cfg.Now().Add(n.backoff(attempts))
	log.WarnContext(ctx, "back-channel logout failed, will retry",
		"attempts", attempts, "next_attempt_at", next.UTC(), "error", msg)
	if err := n.store.RetryLogoutJob(ctx, j.ID, next, msg); err != nil && !errors.Is(err, provider.ErrNotFound) {
		log.ErrorContext(ctx, "back-channel logout retry not recorded", "error", err)
	}
}

// drop removes a job that can no longer be delivered.
func (n *Notifier) drop(ctx context.Context, log *slog.Logger, j *provider.LogoutJob, why string) {
	log.InfoContext(ctx, "back-channel logout dropped", "reason", why)
	n.complete(ctx, log, j)
}

func (n *Notifier) complete(ctx context.Context, log *slog.Logger, j *provider.LogoutJob) {
	// ErrNotFound: another replica finished the job after our lease ran out.
	if err := n.store.CompleteLogoutJob(ctx, j.ID); err != nil && !errors.Is(err, provider.ErrNotFound) {
		log.ErrorContext(ctx, "back-channel logout job not removed", "error", err)
	}
}

// backoff is RetryBase after the first failure, doubling after each
// further one, at most maxBackoff.
func (n *Notifier) backoff(attempts int) time.Duration {
	d := n.cfg.RetryBase
	for i := 1; i < attempts && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// lastError is what a failure stores: bounded, valid UTF-8 without NUL
// (PostgreSQL text refuses both).
func lastError(err error) string {
	s := err.Error()
	if len(s) > maxLastError {
		s = s[:maxLastError]
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, ""), "\x00", "")
}
