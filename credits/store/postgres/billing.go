package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/internal/database"
)

var _ credits.BillingStore = (*Store)(nil)

const packageCols = `id, name, credits, price_cents, currency, active, sort_order, created_at`

func scanPackage(row pgx.Row) (credits.Package, error) {
	var p credits.Package
	err := row.Scan(&p.ID, &p.Name, &p.Credits, &p.PriceCents, &p.Currency, &p.Active, &p.SortOrder, &p.CreatedAt)
	p.CreatedAt = p.CreatedAt.UTC()
	return p, mapErr(err)
}

// Packages implements credits.BillingStore.
func (s *Store) Packages(ctx context.Context, activeOnly bool) ([]credits.Package, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+packageCols+` FROM credits.packages
		WHERE active OR NOT $1 ORDER BY sort_order, id`, activeOnly)
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
	return scanPackage(s.pool.QueryRow(ctx, `SELECT `+packageCols+` FROM credits.packages WHERE id = $1`, id))
}

// CreatePackage implements credits.BillingStore.
func (s *Store) CreatePackage(ctx context.Context, p credits.Package) error {
	if p.Currency == "" {
		p.Currency = "eur"
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = time.Now()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO credits.packages (`+packageCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		p.ID, p.Name, p.Credits, p.PriceCents, p.Currency, p.Active, p.SortOrder, database.PGTime(p.CreatedAt))
	return mapErr(err)
}

// DisablePackage implements credits.BillingStore.
func (s *Store) DisablePackage(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE credits.packages SET active = false WHERE id = $1`, id)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return credits.ErrNotFound
	}
	return nil
}

const purchaseCols = `id, user_id, package_id, credits, amount_cents, currency, status,
	COALESCE(stripe_payment_intent_id, ''), COALESCE(stripe_checkout_session_id, ''), created_at, completed_at,
	refunded_cents, refunded_credits, dispute_id, dispute_status, disputed_credits`

func scanPurchase(row pgx.Row) (credits.Purchase, error) {
	var (
		p         credits.Purchase
		status    string
		dispute   string
		completed *time.Time
	)
	err := row.Scan(&p.ID, &p.UserID, &p.PackageID, &p.Credits, &p.AmountCents, &p.Currency, &status,
		&p.StripePaymentIntentID, &p.StripeCheckoutSessionID, &p.CreatedAt, &completed,
		&p.RefundedCents, &p.RefundedCredits, &p.DisputeID, &dispute, &p.DisputedCredits)
	p.Status = credits.PurchaseStatus(status)
	p.DisputeStatus = credits.DisputeStatus(dispute)
	p.CreatedAt = p.CreatedAt.UTC()
	if completed != nil {
		p.CompletedAt = completed.UTC()
	}
	return p, mapErr(err)
}

func nullStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = database.PGTime(t)
	return &t
}

// CreatePurchase implements credits.BillingStore.
func (s *Store) CreatePurchase(ctx context.Context, p credits.Purchase) error {
	if p.Status == "" {
		p.Status = credits.PurchasePending
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = time.Now()
	}
	return s.asUser(ctx, p.UserID, pgx.TxOptions{}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO credits.purchases (id, user_id, package_id, credits, amount_cents,
			currency, status, stripe_payment_intent_id, stripe_checkout_session_id, created_at, completed_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			p.ID, p.UserID, p.PackageID, p.Credits, p.AmountCents, p.Currency, string(p.Status),
			nullStr(p.StripePaymentIntentID), nullStr(p.StripeCheckoutSessionID), database.PGTime(p.CreatedAt), nullTime(p.CompletedAt))
		return mapErr(err)
	})
}

// Purchase implements credits.BillingStore.
func (s *Store) Purchase(ctx context.Context, id string) (credits.Purchase, error) {
	return scanPurchase(s.pool.QueryRow(ctx, `SELECT `+purchaseCols+` FROM credits.purchases WHERE id = $1`, id))
}

// PurchaseByPaymentIntent implements credits.BillingStore.
func (s *Store) PurchaseByPaymentIntent(ctx context.Context, pi string) (credits.Purchase, error) {
	return scanPurchase(s.pool.QueryRow(ctx,
		`SELECT `+purchaseCols+` FROM credits.purchases WHERE stripe_payment_intent_id = $1`, pi))
}

// PurchaseByCheckoutSession implements credits.BillingStore.
func (s *Store) PurchaseByCheckoutSession(ctx context.Context, cs string) (credits.Purchase, error) {
	return scanPurchase(s.pool.QueryRow(ctx,
		`SELECT `+purchaseCols+` FROM credits.purchases WHERE stripe_checkout_session_id = $1`, cs))
}

// Purchases implements credits.BillingStore.
func (s *Store) Purchases(ctx context.Context, userID string, limit, offset int) ([]credits.Purchase, error) {
	var out []credits.Purchase
	err := s.asUser(ctx, userID, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `SELECT `+purchaseCols+` FROM credits.purchases WHERE user_id = $1
			ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3`, userID, limit, offset)
		if err != nil {
			return mapErr(err)
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanPurchase(rows)
			if err != nil {
				return err
			}
			out = append(out, p)
		}
		return mapErr(rows.Err())
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ApplyStripeEvent implements credits.BillingStore. The event row's
// primary key serialises concurrent deliveries of one event: the second
// INSERT waits for the first transaction and then conflicts.
func (s *Store) ApplyStripeEvent(ctx context.Context, ev credits.StripeEvent, ref credits.PurchaseRef, decide credits.PurchaseDecider) (credits.EventResult, error) {
	var res credits.EventResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		res = credits.EventResult{}
		tag, err := tx.Exec(ctx, `INSERT INTO credits.stripe_events (id, type, received_at) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO NOTHING`, ev.ID, ev.Type, database.PGTime(time.Now()))
		if err != nil {
			return mapErr(err)
		}
		if tag.RowsAffected() == 0 {
			res.Duplicate = true
			return nil
		}
		var row pgx.Row
		switch {
		case ref.PaymentIntentID != "":
			row = tx.QueryRow(ctx, `SELECT `+purchaseCols+` FROM credits.purchases
				WHERE stripe_payment_intent_id = $1 FOR UPDATE`, ref.PaymentIntentID)
		case ref.CheckoutSessionID != "":
			row = tx.QueryRow(ctx, `SELECT `+purchaseCols+` FROM credits.purchases
				WHERE stripe_checkout_session_id = $1 FOR UPDATE`, ref.CheckoutSessionID)
		default:
			res.NotFound = true
			return nil
		}
		p, err := scanPurchase(row)
		if errors.Is(err, credits.ErrNotFound) {
			res.NotFound = true
			return nil
		}
		if err != nil {
			return err
		}
		up, err := decide(p)
		if err != nil {
			return err
		}
		if up == nil {
			res.Purchase = p
			return nil
		}
		p = up.Apply(p)
		if p.Taken() > p.Credits {
			return fmt.Errorf("credits postgres: purchase %s: %d credits taken back of %d", p.ID, p.Taken(), p.Credits)
		}
		if _, err := tx.Exec(ctx, `UPDATE credits.purchases SET status = $2, stripe_payment_intent_id = $3,
			completed_at = $4, refunded_cents = $5, refunded_credits = $6, dispute_id = $7, dispute_status = $8,
			disputed_credits = $9 WHERE id = $1`,
			p.ID, string(p.Status), nullStr(p.StripePaymentIntentID), nullTime(p.CompletedAt),
			p.RefundedCents, p.RefundedCredits, p.DisputeID, string(p.DisputeStatus), p.DisputedCredits); err != nil {
			return mapErr(err)
		}
		res.Purchase = p
		if up.Decide != nil {
			res.Tx, res.Balance, res.Replay, err = bookTx(ctx, tx, p.UserID, up.Key, up.Decide)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return credits.EventResult{}, err
	}
	return res, nil
}
