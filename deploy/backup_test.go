package deploy_test

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/manacore/mana-core-auth/internal/database/databasetest"
)

// TestBackupAndRestoreDrill runs backup/backup.sh (BACKUP_ONCE=1, as the
// README's drill does) against a migrated PostgreSQL database with a
// user in it, restores the dump into an empty database the way README.md
// "Restore drill" says, and finds the user and the schema version there.
// It also checks the retention: only the newest BACKUP_KEEP dumps stay.
func TestBackupAndRestoreDrill(t *testing.T) {
	tool(t, "pg_dump", "postgresql-client") // backup.sh runs it from PATH
	pgRestore := tool(t, "pg_restore", "postgresql-client")
	psql := tool(t, "psql", "postgresql-client")

	src := databasetest.NewPostgresDatabase(t)
	db := databasetest.Connect(t, src)
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Postgres().Pool().Exec(t.Context(),
		`INSERT INTO auth.users (id, email, created_at, updated_at) VALUES ('u1', 'drill@example.com', now(), now())`); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	// An old dump, to be removed by the retention of one.
	old := filepath.Join(dir, "manaauth-20000101T000000Z.dump")
	if err := os.WriteFile(old, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), "sh", "backup/backup.sh")
	cmd.Env = append(pgEnv(u), "PATH="+os.Getenv("PATH"), "BACKUP_DIR="+dir, "BACKUP_KEEP=1", "BACKUP_ONCE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("backup.sh: %v\n%s", err, out)
	}
	dumps, _ := filepath.Glob(filepath.Join(dir, "manaauth-*.dump"))
	if len(dumps) != 1 || dumps[0] == old {
		t.Fatalf("after one backup with BACKUP_KEEP=1: %v\n%s", dumps, out)
	}
	if partial, _ := filepath.Glob(filepath.Join(dir, ".*partial")); len(partial) > 0 {
		t.Errorf("partial dump left behind: %v", partial)
	}

	// The drill: an empty database (the role manaauth_app exists in this
	// cluster already; README says to create it on a new one), then
	// pg_restore --no-owner --exit-on-error.
	dst := databasetest.NewPostgresDatabase(t)
	du, err := url.Parse(dst)
	if err != nil {
		t.Fatal(err)
	}
	restore := exec.CommandContext(t.Context(), pgRestore, "--no-owner", "--exit-on-error", "--dbname", strings.TrimPrefix(du.Path, "/"), dumps[0])
	restore.Env = append(pgEnv(du), "PATH="+os.Getenv("PATH"))
	if out, err := restore.CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	query := exec.CommandContext(t.Context(), psql, "-XAtc",
		`SELECT (SELECT email FROM auth.users WHERE id = 'u1') || ' ' || (SELECT max(version) FROM auth.schema_migrations)`)
	query.Env = append(pgEnv(du), "PATH="+os.Getenv("PATH"))
	got, err := query.CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, got)
	}
	var want int
	if err := db.Postgres().Pool().QueryRow(t.Context(), `SELECT max(version) FROM auth.schema_migrations`).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if g := strings.TrimSpace(string(got)); g != "drill@example.com "+strconv.Itoa(want) {
		t.Errorf("restored database answers %q, want the user and schema version %d", g, want)
	}
}

// pgEnv turns a PostgreSQL URL into the libpq variables backup.sh and the
// client tools read, as the compose backup service sets them.
func pgEnv(u *url.URL) []string {
	env := []string{"PGHOST=" + u.Hostname(), "PGPORT=" + u.Port(), "PGUSER=" + u.User.Username(), "PGDATABASE=" + strings.TrimPrefix(u.Path, "/")}
	if p, ok := u.User.Password(); ok {
		env = append(env, "PGPASSWORD="+p)
	}
	if m := u.Query().Get("sslmode"); m != "" {
		env = append(env, "PGSSLMODE="+m)
	}
	return env
}
