package postgres

import (
	"context"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
)

// Store implements provider.Store on PostgreSQL.
type Store struct {
	pg *database.PostgresDB
}

var _ provider.Store = (*Store)(nil)

// New returns a store on the process's PostgreSQL handle (migrated by its
// opener, who also closes it).
func New(pg *database.PostgresDB) *Store { return &Store{pg: pg} }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pg.Ping(ctx) }

// db is the caller's transaction, if ctx carries one, else the pool.
func (s *Store) db(ctx context.Context) database.PGQuerier { return s.pg.Querier(ctx) }

// BeginTx starts (or joins) a READ COMMITTED transaction carried in the
// returned context.
func (s *Store) BeginTx(ctx context.Context) (context.Context, error) {
	ctx, err := s.pg.BeginTx(ctx)
	return ctx, mapErr(err)
}

// Commit commits the transaction BeginTx put into ctx.
func (s *Store) Commit(ctx context.Context) error { return mapErr(s.pg.Commit(ctx)) }

// Rollback aborts the transaction in ctx; after Commit it does nothing.
func (s *Store) Rollback(ctx context.Context) error { return s.pg.Rollback(ctx) }

// mapErr turns driver errors into the provider sentinels, keeping the
// original error in the chain for logs and errors.As.
func mapErr(err error) error {
	return database.Sentinels{NotFound: provider.ErrNotFound, AlreadyExists: provider.ErrAlreadyExists, Conflict: provider.ErrConflict}.Map(err)
}

// list and blob keep NOT NULL columns NOT NULL: pgx sends nil slices as NULL.
func list(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Empty lists and blobs come back nil on both backends, so a value that
// went in nil compares equal after the round trip.
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
