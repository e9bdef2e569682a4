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
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
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

// The RFC 8176 amr values of a passkey sign-in.
const (
	MethodHardwareKey  = "hwk"
	MethodSoftwareKey  = "swk"
	MethodUserVerified = "user"
)

// MultiFactor reports whether the sign-in is two factors in one: the key
// (something the user has) and the authenticator's user verification (a
// biometric or PIN). Without verification it is one factor, and a user
// with a second factor set up must still give it.
func (l *Login) MultiFactor() bool { return slices.Contains(l.Methods, MethodUserVerified) }

// Notifier tells a user about a change to how they sign in. The account
// service implements it by queueing a mail in its outbox, as for its own
// notifications.
type Notifier interface {
	// PasskeyAdded queues the mail that tells u a passkey named name was
	// added to their account, in lang (the language of the page or API
	// call that added it, as for the other account mails; "" for the
	// default).
	PasskeyAdded(ctx context.Context, u *provider.User, name, lang string) error
}

// RPID returns the relying party id for a cookie domain and an issuer:
// the cookie domain without its leading dot when set (one passkey then
// serves every subdomain's login), else the issuer's host. The issuer's
// host must be the cookie domain or below it: browsers refuse an RP id
// that is not a suffix of the page's host.
func RPID(cookieDomain, issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("relying party id: issuer %q has no host", issuer)
	}
	host := strings.ToLower(u.Hostname())
	domain := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(cookieDomain), "."))
	if domain == "" {
		return host, nil
	}
	if host != domain && !strings.HasSuffix(host, "."+domain) {
		return "", fmt.Errorf("relying party id: issuer host %q is not within the cookie domain %q", host, domain)
	}
	return domain, nil
}
