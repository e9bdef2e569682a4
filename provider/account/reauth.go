package account

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/manacore/mana-core-auth/provider"
)

// ErrSecondFactorRequired: the account has a second factor enrolled and
// the request brought no code.
var ErrSecondFactorRequired = errors.New("second factor required")

// Reauthenticate proves that the signed-in user is at the keyboard before
// an irreversible step (deleting the account): their password and, when a
// second factor is enrolled, a TOTP or recovery code. It uses the same
// checks as the login (the hasher, VerifySecondFactor with its replay
// guard), so a code used here cannot be used again. Errors:
// ErrInvalidCredentials for a wrong password (or an account without
// one), ErrSecondFactorRequired without a code, ErrInvalidCode for a wrong
// one.
func (s *Service) Reauthenticate(ctx context.Context, userID, password, code, ip, ua string) (*provider.User, error) {
	u, err := s.store.GetUser(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("reauthenticate: %w", err)
	}
	if len(password) > 1024 {
		return nil, ErrInvalidCredentials
	}
	// The hasher refuses an empty hash (an account without a password)
	// at the cost of a wrong password.
	if err := s.hasher.Verify(ctx, u.PasswordHash, password); err != nil {
		if errors.Is(err, ErrMismatch) {
			return nil, ErrInvalidCredentials
		}
		return nil, fmt.Errorf("reauthenticate: %w", err)
	}
	enrolled, err := s.TOTPEnabled(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("reauthenticate: %w", err)
	}
	if !enrolled {
		return u, nil
	}
	if strings.TrimSpace(code) == "" {
		return nil, ErrSecondFactorRequired
	}
	if _, err := s.VerifySecondFactor(ctx, userID, code, ip, ua); err != nil {
		if errors.Is(err, ErrInvalidCode) || errors.Is(err, ErrTOTPNotEnrolled) {
			return nil, ErrInvalidCode
		}
		return nil, fmt.Errorf("reauthenticate: %w", err)
	}
	return u, nil
}
