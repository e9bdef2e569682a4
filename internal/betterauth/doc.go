// Package betterauth imports the old Mana Core Auth service (NestJS with
// Better Auth 1.4.4) into this one: `manaauth import better-auth`. It
// reads the old PostgreSQL database in one read-only snapshot and writes
// users (with their ids and password hashes), OAuth clients, the old
// signing public keys, the sessions behind live refresh tokens, and the
// credits (packages, balances, ledger history, purchases, usage) into the
// configured store. Every step is idempotent: a record already present is
// counted and left as it is, so running the import twice changes nothing.
package betterauth
