package account_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"image/png"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/seal"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

var recoveryRE = regexp.MustCompile(`^[a-z2-7]{5}-[a-z2-7]{5}$`)

// codeAt is what an authenticator app shows for secret at time at.
func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatalf("GenerateCode: %v", err)
	}
	return c
}

// wrongCode returns six digits that match none of the codes the service
// accepts at time at (the previous, current and next step).
func wrongCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	valid := []string{codeAt(t, secret, at.Add(-30*time.Second)), codeAt(t, secret, at), codeAt(t, secret, at.Add(30*time.Second))}
	for i := 0; ; i++ {
		if c := fmt.Sprintf("%06d", i); !slices.Contains(valid, c) {
			return c
		}
	}
}

func step(at time.Time) int64 { return at.Unix() / 30 }

// mustEnable enrols a new user with email and confirms the enrolment with
// the code of the current step; it returns the user, the secret and the
// recovery codes.
func mustEnable(t *testing.T, f *fixture, email string) (*provider.User, string, []string) {
	t.Helper()
	u := f.createUser(t, email, password, true)
	e, err := f.svc.BeginTOTP(t.Context(), u)
	if err != nil {
		t.Fatalf("BeginTOTP: %v", err)
	}
	codes, err := f.svc.ConfirmTOTP(t.Context(), u.ID, codeAt(t, e.Secret, f.clock.Now()), testIP, testUA)
	if err != nil {
		t.Fatalf("ConfirmTOTP: %v", err)
	}
	return u, e.Secret, codes
}

func (f *fixture) mustTOTP(t *testing.T, userID string) *provider.TOTP {
	t.Helper()
	got, err := f.store.GetTOTP(t.Context(), userID)
	if err != nil {
		t.Fatalf("GetTOTP: %v", err)
	}
	return got
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestTOTP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		f := newFixture(t, b)

		t.Run("Begin", func(t *testing.T) {
			ctx := t.Context()
			u := f.createUser(t, "kim@example.com", password, true)
			e, err := f.svc.BeginTOTP(ctx, u)
			if err != nil {
				t.Fatalf("BeginTOTP: %v", err)
			}
			if !regexp.MustCompile(`^[A-Z2-7]{32}$`).MatchString(e.Secret) {
				t.Errorf("secret %q: want 160 bits in base32", e.Secret)
			}

			uri, err := url.Parse(e.URI)
			if err != nil {
				t.Fatalf("parse URI %q: %v", e.URI, err)
			}
			q := uri.Query()
			if uri.Scheme != "otpauth" || uri.Host != "totp" || uri.Path != "/Mana:kim@example.com" ||
				q.Get("secret") != e.Secret || q.Get("issuer") != "Mana" || q.Get("period") != "30" ||
				q.Get("digits") != "6" || q.Get("algorithm") != "SHA1" {
				t.Errorf("otpauth URI %q", e.URI)
			}

			b64, ok := strings.CutPrefix(e.QRDataURI, "data:image/png;base64,")
			if !ok {
				t.Fatalf("QR %.40q... is not a PNG data URI", e.QRDataURI)
			}
			raw, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				t.Fatalf("QR base64: %v", err)
			}
			img, err := png.Decode(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("QR png: %v", err)
			}
			if sz := img.Bounds().Size(); sz.X != 240 || sz.Y != 240 {
				t.Errorf("QR is %v, want 240x240", sz)
			}

			stored := f.mustTOTP(t, u.ID)
			if stored.Enabled || stored.EnabledAt != nil || len(stored.RecoveryHashes) != 0 || stored.LastStep != 0 || !stored.CreatedAt.Equal(start) {
				t.Errorf("stored enrolment %+v: want disabled, without recovery codes, created %v", stored, start)
			}
			seed, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e.Secret)
			if err != nil {
				t.Fatal(err)
			}
			if len(stored.SecretEnc) <= len(e.Secret) || bytes.Contains(stored.SecretEnc, []byte(e.Secret)) || bytes.Contains(stored.SecretEnc, seed) {
				t.Errorf("stored SecretEnc (%d bytes) is not sealed: it holds the secret", len(stored.SecretEnc))
			}
			if on, err := f.svc.TOTPEnabled(ctx, u.ID); err != nil || on {
				t.Errorf("TOTPEnabled before confirmation = %v, %v; want false", on, err)
			}
			// A pending enrolment is no second factor yet.
			_, err = f.svc.VerifySecondFactor(ctx, u.ID, codeAt(t, e.Secret, f.clock.Now()), testIP, testUA)
			wantErr(t, "VerifySecondFactor(pending)", err, account.ErrTOTPNotEnrolled)
			err = f.svc.DisableTOTP(ctx, u.ID, codeAt(t, e.Secret, f.clock.Now()), testIP, testUA)
			wantErr(t, "DisableTOTP(pending)", err, account.ErrTOTPNotEnrolled)
		})

		t.Run("Restart", func(t *testing.T) {
			ctx := t.Context()
			u := f.createUser(t, "lena@example.com", password, true)
			first, err := f.svc.BeginTOTP(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			second, err := f.svc.BeginTOTP(ctx, u)
			if err != nil {
				t.Fatalf("BeginTOTP again before confirming: %v", err)
			}
			if second.Secret == first.Secret {
				t.Fatal("a restarted enrolment kept its secret")
			}
			// The abandoned secret is gone; the new one confirms.
			now := f.clock.Now()
			if codeAt(t, first.Secret, now) != codeAt(t, second.Secret, now) {
				_, err = f.svc.ConfirmTOTP(ctx, u.ID, codeAt(t, first.Secret, now), testIP, testUA)
				wantErr(t, "ConfirmTOTP(code of the abandoned secret)", err, account.ErrInvalidCode)
			}
			if _, err := f.svc.ConfirmTOTP(ctx, u.ID, codeAt(t, second.Secret, now), testIP, testUA); err != nil {
				t.Fatalf("ConfirmTOTP(code of the new secret): %v", err)
			}
		})

		t.Run("Confirm", func(t *testing.T) {
			ctx := t.Context()
			u := f.createUser(t, "max@example.com", password, true)
			e, err := f.svc.BeginTOTP(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			now := f.clock.Now()
			for _, bad := range []string{wrongCode(t, e.Secret, now), codeAt(t, e.Secret, now.Add(-time.Minute)),
				codeAt(t, e.Secret, now)[:5], codeAt(t, e.Secret, now) + "0", ""} {
				_, err := f.svc.ConfirmTOTP(ctx, u.ID, bad, testIP, testUA)
				wantErr(t, "ConfirmTOTP("+bad+")", err, account.ErrInvalidCode)
			}
			if f.mustTOTP(t, u.ID).Enabled {
				t.Fatal("wrong codes enabled two-factor authentication")
			}
			f.wantEvents(t, u.ID, map[string]int{})

			codes, err := f.svc.ConfirmTOTP(ctx, u.ID, codeAt(t, e.Secret, now), testIP, testUA)
			if err != nil {
				t.Fatalf("ConfirmTOTP: %v", err)
			}
			if len(codes) != 10 {
				t.Fatalf("%d recovery codes, want 10", len(codes))
			}
			var wantHashes []string
			for _, c := range codes {
				if !recoveryRE.MatchString(c) {
					t.Errorf("recovery code %q: want xxxxx-xxxxx in lower-case base32", c)
				}
				wantHashes = append(wantHashes, hashHex(c))
			}
			slices.Sort(wantHashes)
			if len(slices.Compact(slices.Clone(wantHashes))) != 10 {
				t.Errorf("recovery codes repeat: %v", codes)
			}

			stored := f.mustTOTP(t, u.ID)
			gotHashes := slices.Sorted(slices.Values(stored.RecoveryHashes))
			if !slices.Equal(gotHashes, wantHashes) {
				t.Errorf("stored recovery hashes %v, want the SHA-256 of the codes %v", gotHashes, wantHashes)
			}
			for _, c := range codes {
				if slices.Contains(stored.RecoveryHashes, c) || bytes.Contains(stored.SecretEnc, []byte(c)) {
					t.Errorf("recovery code %s is stored in plain text", c)
				}
			}
			if !stored.Enabled || stored.EnabledAt == nil || !stored.EnabledAt.Equal(now) || stored.LastStep != step(now) {
				t.Errorf("stored enrolment enabled=%v at %v last step %d; want true at %v, step %d", stored.Enabled, stored.EnabledAt, stored.LastStep, now, step(now))
			}
			if on, err := f.svc.TOTPEnabled(ctx, u.ID); err != nil || !on {
				t.Errorf("TOTPEnabled = %v, %v; want true", on, err)
			}
			f.wantEvents(t, u.ID, map[string]int{provider.Event2FAEnabled: 1})

			f.clock.Advance(30 * time.Second)
			_, err = f.svc.ConfirmTOTP(ctx, u.ID, codeAt(t, e.Secret, f.clock.Now()), testIP, testUA)
			wantErr(t, "ConfirmTOTP(again)", err, account.ErrTOTPAlreadyEnabled)
			_, err = f.svc.BeginTOTP(ctx, u)
			wantErr(t, "BeginTOTP(enabled)", err, account.ErrTOTPAlreadyEnabled)
			if again := f.mustTOTP(t, u.ID); !bytes.Equal(again.SecretEnc, stored.SecretEnc) || len(again.RecoveryHashes) != 10 {
				t.Error("a refused confirmation or restart changed the enrolment")
			}
		})

		t.Run("SecondFactor", func(t *testing.T) {
			ctx := t.Context()
			u, secret, _ := mustEnable(t, f, "nina@example.com")

			// The code that confirmed the enrolment cannot sign in too.
			_, err := f.svc.VerifySecondFactor(ctx, u.ID, codeAt(t, secret, f.clock.Now()), testIP, testUA)
			wantErr(t, "VerifySecondFactor(confirmation code)", err, account.ErrInvalidCode)

			f.clock.Advance(30 * time.Second)
			fresh := codeAt(t, secret, f.clock.Now())
			if method, err := f.svc.VerifySecondFactor(ctx, u.ID, fresh, testIP, testUA); err != nil || method != "otp" {
				t.Fatalf("VerifySecondFactor(fresh code) = %q, %v; want otp", method, err)
			}
			_, err = f.svc.VerifySecondFactor(ctx, u.ID, fresh, testIP, testUA)
			wantErr(t, "VerifySecondFactor(replayed code, same step)", err, account.ErrInvalidCode)
			if got := f.mustTOTP(t, u.ID).LastStep; got != step(f.clock.Now()) {
				t.Errorf("last step %d, want %d", got, step(f.clock.Now()))
			}

			f.clock.Advance(time.Minute)
			now := f.clock.Now()
			_, err = f.svc.VerifySecondFactor(ctx, u.ID, codeAt(t, secret, now.Add(time.Minute)), testIP, testUA)
			wantErr(t, "VerifySecondFactor(two steps ahead)", err, account.ErrInvalidCode)
			// One step of clock skew is tolerated, and surrounding spaces.
			if method, err := f.svc.VerifySecondFactor(ctx, u.ID, " "+codeAt(t, secret, now.Add(30*time.Second))+" ", testIP, testUA); err != nil || method != "otp" {
				t.Fatalf("VerifySecondFactor(next step) = %q, %v; want otp", method, err)
			}
			// Now the current step is older than the last one used.
			_, err = f.svc.VerifySecondFactor(ctx, u.ID, codeAt(t, secret, now), testIP, testUA)
			wantErr(t, "VerifySecondFactor(step before the last used)", err, account.ErrInvalidCode)

			f.wantEvents(t, u.ID, map[string]int{provider.Event2FAEnabled: 1, provider.Event2FAUsed: 2})
		})

		t.Run("RecoveryCodes", func(t *testing.T) {
			ctx := t.Context()
			u, _, codes := mustEnable(t, f, "olga@example.com")
			other, _, _ := mustEnable(t, f, "paul@example.com")

			if method, err := f.svc.VerifySecondFactor(ctx, u.ID, codes[0], testIP, testUA); err != nil || method != "recovery" {
				t.Fatalf("VerifySecondFactor(recovery code) = %q, %v; want recovery", method, err)
			}
			_, err := f.svc.VerifySecondFactor(ctx, u.ID, codes[0], testIP, testUA)
			wantErr(t, "VerifySecondFactor(used recovery code)", err, account.ErrInvalidCode)
			// Typed in capitals with spaces around, as people copy them.
			if method, err := f.svc.VerifySecondFactor(ctx, u.ID, "  "+strings.ToUpper(codes[1])+" ", testIP, testUA); err != nil || method != "recovery" {
				t.Fatalf("VerifySecondFactor(upper-case recovery code) = %q, %v; want recovery", method, err)
			}
			_, err = f.svc.VerifySecondFactor(ctx, other.ID, codes[2], testIP, testUA)
			wantErr(t, "VerifySecondFactor(another user's recovery code)", err, account.ErrInvalidCode)

			left := f.mustTOTP(t, u.ID).RecoveryHashes
			if len(left) != 8 || slices.Contains(left, hashHex(codes[0])) || slices.Contains(left, hashHex(codes[1])) || !slices.Contains(left, hashHex(codes[2])) {
				t.Errorf("recovery hashes left: %d, want the 8 unused", len(left))
			}
			f.wantEvents(t, u.ID, map[string]int{provider.Event2FAEnabled: 1, provider.EventRecoveryCodeUsed: 2})
			f.wantEvents(t, other.ID, map[string]int{provider.Event2FAEnabled: 1})
		})

		t.Run("Disable", func(t *testing.T) {
			ctx := t.Context()
			u, secret, codes := mustEnable(t, f, "quinn@example.com")
			f.clock.Advance(30 * time.Second)

			err := f.svc.DisableTOTP(ctx, u.ID, wrongCode(t, secret, f.clock.Now()), testIP, testUA)
			wantErr(t, "DisableTOTP(wrong code)", err, account.ErrInvalidCode)
			if on, err := f.svc.TOTPEnabled(ctx, u.ID); err != nil || !on {
				t.Fatalf("TOTPEnabled after a refused disable = %v, %v; want true", on, err)
			}

			if err := f.svc.DisableTOTP(ctx, u.ID, codeAt(t, secret, f.clock.Now()), testIP, testUA); err != nil {
				t.Fatalf("DisableTOTP: %v", err)
			}
			_, err = f.store.GetTOTP(ctx, u.ID)
			wantErr(t, "GetTOTP after disable", err, provider.ErrNotFound)
			if on, err := f.svc.TOTPEnabled(ctx, u.ID); err != nil || on {
				t.Errorf("TOTPEnabled after disable = %v, %v; want false", on, err)
			}
			_, err = f.svc.VerifySecondFactor(ctx, u.ID, codes[0], testIP, testUA)
			wantErr(t, "VerifySecondFactor(recovery code after disable)", err, account.ErrTOTPNotEnrolled)
			evs := f.events(t, u.ID)
			if evs[provider.Event2FADisabled] != 1 {
				t.Errorf("events %v, want one %s", evs, provider.Event2FADisabled)
			}
			// And a new enrolment can start.
			if _, err := f.svc.BeginTOTP(ctx, u); err != nil {
				t.Errorf("BeginTOTP after disable: %v", err)
			}
		})

		t.Run("NotEnrolled", func(t *testing.T) {
			ctx := t.Context()
			u := f.createUser(t, "rita@example.com", password, true)
			_, err := f.svc.VerifySecondFactor(ctx, u.ID, "123456", testIP, testUA)
			wantErr(t, "VerifySecondFactor", err, account.ErrTOTPNotEnrolled)
			_, err = f.svc.ConfirmTOTP(ctx, u.ID, "123456", testIP, testUA)
			wantErr(t, "ConfirmTOTP", err, account.ErrTOTPNotEnrolled)
			err = f.svc.DisableTOTP(ctx, u.ID, "123456", testIP, testUA)
			wantErr(t, "DisableTOTP", err, account.ErrTOTPNotEnrolled)
			if on, err := f.svc.TOTPEnabled(ctx, u.ID); err != nil || on {
				t.Errorf("TOTPEnabled = %v, %v; want false, nil", on, err)
			}
			f.wantEvents(t, u.ID, map[string]int{})
		})

		t.Run("SecretSealedForItsUser", func(t *testing.T) {
			// A sealed secret copied into another user's row does not open.
			ctx := t.Context()
			a, secret, _ := mustEnable(t, f, "sam@example.com")
			b, _, _ := mustEnable(t, f, "tara@example.com")
			row := f.mustTOTP(t, b.ID)
			row.SecretEnc = f.mustTOTP(t, a.ID).SecretEnc
			if err := f.store.PutTOTP(ctx, row); err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(30 * time.Second)
			method, err := f.svc.VerifySecondFactor(ctx, b.ID, codeAt(t, secret, f.clock.Now()), testIP, testUA)
			wantErr(t, "VerifySecondFactor(secret sealed for another user)", err, seal.ErrOpen)
			if method != "" {
				t.Errorf("method %q, want none", method)
			}
		})
	})
}
