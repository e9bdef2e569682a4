package provider

import (
	"context"
	"time"
)

// Erasure part statuses.
const (
	ErasurePending = "pending"
	ErasureDone    = "done"
)

// Tombstone is what is left of an erased user's row: a placeholder
// address no one can own (so the real one can register again), no name,
// no password, and the erasure time.
type Tombstone struct {
	Email     string
	DeletedAt time.Time
}

// ErasedCounts are the records EraseUserData deleted (or, for Events,
// pseudonymised) per kind.
type ErasedCounts struct {
	Sessions           int64
	Devices            int64 // sessions that named a device
	Tokens             int64 // grants: codes, access and refresh tokens, OIDC and PKCE requests
	Consents           int64
	Accounts           int64 // the password credential
	TwoFactor          int64 // the TOTP enrolment with its recovery codes
	VerificationTokens int64 // verification, reset and login one-time tokens
	Events             int64 // security events stripped of IP, user agent and email
	Passkeys           int64 // issue 15 (passkeys): the user's WebAuthn credentials
}

// Total adds up every kind.
func (c ErasedCounts) Total() int64 {
	return c.Sessions + c.Tokens + c.Consents + c.Accounts + c.TwoFactor + c.VerificationTokens + c.Events + c.Passkeys
}

// ErasureJob is one erasure of a person: the receipt and, while some app
// backend has not confirmed its deletion, the pending parts. It holds no
// personal data: Subject is a keyed hash of the user id.
type ErasureJob struct {
	ID          string
	Subject     string
	RequestedBy string // the admin's user id, or "self"
	RequestedAt time.Time
	AuthDeleted int64      // records the local transaction deleted or pseudonymised
	AuthAt      *time.Time // when the local transaction committed
	CompletedAt *time.Time // when the last part was done
	Parts       []*ErasurePart
}

// ErasurePart is one app backend's share of an erasure.
type ErasurePart struct {
	ErasureID   string
	BackendID   string
	BackendName string
	// UserID is the person the backend must delete: set while the part is
	// pending (the retry needs it), cleared once it is done.
	UserID        string
	Status        string // ErasurePending or ErasureDone
	Attempts      int    // failed attempts so far
	LastError     string // why the last attempt failed; never a key or token
	NextAttemptAt time.Time
	LeaseUntil    *time.Time // set while a worker holds the part
	DeletedCount  int64
	DoneAt        *time.Time
}

// ErasureStore persists erasures: the local erasure of a user's data, the
// durable queue of app-backend deletions still to do, and the receipts.
type ErasureStore interface {
	// EraseUserData removes everything this service holds about the user in
	// one transaction (the caller's, when ctx carries one): sessions,
	// grants and their grace entries, consents, the TOTP enrolment, one-time
	// tokens, passkeys (issue 15); it strips IP, user agent and any email from the user's
	// security events, and overwrites the user row with the tombstone (no
	// name, no password, not verified, DeletedAt set). ErrNotFound for an
	// unknown user. On an error in its own transaction nothing is changed;
	// in the caller's, the caller rolls back.
	EraseUserData(ctx context.Context, userID string, t Tombstone) (ErasedCounts, error)

	// CreateErasure inserts the job with its parts atomically;
	// ErrAlreadyExists when its id is taken.
	CreateErasure(ctx context.Context, j *ErasureJob) error
	// GetErasure returns the job with its parts (ordered by backend id);
	// ErrNotFound when absent.
	GetErasure(ctx context.Context, id string) (*ErasureJob, error)
	// ListErasures returns the jobs of a subject, newest first, with their
	// parts.
	ListErasures(ctx context.Context, subject string) ([]*ErasureJob, error)
	// PendingErasureParts returns the user's pending parts, oldest
	// erasure first.
	PendingErasureParts(ctx context.Context, userID string) ([]*ErasurePart, error)
	// ClaimErasureParts returns up to limit pending parts that are due
	// (NextAttemptAt <= now) and not leased (LeaseUntil unset or <= now),
	// and leases them until now+lease. Of concurrent claims each part goes
	// to one caller. None when limit < 1.
	ClaimErasureParts(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*ErasurePart, error)
	// CompleteErasurePart marks the part done with the backend's count,
	// clears its UserID and lease and, when it was the last pending part of
	// a job whose local transaction is done, sets the job's CompletedAt to
	// at; completed reports that. ErrNotFound when the part is absent or
	// no longer pending.
	CompleteErasurePart(ctx context.Context, erasureID, backendID string, deleted int64, at time.Time) (completed bool, err error)
	// RetryErasurePart adds one to Attempts, sets NextAttemptAt and
	// LastError and clears the lease; ErrNotFound when the part is absent
	// or no longer pending.
	RetryErasurePart(ctx context.Context, erasureID, backendID string, next time.Time, lastError string) error
	// ReleaseErasurePart clears the lease of a pending part when it is
	// still leasedUntil (the LeaseUntil its claim returned), for a replica
	// shutting down; ErrNotFound when the part is done, gone, or was
	// claimed or rescheduled since.
	ReleaseErasurePart(ctx context.Context, erasureID, backendID string, leasedUntil time.Time) error
}
