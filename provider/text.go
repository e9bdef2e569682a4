package provider

import "github.com/manacore/mana-core-auth/internal/text"

// CleanText reports whether s can be stored in a text column as it is:
// valid UTF-8 without NUL (PostgreSQL refuses both). Input that is not
// clean text cannot name anything we stored. The check is internal/text's,
// shared with the credits module.
func CleanText(s string) bool { return text.Clean(s) }

// Sanitize makes s storable as text: valid UTF-8 without NUL bytes (both
// refused by PostgreSQL) and at most n bytes, cut at a character boundary.
// It is for values we record but do not validate, such as user agents and
// device names, which are attacker-chosen.
func Sanitize(s string, n int) string { return text.Sanitize(s, n) }
