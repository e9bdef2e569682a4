package provider

import (
	"context"
	"time"
)

// MailJob is one queued mail of the durable outbox (a restart loses
// nothing). It lives from the moment a request is accepted until the mail
// was handed to the relay, the request turned out to need no mail, or the
// outbox gave up.
type MailJob struct {
	ID string
	// Kind says what Payload holds: a request the outbox still resolves
	// (which account, which link) or the message it sends. The outbox
	// defines the kinds; the store only keeps them.
	Kind string
	// Payload is opaque to the store. The outbox seals it: it holds an
	// address, and once resolved a one-time link.
	Payload  []byte
	Attempts int // failed attempts so far
	// NextAttemptAt is when the job is due: now at enqueue, the end of the
	// lease while an outbox works on it, the backoff after a failure.
	NextAttemptAt time.Time
	CreatedAt     time.Time
	LastError     string // why the last attempt failed; never a link or token
}

// MailQueue is the durable mail outbox, shared by every replica.
type MailQueue interface {
	// EnqueueMail inserts j; ErrAlreadyExists when its id is taken. The
	// store remembers the enqueue order: jobs due at the same instant are
	// claimed in it.
	EnqueueMail(ctx context.Context, j *MailJob) error
	// ClaimMailJobs returns up to limit jobs with NextAttemptAt <= now,
	// ordered by NextAttemptAt then enqueue order, and pushes their
	// NextAttemptAt to now+lease so no other replica works on them
	// concurrently; the returned jobs carry the new NextAttemptAt. None when
	// limit < 1. Of concurrent claims each job goes to one caller.
	ClaimMailJobs(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*MailJob, error)
	// UpdateMailJob replaces Kind and Payload (a request resolved into its
	// message); ErrNotFound when absent.
	UpdateMailJob(ctx context.Context, id, kind string, payload []byte) error
	// CompleteMailJob deletes the job (sent, nothing to send, or given up);
	// ErrNotFound when absent.
	CompleteMailJob(ctx context.Context, id string) error
	// RetryMailJob adds one to Attempts and sets NextAttemptAt and
	// LastError; ErrNotFound when absent.
	RetryMailJob(ctx context.Context, id string, next time.Time, lastError string) error
	// ReleaseMailJob hands a claimed job back, due at now, when it is still
	// leased until leasedUntil (the NextAttemptAt its claim returned), for
	// a replica shutting down; ErrNotFound when the job is gone or was
	// claimed or rescheduled since.
	ReleaseMailJob(ctx context.Context, id string, leasedUntil, now time.Time) error
}
