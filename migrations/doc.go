// Package migrations holds the database schema as plain SQL, one timeline
// per dialect, embedded so the single manaauth binary can migrate a fresh
// database without shipping files next to it.
//
// Files are named NNNN_description.sql. Both dialects carry the same version
// numbers (a test enforces it) so "migrated to version N" means the same
// schema on PostgreSQL and SQLite. A file that has been applied anywhere is
// never edited: fix forward with a new version.
package migrations
