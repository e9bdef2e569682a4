// Package credits is the domain of the credits module: integer credits
// ("mana", 100 = 1 EUR) kept in a double-entry ledger.
//
// Each user has two wallets, the free one ("user:<id>:free") and the paid
// one ("user:<id>:paid"). Every movement is one Transaction whose Postings
// sum to zero across accounts: the user's wallets and the system accounts
// "system:signup", "system:daily", "stripe", "usage:<appId>" and "admin"
// (and "system:import", which the import from the old service draws the
// opening balances on; issue 14).
// The cached Balance always equals the sum of the postings on the user's
// wallets; Service.Verify recomputes it.
//
// The package depends on nothing in the provider: storage is the Store
// interface, implemented by credits/store/sqlite and credits/store/postgres.
package credits
