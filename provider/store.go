package provider

import (
	"context"
	"time"
)

// UserStore persists users.
type UserStore interface {
	// CreateUser inserts u; ErrAlreadyExists when the id or email is taken.
	CreateUser(ctx context.Context, u *User) error
	// GetUser returns ErrNotFound for an unknown id.
	GetUser(ctx context.Context, id string) (*User, error)
	// GetUserByEmail matches case-insensitively; ErrNotFound when absent.
	GetUserByEmail(ctx context.Context, email string) (*User, error)
	// UpdateUser overwrites the mutable fields (email, email_verified, name,
	// picture, role, password_hash, disabled, updated_at; never deleted_at, which
	// only erasure sets); ErrNotFound for an unknown id,
	// ErrAlreadyExists when the new email is taken.
	UpdateUser(ctx context.Context, u *User) error
	CountUsers(ctx context.Context) (int, error)
}

// ClientStore persists OAuth clients.
type ClientStore interface {
	// CreateClient: ErrAlreadyExists when the id is taken.
	CreateClient(ctx context.Context, c *Client) error
	GetClient(ctx context.Context, id string) (*Client, error)
	// ListClients returns every client ordered by id.
	ListClients(ctx context.Context) ([]*Client, error)
	// DeleteClient removes the client and every grant and consent of it;
	// ErrNotFound for an unknown id.
	DeleteClient(ctx context.Context, id string) error
}

// SessionStore persists browser login sessions.
type SessionStore interface {
	CreateSession(ctx context.Context, s *Session) error
	// GetSession returns ErrNotFound for unknown or expired (ExpiresAt <= now) sessions.
	GetSession(ctx context.Context, id string, now time.Time) (*Session, error)
	// TouchSession sets LastSeenAt and ExpiresAt (sliding idle timeout).
	TouchSession(ctx context.Context, id string, lastSeen, expires time.Time) error
	// UpdateSessionAuth records a fresh authentication (auth time and methods).
	UpdateSessionAuth(ctx context.Context, id string, authTime time.Time, methods []string) error
	// DeleteSession removes it; ErrNotFound when absent.
	DeleteSession(ctx context.Context, id string) error
	// LockSession, inside a transaction, keeps the session (expired or not)
	// from being deleted until the transaction ends, so that tokens issued
	// for it in that transaction cannot escape its ending; ErrNotFound when
	// there is no such session.
	LockSession(ctx context.Context, id string) error
	// ListSessions returns the user's live sessions, newest first.
	ListSessions(ctx context.Context, userID string, now time.Time) ([]*Session, error)
}

// KeyStore persists signing keys.
type KeyStore interface {
	InsertKey(ctx context.Context, k *Key) error
	// InsertKeyIfDue inserts k unless a key of k.Alg was created after
	// since, and reports whether it did. Concurrent callers (other
	// processes too) are serialised, so of several replicas rotating on
	// the same schedule exactly one inserts.
	InsertKeyIfDue(ctx context.Context, k *Key, since time.Time) (bool, error)
	// ListKeys returns all keys ordered by CreatedAt ascending.
	ListKeys(ctx context.Context) ([]*Key, error)
	// UpdateKeyTimes sets RetiredAt and ExpiresAt; ErrNotFound when absent.
	UpdateKeyTimes(ctx context.Context, id string, retiredAt, expiresAt *time.Time) error
	// DeleteKey removes a key; ErrNotFound when absent.
	DeleteKey(ctx context.Context, id string) error
}

// ConsentStore persists remembered consent.
type ConsentStore interface {
	// GetConsent returns ErrNotFound when the user never consented to the client.
	GetConsent(ctx context.Context, userID, clientID string) (*Consent, error)
	// SaveConsent inserts or replaces the consent of (UserID, ClientID).
	SaveConsent(ctx context.Context, c *Consent) error
	// DeleteConsent removes it; ErrNotFound when absent.
	DeleteConsent(ctx context.Context, userID, clientID string) error
}

// GrantStore persists OAuth grants (codes, tokens, OIDC and PKCE requests).
type GrantStore interface {
	// CreateGrant: ErrAlreadyExists when (kind, signature) exists.
	CreateGrant(ctx context.Context, g *Grant) error
	// GetGrant returns the grant, active or not; ErrNotFound when absent.
	GetGrant(ctx context.Context, kind, signature string) (*Grant, error)
	// DeleteGrant removes one grant; ErrNotFound when absent.
	DeleteGrant(ctx context.Context, kind, signature string) error
	// DeactivateGrant marks one grant inactive (a used authorization code);
	// ErrNotFound when absent.
	DeactivateGrant(ctx context.Context, kind, signature string) error
	// RotateGrant marks one active grant inactive with RotatedAt=at and
	// returns its PairedSignature. It returns ErrConflict when the grant was
	// no longer active (a concurrent rotation won) and ErrNotFound when absent.
	RotateGrant(ctx context.Context, kind, signature string, at time.Time) (string, error)
	// RevokeRequest marks every grant of kind with this request id inactive
	// (RotatedAt unchanged) and deletes their grace entries. No error when
	// nothing matched.
	RevokeRequest(ctx context.Context, kind, requestID string) error
	// RevokeSession marks every grant of the browser session inactive and
	// deletes their grace entries; it returns how many grants it changed.
	RevokeSession(ctx context.Context, sessionID string) (int, error)
	// RevokeSubject does the same for every grant of a user.
	RevokeSubject(ctx context.Context, subject string) (int, error)
	// PutGrace stores (or replaces) a grace entry.
	PutGrace(ctx context.Context, e *GraceEntry) error
	// GetGrace returns ErrNotFound when absent or expired (ExpiresAt <= now).
	GetGrace(ctx context.Context, signature string, now time.Time) (*GraceEntry, error)
	// DeleteExpired removes grants whose ExpiresAt is before `before`, and
	// grace entries, browser sessions and one-time tokens expired by then
	// (ExpiresAt <= before); it returns how many grants it removed. While
	// one call runs, a concurrent one from another replica returns 0 at
	// once instead of deleting the same rows after it (PostgreSQL).
	DeleteExpired(ctx context.Context, before time.Time) (int, error)
}

// Transactor runs several store calls atomically. BeginTx returns a context
// carrying the transaction; every store method called with that context
// joins it. A BeginTx on a context that already carries a transaction joins
// the outer one (Commit and Rollback of the inner call are then no-ops).
type Transactor interface {
	BeginTx(ctx context.Context) (context.Context, error)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Store is everything the provider persists. Both backends (PostgreSQL and
// SQLite) implement it and pass storetest.Run. A store runs on the
// process's database handle and does not own it: whoever opened the handle
// migrates and closes it.
type Store interface {
	UserStore
	ClientStore
	SessionStore
	KeyStore
	ConsentStore
	GrantStore
	AccountStore
	LogoutQueue
	MailQueue
	AdminStore // issue 11 part A (admin users and clients)
	// issue 12 (connected apps): the user's consents and the tokens of one app.
	ConnectedAppStore
	// issue 11, part B (erasure): the erasure jobs and receipts.
	ErasureStore
	Transactor
	// Ping checks the database is reachable (readiness).
	Ping(ctx context.Context) error
	// issue 13 (observability): the counts the metrics show.
	StatsStore
	// issue 14 (import of the old service).
	ImportStore
	PasskeyStore // issue 15 (passkeys)
}

// Stats are the counts the metrics export, read in one call.
type Stats struct {
	// Users and VerifiedUsers leave out erased accounts (tombstones).
	Users, VerifiedUsers int64
	// Created* count the live users created since the start of the
	// current UTC day, ISO week (Monday) and month (StatsPeriods).
	CreatedToday, CreatedThisWeek, CreatedThisMonth int64
	// LogoutJobs and MailJobs are the undelivered jobs in the queues;
	// ErasureParts the backend deletions still pending.
	LogoutJobs, MailJobs, ErasureParts int64
}

// StatsStore reads Stats.
type StatsStore interface {
	// Stats counts at now (which picks the day, week and month).
	Stats(ctx context.Context, now time.Time) (Stats, error)
}

// StatsPeriods are the starts of now's UTC day, ISO week and month.
func StatsPeriods(now time.Time) (day, week, month time.Time) {
	now = now.UTC()
	day = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	week = day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7)) // Monday
	month = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	return day, week, month
}

// --- issue 11 part A: admin users and clients ---

// UserSearch selects a page of the admin user list, newest first.
type UserSearch struct {
	// Query is matched case-insensitively (Unicode, not only ASCII) as a
	// substring of the email or the name; "" matches everyone.
	Query          string
	IncludeDeleted bool // erased accounts (tombstones) too
	Offset, Limit  int
}

// UserListing is one row of the admin user list.
type UserListing struct {
	User
	// LastActiveAt is the latest LastSeenAt of the user's sessions; nil
	// without any.
	LastActiveAt *time.Time
}

// AdminStore is what administration needs beyond the other stores.
type AdminStore interface {
	// SearchUsers returns the page of users q selects, ordered by
	// CreatedAt descending then id, and how many users match in all.
	SearchUsers(ctx context.Context, q UserSearch) ([]*UserListing, int, error)
	// UpdateClient overwrites the mutable fields (name, redirect URIs,
	// post-logout redirect URIs, disabled); ErrNotFound for an unknown id.
	UpdateClient(ctx context.Context, c *Client) error
}

// --- issue 12 (connected apps) ---

// ConnectedAppStore is what listing and revoking the apps a user
// consented to needs beyond ConsentStore and GrantStore.
type ConnectedAppStore interface {
	// ListConsents returns the user's remembered consents, the most
	// recently granted first (then by client id); nil when there are none.
	ListConsents(ctx context.Context, userID string) ([]*Consent, error)
	// ClientSubjectSessions returns the distinct non-empty browser session
	// ids of the user's grants (active or not) for the client, ordered by id.
	ClientSubjectSessions(ctx context.Context, clientID, subject string) ([]string, error)
	// RevokeClientSubject marks every grant of the client for the user
	// inactive and deletes their grace entries; it returns how many grants
	// it changed. An empty client id or subject matches nothing.
	RevokeClientSubject(ctx context.Context, clientID, subject string) (int, error)
}

// --- issue 14: import of the old service ---

// ImportResult says what importing one record did.
type ImportResult int

const (
	// ImportInserted: the record was written.
	ImportInserted ImportResult = iota
	// ImportExists: a record with its id is there already (an earlier run
	// of the import); it was left as it is.
	ImportExists
	// ImportConflict: another record holds one of its unique values (a
	// user who registered here with the same email); nothing was written.
	ImportConflict
)

// ImportedSession is a login session of the old service, imported with
// the refresh token the apps hold for it.
type ImportedSession struct {
	Session
	// TokenHash is the hex SHA-256 of the old refresh token; the token
	// itself is never stored.
	TokenHash string
}

// ImportedRefreshToken is an imported refresh token: exchanged once at the
// first-party refresh for a token pair of ours bound to SessionID.
type ImportedRefreshToken struct {
	TokenHash string
	SessionID string
	ExpiresAt time.Time
	// UsedAt is set once the token was exchanged, RequestID then names
	// the grant family it became.
	UsedAt    *time.Time
	RequestID string
}

// ImportStore writes what the import brings over, in batches: the import
// runs in one transaction of the caller, and a batch saves the round trips
// of a row at a time.
type ImportStore interface {
	// ImportUsers inserts each user whose id and email are both free and
	// says for each, in order, ImportInserted, ImportExists (the id is
	// taken) or ImportConflict (another user has the email).
	ImportUsers(ctx context.Context, users []*User) ([]ImportResult, error)
	// ImportSessions inserts each session with its refresh token unless the
	// session id or the token hash is taken (ImportExists).
	ImportSessions(ctx context.Context, sessions []*ImportedSession) ([]ImportResult, error)
	// ImportedRefreshToken returns the token, used or not, unless it
	// expired (ExpiresAt <= now); ErrNotFound then or when absent.
	ImportedRefreshToken(ctx context.Context, hash string, now time.Time) (*ImportedRefreshToken, error)
	// UseImportedRefreshToken marks the unused token used at `at` as the
	// grant family requestID. ErrConflict when it was used already (a
	// concurrent exchange won); ErrNotFound when absent.
	UseImportedRefreshToken(ctx context.Context, hash, requestID string, at time.Time) error
}
