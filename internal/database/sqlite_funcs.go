package database

import (
	"database/sql/driver"
	"fmt"
	"strings"

	"modernc.org/sqlite"
)

// SQLite's lower() folds ASCII letters only; unicode_lower is Go's
// strings.ToLower, so case-insensitive searches on SQLite match what
// PostgreSQL's lower() matches ("ÄRZTIN" finds "ärztin"). The driver
// registers functions process-wide, once, before any connection opens.
func init() {
	err := sqlite.RegisterDeterministicScalarFunction("unicode_lower", 1,
		func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			switch v := args[0].(type) {
			case nil:
				return nil, nil
			case string:
				return strings.ToLower(v), nil
			case []byte:
				return strings.ToLower(string(v)), nil
			default:
				return strings.ToLower(fmt.Sprint(v)), nil
			}
		})
	if err != nil {
		panic(fmt.Sprintf("register unicode_lower: %v", err)) // only a duplicate name can fail
	}
}

// EscapeLike escapes the LIKE wildcards of a user's search term, so "%"
// and "_" match themselves; both dialects use \ as the escape character.
func EscapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
