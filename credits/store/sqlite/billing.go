package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/internal/database"
)

var _ credits.BillingStore = (*Store)(nil)

const packageCols = `id, name, credits, price_cents, currency, active, sort_order, created_at`

type scanner interface{ Scan(dest ...any) error }

func scanPackage(row scanner) (credits.Package, error) {
	var (
		p       credits.Package
		created int64
	)
	err := row.Scan(&p.ID, &p.Name, &p.Credits, &p.PriceCents, &p.Currency, &p.Active, &p.SortOrder, &created)
	p.CreatedAt = database.FromMillis(created)
	return p, mapErr(err)
}

// Packages implements credits.BillingStore.
func (s *Store) Packages(ctx context.Context, activeOnly bool) ([]credits.Package, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+packageCols+` FROM credit_packages
		WHERE active OR NOT ? ORDER BY sort_order, id`, activeOnly)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []credits.Package
	for rows.Next() {
		p, err := scanPackage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, mapErr(rows.Err())
}

// Package implements credits.BillingStore.
func (s *Store) Package(ctx context.Context, id string) (credits.Package, error) {
	return scanPackage(s.read.QueryRowContext(ctx, `SELECT `+packageCols+` FROM credit_packages WHERE id = ?`, id))
}

// CreatePackage implements credits.BillingStore.
func (s *Store) CreatePackage(ctx context.Context, p credits.Package) error {
	if p.Currency == "" {
		p.Currency = "eur"
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = time.Now()
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO credit_packages (`+packageCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.Name, p.Credits, p.PriceCents, p.Currency, p.Active, p.SortOrder, database.Millis(p.CreatedAt))
	return mapErr(err)
}

// DisablePackage implements credits.BillingStore.
func (s *Store) DisablePackage(ctx context.Context, id string) error {
	res, err := s.write.ExecContext(ctx, `UPDATE credit_packages SET active = 0 WHERE id = ?`, id)
	if err != nil {
		return mapErr(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapErr(err)
	} else if n == 0 {
		return credits.ErrNotFound
	}
	return nil
}

const purchaseCols = `id, user_id, package_id, credits, amount_cents, currency, status,
	COALESCE(stripe_payment_intent_id, ''), COALESCE(stripe_checkout_session_id, ''), created_at, completed_at,
	refunded_cents, refunded_credits, dispute_id, dispute_status, disputed_credits`

func scanPurchase(row scanner) (credits.Purchase, error) {
	var (
		p         credits.Purchase
		status    string
		dispute   string
		created   int64
		completed sql.NullInt64
	)
	err := row.Scan(&p.ID, &p.UserID, &p.PackageID, &p.Credits, &p.AmountCents, &p.Currency, &status,
		&p.StripePaymentIntentID, &p.StripeCheckoutSessionID, &created, &completed,
		&p.RefundedCents, &p.RefundedCredits, &p.DisputeID, &dispute, &p.DisputedCredits)
	p.Status = credits.PurchaseStatus(status)
	p.DisputeStatus = credits.DisputeStatus(dispute)
	p.CreatedAt = database.FromMillis(created)
	if completed.Valid {
		p.CompletedAt = database.FromMillis(completed.Int64)
	}
	return p, mapErr(err)
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullMilli(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return database.Millis(t)
}

// CreatePurchase implements credits.BillingStore.
func (s *Store) CreatePurchase(ctx context.Context, p credits.Purchase) error {
	if p.Status == "" {
		p.Status = credits.PurchasePending
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = time.Now()
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO credit_purchases (id, user_id, package_id, credits, amount_cents,
		currency, status, stripe_payment_intent_id, stripe_checkout_session_id, created_at, completed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.UserID, p.PackageID, p.Credits, p.AmountCents, p.Currency, string(p.Status),
		nullStr(p.StripePaymentIntentID), nullStr(p.StripeCheckoutSessionID), database.Millis(p.CreatedAt), nullMilli(p.CompletedAt))
	return mapErr(err)
}

// Purchase implements credits.BillingStore.
func (s *Store) Purchase(ctx context.Context, id string) (credits.Purchase, error) {
	return scanPurchase(s.read.QueryRowContext(ctx, `SELECT `+purchaseCols+` FROM credit_purchases WHERE id = ?`, id))
}

// PurchaseByPaymentIntent implements credits.BillingStore.
func (s *Store) PurchaseByPaymentIntent(ctx context.Context, pi string) (credits.Purchase, error) {
	return scanPurchase(s.read.QueryRowContext(ctx,
		`SELECT `+purchaseCols+` FROM credit_purchases WHERE stripe_payment_intent_id = ?`, pi))
}

// PurchaseByCheckoutSession implements credits.BillingStore.
func (s *Store) PurchaseByCheckoutSession(ctx context.Context, cs string) (credits.Purchase, error) {
	return scanPurchase(s.read.QueryRowContext(ctx,
		`SELECT `+purchaseCols+` FROM credit_purchases WHERE stripe_checkout_session_id = ?`, cs))
}

// Purchases implements credits.BillingStore.
func (s *Store) Purchases(ctx context.Context, userID string, limit, offset int) ([]credits.Purchase, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+purchaseCols+` FROM credit_purchases WHERE user_id = ?
		ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?`, userID, limit, offset)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []credits.Purchase
	for rows.Next() {
		p, err := scanPurchase(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, mapErr(rows.Err())
}

// ApplyStripeEvent implements credits.BillingStore. The single writer
// connection and BEGIN IMMEDIATE serialise concurrent deliveries.
func (s *Store) ApplyStripeEvent(ctx context.Context, ev credits.StripeEvent, ref credits.PurchaseRef, decide credits.PurchaseDecider) (credits.EventResult, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return credits.EventResult{}, mapErr(err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	res, err := s.applyEvent(ctx, tx, ev, ref, decide)
	if err != nil {
		return credits.EventResult{}, err
	}
	if err := tx.Commit(); err != nil {
		return credits.EventResult{}, mapErr(err)
	}
	return res, nil
}

func (s *Store) applyEvent(ctx context.Context, tx *sql.Tx, ev credits.StripeEvent, ref credits.PurchaseRef, decide credits.PurchaseDecider) (credits.EventResult, error) {
	var res credits.EventResult
	r, err := tx.ExecContext(ctx, `INSERT INTO credit_stripe_events (id, type, received_at) VALUES (?, ?, ?)
		ON CONFLICT (id) DO NOTHING`, ev.ID, ev.Type, database.Millis(time.Now()))
	if err != nil {
		return res, mapErr(err)
	}
	if n, err := r.RowsAffected(); err != nil {
		return res, mapErr(err)
	} else if n == 0 {
		res.Duplicate = true
		return res, nil
	}
	var row *sql.Row
	switch {
	case ref.PaymentIntentID != "":
		row = tx.QueryRowContext(ctx, `SELECT `+purchaseCols+` FROM credit_purchases
			WHERE stripe_payment_intent_id = ?`, ref.PaymentIntentID)
	case ref.CheckoutSessionID != "":
		row = tx.QueryRowContext(ctx, `SELECT `+purchaseCols+` FROM credit_purchases
			WHERE stripe_checkout_session_id = ?`, ref.CheckoutSessionID)
	default:
		res.NotFound = true
		return res, nil
	}
	p, err := scanPurchase(row)
	if errors.Is(err, credits.ErrNotFound) {
		res.NotFound = true
		return res, nil
	}
	if err != nil {
		return res, err
	}
	up, err := decide(p)
	if err != nil {
		return res, err
	}
	if up == nil {
		res.Purchase = p
		return res, nil
	}
	p = up.Apply(p)
	if p.Taken() > p.Credits { // PostgreSQL has a CHECK for this; SQLite cannot add one
		return res, fmt.Errorf("credits sqlite: purchase %s: %d credits taken back of %d", p.ID, p.Taken(), p.Credits)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE credit_purchases SET status = ?, stripe_payment_intent_id = ?,
		completed_at = ?, refunded_cents = ?, refunded_credits = ?, dispute_id = ?, dispute_status = ?,
		disputed_credits = ? WHERE id = ?`,
		string(p.Status), nullStr(p.StripePaymentIntentID), nullMilli(p.CompletedAt),
		p.RefundedCents, p.RefundedCredits, p.DisputeID, string(p.DisputeStatus), p.DisputedCredits, p.ID); err != nil {
		return res, mapErr(err)
	}
	res.Purchase = p
	if up.Decide != nil {
		res.Tx, res.Balance, res.Replay, err = s.book(ctx, tx, p.UserID, up.Key, up.Decide)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}
