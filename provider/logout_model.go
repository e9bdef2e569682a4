package provider

import (
	"context"
	"time"
)

// LogoutJob is one pending back-channel logout delivery (durable: a
// restart loses nothing). It lives from the moment a session ends until
// the relying party acknowledged the logout token or the notifier gave up.
type LogoutJob struct {
	ID        string
	ClientID  string
	URI       string // the client's backchannel_logout_uri when the job was enqueued
	SessionID string // the ended browser session (the token's sid)
	Subject   string // the user id (the token's sub)
	Attempts  int    // failed deliveries so far
	// NextAttemptAt is when the job is due: now at enqueue, the end of the
	// lease while a notifier delivers it, the backoff after a failure.
	NextAttemptAt time.Time
	CreatedAt     time.Time
	LastError     string // why the last attempt failed; never a token
}

// LogoutQueue is the durable queue behind OpenID Connect Back-Channel
// Logout, shared by every replica.
type LogoutQueue interface {
	// SessionClients returns the distinct client ids holding grants (active
	// or not) of a browser session, ordered by id; nil for an empty id (grants
	// without a session store "" and belong to no session).
	SessionClients(ctx context.Context, sessionID string) ([]string, error)
	// EnqueueLogouts inserts the jobs atomically: ErrAlreadyExists when an
	// id is taken, and then none of them is inserted. No jobs is a no-op.
	EnqueueLogouts(ctx context.Context, jobs []*LogoutJob) error
	// ClaimLogoutJobs returns up to limit jobs with NextAttemptAt <= now
	// (the longest-due first) and pushes their NextAttemptAt to now+lease,
	// so another replica does not deliver them concurrently. The returned
	// jobs carry the new NextAttemptAt and are ordered by CreatedAt, then
	// ID. None when limit < 1. Of concurrent claims each job goes to one
	// caller (PostgreSQL: FOR UPDATE SKIP LOCKED in one statement; SQLite:
	// inside one immediate transaction).
	ClaimLogoutJobs(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*LogoutJob, error)
	// CompleteLogoutJob deletes the job (delivered, or given up);
	// ErrNotFound when absent.
	CompleteLogoutJob(ctx context.Context, id string) error
	// RetryLogoutJob adds one to Attempts and sets NextAttemptAt and
	// LastError; ErrNotFound when absent.
	RetryLogoutJob(ctx context.Context, id string, next time.Time, lastError string) error
	// ReleaseLogoutJob hands a claimed job back, due at now, when it is
	// still leased until leasedUntil (the NextAttemptAt its claim
	// returned): a replica shutting down mid-delivery lets another one
	// take it at once instead of after the lease. ErrNotFound when the job
	// is gone or was claimed or rescheduled since.
	ReleaseLogoutJob(ctx context.Context, id string, leasedUntil, now time.Time) error
}
