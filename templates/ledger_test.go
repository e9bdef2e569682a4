package templates

import "testing"

func TestTxDescription(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		tx     CreditsTransaction
		en, de string
	}{
		{"signup", CreditsTransaction{Type: "signup_bonus", Amount: 150, Description: "Signup bonus", OwnDescription: true},
			"Thank you for joining Mana", "Danke, dass du bei Mana bist"},
		{"daily", CreditsTransaction{Type: "daily_free", Amount: 5, Description: "Daily free credits", OwnDescription: true},
			"Your free credits for today", "Deine Gratis-Credits für heute"},
		{"purchase", CreditsTransaction{Type: "purchase", Amount: 500, Description: "Credit purchase", OwnDescription: true},
			"Credits you bought", "Von dir gekaufte Credits"},
		{"refund", CreditsTransaction{Type: "refund", Amount: -500, Description: "Refund ch_123", OwnDescription: true},
			"Taken back after a refunded payment", "Nach einer erstatteten Zahlung zurückgebucht"},
		{"dispute", CreditsTransaction{Type: "dispute", Amount: -500, Description: "Dispute lost dp_1", OwnDescription: true},
			"Taken back after a disputed payment", "Nach einer angefochtenen Zahlung zurückgebucht"},
		{"admin grant", CreditsTransaction{Type: "adjustment", Amount: 40, Description: "ticket 12", OwnDescription: true},
			"Granted by Mana support", "Gutschrift vom Mana-Support"},
		{"admin deduction", CreditsTransaction{Type: "adjustment", Amount: -40, Description: "ticket 12", OwnDescription: true},
			"Corrected by Mana support", "Korrektur durch den Mana-Support"},
		{"opening balance (issue 14)", CreditsTransaction{Type: "opening", Amount: 150, Description: "Balance carried over from the previous Mana service", OwnDescription: true},
			"Your balance from the previous Mana service", "Dein Guthaben aus dem bisherigen Mana-Dienst"},
		{"imported bonus stays as written", CreditsTransaction{Type: "bonus", Amount: 5, Description: "Tägliche Credits"},
			"Tägliche Credits", "Tägliche Credits"},
		{"app usage stays as written", CreditsTransaction{Type: "usage", Amount: -3, Description: "Bild erzeugt"},
			"Bild erzeugt", "Bild erzeugt"},
		{"app usage without description", CreditsTransaction{Type: "usage", Amount: -3}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := txDescription("en", tc.tx); got != tc.en {
				t.Errorf("en = %q, want %q", got, tc.en)
			}
			if got := txDescription("de", tc.tx); got != tc.de {
				t.Errorf("de = %q, want %q", got, tc.de)
			}
		})
	}
}
