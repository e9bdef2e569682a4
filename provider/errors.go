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
