// Package audit writes the security event log (logins, logouts, password
// and second-factor changes, revocations) that users see on their account
// page and operators read after an incident. Every package that does
// something worth auditing writes through one Log, so what an event holds
// and how it is cleaned is decided once.
package audit

import (
	"context"
	"crypto/rand"
	"log/slog"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

// Store is where events go.
type Store interface {
	AddEvent(ctx context.Context, e *provider.SecurityEvent) error
}

// Log records security events.
type Log struct {
	store Store
	now   func() time.Time
	log   *slog.Logger
}

// New returns a Log; now and logger may be nil.
func New(store Store, now func() time.Time, logger *slog.Logger) *Log {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Log{store: store, now: now, log: logger}
}

// Record writes e, filling its id and time. Failing to audit must not fail
// the user's request, so a store error is logged, not returned.
func (l *Log) Record(ctx context.Context, e *provider.SecurityEvent) {
	if e.ID == "" {
		e.ID = rand.Text()
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = l.now().UTC()
	}
	// Header values are attacker-chosen: PostgreSQL refuses invalid UTF-8
	// and NUL in text columns, and a failed insert would abort a caller's
	// transaction.
	e.UserAgent = provider.Sanitize(e.UserAgent, 512)
	e.IP = provider.Sanitize(e.IP, 64)
	if err := l.store.AddEvent(ctx, e); err != nil {
		l.log.ErrorContext(ctx, "write security event", "error", err, "type", e.Type)
	}
}
