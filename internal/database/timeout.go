package database

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DefaultTimeout bounds a database call when Open is given no WithTimeout.
const DefaultTimeout = 5 * time.Second

// Option configures Open.
type Option func(*options)

type options struct {
	timeout time.Duration
	tracer  pgx.QueryTracer // issue 13: spans per statement; nil without tracing
}

// WithTracer adds a pgx tracer (spans) beside the timeouts; PostgreSQL
// only, SQLite statements are not traced.
func WithTracer(t pgx.QueryTracer) Option {
	return func(o *options) { o.tracer = t }
}

// WithTimeout bounds every database call: on PostgreSQL connecting,
// waiting for a pooled connection, and each statement, batch and COPY
// (each inside a transaction too); on SQLite waiting for the write lock
// (busy_timeout). The bound is added to the caller's context, so a
// request's own deadline or cancellation still ends the call sooner. A
// database that accepts connections but never answers then costs a
// request d, not forever. d <= 0 means DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// Unbounded leaves calls unbounded, for the command-line tools: an
// operator's full-ledger check may take longer than a request should, and
// the operator can interrupt it.
func Unbounded() Option { return func(o *options) { o.timeout = 0 } }

// noTimeoutKey marks a context whose calls are not bounded: migrations,
// which wait for another replica's migration lock and may rewrite large
// tables.
type noTimeoutKey struct{}

func withoutTimeout(ctx context.Context) context.Context {
	return context.WithValue(ctx, noTimeoutKey{}, true)
}

func collect(opts []Option) options {
	o := options{timeout: DefaultTimeout}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// timeouts is a pgx tracer used for its one documented power besides
// tracing: the context its Trace…Start methods return is the context the
// rest of the call runs with, and the matching Trace…End receives it. That
// bounds every call at one place, for every store (including those using
// pgx.BeginFunc and batches on the pool directly), without a wrapper
// around each query method that could be forgotten.
type timeouts struct{ d time.Duration }

type cancelKey struct{}

// bounded is a call's context with its deadline and the cancel that end
// calls; one value instead of context.WithValue over the timeout context
// saves an allocation on every statement.
type bounded struct {
	context.Context
	cancel context.CancelFunc
}

func (b *bounded) Value(key any) any {
	if key == (cancelKey{}) {
		return b.cancel
	}
	return b.Context.Value(key)
}

func (t timeouts) start(ctx context.Context) context.Context {
	if ctx.Value(noTimeoutKey{}) != nil {
		// Shadow any cancel of an enclosing call, so end cancels nothing.
		return &bounded{Context: ctx, cancel: func() {}}
	}
	ctx, cancel := context.WithTimeout(ctx, t.d)
	return &bounded{Context: ctx, cancel: cancel}
}

func (timeouts) end(ctx context.Context) {
	if cancel, ok := ctx.Value(cancelKey{}).(context.CancelFunc); ok {
		cancel()
	}
}

var (
	_ pgx.QueryTracer       = timeouts{}
	_ pgx.BatchTracer       = timeouts{}
	_ pgx.CopyFromTracer    = timeouts{}
	_ pgx.PrepareTracer     = timeouts{}
	_ pgxpool.AcquireTracer = timeouts{}
)

func (t timeouts) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return t.start(ctx)
}
func (t timeouts) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	t.end(ctx)
}
func (t timeouts) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return t.start(ctx)
}
func (timeouts) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (t timeouts) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchEndData) {
	t.end(ctx)
}
func (t timeouts) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceCopyFromStartData) context.Context {
	return t.start(ctx)
}
func (t timeouts) TraceCopyFromEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceCopyFromEndData) {
	t.end(ctx)
}
func (t timeouts) TracePrepareStart(ctx context.Context, _ *pgx.Conn, _ pgx.TracePrepareStartData) context.Context {
	return t.start(ctx)
}
func (t timeouts) TracePrepareEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TracePrepareEndData) {
	t.end(ctx)
}
func (t timeouts) TraceAcquireStart(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	return t.start(ctx)
}
func (t timeouts) TraceAcquireEnd(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireEndData) {
	t.end(ctx)
}

// Unavailable reports whether err says the database could not be reached
// or did not answer in time, as opposed to an answer (no such row, a
// constraint, a conflict). Callers use it to answer 503 and "try again"
// rather than blame the request.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, pgx.ErrTxClosed) ||
		pgconn.Timeout(err) || pgconn.SafeToRetry(err) {
		return true
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	if errors.As(err, &ne) || errors.As(err, &ce) {
		return true
	}
	// SQLite's only way of not answering in time: the write lock stayed
	// taken for the whole busy_timeout (DATABASE_TIMEOUT).
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "08", "53", "57": // connection exception, insufficient resources, operator intervention
			return pgErr.Code != "57014" // query_canceled by us is not an outage
		}
	}
	return false
}
