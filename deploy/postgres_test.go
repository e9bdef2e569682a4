package deploy_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/internal/database"
)

// TestPostgresInitScript runs postgres/initdb.sh as the PostgreSQL image
// would on a new volume (as the superuser, through psql), then migrates
// the database as the role it created, the way the compose migrate
// service does: the migrations must work without superuser or CREATEROLE,
// and the role must be able to switch to manaauth_app, as row-level
// security needs.
func TestPostgresInitScript(t *testing.T) {
	tool(t, "psql", "postgresql-client")
	admin := os.Getenv("TEST_DATABASE_URL")
	if admin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_DATABASE_URL is not set but CI=true")
		}
		t.Skip("TEST_DATABASE_URL not set; PostgreSQL tests skipped")
	}
	au, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	role, dbName, password := "manaauth_t_role_"+suffix, "manaauth_t_"+suffix, "pw-"+suffix
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer conn.Close(ctx)
		for _, q := range []string{`DROP DATABASE IF EXISTS "` + dbName + `" WITH (FORCE)`, `DROP ROLE IF EXISTS "` + role + `"`} {
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Errorf("cleanup %s: %v", q, err)
			}
		}
	})

	cmd := exec.CommandContext(t.Context(), "sh", "postgres/initdb.sh")
	cmd.Env = append(pgEnv(au), "PATH="+os.Getenv("PATH"), "POSTGRES_USER="+au.User.Username(),
		"MANAAUTH_DB_USER="+role, "MANAAUTH_DB_NAME="+dbName, "MANAAUTH_DB_PASSWORD="+password)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("initdb.sh: %v\n%s", err, out)
	}

	app := *au
	app.User = url.UserPassword(role, password)
	app.Path = "/" + dbName
	db, err := database.Open(t.Context(), app.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("migrate as the role initdb.sh made: %v", err)
	}
	pool := db.Postgres().Pool()
	var super, createRole bool
	var owner string
	if err := pool.QueryRow(t.Context(), `SELECT rolsuper, rolcreaterole, pg_get_userbyid((SELECT datdba FROM pg_database WHERE datname = current_database()))
		FROM pg_roles WHERE rolname = current_user`).Scan(&super, &createRole, &owner); err != nil {
		t.Fatal(err)
	}
	if super || createRole || owner != role {
		t.Errorf("role %s: superuser %v, createrole %v, database owner %s; want a plain owner", role, super, createRole, owner)
	}
	tx, err := pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(t.Context())
	var now string
	if _, err := tx.Exec(t.Context(), `SET LOCAL ROLE manaauth_app`); err != nil {
		t.Fatalf("SET LOCAL ROLE manaauth_app as %s: %v", role, err)
	}
	if err := tx.QueryRow(t.Context(), `SELECT current_user`).Scan(&now); err != nil || !strings.EqualFold(now, "manaauth_app") {
		t.Errorf("current_user after SET LOCAL ROLE = %q, %v", now, err)
	}
}
