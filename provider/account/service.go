package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/audit"
	pmail "github.com/manacore/mana-core-auth/provider/mail"
	"github.com/manacore/mana-core-auth/provider/seal"
	"github.com/manacore/mana-core-auth/provider/websession"
)

// Store is what the account service persists through.
type Store interface {
	provider.UserStore
	provider.AccountStore
	provider.MailQueue
	provider.Transactor
}

// Sessions ends login sessions; *websession.Manager implements it. A
// password reset signs the user out everywhere through it, so ending a
// session means the same here as on every other path.
type Sessions interface {
	EndAll(ctx context.Context, userID, keepID string, e websession.Ending) ([]string, error)
}

// Errors the service returns; handlers map them to statuses and messages.
var (
	ErrInvalidCredentials = errors.New("invalid email or password")
	ErrEmailNotVerified   = errors.New("email not verified")
	ErrEmailTaken         = errors.New("a user with this email already exists")
	ErrInvalidToken       = errors.New("invalid or expired token")
	ErrInvalidCode        = errors.New("invalid code")
	ErrTOTPNotEnrolled    = errors.New("two-factor authentication is not set up")
	ErrTOTPAlreadyEnabled = errors.New("two-factor authentication is already enabled")
)

// ValidationError lists every invalid field with a machine-readable reason.
type ValidationError struct {
	Fields map[string]string // field -> code ("invalid_email", "length", ...)
}

func (e *ValidationError) Error() string {
	var parts []string
	for f, c := range e.Fields {
		parts = append(parts, f+": "+c)
	}
	return "validation failed: " + strings.Join(parts, ", ")
}

// Config configures the service.
type Config struct {
	BaseURL   string // links in emails point here
	SecretKey []byte // seals TOTP secrets
	// VerifyTTL and ResetTTL: 24 h and 1 h, as the emails say.
	VerifyTTL time.Duration
	ResetTTL  time.Duration
	// Redirects decides which origins a flow may return to.
	Redirects *RedirectPolicy
	Now       func() time.Time
	Logger    *slog.Logger
	// Sessions ends every session at a password reset (required).
	Sessions Sessions
	// Audit records security events; nil writes them to the store with
	// the service's clock and logger.
	Audit *audit.Log
	// Outbox tunes the mail outbox (see Service.Outbox).
	Outbox OutboxConfig
	// LoginHolds, when set, is told of every password reset.
	LoginHolds LoginHolds
	// Observer counts password logins and mails (issue 13, metrics); nil
	// counts nothing.
	Observer Observer
}

// Observer is told of account events, for the metrics.
type Observer interface {
	// Login: one of the Login* results.
	Login(result string)
	// Mail: one outbox delivery attempt.
	Mail(sent bool)
}

// Results of a password login, as the metrics name them.
const (
	LoginSuccess              = "success"
	LoginInvalidCredentials   = "invalid_credentials"
	LoginSecondFactorRequired = "second_factor_required"
	LoginThrottledResult      = "throttled"
	// LoginDisabled: the password matched but the account may not sign in
	// (disabled, or its address not verified yet).
	LoginDisabled   = "disabled"
	LoginOverloaded = "overloaded"
	LoginError      = "error"
)

type noObserver struct{}

func (noObserver) Login(string) {}
func (noObserver) Mail(bool)    {}

// LoginHolds is the login backoff as a password reset sees it: whoever
// followed the emailed link is the owner, and must be able to sign in at
// once even while someone else keeps failing on the account.
type LoginHolds interface {
	// Clear forgets the account's hold and that of the network ip (the
	// resetting client's address) is in. email is normalised.
	Clear(ctx context.Context, email, ip string) error
}

// Service implements registration, verification, password reset and
// change, and TOTP two-factor authentication.
type Service struct {
	cfg    Config
	store  Store
	hasher *Hasher
	mailer pmail.Sender
	sealer *seal.Sealer
	outbox *Outbox
}

// NewService returns the account service.
func NewService(cfg Config, store Store, hasher *Hasher, mailer pmail.Sender) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.VerifyTTL == 0 {
		cfg.VerifyTTL = 24 * time.Hour
	}
	if cfg.ResetTTL == 0 {
		cfg.ResetTTL = time.Hour
	}
	if cfg.Sessions == nil {
		return nil, errors.New("account: Config.Sessions is required")
	}
	if cfg.Audit == nil {
		cfg.Audit = audit.New(store, cfg.Now, cfg.Logger)
	}
	if cfg.Observer == nil {
		cfg.Observer = noObserver{}
	}
	if cfg.Redirects == nil {
		cfg.Redirects = &RedirectPolicy{}
	}
	if cfg.Redirects.Self == "" {
		if u, err := url.Parse(cfg.BaseURL); err == nil && u.Host != "" {
			cfg.Redirects.Self = u.Scheme + "://" + strings.ToLower(u.Host)
		}
	}
	s, err := seal.New(cfg.SecretKey, "manaauth/totp/v1")
	if err != nil {
		return nil, err
	}
	svc := &Service{cfg: cfg, store: store, hasher: hasher, mailer: mailer, sealer: s}
	if svc.outbox, err = newOutbox(cfg.Outbox, svc); err != nil {
		return nil, err
	}
	return svc, nil
}

// Outbox is the worker that sends the service's mail; run it (Run) for as
// long as the service takes requests, in one or more processes.
func (s *Service) Outbox() *Outbox { return s.outbox }

// Hasher exposes the password hasher (the login page verifies with it).
func (s *Service) Hasher() *Hasher { return s.hasher }

// userByEmail finds the account of an address as typed. An address no
// account can have (NUL, invalid UTF-8) is an unknown one without asking
// the store: PostgreSQL refuses such text with an error where SQLite
// answers not found, and the callers must answer the same either way.
func (s *Service) userByEmail(ctx context.Context, email string) (*provider.User, error) {
	email = NormalizeEmail(email)
	if !provider.CleanText(email) {
		return nil, provider.ErrNotFound
	}
	return s.store.GetUserByEmail(ctx, email)
}

// CheckPassword enforces the length rule (8-128 characters).
func CheckPassword(p string) bool {
	n := utf8.RuneCountInString(p)
	return n >= 8 && n <= 128
}

// RegisterInput is a registration request.
type RegisterInput struct {
	Email, Password, Name string
	SourceAppURL          string // where the verification link returns to (origin only, if allowed)
	Continue              string // where our pages continue after the link (SafeContinuation)
	Lang, IP, UserAgent   string
}

// Register creates an unverified user and sends the verification email.
func (s *Service) Register(ctx context.Context, in RegisterInput) (*provider.User, error) {
	email := NormalizeEmail(in.Email)
	fields := map[string]string{}
	if !ValidNewEmail(email) {
		fields["email"] = "invalid_email"
	}
	if !CheckPassword(in.Password) {
		fields["password"] = "length"
	}
	name := strings.TrimSpace(in.Name)
	if code := nameProblem(name); code != "" {
		fields["name"] = code
	}
	if len(fields) > 0 {
		return nil, &ValidationError{Fields: fields}
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC()
	u := &provider.User{ID: NewID(), Email: email, Name: name, Role: provider.RoleUser, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, provider.ErrAlreadyExists) {
			return nil, ErrEmailTaken
		}
		return nil, fmt.Errorf("create user: %w", err)
	}
	s.Event(ctx, &provider.SecurityEvent{UserID: u.ID, Type: provider.EventRegistered, IP: in.IP, UserAgent: in.UserAgent})
	req := mailRequest{Email: u.Email, Lang: in.Lang, Redirect: s.cfg.Redirects.Origin(in.SourceAppURL), Continue: SafeContinuation(in.Continue)}
	if err := s.outbox.enqueue(ctx, jobVerifyRequest, req); err != nil {
		// The account exists; the user can ask for another email.
		s.cfg.Logger.ErrorContext(ctx, "queue verification email", "error", err, "user_id", u.ID)
	}
	return u, nil
}

// ResendVerification queues a new verification link, which the outbox
// sends when the address belongs to an unverified account. The request
// does the same work (one queued job) either way, so neither its answer
// nor its timing tells which addresses have accounts.
func (s *Service) ResendVerification(ctx context.Context, email, sourceAppURL, lang string) error {
	return s.RequestLink(ctx, LinkVerify, LinkRequest{Email: email, RedirectTo: sourceAppURL, Lang: lang})
}

// VerifyEmail consumes a verification token and marks the address
// verified. It returns the user and the origin to send them back to.
func (s *Service) VerifyEmail(ctx context.Context, token string) (*provider.User, string, error) {
	t, err := s.store.ConsumeToken(ctx, provider.PurposeVerifyEmail, hashToken(token), s.cfg.Now())
	if err != nil {
		if errors.Is(err, provider.ErrNotFound) {
			return nil, "", ErrInvalidToken
		}
		return nil, "", err
	}
	u, err := s.store.GetUser(ctx, t.UserID)
	if err != nil {
		if errors.Is(err, provider.ErrNotFound) {
			return nil, "", ErrInvalidToken
		}
		return nil, "", err
	}
	if !u.EmailVerified {
		u.EmailVerified, u.UpdatedAt = true, s.cfg.Now().UTC()
		if err := s.store.UpdateUser(ctx, u); err != nil {
			return nil, "", fmt.Errorf("mark email verified: %w", err)
		}
		s.Event(ctx, &provider.SecurityEvent{UserID: u.ID, Type: provider.EventEmailVerified})
	}
	return u, t.RedirectTo, nil
}

// ForgotPassword queues a reset link, which the outbox sends when the
// address has an account (voiding the older links then). Like
// ResendVerification it does the same work for every address.
func (s *Service) ForgotPassword(ctx context.Context, email, redirectTo, lang string) error {
	return s.RequestLink(ctx, LinkReset, LinkRequest{Email: email, RedirectTo: redirectTo, Lang: lang})
}

// Kinds of mailed links RequestLink sends.
const (
	LinkVerify = jobVerifyRequest
	LinkReset  = jobResetRequest
)

// LinkRequest asks for a mailed link (verification or password reset).
type LinkRequest struct {
	Email      string
	RedirectTo string // an app's URL; only its origin is kept, when allowed
	Continue   string // where our pages continue after the link (SafeContinuation)
	Lang       string
}

// RequestLink queues a verification (LinkVerify) or password reset
// (LinkReset) link for req.Email; see ResendVerification and
// ForgotPassword.
func (s *Service) RequestLink(ctx context.Context, kind string, req LinkRequest) error {
	if kind != LinkVerify && kind != LinkReset {
		return fmt.Errorf("request link: unknown kind %q", kind)
	}
	email := NormalizeEmail(req.Email)
	// No account can have such an address (see userByEmail), and it is
	// refused by its shape, not by a lookup.
	if !provider.CleanText(email) {
		return nil
	}
	return s.outbox.enqueue(ctx, kind, mailRequest{Email: email, Lang: req.Lang,
		Redirect: s.cfg.Redirects.Origin(req.RedirectTo), Continue: SafeContinuation(req.Continue)})
}

// resolve turns a queued request into the message to send: nil when the
// address has no account (or, for verification, a verified one). In one
// transaction it voids the account's older links of the purpose, stores
// the new one and replaces the job's payload with the message (sealed by
// sealMsg), so a crash leaves either the request or a message whose link
// works.
func (s *Service) resolve(ctx context.Context, j *provider.MailJob, req mailRequest, sealMsg func(mailMessage) ([]byte, error)) (*mailMessage, error) {
	u, err := s.userByEmail(ctx, req.Email)
	if errors.Is(err, provider.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load user: %w", err)
	}
	purpose, kind, ttl, path := provider.PurposeResetPassword, pmail.KindResetPassword, s.cfg.ResetTTL, "/reset-password"
	if j.Kind == jobVerifyRequest {
		if u.EmailVerified {
			return nil, nil
		}
		purpose, kind, ttl, path = provider.PurposeVerifyEmail, pmail.KindVerifyEmail, s.cfg.VerifyTTL, "/api/auth/verify-email"
	}
	tx, err := s.store.BeginTx(ctx)
	if err != nil {
		return nil, err
	}
	defer s.store.Rollback(tx) //nolint:errcheck // a no-op after Commit
	if err := s.store.DeleteUserTokens(tx, u.ID, purpose); err != nil {
		return nil, fmt.Errorf("void older %s links: %w", purpose, err)
	}
	token, err := s.newToken(tx, u.ID, purpose, req.Redirect, ttl)
	if err != nil {
		return nil, err
	}
	link := s.cfg.BaseURL + path + "?token=" + token
	if j.Kind == jobVerifyRequest && req.Redirect != "" {
		link += "&redirectTo=" + url.QueryEscape(req.Redirect)
	}
	if c := SafeContinuation(req.Continue); c != "" {
		link += "&" + ContinueParam + "=" + url.QueryEscape(c)
	}
	msg, err := pmail.Compose(req.Lang, kind, u.Email, pmail.Data{Name: u.Name, Link: link, ExpiresIn: expiresIn(req.Lang, ttl)})
	if err != nil {
		return nil, err
	}
	m := &mailMessage{UserID: u.ID, Message: msg}
	payload, err := sealMsg(*m)
	if err != nil {
		return nil, err
	}
	if err := s.store.UpdateMailJob(tx, j.ID, jobMessage, payload); err != nil {
		return nil, fmt.Errorf("store resolved mail: %w", err)
	}
	if err := s.store.Commit(tx); err != nil {
		return nil, fmt.Errorf("commit resolved mail: %w", err)
	}
	return m, nil
}

// ResetPassword consumes a reset token, sets the new password and ends
// every session of the user (and the tokens issued from them): whoever
// knew the old password is signed out.
func (s *Service) ResetPassword(ctx context.Context, token, newPassword, ip, ua string) (*provider.User, error) {
	if !CheckPassword(newPassword) {
		return nil, &ValidationError{Fields: map[string]string{"newPassword": "length"}}
	}
	// The hash slot is taken before the token is consumed: a reset refused
	// for overload (ErrBusy) leaves the emailed link usable.
	slot, err := s.hasher.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer slot.Release()
	t, err := s.store.ConsumeToken(ctx, provider.PurposeResetPassword, hashToken(token), s.cfg.Now())
	if err != nil {
		if errors.Is(err, provider.ErrNotFound) {
			return nil, ErrInvalidToken
		}
		return nil, err
	}
	u, err := s.store.GetUser(ctx, t.UserID)
	if err != nil {
		if errors.Is(err, provider.ErrNotFound) {
			return nil, ErrInvalidToken
		}
		return nil, err
	}
	// A reset would sign a disabled account in again through the back door.
	if err := u.CanSignIn(); err != nil {
		return nil, err
	}
	if err := s.setPassword(ctx, slot, u, newPassword); err != nil {
		return nil, err
	}
	slot.Release() // the rest needs no hashing
	// Following the emailed link proves the address as well.
	if !u.EmailVerified {
		u.EmailVerified = true
		if err := s.store.UpdateUser(ctx, u); err != nil {
			return nil, err
		}
	}
	if _, err := s.cfg.Sessions.EndAll(ctx, u.ID, "", websession.Ending{Reason: websession.EndPasswordReset, IP: ip, UserAgent: ua}); err != nil {
		return nil, fmt.Errorf("end sessions after reset: %w", err)
	}
	s.Event(ctx, &provider.SecurityEvent{UserID: u.ID, Type: provider.EventPasswordReset, IP: ip, UserAgent: ua})
	if s.cfg.LoginHolds != nil {
		// The password is already changed: a backoff outage must not
		// turn the reset into an error; the hold decays on its own.
		if err := s.cfg.LoginHolds.Clear(ctx, NormalizeEmail(u.Email), ip); err != nil {
			s.cfg.Logger.ErrorContext(ctx, "clear login holds after reset", "error", err, "user_id", u.ID)
		}
	}
	return u, nil
}

// ChangePassword checks the current password and sets a new one. Other
// sessions stay signed in (the user is changing it, not recovering).
func (s *Service) ChangePassword(ctx context.Context, userID, current, next, ip, ua string) error {
	u, err := s.store.GetUser(ctx, userID)
	if err != nil {
		return err
	}
	// One slot for both the check and the new hash: the change is refused
	// for overload before it starts, never between the two.
	slot, err := s.hasher.Acquire(ctx)
	if err != nil {
		return err
	}
	defer slot.Release()
	if err := slot.Verify(u.PasswordHash, current); err != nil {
		if errors.Is(err, ErrMismatch) {
			return ErrInvalidCredentials
		}
		return err
	}
	if !CheckPassword(next) {
		return &ValidationError{Fields: map[string]string{"newPassword": "length"}}
	}
	if err := s.setPassword(ctx, slot, u, next); err != nil {
		return err
	}
	s.Event(ctx, &provider.SecurityEvent{UserID: u.ID, Type: provider.EventPasswordChanged, IP: ip, UserAgent: ua})
	return nil
}

func (s *Service) setPassword(ctx context.Context, slot *Slot, u *provider.User, password string) error {
	hash, err := slot.Hash(password)
	if err != nil {
		return err
	}
	u.PasswordHash, u.UpdatedAt = hash, s.cfg.Now().UTC()
	if err := s.store.UpdateUser(ctx, u); err != nil {
		return fmt.Errorf("update password: %w", err)
	}
	return nil
}

// Authenticate checks email and password. Unknown emails cost the same
// time as wrong passwords. An unverified address is reported after the
// password matched, so it reveals nothing to someone without the password.
func (s *Service) Authenticate(ctx context.Context, email, password string) (_ *provider.User, err error) {
	defer func() {
		if err != nil {
			s.cfg.Observer.Login(loginResult(err))
		}
	}()
	email = NormalizeEmail(email)
	if len(password) > 1024 || len(email) > 320 {
		return nil, ErrInvalidCredentials
	}
	// The hash slot first: under a login flood the refusal (ErrBusy) then
	// costs no database round trip, and only the logins that will be
	// hashed look their user up.
	slot, err := s.hasher.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer slot.Release()
	var u *provider.User
	err = provider.ErrNotFound
	// An address no account can have (NUL, invalid UTF-8, which the
	// database would refuse) is an unknown one, at the same cost.
	if provider.CleanText(email) {
		u, err = s.store.GetUserByEmail(ctx, email)
	}
	hash := ""
	switch {
	case err == nil:
		hash = u.PasswordHash
	case !errors.Is(err, provider.ErrNotFound):
		return nil, fmt.Errorf("load user: %w", err)
	}
	err = slot.Verify(hash, password)
	if err != nil {
		if errors.Is(err, ErrMismatch) {
			return nil, ErrInvalidCredentials
		}
		return nil, err
	}
	if s.hasher.NeedsRehash(hash) {
		s.upgradeHash(ctx, slot, u, password)
	}
	slot.Release()
	if err := u.CanSignIn(); err != nil {
		return u, err
	}
	if !u.EmailVerified {
		return u, ErrEmailNotVerified
	}
	return u, nil
}

// upgradeHash replaces a hash imported from the old service (or made with
// older parameters) by an argon2id one with the current parameters, in the
// login's own hash slot, once the password has matched: the only moment
// the password is known. A failure is logged and the login goes on; the
// next login tries again.
func (s *Service) upgradeHash(ctx context.Context, slot *Slot, u *provider.User, password string) {
	hash, err := slot.Hash(password)
	if err == nil {
		fresh := *u
		fresh.PasswordHash, fresh.UpdatedAt = hash, s.cfg.Now().UTC()
		if err = s.store.UpdateUser(ctx, &fresh); err == nil {
			u.PasswordHash, u.UpdatedAt = fresh.PasswordHash, fresh.UpdatedAt
			return
		}
	}
	s.cfg.Logger.WarnContext(ctx, "re-hash password after login", "user_id", u.ID, "error", err)
}

// loginResult names a refused login for the metrics.
func loginResult(err error) string {
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		return LoginInvalidCredentials
	case errors.Is(err, provider.ErrAccountDisabled), errors.Is(err, ErrEmailNotVerified):
		return LoginDisabled
	case errors.Is(err, ErrBusy):
		return LoginOverloaded
	}
	return LoginError
}

// PasswordAccepted follows an Authenticate that succeeded: it reports
// whether the account must still present its second factor, and counts
// the login as a success or as waiting for that factor.
func (s *Service) PasswordAccepted(ctx context.Context, userID string) (secondFactor bool, err error) {
	secondFactor, err = s.TOTPEnabled(ctx, userID)
	switch {
	case err != nil:
		s.cfg.Observer.Login(LoginError)
	case secondFactor:
		s.cfg.Observer.Login(LoginSecondFactorRequired)
	default:
		s.cfg.Observer.Login(LoginSuccess)
	}
	return secondFactor, err
}

// LoginFailed audits a failed password check. The event belongs to the
// account when the address has one, so its owner sees the attempt;
// failures for unknown addresses are kept without a user.
func (s *Service) LoginFailed(ctx context.Context, email, ip, ua, via string) {
	s.loginEvent(ctx, provider.EventLoginFailure, email, ip, ua, via)
}

// LoginThrottled records a login refused because the account is being
// slowed down after repeated failures (the "account locked" event; the
// lock is temporary and lifts by itself).
func (s *Service) LoginThrottled(ctx context.Context, email, ip, ua, via string) {
	s.cfg.Observer.Login(LoginThrottledResult)
	s.loginEvent(ctx, provider.EventAccountLocked, email, ip, ua, via)
}

func (s *Service) loginEvent(ctx context.Context, typ, email, ip, ua, via string) {
	e := &provider.SecurityEvent{Type: typ, IP: ip, UserAgent: ua, Detail: map[string]string{"via": via}}
	if email = NormalizeEmail(email); ValidEmail(email) {
		if u, err := s.store.GetUserByEmail(ctx, email); err == nil {
			e.UserID = u.ID
		}
	}
	s.Event(ctx, e)
}

// Event writes an audit event (see audit.Log.Record).
func (s *Service) Event(ctx context.Context, e *provider.SecurityEvent) { s.cfg.Audit.Record(ctx, e) }

// UpdateProfile sets what ch names of the user's profile (display name,
// picture) and audits the change; updated_at moves only when something
// changed. Invalid fields are a ValidationError naming each of them, and
// then nothing is saved.
func (s *Service) UpdateProfile(ctx context.Context, userID string, ch ProfileChange, ip, ua string) (*provider.User, error) {
	fields := map[string]string{}
	var name, picture string
	if ch.Name != nil {
		name = strings.TrimSpace(*ch.Name)
		if code := nameProblem(name); code != "" {
			fields["name"] = code
		}
	}
	if ch.Picture != nil {
		picture = strings.TrimSpace(*ch.Picture)
		if code := PictureProblem(picture); code != "" {
			fields["picture"] = code
		}
	}
	if len(fields) > 0 {
		return nil, &ValidationError{Fields: fields}
	}
	u, err := s.store.GetUser(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("load user: %w", err)
	}
	changed := false
	if ch.Name != nil && u.Name != name {
		u.Name, changed = name, true
	}
	if ch.Picture != nil && u.Picture != picture {
		u.Picture, changed = picture, true
	}
	if !changed {
		return u, nil
	}
	u.UpdatedAt = s.cfg.Now().UTC()
	if err := s.store.UpdateUser(ctx, u); err != nil {
		return nil, fmt.Errorf("update profile: %w", err)
	}
	s.Event(ctx, &provider.SecurityEvent{UserID: u.ID, Type: provider.EventProfileUpdated, IP: ip, UserAgent: ua})
	return u, nil
}

// newToken stores the hash of a fresh 256-bit token and returns the token.
func (s *Service) newToken(ctx context.Context, userID, purpose, redirect string, ttl time.Duration) (string, error) {
	token := randomToken()
	now := s.cfg.Now().UTC()
	if err := s.store.CreateToken(ctx, &provider.OneTimeToken{
		Hash: hashToken(token), Purpose: purpose, UserID: userID, RedirectTo: redirect,
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	}); err != nil {
		return "", fmt.Errorf("store %s token: %w", purpose, err)
	}
	return token, nil
}

func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return strings.TrimRight(base32.StdEncoding.EncodeToString(b[:]), "=")
}

// NewID returns a random UUID v4, the id format the apps already store.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func expiresIn(lang string, d time.Duration) string {
	h := int(d.Hours())
	if lang == "de" {
		if h == 1 {
			return "1 Stunde"
		}
		return fmt.Sprintf("%d Stunden", h)
	}
	if h == 1 {
		return "1 hour"
	}
	return fmt.Sprintf("%d hours", h)
}
