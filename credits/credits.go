package credits

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"
)

// Errors returned by the Service and the stores.
var (
	ErrInsufficientCredits = errors.New("insufficient credits")
	ErrInvalidAmount       = errors.New("invalid amount")
	ErrNotFound            = errors.New("not found")
	ErrAlreadyExists       = errors.New("already exists")
	// ErrConflict is a transient write conflict (lock timeout, deadlock,
	// serialization failure, SQLITE_BUSY, a lost version check); the Service
	// retries it, so callers see it only when retries ran out.
	ErrConflict = errors.New("write conflict")
	// ErrIdempotencyKeyReused: the idempotency key was used before for a
	// request with other parameters. Replaying the old transaction would
	// report a spend that did not happen as asked (a client bug then
	// silently charges less), so the request is refused, as Stripe does.
	ErrIdempotencyKeyReused = errors.New("idempotency key reused with a different request")
	// ErrInvalidInput is what an *InvalidFieldsError matches with errors.Is.
	ErrInvalidInput = errors.New("invalid input")
)

// InvalidFieldsError names the fields of a request the Service refuses,
// by the credits API's field name ("appId", "description", ...), each
// with the reason code the API answers ("invalid").
type InvalidFieldsError struct {
	Fields map[string]string
}

func (e *InvalidFieldsError) Error() string {
	return "credits: invalid " + strings.Join(slices.Sorted(maps.Keys(e.Fields)), ", ")
}

// Unwrap makes errors.Is(err, ErrInvalidInput) hold.
func (e *InvalidFieldsError) Unwrap() error { return ErrInvalidInput }

// Type is the kind of a Transaction.
type Type string

// Transaction types.
const (
	TypeSignupBonus Type = "signup_bonus"
	TypeDailyFree   Type = "daily_free"
	TypeUsage       Type = "usage"
	TypePurchase    Type = "purchase"
	TypeRefund      Type = "refund"
	TypeDispute     Type = "dispute" // a dispute (chargeback) lost
	TypeAdjustment  Type = "adjustment"
)

// Booked reports whether the ledger itself books transactions of type t
// (the signup bonus, daily credits, purchases, refunds, lost disputes and
// admin grants), as opposed to usage, which apps book with descriptions
// of their own. The description of a booked transaction is ours and in
// English; pages render it from the type in their own language instead.
func (t Type) Booked() bool {
	switch t {
	case TypeSignupBonus, TypeDailyFree, TypePurchase, TypeRefund, TypeDispute, TypeAdjustment,
		TypeOpening: // issue 14 (credits import)
		return true
	}
	return false
}

// System accounts.
const (
	AccountSignup = "system:signup"
	AccountDaily  = "system:daily"
	AccountStripe = "stripe"
	AccountAdmin  = "admin"
)

// FreeAccount is the ledger account of the user's free wallet.
func FreeAccount(userID string) string { return "user:" + userID + ":free" }

// PaidAccount is the ledger account of the user's paid wallet.
func PaidAccount(userID string) string { return "user:" + userID + ":paid" }

// UsageAccount is the ledger account that receives an app's usage.
func UsageAccount(appID string) string { return "usage:" + appID }

// Posting is one leg of a Transaction.
type Posting struct {
	Account string
	Amount  int64
}

// Transaction is one movement in the ledger. Amount is its signed net
// effect on the user's wallets (negative for usage). GrantDay is the
// calendar day of a daily_free grant (empty otherwise); at most one
// daily_free transaction exists per user and GrantDay.
//
// issue 14 (credits import): history imported from the old service is the
// exception to "Amount is the net effect": it has no postings and keeps
// the amount the old service recorded, and the user's one opening
// transaction (TypeOpening) carries the balance (see internal/betterauth).
type Transaction struct {
	ID             string
	UserID         string
	Type           Type
	Amount         int64
	AppID          string
	Description    string
	IdempotencyKey string
	GrantDay       string
	Metadata       json.RawMessage // nil when absent
	CreatedAt      time.Time       // UTC, millisecond precision
	Postings       []Posting       // sum to zero
}

// Balance is the cached state of a user's wallets.
type Balance struct {
	UserID         string
	Paid           int64
	Free           int64
	TotalEarned    int64
	TotalSpent     int64
	LastDailyGrant string // calendar day (YYYY-MM-DD) in the configured time zone, "" if never
	SignupGranted  bool
	Version        int64
}

// Available is what the user can spend.
func (b Balance) Available() int64 { return b.Paid + b.Free }

// Booking is what a Decider asks the store to write: the transaction
// (with postings) and the user's balance after it. UsageDay, when set,
// adds -Tx.Amount to the usage statistics of (user, Tx.AppID, UsageDay).
type Booking struct {
	Tx       Transaction
	Balance  Balance
	UsageDay string
}

// Decider sees the user's current balance, locked against concurrent
// writers, and returns what to book, nil to book nothing, or an error to
// abort.
type Decider func(current Balance) (*Booking, error)

// UsageStat is the usage of one app by one user on one day.
type UsageStat struct {
	UserID      string
	AppID       string
	Day         string
	CreditsUsed int64
	Uses        int64
}

// Mismatch is a difference Verify found: a cached wallet (Field "paid" or
// "free") differing from the sum of its postings, or a transaction whose
// postings do not sum to zero (Field "postings", TransactionID set).
type Mismatch struct {
	UserID        string
	TransactionID string
	Field         string
	Cached        int64
	Ledger        int64
}

// Store is the storage the Service needs.
type Store interface {
	// Balance returns the cached balance, or ErrNotFound.
	Balance(ctx context.Context, userID string) (Balance, error)

	// Book runs one atomic read-decide-write on the user's balance. In one
	// database transaction it creates the balance row if missing (all
	// zero), locks it against concurrent Book calls for the same user, and,
	// if idempotencyKey is not empty and the user already has a transaction
	// with that key, returns that transaction, the current balance and
	// replay=true without calling decide. Otherwise it calls decide; a nil
	// Booking writes nothing and returns the current balance; a Booking is
	// written (balance with version+1, transaction, postings, usage
	// statistics) and returned. Errors from decide are returned unchanged.
	Book(ctx context.Context, userID, idempotencyKey string, decide Decider) (tx Transaction, after Balance, replay bool, err error)

	// Transactions lists the user's transactions with their postings,
	// newest first.
	Transactions(ctx context.Context, userID string, limit, offset int) ([]Transaction, error)

	// TransactionByKey returns the user's transaction (with postings)
	// booked under the idempotency key, or ErrNotFound.
	TransactionByKey(ctx context.Context, userID, key string) (Transaction, error)

	// Usage lists the user's usage statistics by day and app.
	Usage(ctx context.Context, userID string) ([]UsageStat, error)

	// Verify recomputes every cached balance from the postings and checks
	// that each transaction's postings sum to zero.
	Verify(ctx context.Context) ([]Mismatch, error)
}

// Package is a credit package users can buy.
type Package struct {
	ID         string
	Name       string
	Credits    int64
	PriceCents int64
	Currency   string // ISO code, lower case ("eur")
	Active     bool
	SortOrder  int
	CreatedAt  time.Time // UTC, millisecond precision
}

// PurchaseStatus is the Stripe state of a Purchase.
type PurchaseStatus string

// Purchase statuses.
const (
	PurchasePending   PurchaseStatus = "pending"
	PurchaseSucceeded PurchaseStatus = "succeeded"
	PurchaseFailed    PurchaseStatus = "failed"
	PurchaseRefunded  PurchaseStatus = "refunded"
)

// DisputeStatus is the state of a Stripe dispute (chargeback) of a
// purchase's charge; "" when there is none.
type DisputeStatus string

// Dispute statuses. Won, lost and closed (any other outcome, such as
// warning_closed) are final.
const (
	DisputeNone   DisputeStatus = ""
	DisputeOpen   DisputeStatus = "open"
	DisputeWon    DisputeStatus = "won"
	DisputeLost   DisputeStatus = "lost"
	DisputeClosed DisputeStatus = "closed"
)

// Final reports whether the dispute is over.
func (s DisputeStatus) Final() bool {
	return s == DisputeWon || s == DisputeLost || s == DisputeClosed
}

// Purchase is one Stripe payment for a Package. The credits are booked in
// the ledger (type purchase, key "stripe:<PaymentIntentID>") when Stripe
// reports the payment succeeded.
//
// Refunds and a lost dispute take credits back. RefundedCredits and
// DisputedCredits are the credits accounted to them so far (booked, or
// recorded as a shortfall when the user had already spent them); their
// sum never exceeds Credits. A partly refunded purchase stays succeeded;
// it is refunded once Stripe reports the whole amount refunded.
type Purchase struct {
	ID                      string
	UserID                  string
	PackageID               string
	Credits                 int64
	AmountCents             int64
	Currency                string
	Status                  PurchaseStatus
	StripePaymentIntentID   string    // "" until known
	StripeCheckoutSessionID string    // "" unless bought through Checkout
	CreatedAt               time.Time // UTC, millisecond precision
	CompletedAt             time.Time // zero while pending
	RefundedCents           int64     // the charge's cumulative amount_refunded seen so far
	RefundedCredits         int64
	DisputeID               string // "" unless the charge was disputed
	DisputeStatus           DisputeStatus
	DisputedCredits         int64
}

// Taken is the credits already taken back (or accounted as a shortfall)
// by refunds and a lost dispute.
func (p Purchase) Taken() int64 { return p.RefundedCredits + p.DisputedCredits }

// StripeEvent identifies a Stripe webhook event.
type StripeEvent struct {
	ID   string
	Type string
}

// PurchaseRef finds a purchase by its PaymentIntent or, when that is
// empty, by its Checkout Session.
type PurchaseRef struct {
	PaymentIntentID   string
	CheckoutSessionID string
}

// PurchaseUpdate is what a PurchaseDecider asks the store to write in the
// event's database transaction: the purchase's new status (empty: keep),
// CompletedAt (zero: keep), PaymentIntentID (set when the purchase has
// none yet), the refund and dispute fields (zero: keep) and, when Decide
// is set, a Book on the purchase's user with idempotency key Key.
type PurchaseUpdate struct {
	Status          PurchaseStatus
	CompletedAt     time.Time
	PaymentIntentID string
	RefundedCents   int64
	RefundedCredits int64
	DisputeID       string
	DisputeStatus   DisputeStatus
	DisputedCredits int64
	Key             string
	Decide          Decider
}

// Apply returns p with the update's fields written.
func (up *PurchaseUpdate) Apply(p Purchase) Purchase {
	if up.PaymentIntentID != "" && p.StripePaymentIntentID == "" {
		p.StripePaymentIntentID = up.PaymentIntentID
	}
	if up.Status != "" {
		p.Status = up.Status
	}
	if !up.CompletedAt.IsZero() {
		p.CompletedAt = up.CompletedAt.UTC().Truncate(time.Millisecond)
	}
	if up.RefundedCents != 0 {
		p.RefundedCents = up.RefundedCents
	}
	if up.RefundedCredits != 0 {
		p.RefundedCredits = up.RefundedCredits
	}
	if up.DisputeID != "" {
		p.DisputeID = up.DisputeID
	}
	if up.DisputeStatus != "" {
		p.DisputeStatus = up.DisputeStatus
	}
	if up.DisputedCredits != 0 {
		p.DisputedCredits = up.DisputedCredits
	}
	return p
}

// PurchaseDecider sees the purchase, locked, and returns what to write
// (nil: nothing beyond recording the event).
type PurchaseDecider func(p Purchase) (*PurchaseUpdate, error)

// EventResult is the outcome of BillingStore.ApplyStripeEvent.
type EventResult struct {
	Duplicate bool        // the event was recorded before; nothing was done
	NotFound  bool        // no purchase matched; the event was recorded
	Purchase  Purchase    // after the update
	Tx        Transaction // the booked (or replayed) transaction, if any
	Replay    bool        // the ledger already had the key
	Balance   Balance     // after the booking, if any
}

// BillingStore is the storage of packages, purchases and processed Stripe
// events. Both credits stores implement it.
type BillingStore interface {
	// Packages lists the packages by sort order (then id); activeOnly
	// leaves out disabled ones.
	Packages(ctx context.Context, activeOnly bool) ([]Package, error)
	// Package returns one package, or ErrNotFound.
	Package(ctx context.Context, id string) (Package, error)
	// CreatePackage stores p (ErrAlreadyExists for a taken id).
	CreatePackage(ctx context.Context, p Package) error
	// DisablePackage marks a package inactive, or returns ErrNotFound.
	DisablePackage(ctx context.Context, id string) error

	// CreatePurchase stores p (ErrAlreadyExists for a taken id or Stripe id).
	CreatePurchase(ctx context.Context, p Purchase) error
	// Purchase, PurchaseByPaymentIntent and PurchaseByCheckoutSession
	// return one purchase, or ErrNotFound.
	Purchase(ctx context.Context, id string) (Purchase, error)
	PurchaseByPaymentIntent(ctx context.Context, paymentIntentID string) (Purchase, error)
	PurchaseByCheckoutSession(ctx context.Context, sessionID string) (Purchase, error)
	// Purchases lists the user's purchases, newest first.
	Purchases(ctx context.Context, userID string, limit, offset int) ([]Purchase, error)

	// ApplyStripeEvent is the fulfilment primitive. In ONE database
	// transaction it records ev.ID (if already recorded: Duplicate, nothing
	// else happens), finds and locks the purchase by ref (none: NotFound,
	// the event stays recorded), calls decide and writes its update: the
	// purchase fields and, with Decide set, a Book on the purchase's user
	// (same semantics as Store.Book, idempotency key scoped to the user).
	// On any error nothing is written, not even the event.
	ApplyStripeEvent(ctx context.Context, ev StripeEvent, ref PurchaseRef, decide PurchaseDecider) (EventResult, error)
}
