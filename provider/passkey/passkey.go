// Package passkey is sign-in with passkeys (WebAuthn) through
// github.com/go-webauthn/webauthn: registration on the account page and
// the account API, discoverable sign-in (the "Sign in with a passkey"
// button and conditional UI), and a passkey as the second factor. Every
// ceremony's challenge is stored in the database (provider.PasskeyStore),
// single use, for five minutes, so any replica finishes what another
// began.
package passkey

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

// Errors of the service; handlers map them to statuses and messages.
var (
	// ErrCeremony: the challenge is unknown, expired, used or of another
	// kind, or the authenticator's answer does not verify (origin, RP id,
	// challenge, signature, user presence). The caller starts again.
	ErrCeremony = errors.New("the passkey ceremony failed")
	// ErrUnknownPasskey: no passkey with that credential id (or not the
	// user's).
	ErrUnknownPasskey = errors.New("unknown passkey")
	// ErrCounterRegression: the authenticator's signature counter went
	// backwards, the sign of a cloned key; refused and audited.
	ErrCounterRegression = errors.New("the passkey's signature counter went backwards")
	// ErrInvalidName: a passkey name that is not clean text of 1–64
	// characters.
	ErrInvalidName = errors.New("invalid passkey name")
)

// Ceremony kinds (provider.WebAuthnChallenge.Kind).
const (
	KindRegister     = "register"
	KindLogin        = "login"
	KindSecondFactor = "second_factor"
)

// Config configures the service.
type Config struct {
	// RPID is the relying party id: the COOKIE_DOMAIN parent ("mana.how")
	// when set, else the issuer's host (RPID computes it).
	RPID string
	// Origins are the origins allowed to run a ceremony: the issuer's.
	Origins      []string
	DisplayName  string        // "Mana"
	ChallengeTTL time.Duration // default 5 minutes
	Now          func() time.Time
	Logger       *slog.Logger
}

// Store is what the service persists through.
type Store interface {
	provider.PasskeyStore
	provider.UserStore
}

// Ceremony is a started ceremony: the options for the browser's
// navigator.credentials.create / get, as the JSON the WebAuthn Level 3
// parse*OptionsFromJSON helpers take, and the id of its stored challenge,
// which the finish call presents.
type Ceremony struct {
	ChallengeID string
	Options     json.RawMessage
}

// Login is a verified passkey sign-in.
type Login struct {
	User    *provider.User
	Passkey *provider.Passkey
	// Methods are the RFC 8176 amr values of this sign-in: "hwk" (a key
	// bound to its hardware) or "swk" (a synced, software-held key), and
	// "user" (user verification by the authenticator).
	Methods []string
}

// RPID returns the relying party id for a cookie domain and an issuer:
// the cookie domain without its leading dot when set (one passkey then
// serves every subdomain's login), else the issuer's host.
func RPID(cookieDomain, issuer string) (string, error) { panic("issue 15: being built") }

// The Service's methods (being built, issue 15):
//
//	New(cfg Config, store Store, audit *audit.Log, notify Notifier) (*Service, error)
//	(s *Service) BeginRegistration(ctx, u *provider.User) (*Ceremony, error)
//	(s *Service) FinishRegistration(ctx, u *provider.User, challengeID, name string, response []byte, ip, ua string) (*provider.Passkey, error)
//	(s *Service) BeginLogin(ctx) (*Ceremony, error)
//	(s *Service) FinishLogin(ctx, challengeID string, response []byte, ip, ua string) (*Login, error)
//	(s *Service) BeginSecondFactor(ctx, userID string) (*Ceremony, error)
//	(s *Service) FinishSecondFactor(ctx, userID, challengeID string, response []byte, ip, ua string) (*Login, error)
//	(s *Service) List(ctx, userID string) ([]*provider.Passkey, error)
//	(s *Service) Rename(ctx, userID, id, name string) error
//	(s *Service) Remove(ctx, userID, id, ip, ua string) error
var _ = context.Background
