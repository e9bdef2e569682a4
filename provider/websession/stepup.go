package websession

import (
	"context"
	"fmt"
	"slices"

	"github.com/manacore/mana-core-auth/provider"
)

// SecondFactor checks a user's second factor; *account.Service implements
// it. The session package only asks, so the verification (TOTP with replay
// protection, single-use recovery codes) stays in one place.
type SecondFactor interface {
	TOTPEnabled(ctx context.Context, userID string) (bool, error)
	// VerifySecondFactor accepts a TOTP code or a recovery code and
	// returns the method used.
	VerifySecondFactor(ctx context.Context, userID, code, ip, ua string) (string, error)
}

// MethodOTP is the amr value of a passed second factor; a login finished
// with a recovery code records MethodRecovery, which is the same factor.
const (
	MethodOTP      = "otp"
	MethodRecovery = "recovery"
)

// StepUpRequired reports whether session s must prove the second factor
// before a sensitive page: u has one enrolled and this session was not
// authenticated with it. Without an enrolled factor there is nothing to
// step up to, and the page is open to the session as it is.
func StepUpRequired(ctx context.Context, f SecondFactor, s *provider.Session, u *provider.User) (bool, error) {
	if slices.Contains(s.AuthMethods, MethodOTP) || slices.Contains(s.AuthMethods, MethodRecovery) {
		return false, nil
	}
	enabled, err := f.TOTPEnabled(ctx, u.ID)
	if err != nil {
		return false, fmt.Errorf("step-up: second factor of %q: %w", u.ID, err)
	}
	return enabled, nil
}

// StepUp verifies code (TOTP or recovery code) for the session's user
// and records "otp" among the session's methods with a fresh auth time,
// so the session counts as two-factor from now on. The verifier's errors
// (account.ErrInvalidCode, account.ErrTOTPNotEnrolled) pass through.
func (m *Manager) StepUp(ctx context.Context, f SecondFactor, s *provider.Session, code, ip, ua string) error {
	if _, err := f.VerifySecondFactor(ctx, s.UserID, code, ip, ua); err != nil {
		return err
	}
	methods := slices.Clone(s.AuthMethods)
	if !slices.Contains(methods, MethodOTP) {
		methods = append(methods, MethodOTP)
	}
	now := m.cfg.Now().UTC()
	if err := m.store.UpdateSessionAuth(ctx, s.ID, now, methods); err != nil {
		return fmt.Errorf("step-up: update session auth: %w", err)
	}
	s.AuthTime, s.AuthMethods = now, methods
	return nil
}
