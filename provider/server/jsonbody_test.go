package server_test

import (
	"net/http"
	"testing"

	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// TestDuplicateMembersRefused: a body that repeats a member is read one way
// by encoding/json (last wins) and another by many proxies (first wins), so
// both APIs refuse it before anything is done with it.
func TestDuplicateMembersRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		const msg = `Request body must not repeat a member name ("amount")`

		// The first "password" is right: read first-wins this would sign in.
		e.post(t, "/api/v1/auth/login", `{"email":"`+userEmail+`","password":"`+userPassword+`","password":"wrong"}`).
			wantError(t, "login with two passwords", http.StatusBadRequest, "invalid_json",
				`Request body must not repeat a member name ("password")`)

		l := e.apiLogin(t, userEmail, userPassword)
		before := e.api(t, http.MethodGet, balancePath, l.access, nil).want(t, "balance", http.StatusOK)
		e.api(t, http.MethodPost, usePath, l.access, `{"amount":1,"appId":"chat","description":"x","amount":100}`).
			wantError(t, "use with two amounts", http.StatusBadRequest, "invalid_json", msg)
		after := e.api(t, http.MethodGet, balancePath, l.access, nil).want(t, "balance", http.StatusOK)
		if before.body != after.body {
			t.Errorf("a refused spend changed the balance: %s -> %s", before.body, after.body)
		}
		e.api(t, http.MethodPost, usePath, l.access, `{"amount":1,"appId":"chat","description":"x","metadata":{"k":1,"k":2}}`).
			wantError(t, "use with a repeated metadata key", http.StatusBadRequest, "invalid_json",
				`Request body must not repeat a member name ("k")`)
	})
}
