package storetest

// Issue 11 part A: the admin user list and client updates.

import (
	"slices"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

func listingIDs(ls []*provider.UserListing) []string {
	ids := make([]string, len(ls))
	for i, l := range ls {
		ids[i] = l.ID
	}
	return ids
}

func search(t *testing.T, s provider.Store, q provider.UserSearch) ([]string, int) {
	t.Helper()
	ls, total, err := s.SearchUsers(t.Context(), q)
	must(t, err)
	return listingIDs(ls), total
}

func testSearchUsers(t *testing.T, s provider.Store) {
	ctx := t.Context()
	// u0 is the oldest; the list is newest first.
	erased := at(time.Hour)
	for i, u := range []*provider.User{
		{ID: "u0", Email: "anna@example.com", Name: "Anna Müller"},
		{ID: "u1", Email: "dr.berg@praxis.de", Name: "Ärztin Berg"},
		{ID: "u2", Email: "carl@example.com", Name: "Carl 100%_sure"},
		{ID: "u3", Email: "dora@example.com", Name: "Dora", Picture: "https://img.example.com/dora.png"},
		{ID: "u4", Email: "erased-u4@invalid", Name: "", DeletedAt: &erased}, // a tombstone
	} {
		u.Role, u.CreatedAt, u.UpdatedAt = provider.RoleUser, at(time.Duration(i)*time.Minute), at(time.Duration(i)*time.Minute)
		must(t, s.CreateUser(ctx, u))
	}

	ids, total := search(t, s, provider.UserSearch{Limit: 10})
	if want := []string{"u3", "u2", "u1", "u0"}; !slices.Equal(ids, want) || total != 4 {
		t.Fatalf("all users = %v (total %d), want %v (4)", ids, total, want)
	}
	// The listing carries the whole user, picture included.
	if page, _, err := s.SearchUsers(ctx, provider.UserSearch{Limit: 1}); err != nil || len(page) != 1 ||
		page[0].Picture != "https://img.example.com/dora.png" || page[0].Name != "Dora" {
		t.Fatalf("first listing = %+v, %v", page, err)
	}
	ids, total = search(t, s, provider.UserSearch{Limit: 10, IncludeDeleted: true})
	if want := []string{"u4", "u3", "u2", "u1", "u0"}; !slices.Equal(ids, want) || total != 5 {
		t.Fatalf("with deleted = %v (total %d), want %v (5)", ids, total, want)
	}
	ids, total = search(t, s, provider.UserSearch{Limit: 2, Offset: 2})
	if want := []string{"u1", "u0"}; !slices.Equal(ids, want) || total != 4 {
		t.Fatalf("second page = %v (total %d), want %v (4)", ids, total, want)
	}
	// Every window of the list, from either end (a backend may read pages
	// near the end backwards).
	all := []string{"u3", "u2", "u1", "u0"}
	for limit := 1; limit <= 5; limit++ {
		for offset := 0; offset <= 4; offset++ {
			ids, total := search(t, s, provider.UserSearch{Limit: limit, Offset: offset})
			want := all[min(offset, 4):min(offset+limit, 4)]
			if !slices.Equal(ids, want) && !(len(ids) == 0 && len(want) == 0) || total != 4 {
				t.Errorf("limit %d offset %d = %v (total %d), want %v (4)", limit, offset, ids, total, want)
			}
		}
	}
	ids, total = search(t, s, provider.UserSearch{Limit: 2, Offset: 10})
	if len(ids) != 0 || total != 4 {
		t.Fatalf("past the end = %v (total %d), want none (4)", ids, total)
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"EXAMPLE.COM", []string{"u3", "u2", "u0"}},
		{"ärztin", []string{"u1"}},
		{"ÄRZTIN", []string{"u1"}}, // non-ASCII folds on both backends
		{"MÜLLER", []string{"u0"}},
		{"praxis", []string{"u1"}},
		{"100%_", []string{"u2"}}, // wildcards match themselves
		{"%", []string{"u2"}},
		{"_", []string{"u2"}},
		{"an_a", nil}, // "_" is no wildcard: "anna" does not match
		{`\`, nil},
		{"'; DROP TABLE users; --", nil},
		{"erased", nil}, // tombstones only with IncludeDeleted
	} {
		ids, total := search(t, s, provider.UserSearch{Query: tc.query, Limit: 10})
		if !slices.Equal(ids, tc.want) || total != len(tc.want) {
			t.Errorf("search %q = %v (total %d), want %v", tc.query, ids, total, tc.want)
		}
	}
	if ids, _ := search(t, s, provider.UserSearch{Query: "erased", Limit: 10, IncludeDeleted: true}); !slices.Equal(ids, []string{"u4"}) {
		t.Errorf("search erased with deleted = %v, want [u4]", ids)
	}

	// Last activity is the newest session's last-seen time.
	s1, s2 := newSession("s1", "u1", at(time.Minute)), newSession("s2", "u1", at(2*time.Minute))
	s1.LastSeenAt, s2.LastSeenAt = at(30*time.Minute), at(20*time.Minute)
	must(t, s.CreateSession(ctx, s1))
	must(t, s.CreateSession(ctx, s2))
	ls, _, err := s.SearchUsers(ctx, provider.UserSearch{Query: "berg", Limit: 10})
	must(t, err)
	if len(ls) != 1 || ls[0].LastActiveAt == nil {
		t.Fatalf("berg = %+v, want one row with a last activity", ls)
	}
	checkTime(t, "LastActiveAt", *ls[0].LastActiveAt, at(30*time.Minute))
	checkTime(t, "CreatedAt", ls[0].CreatedAt, at(time.Minute))
	if ls[0].Email != "dr.berg@praxis.de" || ls[0].Name != "Ärztin Berg" || ls[0].Role != provider.RoleUser {
		t.Errorf("berg row = %+v", ls[0].User)
	}
	ls, _, err = s.SearchUsers(ctx, provider.UserSearch{Query: "dora", Limit: 10})
	must(t, err)
	if len(ls) != 1 || ls[0].LastActiveAt != nil {
		t.Errorf("dora without sessions: LastActiveAt = %v, want nil", ls[0].LastActiveAt)
	}
	ls, _, err = s.SearchUsers(ctx, provider.UserSearch{Query: "u4", Limit: 10, IncludeDeleted: true})
	must(t, err)
	if len(ls) != 1 || ls[0].DeletedAt == nil {
		t.Fatalf("tombstone row = %+v, want DeletedAt set", ls)
	}
	checkTime(t, "DeletedAt", *ls[0].DeletedAt, erased)
}

func testUpdateClient(t *testing.T, s provider.Store) {
	ctx := t.Context()
	c := newClient("chat")
	must(t, s.CreateClient(ctx, c))
	got, err := s.GetClient(ctx, "chat")
	must(t, err)
	if got.Disabled {
		t.Fatal("a new client is disabled")
	}
	c.Name, c.Disabled = "Chat 2", true
	c.RedirectURIs, c.PostLogoutRedirectURIs = []string{"https://chat2.mana.how/cb"}, nil
	// Only the mutable fields change.
	changed := *c
	changed.Trusted, changed.Scopes, changed.SecretHash = false, []string{"openid"}, "other"
	must(t, s.UpdateClient(ctx, &changed))
	got, err = s.GetClient(ctx, "chat")
	must(t, err)
	assertEqual(t, got, c)
	list, err := s.ListClients(ctx)
	must(t, err)
	if len(list) != 1 || !list[0].Disabled {
		t.Errorf("ListClients = %+v, want the disabled client", list)
	}
	wantErr(t, "UpdateClient(unknown)", s.UpdateClient(ctx, newClient("nobody")), provider.ErrNotFound)
	disabled := newClient("off")
	disabled.Disabled = true
	must(t, s.CreateClient(ctx, disabled))
	got, err = s.GetClient(ctx, "off")
	must(t, err)
	assertEqual(t, got, disabled)
}
