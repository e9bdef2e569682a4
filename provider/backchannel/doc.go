// Package backchannel delivers OpenID Connect Back-Channel Logout 1.0: when a
// browser session ends, every relying party that holds tokens from it and
// registered a backchannel_logout_uri receives a signed logout token by a
// direct POST, so the user is signed out of every app, not only the one
// where they clicked "sign out".
//
// It is its own package because the delivery must outlive the request that
// ended the session: relying parties are slow or down, and a logout that
// is lost because one was unreachable, or because the provider restarted,
// leaves the user signed in somewhere they believe they left. So
// SessionEnded only writes one job per relying party to a queue in the
// database (provider.LogoutQueue) and wakes the worker; Run claims due
// jobs with a lease, so replicas sharing the database never deliver one
// concurrently, POSTs them in parallel with a timeout, and completes each
// job or reschedules it with exponential backoff until MaxAttempts.
// Delivery is at least once: a replica that dies mid-POST leaves its jobs
// to be claimed again when the lease ends, and relying parties must treat
// a repeated logout token as they treat the first (the spec's jti lets
// them notice).
//
// The logout token (spec section 2.4) is a JWT with typ logout+jwt, signed
// with the key of the client's ID token algorithm, carrying iss, aud, iat,
// exp, jti, sub, sid and the back-channel logout event, and never a nonce.
// It is short-lived and each attempt signs a fresh one; tokens are never
// stored or logged.
package backchannel
