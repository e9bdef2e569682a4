package credits

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/manacore/mana-core-auth/internal/text"
)

// Config configures a Service. Zero values take the defaults noted.
type Config struct {
	SignupBonus int64          // credits granted once per user; default 150 (negative: none)
	DailyFree   int64          // free credits per calendar day; default 5 (negative: none)
	Timezone    *time.Location // of the calendar day; default Europe/Berlin
	FreeCap     int64          // cap on the free wallet for daily grants; 0 = none
	Now         func() time.Time
	// Spent is told the credits of every spend booked (not replays), for
	// the metrics (issue 13); nil tells nobody.
	Spent func(amount int64)
}

// Defaults.
const (
	DefaultSignupBonus = 150
	DefaultDailyFree   = 5
	DefaultLimit       = 50
	MaxLimit           = 100
	maxAttempts        = 10
)

// Service implements the credits rules on a Store.
type Service struct {
	store Store
	cfg   Config
}

// NewService returns a Service on store.
func NewService(store Store, cfg Config) (*Service, error) {
	if cfg.SignupBonus == 0 {
		cfg.SignupBonus = DefaultSignupBonus
	}
	if cfg.DailyFree == 0 {
		cfg.DailyFree = DefaultDailyFree
	}
	cfg.SignupBonus = max(cfg.SignupBonus, 0)
	cfg.DailyFree = max(cfg.DailyFree, 0)
	if cfg.FreeCap < 0 {
		return nil, fmt.Errorf("credits: negative free cap %d", cfg.FreeCap)
	}
	if cfg.Timezone == nil {
		loc, err := time.LoadLocation("Europe/Berlin")
		if err != nil {
			return nil, fmt.Errorf("credits: load default time zone: %w", err)
		}
		cfg.Timezone = loc
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{store: store, cfg: cfg}, nil
}

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

func (s *Service) day(t time.Time) string { return t.In(s.cfg.Timezone).Format(time.DateOnly) }

// retry runs fn until it returns something other than ErrConflict, at most
// maxAttempts times, with a short jittered backoff.
func retry[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	var (
		v   T
		err error
	)
	for attempt := range maxAttempts {
		v, err = fn()
		if !errors.Is(err, ErrConflict) {
			return v, err
		}
		d := time.Duration(1+rand.IntN(5*(attempt+1))) * time.Millisecond
		select {
		case <-ctx.Done():
			return v, errors.Join(err, ctx.Err())
		case <-time.After(d):
		}
	}
	return v, err
}

type booked struct {
	tx     Transaction
	after  Balance
	replay bool
}

func (s *Service) book(ctx context.Context, userID, key string, decide Decider) (booked, error) {
	return retry(ctx, func() (booked, error) {
		tx, after, replay, err := s.store.Book(ctx, userID, key, decide)
		return booked{tx, after, replay}, err
	})
}

// Balance returns the user's balance, first granting the signup bonus
// (once per user) and the daily free credits (once per calendar day) if
// they are due. Both grants are lazy and race-free.
func (s *Service) Balance(ctx context.Context, userID string) (Balance, error) {
	if userID == "" {
		return Balance{}, errors.New("credits: empty user id")
	}
	now := s.now()
	today := s.day(now)
	b, err := s.store.Balance(ctx, userID)
	switch {
	case err == nil && b.SignupGranted && b.LastDailyGrant == today:
		return b, nil // the fast path: nothing due, no lock taken
	case err != nil && !errors.Is(err, ErrNotFound):
		return Balance{}, err
	}
	if err != nil || !b.SignupGranted {
		r, err := s.book(ctx, userID, "", func(cur Balance) (*Booking, error) {
			if cur.SignupGranted {
				return nil, nil
			}
			nb := cur
			nb.SignupGranted = true
			tx := s.newTx(userID, TypeSignupBonus, now)
			tx.Description = "Signup bonus"
			if n := s.cfg.SignupBonus; n > 0 {
				nb.Free += n
				nb.TotalEarned += n
				tx.Amount = n
				tx.Postings = []Posting{{AccountSignup, -n}, {FreeAccount(userID), n}}
			}
			return &Booking{Tx: tx, Balance: nb}, nil
		})
		if err != nil {
			return Balance{}, err
		}
		b = r.after
	}
	if b.LastDailyGrant == today {
		return b, nil
	}
	r, err := s.book(ctx, userID, "", func(cur Balance) (*Booking, error) {
		if cur.LastDailyGrant == today {
			return nil, nil
		}
		nb := cur
		nb.LastDailyGrant = today
		n := s.cfg.DailyFree
		if s.cfg.FreeCap > 0 {
			n = min(n, s.cfg.FreeCap-cur.Free)
		}
		tx := s.newTx(userID, TypeDailyFree, now)
		tx.Description = "Daily free credits"
		tx.GrantDay = today
		if n > 0 {
			nb.Free += n
			nb.TotalEarned += n
			tx.Amount = n
			tx.Postings = []Posting{{AccountDaily, -n}, {FreeAccount(userID), n}}
		}
		return &Booking{Tx: tx, Balance: nb}, nil
	})
	if err != nil {
		return Balance{}, err
	}
	return r.after, nil
}

// SpendInput is a request to spend credits.
type SpendInput struct {
	UserID         string
	Amount         int64
	AppID          string
	Description    string
	IdempotencyKey string
	Metadata       json.RawMessage
}

// checkText refuses the values that are not clean text (internal/text):
// PostgreSQL cannot store NUL or invalid UTF-8, and SQLite would store them
// as they are. Every string a request brings into the ledger or billing
// passes here, whichever path it comes by. fields alternates names and
// values; a clean request, the common case on the spend path, allocates
// nothing.
func checkText(fields ...string) error {
	var bad map[string]string
	for i := 0; i+1 < len(fields); i += 2 {
		if !text.Clean(fields[i+1]) {
			if bad == nil {
				bad = map[string]string{}
			}
			bad[fields[i]] = "invalid"
		}
	}
	if bad != nil {
		return &InvalidFieldsError{Fields: bad}
	}
	return nil
}

// CheckPackageID refuses a package id that is not clean text: it cannot
// name a stored package.
func CheckPackageID(id string) error { return checkText("packageId", id) }

// systemKey reports whether key is in the space of the idempotency keys the
// billing webhook books under ("stripe:<payment intent>", "stripe-refund:…",
// "stripe-dispute:…"). A client key there could pre-empt a booking: a spend
// under a refund's key would make the refund look already booked.
func systemKey(key string) bool {
	return strings.HasPrefix(key, "stripe:") || strings.HasPrefix(key, "stripe-")
}

// sameSpend reports whether tx, the transaction an idempotency key already
// names, is the booking of in. Transactions are never changed once
// written, and the store read tx under the balance lock, so comparing
// after the read is as atomic as comparing inside it: no concurrent
// request can change what the key names.
func sameSpend(tx Transaction, in SpendInput) bool {
	return tx.Type == TypeUsage && tx.Amount == -in.Amount && tx.AppID == in.AppID &&
		tx.Description == in.Description && sameJSON(tx.Metadata, in.Metadata)
}

// sameJSON reports whether a and b (each empty or one JSON value) are the
// same value. A client that re-encodes its request may order keys or space
// them differently; that is still the same request, so the comparison is
// of the values, not of their bytes. Numbers are compared as written:
// parsing them exactly would let a huge exponent cost unbounded work.
func sameJSON(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	ca, okA := canonicalJSON(a)
	cb, okB := canonicalJSON(b)
	if !okA || !okB {
		return string(a) == string(b)
	}
	return ca == cb
}

// canonicalJSON re-encodes the JSON value raw with object keys sorted and
// no insignificant whitespace, strings and numbers as encoding/json writes
// them; ok is false when raw is not exactly one JSON value.
func canonicalJSON(raw []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "", false
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", false
	}
	return buf.String(), true
}

// Spend takes in.Amount credits from the user, free credits first, and
// records the usage statistics. It never overdraws: ErrInsufficientCredits
// when the user has fewer credits available. With an idempotency key that
// the same user already used, it returns the original transaction, the
// current balance and replay=true when the request is the same (amount,
// app, description and metadata, the latter as a JSON value whatever its
// spacing and key order), and ErrIdempotencyKeyReused when it is
// not; keys of other users are independent. Text that cannot be stored is
// an *InvalidFieldsError.
func (s *Service) Spend(ctx context.Context, in SpendInput) (Transaction, Balance, bool, error) {
	if in.Amount <= 0 {
		return Transaction{}, Balance{}, false, ErrInvalidAmount
	}
	if err := checkText("appId", in.AppID, "description", in.Description,
		"idempotencyKey", in.IdempotencyKey, "metadata", string(in.Metadata)); err != nil {
		return Transaction{}, Balance{}, false, err
	}
	if systemKey(in.IdempotencyKey) {
		return Transaction{}, Balance{}, false, &InvalidFieldsError{Fields: map[string]string{"idempotencyKey": "invalid"}}
	}
	if len(in.Metadata) > 0 && !json.Valid(in.Metadata) {
		return Transaction{}, Balance{}, false, errors.New("credits: metadata is not valid JSON")
	}
	if len(in.Metadata) == 0 {
		in.Metadata = nil
	}
	in.AppID = strings.TrimSpace(in.AppID)
	if _, err := s.Balance(ctx, in.UserID); err != nil { // grants due first
		return Transaction{}, Balance{}, false, err
	}
	now := s.now()
	r, err := s.book(ctx, in.UserID, in.IdempotencyKey, func(cur Balance) (*Booking, error) {
		if cur.Available() < in.Amount {
			return nil, ErrInsufficientCredits
		}
		fromFree := min(cur.Free, in.Amount)
		fromPaid := in.Amount - fromFree
		nb := cur
		nb.Free -= fromFree
		nb.Paid -= fromPaid
		nb.TotalSpent += in.Amount
		tx := s.newTx(in.UserID, TypeUsage, now)
		tx.Amount = -in.Amount
		tx.AppID = in.AppID
		tx.Description = in.Description
		tx.IdempotencyKey = in.IdempotencyKey
		tx.Metadata = in.Metadata
		if fromFree > 0 {
			tx.Postings = append(tx.Postings, Posting{FreeAccount(in.UserID), -fromFree})
		}
		if fromPaid > 0 {
			tx.Postings = append(tx.Postings, Posting{PaidAccount(in.UserID), -fromPaid})
		}
		tx.Postings = append(tx.Postings, Posting{UsageAccount(in.AppID), in.Amount})
		return &Booking{Tx: tx, Balance: nb, UsageDay: s.day(now)}, nil
	})
	if err != nil {
		return Transaction{}, Balance{}, false, err
	}
	if r.replay && !sameSpend(r.tx, in) {
		return Transaction{}, Balance{}, false, ErrIdempotencyKeyReused
	}
	if !r.replay && s.cfg.Spent != nil {
		s.cfg.Spent(in.Amount)
	}
	return r.tx, r.after, r.replay, nil
}

// Grant books an admin adjustment of amount credits (negative to take
// credits away) on the user's paid wallet. A negative adjustment never
// takes the paid wallet below zero.
func (s *Service) Grant(ctx context.Context, userID string, amount int64, reason string) (Transaction, Balance, error) {
	if amount == 0 {
		return Transaction{}, Balance{}, ErrInvalidAmount
	}
	if err := checkText("reason", reason); err != nil {
		return Transaction{}, Balance{}, err
	}
	if _, err := s.Balance(ctx, userID); err != nil {
		return Transaction{}, Balance{}, err
	}
	now := s.now()
	r, err := s.book(ctx, userID, "", func(cur Balance) (*Booking, error) {
		if cur.Paid+amount < 0 {
			return nil, ErrInsufficientCredits
		}
		nb := cur
		nb.Paid += amount
		if amount > 0 {
			nb.TotalEarned += amount
		}
		tx := s.newTx(userID, TypeAdjustment, now)
		tx.Amount = amount
		tx.Description = reason
		tx.Postings = []Posting{{AccountAdmin, -amount}, {PaidAccount(userID), amount}}
		return &Booking{Tx: tx, Balance: nb}, nil
	})
	if err != nil {
		return Transaction{}, Balance{}, err
	}
	return r.tx, r.after, nil
}

// Transactions lists the user's transactions, newest first. limit <= 0
// means DefaultLimit; it is capped at MaxLimit.
func (s *Service) Transactions(ctx context.Context, userID string, limit, offset int) ([]Transaction, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	offset = max(offset, 0)
	return s.store.Transactions(ctx, userID, limit, offset)
}

// TransactionByKey returns the user's transaction booked under the
// idempotency key, or ErrNotFound.
func (s *Service) TransactionByKey(ctx context.Context, userID, key string) (Transaction, error) {
	if key == "" {
		return Transaction{}, ErrNotFound
	}
	return s.store.TransactionByKey(ctx, userID, key)
}

// Usage lists the user's usage statistics.
func (s *Service) Usage(ctx context.Context, userID string) ([]UsageStat, error) {
	return s.store.Usage(ctx, userID)
}

// Verify recomputes every balance from the ledger and returns the
// differences; none means the ledger and the cached balances agree.
func (s *Service) Verify(ctx context.Context) ([]Mismatch, error) {
	return s.store.Verify(ctx)
}

func (s *Service) newTx(userID string, typ Type, now time.Time) Transaction {
	return Transaction{ID: NewID(), UserID: userID, Type: typ, CreatedAt: now}
}

// NewID returns a random UUID (version 4) string.
func NewID() string {
	var b [16]byte
	_, _ = cryptoRead(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

var cryptoRead = crand.Read

// PurchaseDecider returns the ledger decision for a paid purchase: the
// package's credits move from the stripe account into the user's paid
// wallet, less p.RefundedCredits (a refund reported before the payment
// itself was). The caller books it under key (one booking per payment).
func (s *Service) PurchaseDecider(p Purchase, key string) Decider {
	now := s.now()
	n := max(p.Credits-p.Taken(), 0)
	return func(cur Balance) (*Booking, error) {
		nb := cur
		nb.Paid += n
		nb.TotalEarned += n
		tx := s.newTx(p.UserID, TypePurchase, now)
		tx.Amount = n
		tx.Description = "Credit purchase"
		tx.IdempotencyKey = key
		meta := map[string]any{"purchaseId": p.ID, "packageId": p.PackageID, "paymentIntent": p.StripePaymentIntentID}
		if p.Taken() > 0 {
			meta["refundedBefore"] = p.Taken()
		}
		raw, err := json.Marshal(meta)
		if err != nil {
			return nil, err
		}
		tx.Metadata = raw
		if n > 0 {
			tx.Postings = []Posting{{AccountStripe, -n}, {PaidAccount(p.UserID), n}}
		}
		return &Booking{Tx: tx, Balance: nb}, nil
	}
}

// RefundDecider returns the ledger decision for taking n credits of a
// purchase back, as a transaction of type typ (TypeRefund or TypeDispute):
// they leave the paid wallet for the stripe account, but never below zero;
// if the user already spent them, what is there is taken and the
// shortfall recorded in the metadata (requested, booked, shortfall). Like
// a negative adjustment it leaves TotalEarned as it is.
func (s *Service) RefundDecider(p Purchase, typ Type, n int64, key, description string) Decider {
	now := s.now()
	return func(cur Balance) (*Booking, error) {
		booked := max(min(n, cur.Paid), 0)
		nb := cur
		nb.Paid -= booked
		tx := s.newTx(p.UserID, typ, now)
		tx.Amount = -booked
		tx.Description = description
		tx.IdempotencyKey = key
		meta, err := json.Marshal(map[string]any{"purchaseId": p.ID, "requested": n, "booked": booked, "shortfall": n - booked})
		if err != nil {
			return nil, err
		}
		tx.Metadata = meta
		if booked > 0 {
			tx.Postings = []Posting{{PaidAccount(p.UserID), -booked}, {AccountStripe, booked}}
		}
		return &Booking{Tx: tx, Balance: nb}, nil
	}
}
