package database

import (
	"context"
	"fmt"
)

// txKey carries a transaction begun by BeginTx in a context. Store methods
// read it from there because fosite's Transactional hands transactions
// around only as contexts.
type txKey struct{}

type txState[T any] struct {
	// owner is the handle that began it: a context may cross handles (tests
	// open several), and only the owner's stores join.
	owner any
	tx    T
	inner bool // joined an outer BeginTx: Commit and Rollback are the outer's job
}

// txIn returns the transaction owner began in ctx, or nil.
func txIn[T any](ctx context.Context, owner any) *txState[T] {
	st, _ := ctx.Value(txKey{}).(*txState[T])
	if st == nil || st.owner != owner {
		return nil
	}
	return st
}

// txOf is the transaction owner began in ctx, or T's zero value (nil).
func txOf[T any](ctx context.Context, owner any) (tx T) {
	if st := txIn[T](ctx, owner); st != nil {
		tx = st.tx
	}
	return tx
}

// beginTx joins owner's transaction in ctx, or starts one with begin.
func beginTx[T any](ctx context.Context, owner any, begin func() (T, error)) (context.Context, error) {
	if st := txIn[T](ctx, owner); st != nil {
		return context.WithValue(ctx, txKey{}, &txState[T]{owner: owner, tx: st.tx, inner: true}), nil
	}
	tx, err := begin()
	if err != nil {
		return ctx, fmt.Errorf("begin transaction: %w", err)
	}
	return context.WithValue(ctx, txKey{}, &txState[T]{owner: owner, tx: tx}), nil
}

// endTx commits or rolls back (what) owner's transaction in ctx with end,
// unless it was joined.
func endTx[T any](ctx context.Context, owner any, what string, end func(T) error) error {
	st := txIn[T](ctx, owner)
	if st == nil {
		return fmt.Errorf("%s: no transaction in context", what)
	}
	if st.inner {
		return nil
	}
	if err := end(st.tx); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
