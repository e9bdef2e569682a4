// Package store picks the provider.Store backend for the process's database
// handle (internal/database), so the rest of the program never imports a
// store implementation: PostgreSQL or SQLite, whichever DATABASE_URL named.
package store
