package passkey

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/audit"
)

// maxNameLen is the longest passkey name, in characters.
const maxNameLen = 64

// Service runs passkey ceremonies and manages a user's passkeys.
type Service struct {
	cfg    Config
	store  Store
	audit  *audit.Log
	notify Notifier
	wa     *webauthn.WebAuthn
}

// New returns the service. cfg.RPID and cfg.Origins are required; audit
// and notify too, as every added passkey is audited and mailed about.
func New(cfg Config, store Store, log *audit.Log, notify Notifier) (*Service, error) {
	if cfg.RPID == "" || len(cfg.Origins) == 0 {
		return nil, errors.New("passkey: Config.RPID and Config.Origins are required")
	}
	if store == nil || log == nil || notify == nil {
		return nil, errors.New("passkey: a store, an audit log and a notifier are required")
	}
	if cfg.DisplayName == "" {
		cfg.DisplayName = "Mana"
	}
	if cfg.ChallengeTTL <= 0 {
		cfg.ChallengeTTL = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = cfg.Logger.With("component", "passkey")
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          cfg.RPID,
		RPDisplayName: cfg.DisplayName,
		RPOrigins:     cfg.Origins,
		// Discoverable keys, so the login needs no email; user
		// verification preferred, not required, so a security key without
		// a PIN still serves (the amr then lacks "user").
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationPreferred,
		},
		// No attestation is asked for: we trust no authenticator model
		// more than another, and attestation can identify the device.
		AttestationPreference: protocol.PreferNoAttestation,
		// The browser's timeout matches the challenge's life. The library
		// does not enforce it (its clock is not ours): TakeChallenge does.
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: cfg.ChallengeTTL, TimeoutUVD: cfg.ChallengeTTL},
			Registration: webauthn.TimeoutConfig{Timeout: cfg.ChallengeTTL, TimeoutUVD: cfg.ChallengeTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return &Service{cfg: cfg, store: store, audit: log, notify: notify, wa: wa}, nil
}

// UserHandle is the WebAuthn user handle of a user id: its SHA-256. Our ids
// may be up to 255 bytes, a handle at most 64, and a handle must not be
// personal data (the authenticator shows it to anyone holding it).
func UserHandle(userID string) []byte {
	h := sha256.Sum256([]byte(userID))
	return h[:]
}

// waUser is a user as go-webauthn sees them.
type waUser struct {
	u     *provider.User
	creds []webauthn.Credential
}

func (w waUser) WebAuthnID() []byte   { return UserHandle(w.u.ID) }
func (w waUser) WebAuthnName() string { return w.u.Email }
func (w waUser) WebAuthnDisplayName() string {
	if w.u.Name != "" {
		return w.u.Name
	}
	return w.u.Email
}
func (w waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

// credential is p as go-webauthn's credential record.
func credential(p *provider.Passkey) webauthn.Credential {
	c := webauthn.Credential{
		ID:        p.CredentialID,
		PublicKey: p.PublicKey,
		// Passkey.AttestationType holds the statement format ("none",
		// "packed"); the library reads the format (for the FIDO AppID
		// extension), not the type, at login.
		AttestationFormat: p.AttestationType,
		Flags:             webauthn.CredentialFlags{UserPresent: true, BackupEligible: p.BackupEligible, BackupState: p.BackupState},
		Authenticator:     webauthn.Authenticator{AAGUID: p.AAGUID, SignCount: p.SignCount},
	}
	for _, t := range p.Transports {
		c.Transport = append(c.Transport, protocol.AuthenticatorTransport(t))
	}
	return c
}

func credentials(ps []*provider.Passkey) []webauthn.Credential {
	out := make([]webauthn.Credential, 0, len(ps))
	for _, p := range ps {
		out = append(out, credential(p))
	}
	return out
}

// ceremonyErr wraps a verification failure as ErrCeremony, keeping the
// library's error (and its details, for the logs) in the chain.
func ceremonyErr(op string, err error) error {
	// The library's message is generic ("Error validating the
	// authenticator response"); its debug info says what failed (origin,
	// RP id hash, signature), which is what an operator needs. It holds
	// no secret.
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		return fmt.Errorf("%s: %w: %w (%s)", op, ErrCeremony, err, pe.DevInfo)
	}
	return fmt.Errorf("%s: %w: %w", op, ErrCeremony, err)
}

// begin stores the ceremony's session data as a challenge of kind and
// returns the options the browser needs.
func (s *Service) begin(ctx context.Context, kind, userID string, options any, session *webauthn.SessionData) (*Ceremony, error) {
	data, err := json.Marshal(session)
	if err != nil {
		return nil, fmt.Errorf("begin %s: encode session: %w", kind, err)
	}
	opts, err := json.Marshal(options)
	if err != nil {
		return nil, fmt.Errorf("begin %s: encode options: %w", kind, err)
	}
	c := &provider.WebAuthnChallenge{ID: rand.Text(), Kind: kind, UserID: userID, Data: data,
		ExpiresAt: s.cfg.Now().UTC().Add(s.cfg.ChallengeTTL)}
	if err := s.store.PutChallenge(ctx, c); err != nil {
		return nil, fmt.Errorf("begin %s: %w", kind, err)
	}
	return &Ceremony{ChallengeID: c.ID, Options: opts}, nil
}

// take uses up the challenge: single use whatever the outcome, so a
// failed answer cannot be retried against the same challenge.
func (s *Service) take(ctx context.Context, kind, id, userID string) (*webauthn.SessionData, error) {
	if !provider.CleanText(id) {
		// No challenge id we hand out has a NUL or invalid UTF-8; such an
		// id is unknown, and must not reach PostgreSQL, which refuses it
		// as text (an internal error instead of a failed ceremony).
		return nil, ceremonyErr("finish "+kind+" ceremony", errors.New("challenge id is not clean text"))
	}
	c, err := s.store.TakeChallenge(ctx, id, kind, s.cfg.Now())
	if errors.Is(err, provider.ErrNotFound) {
		return nil, ceremonyErr("finish "+kind+" ceremony", errors.New("unknown, used, expired or other-kind challenge"))
	}
	if err != nil {
		return nil, fmt.Errorf("finish %s: %w", kind, err)
	}
	if c.UserID != userID {
		return nil, ceremonyErr("finish "+kind+" ceremony", errors.New("challenge of another user"))
	}
	var session webauthn.SessionData
	if err := json.Unmarshal(c.Data, &session); err != nil {
		return nil, fmt.Errorf("finish %s: decode session: %w", kind, err)
	}
	return &session, nil
}

// BeginRegistration starts adding a passkey for u (who has just proved
// who they are: the caller's fresh password or second-factor check). The
// user's passkeys are excluded, so one authenticator is not registered
// twice.
func (s *Service) BeginRegistration(ctx context.Context, u *provider.User) (*Ceremony, error) {
	if err := u.CanSignIn(); err != nil {
		return nil, fmt.Errorf("begin registration for user %q: %w", u.ID, err)
	}
	existing, err := s.store.ListPasskeys(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("begin registration: %w", err)
	}
	creds := credentials(existing)
	creation, session, err := s.wa.BeginRegistration(waUser{u: u, creds: creds},
		webauthn.WithExclusions(webauthn.Credentials(creds).CredentialDescriptors()))
	if err != nil {
		return nil, fmt.Errorf("begin registration: %w", err)
	}
	return s.begin(ctx, KindRegister, u.ID, creation.Response, session)
}

// FinishRegistration verifies the browser's answer (the JSON of the
// PublicKeyCredential) and stores the passkey under name ("" names it
// "Passkey" and the date). ErrInvalidName leaves the challenge unused;
// any verification failure is ErrCeremony. lang is the caller's language,
// for the mail that tells the user about the new passkey.
func (s *Service) FinishRegistration(ctx context.Context, u *provider.User, challengeID, name string, response []byte, ip, ua, lang string) (*provider.Passkey, error) {
	now := s.cfg.Now().UTC()
	if strings.TrimSpace(name) == "" {
		name = "Passkey " + now.Format(time.DateOnly)
	}
	name, err := CleanName(name)
	if err != nil {
		return nil, err
	}
	if err := u.CanSignIn(); err != nil {
		return nil, fmt.Errorf("finish registration for user %q: %w", u.ID, err)
	}
	session, err := s.take(ctx, KindRegister, challengeID, u.ID)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, ceremonyErr("finish registration", err)
	}
	existing, err := s.store.ListPasskeys(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("finish registration: %w", err)
	}
	cred, err := s.wa.CreateCredential(waUser{u: u, creds: credentials(existing)}, *session, parsed)
	if err != nil {
		return nil, ceremonyErr("finish registration", err)
	}
	p := &provider.Passkey{
		ID: rand.Text(), UserID: u.ID, CredentialID: cred.ID, PublicKey: cred.PublicKey,
		AttestationType: cred.AttestationFormat, AAGUID: cred.Authenticator.AAGUID,
		SignCount: cred.Authenticator.SignCount, BackupEligible: cred.Flags.BackupEligible,
		BackupState: cred.Flags.BackupState, Name: name, CreatedAt: now,
	}
	for _, t := range cred.Transport {
		// Transports come from the browser unsigned: keep them storable.
		if t := provider.Sanitize(string(t), 32); t != "" {
			p.Transports = append(p.Transports, t)
		}
	}
	if err := s.store.CreatePasskey(ctx, p); err != nil {
		if errors.Is(err, provider.ErrAlreadyExists) {
			// The authenticator's key is registered already (by this
			// user on another ceremony, or by someone else).
			return nil, ceremonyErr("finish registration", err)
		}
		return nil, fmt.Errorf("finish registration: %w", err)
	}
	s.audit.Record(ctx, &provider.SecurityEvent{UserID: u.ID, Type: provider.EventPasskeyAdded, IP: ip, UserAgent: ua,
		Detail: map[string]string{"passkey_id": p.ID, "format": p.AttestationType, "synced": strconv.FormatBool(p.BackupEligible)}})
	// The passkey is stored: a mail that cannot be queued is logged, not
	// turned into a failure the user would retry.
	if err := s.notify.PasskeyAdded(ctx, u, p.Name, lang); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "passkey added mail not queued", "user_id", u.ID, "error", err)
	}
	return p, nil
}

// BeginLogin starts a discoverable sign-in: the browser offers the
// user's passkeys for our RP id (the button, or autofill).
func (s *Service) BeginLogin(ctx context.Context) (*Ceremony, error) {
	assertion, session, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, fmt.Errorf("begin login: %w", err)
	}
	return s.begin(ctx, KindLogin, "", assertion.Response, session)
}

// FinishLogin verifies a discoverable sign-in: the passkey is found by
// its credential id, its user by the passkey, and the answer's user
// handle must be that user's. ErrUnknownPasskey for a credential we do
// not know, ErrCounterRegression for a cloned key, provider's
// ErrAccountDisabled for a user who may not sign in, ErrCeremony for the
// rest.
func (s *Service) FinishLogin(ctx context.Context, challengeID string, response []byte, ip, ua string) (*Login, error) {
	session, err := s.take(ctx, KindLogin, challengeID, "")
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, ceremonyErr("finish login", err)
	}
	p, u, err := s.owner(ctx, parsed.RawID)
	if err != nil {
		return nil, fmt.Errorf("finish login: %w", err)
	}
	if !bytes.Equal(parsed.Response.UserHandle, UserHandle(u.ID)) {
		return nil, ceremonyErr("finish login", errors.New("user handle is not the passkey owner's"))
	}
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		return waUser{u: u, creds: []webauthn.Credential{credential(p)}}, nil
	}
	if _, _, err := s.wa.ValidatePasskeyLogin(handler, *session, parsed); err != nil {
		return nil, ceremonyErr("finish login", err)
	}
	return s.signedIn(ctx, "finish login", u, p, parsed, ip, ua)
}

// BeginSecondFactor starts a passkey check of a user who gave their
// password: the browser offers only that user's passkeys.
// ErrUnknownPasskey when the user has none.
func (s *Service) BeginSecondFactor(ctx context.Context, userID string) (*Ceremony, error) {
	u, err := s.store.GetUser(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("begin second factor: %w", err)
	}
	ps, err := s.store.ListPasskeys(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("begin second factor: %w", err)
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("begin second factor for user %q: %w", userID, ErrUnknownPasskey)
	}
	assertion, session, err := s.wa.BeginLogin(waUser{u: u, creds: credentials(ps)},
		webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, fmt.Errorf("begin second factor: %w", err)
	}
	return s.begin(ctx, KindSecondFactor, userID, assertion.Response, session)
}

// FinishSecondFactor verifies the passkey check of userID: the challenge
// must have been made for that user and the passkey must be theirs
// (ErrUnknownPasskey otherwise).
func (s *Service) FinishSecondFactor(ctx context.Context, userID, challengeID string, response []byte, ip, ua string) (*Login, error) {
	session, err := s.take(ctx, KindSecondFactor, challengeID, userID)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, ceremonyErr("finish second factor", err)
	}
	p, u, err := s.owner(ctx, parsed.RawID)
	if err != nil {
		return nil, fmt.Errorf("finish second factor: %w", err)
	}
	if p.UserID != userID {
		return nil, fmt.Errorf("finish second factor for user %q: passkey of another user: %w", userID, ErrUnknownPasskey)
	}
	ps, err := s.store.ListPasskeys(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("finish second factor: %w", err)
	}
	if _, err := s.wa.ValidateLogin(waUser{u: u, creds: credentials(ps)}, *session, parsed); err != nil {
		return nil, ceremonyErr("finish second factor", err)
	}
	return s.signedIn(ctx, "finish second factor", u, p, parsed, ip, ua)
}

// owner finds the passkey of a credential id and its user.
func (s *Service) owner(ctx context.Context, credentialID []byte) (*provider.Passkey, *provider.User, error) {
	p, err := s.store.PasskeyByCredentialID(ctx, credentialID)
	if errors.Is(err, provider.ErrNotFound) {
		return nil, nil, ErrUnknownPasskey
	}
	if err != nil {
		return nil, nil, err
	}
	u, err := s.store.GetUser(ctx, p.UserID)
	if errors.Is(err, provider.ErrNotFound) {
		return nil, nil, ErrUnknownPasskey
	}
	if err != nil {
		return nil, nil, err
	}
	return p, u, nil
}

// signedIn finishes a verified assertion: the user must be allowed to sign
// in, the signature counter must have moved forward, and the new count,
// backup state and time are recorded.
func (s *Service) signedIn(ctx context.Context, op string, u *provider.User, p *provider.Passkey,
	parsed *protocol.ParsedCredentialAssertionData, ip, ua string) (*Login, error) {
	if err := u.CanSignIn(); err != nil {
		return nil, fmt.Errorf("%s for user %q: %w", op, u.ID, err)
	}
	data := parsed.Response.AuthenticatorData
	count := data.Counter
	// A counter that did not move forward while one is kept (stored != 0)
	// is the sign of a cloned key (WebAuthn §7.2 step 21). A count of 0
	// after a non-zero one counts too: accepting it would reset the stored
	// count and let a clone in later. Synced passkeys keep 0 throughout.
	if p.SignCount != 0 && count <= p.SignCount {
		s.audit.Record(ctx, &provider.SecurityEvent{UserID: u.ID, Type: provider.EventPasskeyCounter, IP: ip, UserAgent: ua,
			Detail: map[string]string{"passkey_id": p.ID, "stored": strconv.FormatUint(uint64(p.SignCount), 10),
				"received": strconv.FormatUint(uint64(count), 10)}})
		s.cfg.Logger.WarnContext(ctx, "passkey counter went backwards", "user_id", u.ID, "passkey_id", p.ID,
			"stored", p.SignCount, "received", count)
		return nil, fmt.Errorf("%s with passkey %q: %w", op, p.ID, ErrCounterRegression)
	}
	now := s.cfg.Now().UTC()
	if err := s.store.UsePasskey(ctx, p.ID, p.SignCount, count, data.Flags.HasBackupState(), now); err != nil {
		if errors.Is(err, provider.ErrConflict) || errors.Is(err, provider.ErrNotFound) {
			// A concurrent sign-in with this key moved the count first,
			// or the passkey was removed meanwhile: start again.
			return nil, ceremonyErr(op, err)
		}
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	p.SignCount, p.BackupState, p.LastUsedAt = count, data.Flags.HasBackupState(), &now
	methods := []string{MethodHardwareKey}
	if p.BackupEligible {
		methods[0] = MethodSoftwareKey
	}
	if data.Flags.HasUserVerified() {
		methods = append(methods, MethodUserVerified)
	}
	return &Login{User: u, Passkey: p, Methods: methods}, nil
}

// List returns the user's passkeys, oldest first.
func (s *Service) List(ctx context.Context, userID string) ([]*provider.Passkey, error) {
	ps, err := s.store.ListPasskeys(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list passkeys: %w", err)
	}
	return ps, nil
}

// Rename names one of the user's passkeys; ErrInvalidName, or
// ErrUnknownPasskey when the user has no passkey with that id.
func (s *Service) Rename(ctx context.Context, userID, id, name string) error {
	name, err := CleanName(name)
	if err != nil {
		return err
	}
	if !provider.CleanText(id) {
		// Not an id we made; PostgreSQL would refuse it as text.
		return fmt.Errorf("rename passkey: %w", ErrUnknownPasskey)
	}
	if err := s.store.RenamePasskey(ctx, userID, id, name); err != nil {
		if errors.Is(err, provider.ErrNotFound) {
			return fmt.Errorf("rename passkey %q: %w", id, ErrUnknownPasskey)
		}
		return fmt.Errorf("rename passkey: %w", err)
	}
	return nil
}

// Remove deletes one of the user's passkeys (audited); ErrUnknownPasskey
// when the user has no passkey with that id.
func (s *Service) Remove(ctx context.Context, userID, id, ip, ua string) error {
	if !provider.CleanText(id) {
		// Not an id we made; PostgreSQL would refuse it as text.
		return fmt.Errorf("remove passkey: %w", ErrUnknownPasskey)
	}
	if err := s.store.DeletePasskey(ctx, userID, id); err != nil {
		if errors.Is(err, provider.ErrNotFound) {
			return fmt.Errorf("remove passkey %q: %w", id, ErrUnknownPasskey)
		}
		return fmt.Errorf("remove passkey: %w", err)
	}
	s.audit.Record(ctx, &provider.SecurityEvent{UserID: userID, Type: provider.EventPasskeyRemoved, IP: ip, UserAgent: ua,
		Detail: map[string]string{"passkey_id": id}})
	return nil
}

// CleanName returns name without surrounding space when it is clean text
// of 1–64 characters without control characters; ErrInvalidName
// otherwise.
func CleanName(name string) (string, error) {
	name = strings.TrimSpace(name)
	n := utf8.RuneCountInString(name)
	if !provider.CleanText(name) || n < 1 || n > maxNameLen || strings.ContainsFunc(name, unicode.IsControl) {
		return "", ErrInvalidName
	}
	return name, nil
}
