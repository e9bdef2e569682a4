// Package storetest is the one conformance suite every provider.Store
// backend must pass (Run), plus helpers that give other packages' tests a
// fresh, migrated store of each backend (OpenSQLite, OpenPostgres, Backends).
//
// The suite pins down what the interface comments promise but the compiler
// cannot check: which sentinel error each miss returns, that times come
// back in UTC at millisecond precision, that lists and payloads round-trip
// verbatim, and how transactions and concurrent rotations behave. A behaviour
// one backend gets right and the other wrong is exactly what it exists to
// catch, so extend it rather than a backend's own tests.
package storetest
