package admin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/websession"
)

// ProjectDeletion is one app backend's outcome of an erasure.
type ProjectDeletion struct {
	ProjectID    string `json:"projectId"`
	ProjectName  string `json:"projectName"`
	Success      bool   `json:"success"`
	DeletedCount int64  `json:"deletedCount"`
	Error        string `json:"error,omitempty"`
	Pending      bool   `json:"pending"` // will be retried
}

// AuthDeletion is what the erasure removed from this service.
type AuthDeletion struct {
	Sessions              int64 `json:"sessions"`
	Tokens                int64 `json:"tokens"`
	Consents              int64 `json:"consents"`
	Accounts              int64 `json:"accounts"`
	TwoFactor             int64 `json:"twoFactor"`
	Devices               int64 `json:"devices"`
	VerificationTokens    int64 `json:"verificationTokens"`
	Events                int64 `json:"events"` // pseudonymised, not deleted
	LedgerEntriesDetached int64 `json:"ledgerEntriesDetached"`
	Passkeys              int64 `json:"passkeys"` // issue 15 (passkeys)
}

// ErasureResult answers an erasure. Success is true only when every part
// (every backend and the local transaction) succeeded; a backend that
// failed is Pending in DeletedFromProjects and retried by Run.
type ErasureResult struct {
	ErasureID           string            `json:"erasureId"`
	Success             bool              `json:"success"`
	DeletedFromProjects []ProjectDeletion `json:"deletedFromProjects"`
	DeletedFromAuth     AuthDeletion      `json:"deletedFromAuth"`
	TotalDeleted        int64             `json:"totalDeleted"`
	Receipt             *Receipt          `json:"receipt,omitempty"` // set when everything is done
}

// PendingDeletion is a backend deletion still being retried.
type PendingDeletion struct {
	ErasureID   string    `json:"erasureId"`
	ProjectID   string    `json:"projectId"`
	ProjectName string    `json:"projectName"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"lastError"`
	NextAttempt time.Time `json:"nextAttemptAt"`
}

// Erasure is an erasure job as the API and the pages show it.
type Erasure struct {
	ID       string            `json:"id"`
	Done     bool              `json:"done"`
	Projects []ProjectDeletion `json:"projects"`
	Pending  []PendingDeletion `json:"pending"`
	Receipt  *Receipt          `json:"receipt,omitempty"`
}

// SelfErasure is a user's request to delete their own account.
type SelfErasure struct{ Password, Code, TypedEmail, IP, UserAgent string }

// Errors of EraseSelf.
var (
	ErrCodeRequired  = errors.New("second factor required")
	ErrWrongPassword = errors.New("wrong password")
)

// Reauthenticator checks a signed-in user's password and second factor;
// *account.Service implements it.
type Reauthenticator interface {
	Reauthenticate(ctx context.Context, userID, password, code, ip, ua string) (*provider.User, error)
}

// Security events of erasure. An admin's erasure belongs to the admin with
// the erased user in Detail["target"]; a self-service one to the erased
// account, without IP or user agent (it would put them back).
const (
	EventUserErased    = "admin_user_erased"
	EventAccountErased = "account_erased"
	// requestedBySelf is a receipt's RequestedBy for a self-service erasure.
	requestedBySelf = "self"
	// authWhere names the local part in a receipt.
	authWhere = "auth"
	authName  = "Mana Core Auth"
	// maxLastError bounds the reason a pending part keeps.
	maxLastError = 512
)

// Erase erases the user everywhere: every app backend is asked to delete
// in parallel (DeleteTimeout each), then this service deletes and
// pseudonymises in one transaction, ending every session with back-channel
// logout. A backend that failed becomes a pending part that Run retries
// until it succeeds; the receipt is complete when the last part is done.
// ErrErased when the account was erased already; provider.ErrNotFound for
// an unknown id.
func (s *Service) Erase(ctx context.Context, actor Actor, userID string) (*ErasureResult, error) {
	u, err := s.user(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.DeletedAt != nil {
		return nil, ErrErased
	}
	return s.erase(ctx, actor, u, actor.UserID)
}

// EraseSelf is the user deleting their own account: the typed email must
// be the account's exactly, then the password and, with a second factor
// enrolled, a code prove it is them. Then the same erasure as Erase.
func (s *Service) EraseSelf(ctx context.Context, userID string, req SelfErasure) (*ErasureResult, error) {
	u, err := s.user(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.DeletedAt != nil {
		return nil, ErrErased
	}
	if req.TypedEmail == "" {
		return nil, &ValidationError{Fields: map[string]string{"email": "required"}}
	}
	if req.TypedEmail != u.Email {
		return nil, &ValidationError{Fields: map[string]string{"email": "mismatch"}}
	}
	if s.deps.Accounts == nil {
		return nil, errors.New("erase self: no account service configured")
	}
	switch _, err := s.deps.Accounts.Reauthenticate(ctx, u.ID, req.Password, req.Code, req.IP, req.UserAgent); {
	case errors.Is(err, account.ErrInvalidCredentials):
		return nil, ErrWrongPassword
	case errors.Is(err, account.ErrSecondFactorRequired), errors.Is(err, account.ErrInvalidCode):
		return nil, ErrCodeRequired
	case err != nil:
		return nil, fmt.Errorf("erase self: %w", err)
	}
	return s.erase(ctx, Actor{UserID: u.ID, Self: true}, u, requestedBySelf)
}

func (s *Service) erase(ctx context.Context, actor Actor, u *provider.User, requestedBy string) (*ErasureResult, error) {
	now := s.cfg.Now().UTC().Truncate(time.Millisecond)
	subject := s.subject(u.ID)
	job := &provider.ErasureJob{ID: newErasureID(), Subject: subject, RequestedBy: requestedBy, RequestedAt: now}
	res := &ErasureResult{ErasureID: job.ID, DeletedFromProjects: s.deleteAll(ctx, u.ID)}
	allDone := true
	for _, p := range res.DeletedFromProjects {
		part := &provider.ErasurePart{ErasureID: job.ID, BackendID: p.ProjectID, BackendName: p.ProjectName,
			Status: provider.ErasureDone, DeletedCount: p.DeletedCount, NextAttemptAt: now, DoneAt: &now}
		if !p.Success {
			allDone = false
			part.Status, part.DoneAt, part.UserID, part.Attempts = provider.ErasurePending, nil, u.ID, 1
			part.LastError, part.NextAttemptAt = p.Error, now.Add(s.backoff(1))
		}
		job.Parts = append(job.Parts, part)
	}

	// The ledger lives in its own transactions (the credits store has its
	// own pool and, on PostgreSQL, its own role), so it cannot join the
	// local one. Detach is idempotent instead, and runs before the local
	// transaction: if that then fails, the answer is an error and the
	// admin erases again, which finds nothing left to detach and the same
	// pseudonym (it derives from the user id). The other order could
	// commit a tombstone whose ledger still names the person.
	if s.deps.Ledger != nil {
		n, err := s.deps.Ledger.Detach(ctx, u.ID, pseudonym(subject))
		if err != nil {
			return nil, fmt.Errorf("erase %q: detach ledger: %w", u.ID, err)
		}
		res.DeletedFromAuth.LedgerEntriesDetached = n
	}

	counts, err := s.eraseLocal(ctx, actor, u, job, allDone, now)
	if err != nil {
		return nil, err
	}
	res.DeletedFromAuth = AuthDeletion{Sessions: counts.Sessions, Tokens: counts.Tokens, Consents: counts.Consents,
		Accounts: counts.Accounts, TwoFactor: counts.TwoFactor, Devices: counts.Devices,
		VerificationTokens: counts.VerificationTokens, Events: counts.Events,
		LedgerEntriesDetached: res.DeletedFromAuth.LedgerEntriesDetached,
		Passkeys:              counts.Passkeys, // issue 15 (passkeys)
	}
	res.TotalDeleted = job.AuthDeleted
	for _, p := range res.DeletedFromProjects {
		res.TotalDeleted += p.DeletedCount
	}
	res.Success = allDone
	if allDone {
		res.Receipt = receiptOf(job)
	}
	s.cfg.Logger.InfoContext(ctx, "user erased", "erasure_id", job.ID, "requested_by", requestedBy, "success", allDone)
	return res, nil
}

// eraseLocal is the local transaction: every session ends through the
// session lifecycle (their tokens revoked, the back-channel logouts
// queued), the store erases the rest and tombstones the user, and the job
// with its pending parts is stored, all or nothing.
func (s *Service) eraseLocal(ctx context.Context, actor Actor, u *provider.User, job *provider.ErasureJob, allDone bool, now time.Time) (provider.ErasedCounts, error) {
	st := s.deps.Store
	tx, err := st.BeginTx(ctx)
	if err != nil {
		return provider.ErasedCounts{}, fmt.Errorf("erase %q: %w", u.ID, err)
	}
	defer func() { _ = st.Rollback(tx) }()
	live, err := st.ListSessions(tx, u.ID, now)
	if err != nil {
		return provider.ErasedCounts{}, fmt.Errorf("erase %q: sessions: %w", u.ID, err)
	}
	var ended []string
	if s.deps.Sessions != nil {
		if ended, err = s.deps.Sessions.EndAll(tx, u.ID, "", websession.Ending{Reason: "erased"}); err != nil {
			return provider.ErasedCounts{}, fmt.Errorf("erase %q: end sessions: %w", u.ID, err)
		}
	}
	counts, err := st.EraseUserData(tx, u.ID, provider.Tombstone{Email: "erased-" + u.ID + "@erased.invalid", DeletedAt: now})
	if err != nil {
		return provider.ErasedCounts{}, err
	}
	counts.Sessions += int64(len(ended))
	for _, ls := range live {
		if ls.DeviceID != "" {
			counts.Devices++
		}
	}
	job.AuthDeleted, job.AuthAt = counts.Total(), &now
	if allDone {
		job.CompletedAt = &now
	}
	if err := st.CreateErasure(tx, job); err != nil {
		return provider.ErasedCounts{}, fmt.Errorf("erase %q: %w", u.ID, err)
	}
	s.recordErasure(tx, actor, u.ID, job.ID)
	if err := st.Commit(tx); err != nil {
		return provider.ErasedCounts{}, fmt.Errorf("erase %q: commit: %w", u.ID, err)
	}
	return counts, nil
}

func (s *Service) recordErasure(ctx context.Context, actor Actor, userID, erasureID string) {
	if s.deps.Audit == nil {
		return
	}
	e := &provider.SecurityEvent{UserID: actor.UserID, Type: EventUserErased, IP: actor.IP, UserAgent: actor.UserAgent,
		Detail: map[string]string{"target": userID, "erasure": erasureID}}
	if actor.Self {
		e = &provider.SecurityEvent{UserID: userID, Type: EventAccountErased, Detail: map[string]string{"erasure": erasureID}}
	}
	s.deps.Audit.Record(ctx, e)
}

// deleteAll asks every backend to delete the user, in parallel, at most
// Concurrency at once, each bounded by DeleteTimeout (which starts before
// waiting for a slot, so a queue of slow backends cannot hold the answer).
func (s *Service) deleteAll(ctx context.Context, userID string) []ProjectDeletion {
	out := make([]ProjectDeletion, len(s.cfg.Backends))
	sem := make(chan struct{}, s.cfg.Concurrency)
	var wg sync.WaitGroup
	for i, b := range s.cfg.Backends {
		out[i] = ProjectDeletion{ProjectID: b.ID, ProjectName: b.Name}
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, s.cfg.DeleteTimeout)
			defer cancel()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-cctx.Done():
				out[i].Error, out[i].Pending = "no answer in time (timeout)", true
				return
			}
			d, err := s.deleteFromBackend(cctx, b, userID)
			if err != nil {
				out[i].Error, out[i].Pending = lastError(err), true
				s.cfg.Logger.WarnContext(ctx, "backend deletion failed, will retry", "backend", b.ID, "error", err)
				return
			}
			out[i].Success, out[i].DeletedCount = true, d.TotalDeleted
		})
	}
	wg.Wait()
	return out
}

// subject names a person in receipts without naming them: a keyed hash of
// the user id, so a receipt can be found for a user id one already knows
// but reveals nothing to whoever reads the table alone.
func (s *Service) subject(userID string) string {
	m := hmac.New(sha256.New, s.cfg.SecretKey)
	m.Write([]byte("erasure-subject\x00" + userID))
	return hex.EncodeToString(m.Sum(nil))
}

// pseudonym is the ledger account an erased person's entries move to.
func pseudonym(subject string) string { return "erased-" + subject[:32] }

func newErasureID() string { return "era_" + rand.Text() }

// backoff is the wait after the attempts-th failure: RetryBase, doubling,
// at most RetryMax.
func (s *Service) backoff(attempts int) time.Duration {
	d := s.cfg.RetryBase
	for i := 1; i < attempts && d < s.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, s.cfg.RetryMax)
}

// lastError is the reason a part keeps: the admin-facing reason of a
// backend failure, bounded.
func lastError(err error) string {
	msg := err.Error()
	var be *BackendError
	if errors.As(err, &be) {
		msg = be.Reason
	}
	return provider.Sanitize(msg, maxLastError)
}
