package database

import (
	"database/sql"
	"fmt"
	"time"
)

// Times go into both dialects with millisecond precision and come out in
// UTC, so a value reads back identical whichever backend stored it.

// PGTime is how a time goes into PostgreSQL: UTC, truncated to the
// millisecond (timestamptz would keep microseconds SQLite cannot).
func PGTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// PGTimePtr is PGTime for a nullable column.
func PGTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := PGTime(*t)
	return &v
}

// UTCPtr is a nullable time read from PostgreSQL, in UTC.
func UTCPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

// Millis is how a time goes into SQLite: unix milliseconds.
func Millis(t time.Time) int64 { return t.UnixMilli() }

// MillisPtr is Millis for a nullable column.
func MillisPtr(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// FromMillis is a time read from SQLite, in UTC.
func FromMillis(v int64) time.Time { return time.UnixMilli(v).UTC() }

// FromMillisPtr is FromMillis for a nullable column.
func FromMillisPtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := FromMillis(v.Int64)
	return &t
}

// ScanMillis decodes a unix-millisecond column straight into dst, in UTC.
func ScanMillis(dst *time.Time) sql.Scanner { return millisScanner{dst} }

type millisScanner struct{ dst *time.Time }

func (m millisScanner) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("time column: unexpected %T", src)
	}
	*m.dst = FromMillis(v)
	return nil
}
