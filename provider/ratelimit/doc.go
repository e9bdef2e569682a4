// Package ratelimit holds the abuse-protection counters of the provider:
// a per-key rate Limiter (in process or in Redis, shared by every replica)
// and a Backoff that slows repeated failed logins on one account, which
// LoginBackoff composes into per-network, per-device and per-account keys.
//
// # Algorithm
//
// Limiter implements GCRA (the generic cell rate algorithm, the "virtual
// scheduling" form used by redis-cell and go-redis/redis_rate) rather than
// a sliding-window log. "limit per window" means: a burst of up to limit
// hits at once, refilled continuously at one hit every window/limit. GCRA
// was chosen because its whole state is one number per key (the theoretical
// arrival time, TAT), so
//
//   - memory per key is constant, which is what lets Memory bound its size
//     in entries and what keeps a Redis key a short string, whereas a
//     sliding-window log stores every hit of the window (limit timestamps
//     per key, 6 000 of them for a per-client token limit of 6 000/min);
//   - the check is exact and atomic with one read and one write, so under
//     any concurrency exactly limit hits of a burst pass;
//   - Retry-After is exact (the time until the next hit fits), and is never
//     more than window/limit, so a rejected client is not told to go away
//     for a whole window;
//   - there is no fixed-window boundary at which 2×limit can pass back to
//     back, and a key's state becomes "fresh" again at TAT, which doubles
//     as its expiry time.
//
// The sustained rate is exactly limit per window; the price of smoothing is
// that a client which spends its burst and then keeps pace with the refill
// gets up to 2×limit-1 hits through in its first window. For brute-force
// protection the sustained rate is what counts.
//
// Each (key) holds one state: callers give every rule its own key
// ("login:ip:203.0.113.7", "login:acct:<email>") and always call it with
// the same limit and window.
//
// # Failure policy
//
// Errors are returned, never swallowed, and the values returned alongside
// an error are the fail-open ones: Allow answers Decision{Allowed: true}
// and Backoff.Wait answers 0. A Redis outage must not lock every user out
// of the login, so the intended use is to log the error and carry on:
//
//	d, err := lim.Allow(ctx, key, 10, time.Minute)
//	if err != nil {
//		logger.ErrorContext(ctx, "rate limit unavailable", "error", err)
//	}
//	if !d.Allowed { /* 429 with Retry-After */ }
//
// A caller that prefers to fail closed on a particular route checks err
// and answers 503 instead. The Redis types add no timeout of their own:
// the client's options decide how long an unreachable Redis delays each
// request (go-redis retries a failed dial five times, 100 ms apart, by
// default), so configure them short, for example DialTimeout 200 ms,
// DialerRetries 1, ReadTimeout and WriteTimeout 100 ms, MaxRetries 1.
//
// Failing open is the last resort. Failover puts in-process counters
// behind the Redis ones, so that while Redis is down the limits still
// hold, per replica; the provider always composes it that way.
//
// # Keys
//
// Keys are attacker-influenced (IP addresses, typed-in email addresses).
// Keys longer than 64 bytes are replaced by their SHA-256, so an attacker
// cannot grow memory per key either, and Memory caps the number of keys
// (DefaultMaxKeys), evicting the entry that would have expired soonest when
// it is full. That entry carries the least information (a key that made a
// single hit expires after window/limit, a key at its limit only after a
// whole window), so a flood of fresh keys from cycling IP addresses mostly
// evicts itself. Errors never name the key, which may be an email
// address. Redis keys carry a TTL equal to the time their state
// takes to become fresh again, so they expire on their own.
package ratelimit
