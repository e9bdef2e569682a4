package betterauth

// issue 14 (credits import): the old credits.* tables into the ledger.
//
// How the old balances and history become a ledger. Our ledger needs every
// transaction's postings to sum to zero and every cached wallet to equal
// the postings on it (credits verify). The old history cannot be split
// into free and paid credits: its usage took free credits first but
// recorded only totals (balance_before/after), registration created
// balances without a ledger row, and daily credits were granted without a
// transaction or a version check, so its rows do not even add up to its
// balances. So the import keeps the two apart:
//
//   - every old transaction is copied as history, with its id, type, amount,
//     app, description, metadata, key and time, and NO postings: it shows in
//     the user's list as the old service recorded it and moves nothing;
//   - each user's balance becomes one opening transaction (type opening)
//     from the system account "system:import" into the free wallet (old
//     free_credits_remaining) and the paid wallet (old balance), so the
//     wallets equal the old balances exactly and Verify is clean.
//
// Old "bonus" and "expiry" rows keep those type names (credits.TypeBonus,
// TypeExpiry): mapped onto signup_bonus or daily_free they could break the
// unique indexes that let the Service grant each of those once (a user
// with two "Signup bonus" rows, or a daily row dated today when
// last_daily_reset_at says yesterday would make today's grant fail).

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/manacore/mana-core-auth/credits"
)

// CreditsTarget is where the credits go. The CLI builds it from the app:
//
//	CreditsTarget{Store: a.CreditsStore.(credits.Importer), Timezone: a.Credits.Config().Timezone}
//
// (both credits stores implement credits.Importer).
type CreditsTarget struct {
	// Store writes the ledger; nil leaves the credits out of the import.
	Store credits.Importer
	// Timezone is the zone of the credits calendar day (CREDITS_TIMEZONE),
	// in which the daily grant and the usage statistics count days; nil
	// means Europe/Berlin, the credits default.
	Timezone *time.Location
}

// creditsBatch is how many rows the import hands to the store at once.
const creditsBatch = 5000

// oldTxTypes maps the old transaction types to ours.
var oldTxTypes = map[string]credits.Type{
	"purchase":   credits.TypePurchase,
	"usage":      credits.TypeUsage,
	"refund":     credits.TypeRefund,
	"adjustment": credits.TypeAdjustment,
	"bonus":      credits.TypeBonus,
	"expiry":     credits.TypeExpiry,
}

// oldPurchaseStatuses maps the old purchase statuses to ours.
var oldPurchaseStatuses = map[string]credits.PurchaseStatus{
	"completed": credits.PurchaseSucceeded,
	"pending":   credits.PurchasePending,
	"failed":    credits.PurchaseFailed,
	"cancelled": credits.PurchaseFailed,
}

// creditsImport carries the credits step of one run.
type creditsImport struct {
	*importer
	tx credits.ImportTx
	tz *time.Location
}

// importCredits copies the old credits.* tables into the credits store in
// one transaction of the target (rolled back in a dry run): packages,
// balances as opening transactions, transactions as history, purchases
// and usage statistics aggregated per day. Each old table is read with one
// query and written in multi-row batches.
func (im *importer) importCredits(ctx context.Context) error {
	target := im.to.Credits
	if target.Store == nil {
		return nil
	}
	tz := target.Timezone
	if tz == nil {
		var err error
		if tz, err = time.LoadLocation("Europe/Berlin"); err != nil {
			return fmt.Errorf("import credits: load the default time zone: %w", err)
		}
	}
	// Every kind is listed in the report, even with nothing to count.
	for _, kind := range []string{KindPackages, KindBalances, KindTransactions, KindPurchases, KindUsage} {
		im.report.Imported(kind, 0)
	}
	return target.Store.Import(ctx, !im.opts.DryRun, func(tx credits.ImportTx) error {
		c := &creditsImport{importer: im, tx: tx, tz: tz}
		for _, step := range []struct {
			name string
			run  func(context.Context) error
		}{
			{"packages", c.packages},
			{"balances", c.balances},
			{"transactions", c.transactions},
			{"purchases", c.purchases},
			{"usage stats", c.usage},
		} {
			if err := step.run(ctx); err != nil {
				return fmt.Errorf("import credit %s: %w", step.name, err)
			}
		}
		return nil
	})
}

// day is t's calendar day as the credits Service counts days.
func (c *creditsImport) day(t time.Time) string { return t.In(c.tz).Format(time.DateOnly) }

// count adds the outcome of one batch to the report.
func (c *creditsImport) count(kind string, inserted []bool) {
	n := 0
	for _, ok := range inserted {
		if ok {
			n++
		}
	}
	c.report.Imported(kind, n)
	c.report.Existing(kind, len(inserted)-n)
}

// batcher collects rows and hands them to flush creditsBatch at a time.
type batcher[T any] struct {
	rows  []T
	flush func([]T) error
}

func (b *batcher[T]) add(r T) error {
	b.rows = append(b.rows, r)
	if len(b.rows) < creditsBatch {
		return nil
	}
	return b.done()
}

func (b *batcher[T]) done() error {
	if len(b.rows) == 0 {
		return nil
	}
	err := b.flush(b.rows)
	b.rows = b.rows[:0]
	return err
}

func (c *creditsImport) packages(ctx context.Context) error {
	rows, err := c.old.Query(ctx, `SELECT id::text, name, credits, price_euro_cents, active, sort_order, created_at
		FROM credits.packages ORDER BY sort_order, id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var ps []credits.Package
	for rows.Next() {
		var p credits.Package
		if err := rows.Scan(&p.ID, &p.Name, &p.Credits, &p.PriceCents, &p.Active, &p.SortOrder, &p.CreatedAt); err != nil {
			return err
		}
		switch {
		case strings.TrimSpace(p.Name) == "":
			c.report.Reject(KindPackages, p.ID, "empty name")
		case p.Credits <= 0:
			c.report.Reject(KindPackages, p.ID, fmt.Sprintf("credits %d not positive", p.Credits))
		case p.PriceCents <= 0:
			c.report.Reject(KindPackages, p.ID, fmt.Sprintf("price %d cents not positive", p.PriceCents))
		default:
			p.Currency = "eur" // the old service priced in euro cents only
			p.CreatedAt = p.CreatedAt.UTC()
			ps = append(ps, p)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	ok, err := c.tx.AddPackages(ctx, ps)
	if err != nil {
		return err
	}
	c.count(KindPackages, ok)
	return nil
}

func (c *creditsImport) balances(ctx context.Context) error {
	rows, err := c.old.Query(ctx, `SELECT user_id, balance, free_credits_remaining, last_daily_reset_at,
		total_earned, total_spent FROM credits.balances ORDER BY user_id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	b := &batcher[credits.Balance]{flush: func(bs []credits.Balance) error {
		ok, err := c.tx.AddBalances(ctx, bs, c.now)
		if err != nil {
			return err
		}
		c.count(KindBalances, ok)
		// Openings only for the balances written now: a balance already
		// there has its opening (or, after the cut-over, a life of its own).
		var openings []credits.Transaction
		for i, bal := range bs {
			if ok[i] && bal.Available() > 0 {
				openings = append(openings, c.opening(bal))
			}
		}
		_, err = c.tx.AddTransactions(ctx, openings)
		return err
	}}
	for rows.Next() {
		var (
			bal       credits.Balance
			lastReset *time.Time
		)
		if err := rows.Scan(&bal.UserID, &bal.Paid, &bal.Free, &lastReset, &bal.TotalEarned, &bal.TotalSpent); err != nil {
			return err
		}
		switch {
		case !c.users[bal.UserID]:
			c.report.Skip(KindBalances, "user not imported")
			continue
		case bal.Paid < 0:
			c.report.Reject(KindBalances, bal.UserID, fmt.Sprintf("negative balance %d", bal.Paid))
			continue
		case bal.Free < 0:
			c.report.Reject(KindBalances, bal.UserID, fmt.Sprintf("negative free credits %d", bal.Free))
			continue
		}
		// The old service granted the signup bonus when it created the
		// balance, and the daily credits on the day of last_daily_reset_at:
		// neither is due again.
		bal.SignupGranted = true
		if lastReset != nil {
			bal.LastDailyGrant = c.day(*lastReset)
		}
		if err := b.add(bal); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return b.done()
}

// opening is the transaction that carries bal from the old service.
func (c *creditsImport) opening(bal credits.Balance) credits.Transaction {
	t := credits.Transaction{ID: credits.NewID(), UserID: bal.UserID, Type: credits.TypeOpening, Amount: bal.Available(),
		Description: "Balance carried over from the previous Mana service", CreatedAt: c.now,
		Postings: []credits.Posting{{Account: credits.AccountImport, Amount: -bal.Available()}}}
	if bal.Free > 0 {
		t.Postings = append(t.Postings, credits.Posting{Account: credits.FreeAccount(bal.UserID), Amount: bal.Free})
	}
	if bal.Paid > 0 {
		t.Postings = append(t.Postings, credits.Posting{Account: credits.PaidAccount(bal.UserID), Amount: bal.Paid})
	}
	// Errors impossible: two integers.
	t.Metadata, _ = json.Marshal(map[string]int64{"free": bal.Free, "paid": bal.Paid})
	return t
}

func (c *creditsImport) transactions(ctx context.Context) error {
	// Oldest first, so rows with equal times list in the old order.
	rows, err := c.old.Query(ctx, `SELECT id::text, user_id, type, status, amount, app_id, description,
		metadata::text, idempotency_key, created_at FROM credits.transactions ORDER BY created_at, id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	b := &batcher[credits.Transaction]{flush: func(txs []credits.Transaction) error {
		ok, err := c.tx.AddTransactions(ctx, txs)
		if err != nil {
			return err
		}
		c.count(KindTransactions, ok)
		return nil
	}}
	for rows.Next() {
		var (
			t           credits.Transaction
			typ, status string
			meta, key   *string
			amount      int32
		)
		if err := rows.Scan(&t.ID, &t.UserID, &typ, &status, &amount, &t.AppID, &t.Description, &meta, &key, &t.CreatedAt); err != nil {
			return err
		}
		t.Amount = int64(amount)
		mapped, known := oldTxTypes[typ]
		switch {
		case !c.users[t.UserID]:
			c.report.Skip(KindTransactions, "user not imported")
			continue
		case !known:
			c.report.Reject(KindTransactions, t.ID, fmt.Sprintf("unknown type %q", typ))
			continue
		case status == "pending" || status == "failed" || status == "cancelled":
			// Not a movement: the old service never applied it.
			c.report.Skip(KindTransactions, "status "+status)
			continue
		case status != "completed":
			c.report.Reject(KindTransactions, t.ID, fmt.Sprintf("unknown status %q", status))
			continue
		case key != nil && (strings.HasPrefix(*key, "stripe:") || strings.HasPrefix(*key, "stripe-")):
			// Our billing books Stripe payments under these keys: an old
			// row holding one would make a payment look booked already.
			c.report.Reject(KindTransactions, t.ID, "idempotency key in the space reserved for Stripe")
			continue
		}
		t.Type = mapped
		if meta != nil && *meta != "null" {
			t.Metadata = json.RawMessage(*meta)
		}
		if key != nil {
			t.IdempotencyKey = *key
		}
		t.CreatedAt = t.CreatedAt.UTC()
		if err := b.add(t); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return b.done()
}

func (c *creditsImport) purchases(ctx context.Context) error {
	packages, err := c.tx.PackageIDs(ctx)
	if err != nil {
		return err
	}
	rows, err := c.old.Query(ctx, `SELECT id::text, user_id, package_id::text, credits, price_euro_cents,
		stripe_payment_intent_id, status, created_at, completed_at FROM credits.purchases ORDER BY created_at, id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	b := &batcher[credits.Purchase]{flush: func(ps []credits.Purchase) error {
		ok, err := c.tx.AddPurchases(ctx, ps)
		if err != nil {
			return err
		}
		c.count(KindPurchases, ok)
		return nil
	}}
	for rows.Next() {
		var (
			p            credits.Purchase
			pkg, pi      *string
			status       string
			completed    *time.Time
			creds, cents int32
		)
		if err := rows.Scan(&p.ID, &p.UserID, &pkg, &creds, &cents, &pi, &status, &p.CreatedAt, &completed); err != nil {
			return err
		}
		p.Credits, p.AmountCents = int64(creds), int64(cents)
		mapped, known := oldPurchaseStatuses[status]
		switch {
		case !c.users[p.UserID]:
			c.report.Skip(KindPurchases, "user not imported")
			continue
		case pkg == nil:
			c.report.Reject(KindPurchases, p.ID, "no package")
			continue
		case !packages[*pkg]:
			c.report.Reject(KindPurchases, p.ID, fmt.Sprintf("package %s not imported", *pkg))
			continue
		case p.Credits <= 0:
			c.report.Reject(KindPurchases, p.ID, fmt.Sprintf("credits %d not positive", p.Credits))
			continue
		case p.AmountCents <= 0:
			c.report.Reject(KindPurchases, p.ID, fmt.Sprintf("price %d cents not positive", p.AmountCents))
			continue
		case !known:
			c.report.Reject(KindPurchases, p.ID, fmt.Sprintf("unknown status %q", status))
			continue
		}
		p.PackageID, p.Status, p.Currency = *pkg, mapped, "eur"
		if pi != nil {
			p.StripePaymentIntentID = *pi
		}
		p.CreatedAt = p.CreatedAt.UTC()
		if completed != nil {
			p.CompletedAt = completed.UTC()
		} else if p.Status == credits.PurchaseSucceeded {
			p.CompletedAt = p.CreatedAt // ours always has one when succeeded
		}
		if err := b.add(p); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return b.done()
}

// usage aggregates the old per-spend rows into ours, one per user, app and
// calendar day with the number of spends. The report counts old rows.
func (c *creditsImport) usage(ctx context.Context) error {
	rows, err := c.old.Query(ctx, `SELECT id::text, user_id, app_id, credits_used, date FROM credits.usage_stats
		ORDER BY user_id, date, id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	type key struct{ user, app, day string }
	index := map[key]int{}
	var stats []credits.UsageStat
	for rows.Next() {
		var (
			id, user, app string
			used          int32
			date          time.Time
		)
		if err := rows.Scan(&id, &user, &app, &used, &date); err != nil {
			return err
		}
		switch {
		case !c.users[user]:
			c.report.Skip(KindUsage, "user not imported")
			continue
		case used < 0:
			c.report.Reject(KindUsage, id, fmt.Sprintf("negative credits used %d", used))
			continue
		}
		k := key{user, app, c.day(date)}
		i, seen := index[k]
		if !seen {
			i = len(stats)
			index[k] = i
			stats = append(stats, credits.UsageStat{UserID: user, AppID: app, Day: k.day})
		}
		stats[i].CreditsUsed += int64(used)
		stats[i].Uses++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	ok, err := c.tx.AddUsage(ctx, stats)
	if err != nil {
		return err
	}
	for i, s := range stats {
		if ok[i] {
			c.report.Imported(KindUsage, int(s.Uses))
		} else {
			c.report.Existing(KindUsage, int(s.Uses))
		}
	}
	return nil
}
