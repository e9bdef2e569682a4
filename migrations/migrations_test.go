package migrations

import (
	"slices"
	"testing"
	"testing/fstest"
)

func TestDialectsListSameVersions(t *testing.T) {
	pg, err := Versions(Postgres)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	lite, err := Versions(SQLite)
	if err != nil {
		t.Fatalf("sqlite: %v", err)
	}
	if len(pg) == 0 {
		t.Fatal("no postgres migrations embedded")
	}
	if !slices.Equal(pg, lite) {
		t.Fatalf("dialects diverge: postgres %v, sqlite %v", pg, lite)
	}
}

// Gaps usually mean a file was renamed or lost in a merge; a runner would
// happily skip the hole, so catch it here.
func TestVersionsAreContiguous(t *testing.T) {
	vs, err := Versions(Postgres)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		if v != i+1 {
			t.Fatalf("versions %v: want 1..%d without gaps", vs, len(vs))
		}
	}
}

func TestListRejectsBadNames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files fstest.MapFS
	}{
		{"NoPrefix", fstest.MapFS{"init.sql": {}}},
		{"NotNumeric", fstest.MapFS{"abc_init.sql": {}}},
		{"Zero", fstest.MapFS{"0000_init.sql": {}}},
		{"Duplicate", fstest.MapFS{"0001_a.sql": {}, "1_b.sql": {}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := List(tc.files); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

func TestListOrdersByVersion(t *testing.T) {
	ms, err := List(fstest.MapFS{
		"0010_c.sql": {Data: []byte("c")},
		"0002_b.sql": {Data: []byte("b")},
		"0001_a.sql": {Data: []byte("a")},
		"README.md":  {},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, m := range ms {
		got = append(got, m.Version)
	}
	if !slices.Equal(got, []int{1, 2, 10}) || ms[0].SQL != "a" || ms[0].Name != "0001_a.sql" {
		t.Fatalf("got %+v", ms)
	}
}
