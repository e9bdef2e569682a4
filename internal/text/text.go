// Package text holds the checks of free text both the provider and the
// credits module store: PostgreSQL refuses NUL and invalid UTF-8 in text
// columns (and SQLite would keep them), so such input is refused or
// cleaned before it reaches a store. It imports only the standard library
// so that credits can use it without importing the provider.
package text

import (
	"strings"
	"unicode/utf8"
)

// Clean reports whether s can be stored in a text column as it is: valid
// UTF-8 without NUL. Input that is not clean text cannot name anything we
// stored.
func Clean(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// Sanitize makes s storable as text: valid UTF-8 without NUL bytes and at
// most n bytes, cut at a character boundary. It is for values we record
// but do not validate, such as user agents and device names, which are
// attacker-chosen.
func Sanitize(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, ""), "\x00", "")
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
