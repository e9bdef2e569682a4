// Package billing sells credit packages through Stripe: PaymentIntents for
// apps with Stripe Elements, Checkout Sessions for the web, and the webhook
// that credits a purchase exactly once.
//
// The webhook is idempotent twice over: the Stripe event id is recorded in
// the same database transaction that books the purchase
// (credits.BillingStore.ApplyStripeEvent), and the ledger transaction
// carries the per-user idempotency key "stripe:<payment_intent_id>", so a
// payment reported by several events (payment_intent.succeeded and
// checkout.session.completed) is credited once.
//
// Refunds and lost disputes take credits back. What each takes is decided
// from the purchase row, which ApplyStripeEvent holds locked and updates
// in the same transaction as the booking, so replays, concurrent
// deliveries and out-of-order events never take more than the purchase's
// credits in total, and never give any back.
package billing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/manacore/mana-core-auth/credits"
)

// Errors.
var (
	// ErrBadSignature: the webhook payload's Stripe-Signature did not verify
	// (or the payload is not a Stripe event).
	ErrBadSignature = errors.New("billing: bad webhook signature")
	// ErrBadPayload: a verified event whose object could not be decoded.
	ErrBadPayload = errors.New("billing: bad webhook payload")
	// ErrPackageNotFound: no active package with that id. It wraps
	// credits.ErrNotFound.
	ErrPackageNotFound = fmt.Errorf("billing: package %w", credits.ErrNotFound)
)

// Config configures Billing.
type Config struct {
	SecretKey     string // STRIPE_SECRET_KEY (sk_test_… / sk_live_…)
	WebhookSecret string // STRIPE_WEBHOOK_SECRET (whsec_…)
	SuccessURL    string // Checkout success page
	CancelURL     string // Checkout cancel page
	// APIBase is STRIPE_API_BASE, e.g. http://127.0.0.1:12111 for
	// stripe-mock; empty means the real Stripe API.
	APIBase string
	// Observer counts webhook events and purchased credits (issue 13,
	// metrics); nil counts nothing.
	Observer Observer
}

// Observer is told of billing events, for the metrics.
type Observer interface {
	// WebhookEvent: result is one of the Webhook* results; eventType is
	// "" when the signature did not verify.
	WebhookEvent(eventType, result string)
	// CreditsPurchased: credits a fulfilled purchase booked.
	CreditsPurchased(amount int64)
}

// Results of a webhook delivery, as the metrics name them.
const (
	WebhookProcessed        = "processed"
	WebhookDuplicate        = "duplicate"
	WebhookIgnored          = "ignored"
	WebhookError            = "error"
	WebhookInvalidSignature = "invalid_signature"
)

type noObserver struct{}

func (noObserver) WebhookEvent(string, string) {}
func (noObserver) CreditsPurchased(int64)      {}

// Event types handled by HandleWebhook.
const (
	EventPaymentSucceeded       = "payment_intent.succeeded"
	EventPaymentFailed          = "payment_intent.payment_failed"
	EventCheckoutCompleted      = "checkout.session.completed"
	EventCheckoutAsyncSucceeded = "checkout.session.async_payment_succeeded"
	EventChargeRefunded         = "charge.refunded"
	EventDisputeCreated         = "charge.dispute.created"
	EventDisputeClosed          = "charge.dispute.closed"
)

// EventTypes are the event types HandleWebhook acts on (the metrics
// pre-set a series for each).
var EventTypes = []string{EventPaymentSucceeded, EventPaymentFailed, EventCheckoutCompleted,
	EventCheckoutAsyncSucceeded, EventChargeRefunded, EventDisputeCreated, EventDisputeClosed}

// Billing creates Stripe payments for credit packages and fulfils them.
type Billing struct {
	cfg    Config
	store  credits.BillingStore
	ledger *credits.Service
	sc     *stripe.Client
}

// New returns Billing on store (which must be the store ledger books on).
func New(cfg Config, store credits.BillingStore, ledger *credits.Service) (*Billing, error) {
	if cfg.SecretKey == "" {
		return nil, errors.New("billing: no Stripe secret key")
	}
	if store == nil || ledger == nil {
		return nil, errors.New("billing: nil store or ledger")
	}
	var opts []stripe.ClientOption
	if cfg.APIBase != "" {
		u, err := url.Parse(cfg.APIBase)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("billing: bad Stripe API base %q", cfg.APIBase)
		}
		opts = append(opts, stripe.WithBackends(stripe.NewBackendsWithConfig(&stripe.BackendConfig{
			URL:           stripe.String(cfg.APIBase),
			LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelError},
		})))
	}
	if cfg.Observer == nil {
		cfg.Observer = noObserver{}
	}
	return &Billing{cfg: cfg, store: store, ledger: ledger, sc: stripe.NewClient(cfg.SecretKey, opts...)}, nil
}

// Packages lists the active packages by sort order.
func (b *Billing) Packages(ctx context.Context) ([]credits.Package, error) {
	return b.store.Packages(ctx, true)
}

// Purchases lists the user's purchases, newest first (limit as for
// credits.Service.Transactions).
func (b *Billing) Purchases(ctx context.Context, userID string, limit, offset int) ([]credits.Purchase, error) {
	if limit <= 0 {
		limit = credits.DefaultLimit
	}
	return b.store.Purchases(ctx, userID, min(limit, credits.MaxLimit), max(offset, 0))
}

func (b *Billing) activePackage(ctx context.Context, id string) (credits.Package, error) {
	if err := credits.CheckPackageID(id); err != nil {
		// Both: the API answers the field as invalid, the credits page as
		// an unknown package.
		return credits.Package{}, fmt.Errorf("%w: %w", ErrPackageNotFound, err)
	}
	p, err := b.store.Package(ctx, id)
	if errors.Is(err, credits.ErrNotFound) || (err == nil && !p.Active) {
		return credits.Package{}, ErrPackageNotFound
	}
	return p, err
}

func (b *Billing) newPurchase(userID string, pkg credits.Package) credits.Purchase {
	return credits.Purchase{
		ID: credits.NewID(), UserID: userID, PackageID: pkg.ID, Credits: pkg.Credits,
		AmountCents: pkg.PriceCents, Currency: pkg.Currency, Status: credits.PurchasePending,
		CreatedAt: time.Now().UTC().Truncate(time.Millisecond),
	}
}

func metadata(p credits.Purchase) map[string]string {
	return map[string]string{
		"purchase_id": p.ID, "user_id": p.UserID, "package_id": p.PackageID,
		"credits": strconv.FormatInt(p.Credits, 10),
	}
}

// CreatePaymentIntent creates a Stripe PaymentIntent for the package and
// stores a pending purchase; the client secret goes to Stripe Elements.
func (b *Billing) CreatePaymentIntent(ctx context.Context, userID, packageID string) (credits.Purchase, string, error) {
	if userID == "" {
		return credits.Purchase{}, "", errors.New("billing: empty user id")
	}
	pkg, err := b.activePackage(ctx, packageID)
	if err != nil {
		return credits.Purchase{}, "", err
	}
	p := b.newPurchase(userID, pkg)
	params := &stripe.PaymentIntentCreateParams{
		Amount:                  stripe.Int64(pkg.PriceCents),
		Currency:                stripe.String(pkg.Currency),
		Description:             stripe.String(pkg.Name),
		AutomaticPaymentMethods: &stripe.PaymentIntentCreateAutomaticPaymentMethodsParams{Enabled: stripe.Bool(true)},
	}
	params.Metadata = metadata(p)
	params.SetIdempotencyKey("purchase:" + p.ID)
	pi, err := b.sc.V1PaymentIntents.Create(ctx, params)
	if err != nil {
		return credits.Purchase{}, "", fmt.Errorf("billing: create payment intent: %w", err)
	}
	p.StripePaymentIntentID = pi.ID
	if err := b.store.CreatePurchase(ctx, p); err != nil {
		return credits.Purchase{}, "", fmt.Errorf("billing: store purchase: %w", err)
	}
	return p, pi.ClientSecret, nil
}

// CreateCheckout creates a Stripe Checkout Session for the package, stores
// a pending purchase and returns the session's URL.
func (b *Billing) CreateCheckout(ctx context.Context, userID, email, packageID string) (string, error) {
	if userID == "" {
		return "", errors.New("billing: empty user id")
	}
	pkg, err := b.activePackage(ctx, packageID)
	if err != nil {
		return "", err
	}
	p := b.newPurchase(userID, pkg)
	params := &stripe.CheckoutSessionCreateParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModePayment)),
		SuccessURL:        stripe.String(b.cfg.SuccessURL),
		CancelURL:         stripe.String(b.cfg.CancelURL),
		ClientReferenceID: stripe.String(userID),
		LineItems: []*stripe.CheckoutSessionCreateLineItemParams{{
			Quantity: stripe.Int64(1),
			PriceData: &stripe.CheckoutSessionCreateLineItemPriceDataParams{
				Currency:    stripe.String(pkg.Currency),
				UnitAmount:  stripe.Int64(pkg.PriceCents),
				ProductData: &stripe.CheckoutSessionCreateLineItemPriceDataProductDataParams{Name: stripe.String(pkg.Name)},
			},
		}},
		PaymentIntentData: &stripe.CheckoutSessionCreatePaymentIntentDataParams{Metadata: metadata(p)},
	}
	if email != "" {
		params.CustomerEmail = stripe.String(email)
	}
	params.Metadata = metadata(p)
	params.SetIdempotencyKey("checkout:" + p.ID)
	sess, err := b.sc.V1CheckoutSessions.Create(ctx, params)
	if err != nil {
		return "", fmt.Errorf("billing: create checkout session: %w", err)
	}
	p.StripeCheckoutSessionID = sess.ID
	if err := b.store.CreatePurchase(ctx, p); err != nil {
		return "", fmt.Errorf("billing: store purchase: %w", err)
	}
	return sess.URL, nil
}

// HandleWebhook verifies and applies one Stripe webhook delivery. It
// returns ErrBadSignature when the signature does not verify, ErrBadPayload
// for an undecodable object, nil for handled, repeated and ignored events,
// and other errors (store failures) when Stripe should retry.
func (b *Billing) HandleWebhook(ctx context.Context, payload []byte, sigHeader string) error {
	o := &webhookOutcome{result: WebhookIgnored}
	err := b.handleWebhook(ctx, o, payload, sigHeader)
	switch {
	case errors.Is(err, ErrBadSignature):
		o.result = WebhookInvalidSignature
	case err != nil:
		o.result = WebhookError
	}
	b.cfg.Observer.WebhookEvent(o.eventType, o.result)
	return err
}

// webhookOutcome is what one delivery did, for the metrics: an event that
// reaches no apply is ignored.
type webhookOutcome struct {
	eventType, result string
}

func (b *Billing) handleWebhook(ctx context.Context, o *webhookOutcome, payload []byte, sigHeader string) error {
	ev, err := webhook.ConstructEvent(payload, sigHeader, b.cfg.WebhookSecret)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	o.eventType = string(ev.Type)
	if ev.Data == nil || ev.ID == "" {
		return ErrBadPayload
	}
	sev := credits.StripeEvent{ID: ev.ID, Type: string(ev.Type)}
	switch sev.Type {
	case EventPaymentSucceeded:
		var pi stripe.PaymentIntent
		if err := json.Unmarshal(ev.Data.Raw, &pi); err != nil || pi.ID == "" {
			return fmt.Errorf("%w: %v", ErrBadPayload, err)
		}
		return b.apply(ctx, o, sev, credits.PurchaseRef{PaymentIntentID: pi.ID}, b.fulfil(pi.ID))
	case EventCheckoutCompleted, EventCheckoutAsyncSucceeded:
		var cs stripe.CheckoutSession
		if err := json.Unmarshal(ev.Data.Raw, &cs); err != nil || cs.ID == "" {
			return fmt.Errorf("%w: %v", ErrBadPayload, err)
		}
		if cs.PaymentStatus != stripe.CheckoutSessionPaymentStatusPaid &&
			cs.PaymentStatus != stripe.CheckoutSessionPaymentStatusNoPaymentRequired {
			return nil // delayed payment method: async_payment_succeeded follows
		}
		piID := ""
		if cs.PaymentIntent != nil {
			piID = cs.PaymentIntent.ID
		}
		return b.apply(ctx, o, sev, credits.PurchaseRef{CheckoutSessionID: cs.ID}, b.fulfil(piID))
	case EventPaymentFailed:
		var pi stripe.PaymentIntent
		if err := json.Unmarshal(ev.Data.Raw, &pi); err != nil || pi.ID == "" {
			return fmt.Errorf("%w: %v", ErrBadPayload, err)
		}
		return b.apply(ctx, o, sev, credits.PurchaseRef{PaymentIntentID: pi.ID}, func(p credits.Purchase) (*credits.PurchaseUpdate, error) {
			if p.Status != credits.PurchasePending {
				return nil, nil // a later success wins; never "un-succeed"
			}
			return &credits.PurchaseUpdate{Status: credits.PurchaseFailed}, nil
		})
	case EventChargeRefunded:
		var ch stripe.Charge
		if err := json.Unmarshal(ev.Data.Raw, &ch); err != nil || ch.ID == "" {
			return fmt.Errorf("%w: %v", ErrBadPayload, err)
		}
		if ch.PaymentIntent == nil || ch.PaymentIntent.ID == "" {
			return nil // not one of ours
		}
		legacy, err := b.legacyRefunded(ctx, ch.PaymentIntent.ID, ch.ID)
		if err != nil {
			return err
		}
		return b.apply(ctx, o, sev, credits.PurchaseRef{PaymentIntentID: ch.PaymentIntent.ID}, b.refund(ch, legacy))
	case EventDisputeCreated, EventDisputeClosed:
		var d stripe.Dispute
		if err := json.Unmarshal(ev.Data.Raw, &d); err != nil || d.ID == "" {
			return fmt.Errorf("%w: %v", ErrBadPayload, err)
		}
		if d.PaymentIntent == nil || d.PaymentIntent.ID == "" {
			return nil // not one of ours: every purchase is a PaymentIntent
		}
		decide := b.disputeOpened(d)
		if sev.Type == EventDisputeClosed {
			var chargeID string
			if d.Charge != nil {
				chargeID = d.Charge.ID
			}
			legacy, err := b.legacyRefunded(ctx, d.PaymentIntent.ID, chargeID)
			if err != nil {
				return err
			}
			decide = b.disputeClosed(d, legacy)
		}
		return b.apply(ctx, o, sev, credits.PurchaseRef{PaymentIntentID: d.PaymentIntent.ID}, decide)
	default:
		return nil // acknowledged and ignored
	}
}

// fulfil credits a pending (or failed, then retried) purchase.
func (b *Billing) fulfil(piID string) credits.PurchaseDecider {
	return func(p credits.Purchase) (*credits.PurchaseUpdate, error) {
		if p.Status == credits.PurchaseSucceeded || p.Status == credits.PurchaseRefunded {
			return nil, nil
		}
		if piID == "" {
			piID = p.StripePaymentIntentID
		}
		key := "stripe:" + piID
		if piID == "" { // no PaymentIntent (e.g. a free checkout)
			key = "stripe:" + p.StripeCheckoutSessionID
		}
		p.StripePaymentIntentID = piID
		// A partial refund or a lost dispute reported before the payment
		// itself recorded what it covers (p.Taken()); PurchaseDecider
		// credits only what they leave.
		return &credits.PurchaseUpdate{
			Status: credits.PurchaseSucceeded, CompletedAt: time.Now(), PaymentIntentID: piID,
			Key: key, Decide: b.ledger.PurchaseDecider(p, key),
		}, nil
	}
}

// credited reports whether the purchase's credits were booked, so there is
// something to take back. fulfil sets CompletedAt in the transaction that
// books them, and nothing else does; the status cannot tell, since a
// refund reported before the payment makes a purchase "refunded" that
// fulfil then never credits.
func credited(p credits.Purchase) bool { return !p.CompletedAt.IsZero() }

// legacyRefundKey is the key under which refunds were booked before they
// were cumulative: once per charge, for the share of the first refund
// reported, the purchase row left as it was.
func legacyRefundKey(chargeID string) string { return "stripe-refund:" + chargeID }

// legacyRefunded is the credits of the purchase paid by PaymentIntent piID
// that a refund of its charge booked under legacyRefundKey took back
// (booked or recorded as a shortfall), 0 when there is none. Such a
// booking is not counted in the purchase's RefundedCredits unless a later
// event recorded it there; refund and disputeClosed count it. The key is
// no longer written, so the booking cannot change between this read and
// the event's transaction.
func (b *Billing) legacyRefunded(ctx context.Context, piID, chargeID string) (int64, error) {
	if chargeID == "" {
		return 0, nil
	}
	p, err := b.store.PurchaseByPaymentIntent(ctx, piID)
	if errors.Is(err, credits.ErrNotFound) {
		return 0, nil // recorded as not found by apply
	}
	if err != nil {
		return 0, fmt.Errorf("billing: purchase of %s: %w", piID, err)
	}
	tx, err := b.ledger.TransactionByKey(ctx, p.UserID, legacyRefundKey(chargeID))
	if errors.Is(err, credits.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("billing: legacy refund of %s: %w", chargeID, err)
	}
	var meta struct {
		Requested *int64 `json:"requested"`
	}
	if err := json.Unmarshal(tx.Metadata, &meta); err != nil || meta.Requested == nil {
		return max(-tx.Amount, 0), nil // what it booked, at least
	}
	return max(*meta.Requested, -tx.Amount, 0), nil
}

// withLegacyRefund returns p with a legacy refund's credits (legacyRefunded)
// counted in RefundedCredits, within what a lost dispute left.
func withLegacyRefund(p credits.Purchase, legacy int64) credits.Purchase {
	p.RefundedCredits = max(p.RefundedCredits, min(legacy, p.Credits-p.DisputedCredits))
	return p
}

// refundedShare is the credits of p that a cumulative refund of
// amountRefunded cents stands for: proportional, rounded down, and all of
// them once the whole amount is refunded.
func refundedShare(p credits.Purchase, amountRefunded int64, full bool) int64 {
	if full || p.AmountCents <= 0 || amountRefunded >= p.AmountCents {
		return p.Credits
	}
	return p.Credits * max(amountRefunded, 0) / p.AmountCents
}

// refund takes the newly refunded share of a purchase back from the paid
// wallet (never below zero, a shortfall recorded). Stripe sends one
// charge.refunded per refund, each with the charge's cumulative
// amount_refunded, and may deliver them late, twice or in any order. The
// purchase row, locked for the decision, holds the credits already
// accounted to refunds (RefundedCredits), so each event books the
// difference between its cumulative share and that, and records the new
// total in the same transaction: a report older than one already applied
// books nothing, and nothing is ever given back. A lost dispute's credits
// count too, so the two never take more than the purchase gave. The
// ledger key names the charge and the cumulative amount: one booking per
// refund. A refund of a purchase not credited yet records what it covers
// and books nothing: the payment then credits only what was not refunded
// (fulfil). legacy is what a refund booked before refunds were cumulative
// took (legacyRefunded).
func (b *Billing) refund(ch stripe.Charge, legacy int64) credits.PurchaseDecider {
	return func(p credits.Purchase) (*credits.PurchaseUpdate, error) {
		p = withLegacyRefund(p, legacy)
		full := ch.Refunded || ch.AmountRefunded >= p.AmountCents
		up := &credits.PurchaseUpdate{RefundedCents: max(p.RefundedCents, ch.AmountRefunded), RefundedCredits: p.RefundedCredits}
		if full {
			up.Status = credits.PurchaseRefunded
		}
		target := min(refundedShare(p, ch.AmountRefunded, full), p.Credits-p.DisputedCredits)
		n := target - p.RefundedCredits
		if n <= 0 {
			return up, nil
		}
		up.RefundedCredits = target
		if !credited(p) {
			return up, nil
		}
		up.Key = "stripe-refund:" + ch.ID + ":" + strconv.FormatInt(ch.AmountRefunded, 10)
		up.Decide = b.ledger.RefundDecider(p, credits.TypeRefund, n, up.Key, "Refund "+ch.ID)
		return up, nil
	}
}

// disputeOpened records a new dispute of the purchase's charge. Nothing is
// taken while it is open: most disputes are won or withdrawn. A report
// arriving after the dispute's outcome changes nothing.
func (b *Billing) disputeOpened(d stripe.Dispute) credits.PurchaseDecider {
	return func(p credits.Purchase) (*credits.PurchaseUpdate, error) {
		if p.DisputeStatus.Final() {
			return nil, nil
		}
		return &credits.PurchaseUpdate{DisputeID: d.ID, DisputeStatus: credits.DisputeOpen}, nil
	}
}

// disputeClosed records the dispute's outcome. A lost dispute takes back
// the purchase's credits that refunds (legacy ones included, see
// legacyRefunded) have not already taken (never below zero, the shortfall
// recorded); once recorded as lost, replays and late events take nothing
// more. On a purchase not credited yet it records what it covers and books
// nothing, so the payment credits nothing.
func (b *Billing) disputeClosed(d stripe.Dispute, legacy int64) credits.PurchaseDecider {
	return func(p credits.Purchase) (*credits.PurchaseUpdate, error) {
		if p.DisputeStatus.Final() {
			return nil, nil
		}
		p = withLegacyRefund(p, legacy)
		up := &credits.PurchaseUpdate{DisputeID: d.ID, DisputeStatus: credits.DisputeClosed, RefundedCredits: p.RefundedCredits}
		switch d.Status {
		case stripe.DisputeStatusWon:
			up.DisputeStatus = credits.DisputeWon
		case stripe.DisputeStatusLost:
			up.DisputeStatus = credits.DisputeLost
		}
		if up.DisputeStatus != credits.DisputeLost {
			return up, nil
		}
		n := p.Credits - p.Taken()
		if n <= 0 {
			return up, nil
		}
		up.DisputedCredits = p.DisputedCredits + n
		if !credited(p) {
			return up, nil
		}
		up.Key = "stripe-dispute:" + d.ID
		up.Decide = b.ledger.RefundDecider(p, credits.TypeDispute, n, up.Key, "Dispute lost "+d.ID)
		return up, nil
	}
}

// apply runs ApplyStripeEvent, retrying transient write conflicts.
func (b *Billing) apply(ctx context.Context, o *webhookOutcome, ev credits.StripeEvent, ref credits.PurchaseRef, decide credits.PurchaseDecider) error {
	var err error
	var r credits.EventResult
	for attempt := range 10 {
		r, err = b.store.ApplyStripeEvent(ctx, ev, ref, decide)
		if !errors.Is(err, credits.ErrConflict) {
			break
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("billing: apply %s %s: %w", ev.Type, ev.ID, err)
	}
	o.result = WebhookProcessed
	if r.Duplicate {
		o.result = WebhookDuplicate
	}
	if !r.Duplicate && !r.Replay && r.Tx.Type == credits.TypePurchase {
		b.cfg.Observer.CreditsPurchased(r.Tx.Amount)
	}
	return nil
}
