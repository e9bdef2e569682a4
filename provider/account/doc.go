// Package account holds what a user account needs beyond storage: password
// hashing with argon2id and the password check used by every login path.
package account
