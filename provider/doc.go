// Package provider is the identity domain of Mana Core Auth: users, OAuth
// clients, browser sessions, signing keys and the persisted OAuth grants,
// with the store interfaces the backends implement. It knows neither SQL
// nor HTTP.
package provider
