package provider

import "errors"

// Sentinel errors every store returns (wrapped) so callers can branch with
// errors.Is without knowing the backend.
var (
	// ErrNotFound: no row matches the key.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a unique key (id, email, signature) is taken.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: a concurrent transaction won; the caller may retry.
	ErrConflict = errors.New("conflict with a concurrent update")
)

// --- issue 11 part A: disabled accounts ---

// ErrAccountDisabled: an administrator disabled the account (or it was
// erased); it cannot sign in, continue a session or use a token.
var ErrAccountDisabled = errors.New("account disabled")

// CanSignIn is the one rule for whether the account may sign in or keep
// using what a sign-in gave it (a session, a refresh token, userinfo).
// Every sign-in path calls it instead of reading the fields itself.
func (u *User) CanSignIn() error {
	if u.Disabled || u.DeletedAt != nil {
		return ErrAccountDisabled
	}
	return nil
}
