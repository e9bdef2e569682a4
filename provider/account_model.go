package provider

import (
	"context"
	"time"
)

// Purposes of one-time tokens.
const (
	PurposeVerifyEmail   = "verify_email"   // 24 h
	PurposeResetPassword = "reset_password" // 1 h
	PurposeLogin2FA      = "login_2fa"      // between the password and the TOTP step, 5 min
)

// OneTimeToken is a single-use secret sent by email or handed to the
// client between login steps. Only its hash is stored.
type OneTimeToken struct {
	Hash       string // hex SHA-256 of the token
	Purpose    string
	UserID     string
	RedirectTo string // an already validated origin the flow returns to; may be ""
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// Security event types written to the audit log.
const (
	EventRegistered       = "registered"
	EventLoginSuccess     = "login_success"
	EventLoginFailure     = "login_failure"
	EventLogout           = "logout"
	EventRefreshReuse     = "refresh_token_reuse"
	EventPasswordChanged  = "password_changed"
	EventPasswordReset    = "password_reset"
	EventEmailVerified    = "email_verified"
	Event2FAEnabled       = "2fa_enabled"
	Event2FADisabled      = "2fa_disabled"
	Event2FAUsed          = "2fa_used"
	EventRecoveryCodeUsed = "recovery_code_used"
	EventSessionRevoked   = "session_revoked"
	EventAccountLocked    = "account_locked"
	EventProfileUpdated   = "profile_updated"
	EventConsentRevoked   = "consent_revoked" // issue 12: the user took back an app's consent
	// issue 15 (passkeys): a passkey was added or removed, or one answered
	// with a signature counter that went backwards (a cloned key?).
	EventPasskeyAdded   = "passkey_added"
	EventPasskeyRemoved = "passkey_removed"
	EventPasskeyCounter = "passkey_counter_regression"
)

// SecurityEvent is one audit log entry. It never holds a secret.
type SecurityEvent struct {
	ID        string
	UserID    string // "" when the account is unknown (a failed login for a foreign email)
	Type      string
	IP        string
	UserAgent string
	Detail    map[string]string // small, non-secret context (client id, session id prefix, reason)
	CreatedAt time.Time
}

// TOTP is a user's authenticator enrolment.
type TOTP struct {
	UserID    string
	SecretEnc []byte // AES-GCM sealed base32 secret
	Enabled   bool   // false while enrolment awaits its first code
	// LastStep is the last accepted time step; a code for it or an earlier
	// step is refused, so an observed code cannot be replayed.
	LastStep       int64
	RecoveryHashes []string // hex SHA-256 of the unused recovery codes
	CreatedAt      time.Time
	EnabledAt      *time.Time
}

// AccountStore persists what accounts need beyond users and sessions.
type AccountStore interface {
	// CreateToken: ErrAlreadyExists when the hash exists.
	CreateToken(ctx context.Context, t *OneTimeToken) error
	// ConsumeToken deletes and returns the token of purpose with hash when it
	// has not expired (ExpiresAt > now). Unknown, already used and expired
	// tokens give ErrNotFound, as does a hash stored for another purpose
	// (that token stays usable). An expired token is left for DeleteExpired.
	// Of concurrent consumers exactly one succeeds.
	ConsumeToken(ctx context.Context, purpose, hash string, now time.Time) (*OneTimeToken, error)
	// DeleteUserTokens removes every token of purpose of the user; no error
	// when there is none.
	DeleteUserTokens(ctx context.Context, userID, purpose string) error

	// AddEvent inserts e; ErrAlreadyExists when its ID is taken. An empty
	// Detail comes back nil.
	AddEvent(ctx context.Context, e *SecurityEvent) error
	// ListEvents returns the user's newest events first, at most limit
	// (none when limit < 1).
	ListEvents(ctx context.Context, userID string, limit int) ([]*SecurityEvent, error)

	// GetTOTP returns ErrNotFound when the user has no enrolment.
	GetTOTP(ctx context.Context, userID string) (*TOTP, error)
	// PutTOTP inserts or replaces the user's enrolment (every field,
	// LastStep included). Empty RecoveryHashes and SecretEnc come back nil.
	PutTOTP(ctx context.Context, t *TOTP) error
	// DeleteTOTP removes it; ErrNotFound when absent.
	DeleteTOTP(ctx context.Context, userID string) error
	// AdvanceTOTPStep sets LastStep = step only when step > LastStep;
	// ErrConflict otherwise (a replayed or older code), ErrNotFound without
	// an enrolment.
	AdvanceTOTPStep(ctx context.Context, userID string, step int64) error
	// UseRecoveryCode removes hash from the user's recovery codes;
	// ErrNotFound when it is not among them or the user has no enrolment.
	// Of concurrent uses of one code exactly one succeeds.
	UseRecoveryCode(ctx context.Context, userID, hash string) error

	// DeleteUserSessions deletes every browser session of the user except
	// exceptID ("" keeps none), expired ones included, and returns the
	// deleted ids in ascending order (nil when none).
	DeleteUserSessions(ctx context.Context, userID, exceptID string) ([]string, error)
}
