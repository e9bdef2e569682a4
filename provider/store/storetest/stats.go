package storetest

import (
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

// issue 13 (observability): the counts behind the metrics gauges.

func testStats(t *testing.T, s provider.Store) {
	ctx := t.Context()
	empty, err := s.Stats(ctx, at(0))
	must(t, err)
	if empty != (provider.Stats{}) {
		t.Fatalf("Stats of an empty store = %+v", empty)
	}
	// t0 is Friday 2025-03-14 15:09 UTC: the day starts on the 14th, the
	// ISO week on Monday the 10th, the month on the 1st.
	berlin := time.FixedZone("CET", 3600)
	users := []struct {
		id       string
		created  time.Time
		verified bool
	}{
		{"today", at(0), true},
		{"midnight", time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC), true},
		// 00:30 in Berlin is still yesterday in UTC.
		{"yesterday-utc", time.Date(2025, 3, 14, 0, 30, 0, 0, berlin), false},
		{"monday", time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC), true},
		{"sunday", time.Date(2025, 3, 9, 23, 59, 59, 999_000_000, time.UTC), false},
		{"february", time.Date(2025, 2, 28, 23, 0, 0, 0, time.UTC), true},
		{"erased", at(0), true},
	}
	for _, u := range users {
		nu := newUser(u.id)
		nu.CreatedAt, nu.EmailVerified = u.created, u.verified
		must(t, s.CreateUser(ctx, nu))
	}
	_, err = s.EraseUserData(ctx, "erased", provider.Tombstone{Email: "erased-x@erased.invalid", DeletedAt: at(time.Minute)})
	must(t, err)
	must(t, s.EnqueueLogouts(ctx, []*provider.LogoutJob{newLogoutJob("lo-1", "chat", at(0)), newLogoutJob("lo-2", "todo", at(0))}))
	for _, id := range []string{"m-1", "m-2", "m-3"} {
		must(t, s.EnqueueMail(ctx, newMailJob(id, at(0))))
	}
	j := newErasure("er-1", "chat", "todo")
	j.Parts = append(j.Parts, &provider.ErasurePart{ErasureID: "er-1", BackendID: "calendar", BackendName: "Calendar",
		Status: provider.ErasureDone, NextAttemptAt: at(0), DoneAt: ptr(at(0))})
	must(t, s.CreateErasure(ctx, j))

	got, err := s.Stats(ctx, at(0).In(berlin)) // the periods are UTC whatever now's zone
	must(t, err)
	want := provider.Stats{Users: 6, VerifiedUsers: 4, CreatedToday: 2, CreatedThisWeek: 4, CreatedThisMonth: 5,
		LogoutJobs: 2, MailJobs: 3, ErasureParts: 2}
	if got != want {
		t.Fatalf("Stats = %+v\nwant    %+v", got, want)
	}
	// A month later every "created" count is zero; the totals stay.
	got, err = s.Stats(ctx, at(31*24*time.Hour))
	must(t, err)
	if got.CreatedToday != 0 || got.CreatedThisWeek != 0 || got.CreatedThisMonth != 0 || got.Users != 6 {
		t.Fatalf("Stats a month later = %+v", got)
	}
}
