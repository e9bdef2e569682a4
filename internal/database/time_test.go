package database_test

import (
	"database/sql"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/internal/database"
)

func TestTimeEncodings(t *testing.T) {
	t.Parallel()
	berlin := time.FixedZone("CEST", 2*60*60)
	in := time.Date(2026, 5, 1, 12, 30, 45, 123456789, berlin)
	want := time.Date(2026, 5, 1, 10, 30, 45, 123000000, time.UTC)

	if got := database.PGTime(in); !got.Equal(want) || got.Location() != time.UTC || got.Nanosecond() != want.Nanosecond() {
		t.Errorf("PGTime = %v, want %v", got, want)
	}
	if got := database.PGTimePtr(&in); got == nil || !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("PGTimePtr = %v, want %v", got, want)
	}
	if database.PGTimePtr(nil) != nil || database.UTCPtr(nil) != nil {
		t.Error("nil times must stay nil")
	}
	if got := database.UTCPtr(&in); got == nil || !got.Equal(in) || got.Location() != time.UTC {
		t.Errorf("UTCPtr = %v", got)
	}

	ms := database.Millis(in)
	if got := database.FromMillis(ms); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("FromMillis(Millis) = %v, want %v", got, want)
	}
	if got := database.FromMillisPtr(database.MillisPtr(&in)); got == nil || !got.Equal(want) {
		t.Errorf("FromMillisPtr(MillisPtr) = %v, want %v", got, want)
	}
	if v := database.MillisPtr(nil); v.Valid || database.FromMillisPtr(sql.NullInt64{}) != nil {
		t.Error("nil times must be NULL and back")
	}
	var scanned time.Time
	if err := database.ScanMillis(&scanned).Scan(ms); err != nil || !scanned.Equal(want) || scanned.Location() != time.UTC {
		t.Errorf("ScanMillis = %v, %v; want %v", scanned, err, want)
	}
	if err := database.ScanMillis(&scanned).Scan("x"); err == nil {
		t.Error("ScanMillis of a string: want an error")
	}
}
