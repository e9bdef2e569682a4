// Package metrics owns the Prometheus collectors of one App: the HTTP
// request metrics, the domain counters (logins, tokens, mails, credits,
// ...) behind the small observer interfaces the domain packages declare,
// the stored counts computed on scrape, and the pool statistics. No
// domain package imports Prometheus; internal/app wires this package in.
package metrics
