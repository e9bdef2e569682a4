package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// TestCreditsPageOneLanguage (issue 12): the descriptions of the
// transactions the ledger books itself are rendered from their type in the
// page's language; an app's description stays as the app wrote it.
func TestCreditsPageOneLanguage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		ctx := context.Background()
		u, err := e.store.GetUserByEmail(ctx, userEmail)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := e.credits.Spend(ctx, credits.SpendInput{UserID: u.ID, Amount: 30, AppID: "chat", Description: "Antwort generiert"}); err != nil {
			t.Fatalf("spend: %v", err)
		}
		if _, _, err := e.credits.Grant(ctx, u.ID, 40, "goodwill ticket #12"); err != nil {
			t.Fatalf("grant: %v", err)
		}
		br, _ := creditsPage(t, e)
		for _, tc := range []struct {
			lang          string
			want, notWant []string
		}{
			{"de-DE", []string{"Deine Gratis-Credits für heute", "Danke, dass du bei Mana bist", "Gutschrift vom Mana-Support", "Antwort generiert"},
				[]string{"Daily free credits", "Signup bonus", "goodwill ticket"}},
			{"en", []string{"Your free credits for today", "Thank you for joining Mana", "Granted by Mana support", "Antwort generiert"},
				[]string{"Signup bonus", "goodwill ticket", "Gratis"}},
		} {
			req, err := http.NewRequest(http.MethodGet, e.issuer+"/account/credits", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Accept-Language", tc.lang)
			p := br.do(t, req)
			if p.status != http.StatusOK {
				t.Fatalf("%s: %d", tc.lang, p.status)
			}
			for _, w := range tc.want {
				if !strings.Contains(p.body, w) {
					t.Errorf("%s credits page lacks %q", tc.lang, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(p.body, w) {
					t.Errorf("%s credits page shows %q", tc.lang, w)
				}
			}
		}
	})
}
