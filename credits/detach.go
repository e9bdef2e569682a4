package credits

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// issue 11, part B (erasure): detaching an erased person from the ledger.

// Detacher is the storage of Detach; both credits stores implement it.
type Detacher interface {
	// Detach re-keys everything the ledger holds under userID (balance,
	// transactions, postings of the user's wallets, usage statistics,
	// purchases) to pseudonym in one database transaction and returns
	// how many transactions moved. The amounts are untouched, so the
	// ledger balances exactly as before. Running it again finds nothing
	// left under userID and returns 0.
	Detach(ctx context.Context, userID, pseudonym string) (int64, error)
}

// ErrNoDetach: the store cannot detach (a store built without it).
var ErrNoDetach = errors.New("credits store cannot detach a user")

// Detach keeps an erased person's credits history for accounting but no
// longer under their id: see Detacher. The pseudonym must not be an id a
// user can have; the admin module derives it from a keyed hash.
func (s *Service) Detach(ctx context.Context, userID, pseudonym string) (int64, error) {
	if userID == "" || pseudonym == "" || userID == pseudonym || strings.Contains(pseudonym, ":") {
		return 0, fmt.Errorf("credits: detach %q: %w", userID, ErrInvalidInput)
	}
	d, ok := s.store.(Detacher)
	if !ok {
		return 0, ErrNoDetach
	}
	n, err := d.Detach(ctx, userID, pseudonym)
	if err != nil {
		return 0, fmt.Errorf("credits: detach %q: %w", userID, err)
	}
	return n, nil
}
