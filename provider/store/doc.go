// Package store picks the provider.Store backend from DATABASE_URL, so the
// rest of the program never imports a database driver: PostgreSQL for
// postgres:// URLs, SQLite for everything else (by default a file under
// ./data, so a fresh checkout runs with nothing installed).
package store
