package credits

// issue 14 (credits import): the bulk writes of `manaauth import
// better-auth`, which copies the old service's credits into the ledger.

import (
	"context"
	"time"
)

// Types that only imported history has. The old service recorded its
// signup bonus, daily credits and organisation allocations as "bonus" and
// had an "expiry" type; the import keeps those names rather than mapping
// them onto signup_bonus and daily_free, whose unique indexes (one per user,
// one per user and day) the old history does not respect and which the
// Service must stay free to book. The apps saw these names from the old
// API, so they already know them.
const (
	TypeBonus  Type = "bonus"
	TypeExpiry Type = "expiry"
	// TypeOpening carries a user's balance from the old service into the
	// ledger: one per imported user, from AccountImport into the wallets.
	TypeOpening Type = "opening"
)

// AccountImport is the system account the opening transactions draw on.
const AccountImport = "system:import"

// Importer is the bulk-write storage of the import; both credits stores
// implement it. It writes rows as they are given, with no Book and no
// balance lock: it is meant for a target no one else writes to yet.
type Importer interface {
	// Import runs fn in one database transaction and commits it when fn
	// returns nil and commit is true; otherwise it rolls back, so a dry run
	// (commit false) writes nothing yet sees its own writes.
	Import(ctx context.Context, commit bool, fn func(ImportTx) error) error
}

// ImportTx is the transaction Import hands to its function. Each Add
// method inserts the rows whose key is not taken yet and leaves the others
// as they are (the import is idempotent); it returns, for each row given,
// whether it was inserted. The rows may be any number: the store batches
// them into multi-row statements.
type ImportTx interface {
	// PackageIDs returns the ids of every stored package.
	PackageIDs(ctx context.Context) (map[string]bool, error)
	// AddPackages inserts packages by id.
	AddPackages(ctx context.Context, ps []Package) ([]bool, error)
	// AddBalances inserts balance rows by user id, created at at. The
	// Version given is stored as is.
	AddBalances(ctx context.Context, bs []Balance, at time.Time) ([]bool, error)
	// AddTransactions inserts transactions by id (a taken idempotency key
	// of the user also counts as taken) with their postings; the postings
	// of a transaction not inserted are not written.
	AddTransactions(ctx context.Context, txs []Transaction) ([]bool, error)
	// AddPurchases inserts purchases by id (a taken Stripe id also counts
	// as taken).
	AddPurchases(ctx context.Context, ps []Purchase) ([]bool, error)
	// AddUsage inserts usage statistics by (user, app, day).
	AddUsage(ctx context.Context, us []UsageStat) ([]bool, error)
}
