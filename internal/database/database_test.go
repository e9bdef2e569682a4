package database_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
	"github.com/manacore/mana-core-auth/migrations"
)

func TestOpenSQLiteCreatesPrivateFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "manaauth.db")
	db := databasetest.Connect(t, "sqlite:"+path)
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v; it holds secrets and must be private", filepath.Base(name), perm)
		}
	}
}

func TestOpenRejectsBadSQLitePaths(t *testing.T) {
	for _, raw := range []string{"sqlite:", "x.db?mode=ro", "file:x.db"} {
		if db, err := database.Open(t.Context(), raw); err == nil {
			db.Close()
			t.Errorf("Open(%q): want an error", raw)
		}
	}
}

func TestOpenRejectsBadPostgresDSN(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if db, err := database.Open(ctx, "postgres://nobody:secret@127.0.0.1:1/none?connect_timeout=1"); err == nil {
		db.Close()
		t.Fatal("want an error")
	} else if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

// The pool is sized for token issuance unless the DSN sizes it itself.
func TestPostgresPoolSize(t *testing.T) {
	dsn := databasetest.NewPostgresDatabase(t)
	if got, want := databasetest.Connect(t, dsn).Postgres().Pool().Config().MaxConns, int32(4*runtime.GOMAXPROCS(0)); got != want {
		t.Errorf("MaxConns = %d, want %d", got, want)
	}
	if got := databasetest.Connect(t, dsn+"&pool_max_conns=3").Postgres().Pool().Config().MaxConns; got != 3 {
		t.Errorf("MaxConns with pool_max_conns=3 = %d, want 3", got)
	}
}

// An in-memory database lives in its one connection: reads must go there.
func TestSQLiteMemoryReadsTheWriter(t *testing.T) {
	db := databasetest.Connect(t, "sqlite::memory:")
	if db.SQLite().ReadPool() != db.SQLite().WritePool() {
		t.Fatal(":memory: has a reader pool of its own, which would see another, empty database")
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.SQLite().ReadPool().QueryRowContext(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("migrations seen by the reader: %d, %v", n, err)
	}
}

// Migrate runs at every start, possibly from several processes (replicas,
// or the server and "manaauth migrate") at once; each file must apply once.
func TestMigrateIsIdempotentAndConcurrent(t *testing.T) {
	for _, d := range databasetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ctx := t.Context()
			url := databasetest.URL(t, d)
			dbs := make([]*database.DB, 4)
			for i := range dbs {
				dbs[i] = databasetest.Connect(t, url)
			}
			var wg sync.WaitGroup
			errs := make([]error, len(dbs))
			for i, db := range dbs {
				wg.Go(func() { errs[i] = db.Migrate(ctx) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("Migrate #%d: %v", i, err)
				}
			}
			if err := dbs[0].Migrate(ctx); err != nil {
				t.Fatalf("Migrate again: %v", err)
			}

			var (
				applied, distinct int
				want              []int
				err               error
			)
			const count = `SELECT count(*), count(DISTINCT version) FROM %s`
			if d == database.Postgres {
				want, err = migrations.Versions(migrations.Postgres)
				if err == nil {
					err = dbs[0].Postgres().Pool().QueryRow(ctx, fmt.Sprintf(count, "auth.schema_migrations")).Scan(&applied, &distinct)
				}
			} else {
				want, err = migrations.Versions(migrations.SQLite)
				if err == nil {
					err = dbs[0].SQLite().ReadPool().QueryRowContext(ctx, fmt.Sprintf(count, "schema_migrations")).Scan(&applied, &distinct)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if applied != len(want) || distinct != len(want) {
				t.Fatalf("schema_migrations has %d rows (%d versions), want %d", applied, distinct, len(want))
			}
		})
	}
}

// A context may carry a transaction of one handle to another (tests open
// several; two handles stand for two processes): only the handle that
// began it joins it.
func TestTxBelongsToItsHandle(t *testing.T) {
	for _, d := range databasetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			url := databasetest.URL(t, d)
			a, b := databasetest.Connect(t, url), databasetest.Connect(t, url)
			type txer interface {
				BeginTx(context.Context) (context.Context, error)
				Commit(context.Context) error
				Rollback(context.Context) error
			}
			var ta, tb txer
			var inTx func(db *database.DB, ctx context.Context) bool
			if d == database.Postgres {
				ta, tb = a.Postgres(), b.Postgres()
				inTx = func(db *database.DB, ctx context.Context) bool { return db.Postgres().Tx(ctx) != nil }
			} else {
				ta, tb = a.SQLite(), b.SQLite()
				inTx = func(db *database.DB, ctx context.Context) bool { return db.SQLite().Tx(ctx) != nil }
			}
			ctx, err := ta.BeginTx(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer ta.Rollback(ctx) //nolint:errcheck // a no-op after Commit
			if !inTx(a, ctx) || inTx(b, ctx) {
				t.Fatalf("in a's transaction: a sees it %v, b sees it %v; want true, false", inTx(a, ctx), inTx(b, ctx))
			}
			if err := tb.Commit(ctx); err == nil {
				t.Error("b committed a's transaction")
			}
			if err := ta.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSentinelsMap(t *testing.T) {
	var (
		errNotFound = errors.New("not found")
		errExists   = errors.New("exists")
		errConflict = errors.New("conflict")
	)
	s := database.Sentinels{NotFound: errNotFound, AlreadyExists: errExists, Conflict: errConflict}

	// Real SQLite errors: the driver's codes are not constructible.
	db := databasetest.Connect(t, "sqlite::memory:")
	w := db.SQLite().WritePool()
	ctx := t.Context()
	if _, err := w.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, u TEXT UNIQUE)`); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ExecContext(ctx, `INSERT INTO t VALUES (1, 'a')`); err != nil {
		t.Fatal(err)
	}
	_, sqliteUnique := w.ExecContext(ctx, `INSERT INTO t VALUES (2, 'a')`)
	_, sqlitePK := w.ExecContext(ctx, `INSERT INTO t VALUES (1, 'b')`)
	sqliteNoRows := w.QueryRowContext(ctx, `SELECT id FROM t WHERE id = 9`).Scan(new(int))
	_, sqliteSyntax := w.ExecContext(ctx, `SELEKT 1`)

	plain := errors.New("plain")
	for _, tc := range []struct {
		name string
		err  error
		want error // nil: unchanged
	}{
		{"PGNoRows", fmt.Errorf("get: %w", pgx.ErrNoRows), errNotFound},
		{"PGUnique", &pgconn.PgError{Code: "23505"}, errExists},
		{"PGSerialization", &pgconn.PgError{Code: "40001"}, errConflict},
		{"PGDeadlock", &pgconn.PgError{Code: "40P01"}, errConflict},
		{"PGLockNotAvailable", &pgconn.PgError{Code: "55P03"}, errConflict},
		{"PGOther", &pgconn.PgError{Code: "42601"}, nil},
		{"SQLiteNoRows", sqliteNoRows, errNotFound},
		{"SQLiteUnique", sqliteUnique, errExists},
		{"SQLitePrimaryKey", sqlitePK, errExists},
		{"SQLiteOther", sqliteSyntax, nil},
		{"Plain", plain, nil},
		{"AlreadyMapped", fmt.Errorf("create: %w", s.Map(&pgconn.PgError{Code: "23505"})), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil {
				t.Fatal("no error to map")
			}
			got := s.Map(tc.err)
			if tc.want == nil {
				if got != tc.err {
					t.Fatalf("Map(%v) = %v, want it unchanged", tc.err, got)
				}
				return
			}
			if !errors.Is(got, tc.want) {
				t.Fatalf("Map(%v) = %v, want %v", tc.err, got, tc.want)
			}
			// The driver error stays in the chain, except for "no rows",
			// which says nothing more than the sentinel.
			if tc.want != errNotFound && !errors.Is(got, tc.err) {
				t.Fatalf("Map(%v) = %v lost the driver error", tc.err, got)
			}
		})
	}
	if s.Map(nil) != nil {
		t.Error("Map(nil) != nil")
	}
}

// SQLITE_BUSY is a conflict: a second process holding the write lock past
// busy_timeout. Simulated with a handle whose BEGIN IMMEDIATE cannot wait.
func TestSentinelsMapSQLiteBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	holder := databasetest.Connect(t, "sqlite:"+path)
	ctx, err := holder.SQLite().BeginTx(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.SQLite().Rollback(ctx) //nolint:errcheck // test cleanup

	other := databasetest.Connect(t, "sqlite:"+path)
	conn, err := other.SQLite().WritePool().Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), `PRAGMA busy_timeout = 0`); err != nil {
		t.Fatal(err)
	}
	_, busy := conn.ExecContext(t.Context(), `BEGIN IMMEDIATE`)
	conflict := errors.New("conflict")
	if got := (database.Sentinels{Conflict: conflict}).Map(busy); busy == nil || !errors.Is(got, conflict) {
		t.Fatalf("BEGIN IMMEDIATE while another handle writes: %v, mapped %v; want a conflict", busy, got)
	}
}
