package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
)

// Store implements provider.Store on SQLite.
type Store struct {
	db *database.SQLiteDB
}

var _ provider.Store = (*Store)(nil)

// New returns a store on the process's SQLite handle (migrated by its
// opener, who also closes it).
func New(db *database.SQLiteDB) *Store { return &Store{db: db} }

// Ping checks that the database can be read.
func (s *Store) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// writer is for statements that write; reader for those that only read.
// Inside a transaction both are the transaction, which sees its own writes.
func (s *Store) writer(ctx context.Context) database.SQLQuerier { return s.db.Writer(ctx) }

func (s *Store) reader(ctx context.Context) database.SQLQuerier { return s.db.Reader(ctx) }

// inTx runs fn in the caller's transaction if ctx has one, else in its own,
// for the methods that need several statements to be atomic.
func (s *Store) inTx(ctx context.Context, fn func(q database.SQLQuerier) error) error {
	return mapErr(s.db.InTx(ctx, fn))
}

// BeginTx starts (or joins) an immediate transaction on the write
// connection, carried in the returned context.
func (s *Store) BeginTx(ctx context.Context) (context.Context, error) {
	ctx, err := s.db.BeginTx(ctx)
	return ctx, mapErr(err)
}

// Commit commits the transaction BeginTx put into ctx.
func (s *Store) Commit(ctx context.Context) error { return mapErr(s.db.Commit(ctx)) }

// Rollback aborts the transaction in ctx; after Commit it does nothing.
func (s *Store) Rollback(ctx context.Context) error { return s.db.Rollback(ctx) }

// mapErr turns driver errors into the provider sentinels, keeping the
// original error in the chain for logs and errors.As.
func mapErr(err error) error {
	return database.Sentinels{NotFound: provider.ErrNotFound, AlreadyExists: provider.ErrAlreadyExists, Conflict: provider.ErrConflict}.Map(err)
}

// jsonList encodes a list for a NOT NULL TEXT column ("[]", never "null").
func jsonList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // []string always marshals
	return string(b)
}

// listScanner decodes a JSON list column straight into the model field;
// empty lists come back nil, as on PostgreSQL.
type listScanner struct{ dst *[]string }

func (l listScanner) Scan(src any) error {
	var raw []byte
	switch v := src.(type) {
	case string:
		raw = []byte(v)
	case []byte:
		raw = v
	case nil:
		*l.dst = nil
		return nil
	default:
		return fmt.Errorf("list column: unexpected %T", src)
	}
	var out []string
	if err := json.Unmarshal(raw, &out); err != nil {
		return fmt.Errorf("list column: %w", err)
	}
	if len(out) == 0 {
		out = nil
	}
	*l.dst = out
	return nil
}

// blob keeps NOT NULL BLOB columns NOT NULL for nil slices.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
