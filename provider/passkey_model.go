package provider

import (
	"context"
	"time"
)

// --- issue 15: passkeys (WebAuthn) ---

// Passkey is a WebAuthn credential a user registered: a discoverable key
// (resident on the authenticator) that signs in without a password, or
// serves as the second factor.
type Passkey struct {
	ID           string // ours, for the account page and the API
	UserID       string
	CredentialID []byte // the authenticator's credential id (unique)
	PublicKey    []byte // COSE public key, as the library stores it
	// AttestationType ("none", "packed", …), AAGUID and Transports are
	// what registration reported.
	AttestationType string
	AAGUID          []byte
	Transports      []string
	SignCount       uint32
	// BackupEligible and BackupState are the BE/BS flags: a synced
	// (multi-device) passkey versus one bound to its hardware.
	BackupEligible bool
	BackupState    bool
	Name           string
	CreatedAt      time.Time
	LastUsedAt     *time.Time
}

// WebAuthnChallenge is a started ceremony's server state: single use,
// stored in the database so any replica can finish it.
type WebAuthnChallenge struct {
	ID string
	// Kind is "register", "login" or "second_factor"; a challenge only
	// finishes the kind of ceremony it was made for.
	Kind string
	// UserID is empty for a discoverable login (the user is not known yet).
	UserID    string
	Data      []byte // the library's session data (JSON)
	ExpiresAt time.Time
}

// PasskeyStore persists passkeys and ceremony challenges.
type PasskeyStore interface {
	// CreatePasskey: ErrAlreadyExists when the credential id is taken.
	CreatePasskey(ctx context.Context, p *Passkey) error
	// ListPasskeys returns the user's passkeys, oldest first.
	ListPasskeys(ctx context.Context, userID string) ([]*Passkey, error)
	// PasskeyByCredentialID: ErrNotFound when absent.
	PasskeyByCredentialID(ctx context.Context, credentialID []byte) (*Passkey, error)
	// UsePasskey records a successful assertion: the new sign count, the
	// backup state and the time, only if the stored count is still
	// oldCount (ErrConflict otherwise: a concurrent assertion won);
	// ErrNotFound when absent.
	UsePasskey(ctx context.Context, id string, oldCount, newCount uint32, backupState bool, at time.Time) error
	// RenamePasskey and DeletePasskey act on the user's passkey only;
	// ErrNotFound when the user has none with that id.
	RenamePasskey(ctx context.Context, userID, id, name string) error
	DeletePasskey(ctx context.Context, userID, id string) error
	// PutChallenge stores a challenge (ErrAlreadyExists for a taken id).
	PutChallenge(ctx context.Context, c *WebAuthnChallenge) error
	// TakeChallenge deletes and returns the challenge of kind, unless it
	// expired (ExpiresAt <= now): single use even under concurrency.
	// ErrNotFound otherwise.
	TakeChallenge(ctx context.Context, id, kind string, now time.Time) (*WebAuthnChallenge, error)
}
