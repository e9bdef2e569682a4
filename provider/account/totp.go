package account

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/manacore/mana-core-auth/provider"
)

const totpPeriod = 30

// Enrollment is what the user needs to add the account to an authenticator.
type Enrollment struct {
	Secret    string // base32, for manual entry
	URI       string // otpauth:// URI
	QRDataURI string // data:image/png;base64,... of the URI
}

// BeginTOTP starts (or restarts) an enrolment. It stays disabled until
// ConfirmTOTP sees a valid code, so a half-finished setup never locks the
// user out.
func (s *Service) BeginTOTP(ctx context.Context, u *provider.User) (*Enrollment, error) {
	if cur, err := s.store.GetTOTP(ctx, u.ID); err == nil && cur.Enabled {
		return nil, ErrTOTPAlreadyEnabled
	} else if err != nil && !errors.Is(err, provider.ErrNotFound) {
		return nil, err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "Mana", AccountName: u.Email, Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, fmt.Errorf("generate totp key: %w", err)
	}
	now := s.cfg.Now().UTC()
	if err := s.store.PutTOTP(ctx, &provider.TOTP{
		UserID: u.ID, SecretEnc: s.sealer.Seal([]byte(key.Secret()), []byte(u.ID)), CreatedAt: now,
	}); err != nil {
		return nil, fmt.Errorf("store totp enrolment: %w", err)
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return nil, fmt.Errorf("render qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode qr code: %w", err)
	}
	return &Enrollment{
		Secret:    key.Secret(),
		URI:       key.URL(),
		QRDataURI: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()),
	}, nil
}

// ConfirmTOTP enables two-factor authentication after the first valid code
// and returns ten single-use recovery codes (shown once; stored hashed).
func (s *Service) ConfirmTOTP(ctx context.Context, userID, code, ip, ua string) ([]string, error) {
	t, err := s.store.GetTOTP(ctx, userID)
	if err != nil {
		if errors.Is(err, provider.ErrNotFound) {
			return nil, ErrTOTPNotEnrolled
		}
		return nil, err
	}
	if t.Enabled {
		return nil, ErrTOTPAlreadyEnabled
	}
	step, ok, err := s.matchCode(t, code)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrInvalidCode
	}
	codes := make([]string, 10)
	hashes := make([]string, 10)
	for i := range codes {
		raw := randomToken()
		codes[i] = strings.ToLower(raw[:5] + "-" + raw[5:10])
		hashes[i] = hashToken(codes[i])
	}
	now := s.cfg.Now().UTC()
	t.Enabled, t.EnabledAt, t.LastStep, t.RecoveryHashes = true, &now, step, hashes
	if err := s.store.PutTOTP(ctx, t); err != nil {
		return nil, fmt.Errorf("enable totp: %w", err)
	}
	s.Event(ctx, &provider.SecurityEvent{UserID: userID, Type: provider.Event2FAEnabled, IP: ip, UserAgent: ua})
	return codes, nil
}

// TOTPEnabled reports whether the user must pass a second factor.
func (s *Service) TOTPEnabled(ctx context.Context, userID string) (bool, error) {
	t, err := s.store.GetTOTP(ctx, userID)
	if err != nil {
		if errors.Is(err, provider.ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	return t.Enabled, nil
}

// VerifySecondFactor checks a TOTP code or, failing that, a recovery code.
// It returns the method used ("otp" or "recovery"). A code is accepted
// once: its time step must be newer than the last one used.
func (s *Service) VerifySecondFactor(ctx context.Context, userID, code, ip, ua string) (string, error) {
	t, err := s.store.GetTOTP(ctx, userID)
	if err != nil {
		if errors.Is(err, provider.ErrNotFound) {
			return "", ErrTOTPNotEnrolled
		}
		return "", err
	}
	if !t.Enabled {
		return "", ErrTOTPNotEnrolled
	}
	code = strings.TrimSpace(code)
	if step, ok, err := s.matchCode(t, code); err != nil {
		return "", err
	} else if ok {
		if err := s.store.AdvanceTOTPStep(ctx, userID, step); err != nil {
			if errors.Is(err, provider.ErrConflict) {
				return "", ErrInvalidCode // replayed
			}
			return "", err
		}
		s.Event(ctx, &provider.SecurityEvent{UserID: userID, Type: provider.Event2FAUsed, IP: ip, UserAgent: ua})
		return "otp", nil
	}
	if err := s.store.UseRecoveryCode(ctx, userID, hashToken(strings.ToLower(code))); err != nil {
		if errors.Is(err, provider.ErrNotFound) {
			return "", ErrInvalidCode
		}
		return "", err
	}
	s.Event(ctx, &provider.SecurityEvent{UserID: userID, Type: provider.EventRecoveryCodeUsed, IP: ip, UserAgent: ua})
	return "recovery", nil
}

// DisableTOTP turns two-factor authentication off after a valid code.
func (s *Service) DisableTOTP(ctx context.Context, userID, code, ip, ua string) error {
	if _, err := s.VerifySecondFactor(ctx, userID, code, ip, ua); err != nil {
		return err
	}
	if err := s.store.DeleteTOTP(ctx, userID); err != nil {
		return err
	}
	s.Event(ctx, &provider.SecurityEvent{UserID: userID, Type: provider.Event2FADisabled, IP: ip, UserAgent: ua})
	return nil
}

// matchCode compares code with the codes of the previous, current and next
// time step (clock skew) and returns the matching step. The step is what
// replay protection needs, which totp.Validate does not report.
func (s *Service) matchCode(t *provider.TOTP, code string) (int64, bool, error) {
	if len(code) != 6 {
		return 0, false, nil
	}
	secret, err := s.sealer.Open(t.SecretEnc, []byte(t.UserID))
	if err != nil {
		return 0, false, fmt.Errorf("open totp secret: %w", err)
	}
	now := s.cfg.Now()
	cur := now.Unix() / totpPeriod
	for _, off := range []int64{0, -1, 1} {
		step := cur + off
		want, err := totp.GenerateCodeCustom(string(secret), time.Unix(step*totpPeriod, 0), totp.ValidateOpts{
			Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
		})
		if err != nil {
			return 0, false, fmt.Errorf("generate totp code: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, step > t.LastStep, nil
		}
	}
	return 0, false, nil
}
