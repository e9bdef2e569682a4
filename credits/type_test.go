package credits_test

import (
	"testing"

	"github.com/manacore/mana-core-auth/credits"
)

func TestTypeBooked(t *testing.T) {
	t.Parallel()
	for typ, want := range map[credits.Type]bool{
		credits.TypeSignupBonus: true, credits.TypeDailyFree: true, credits.TypePurchase: true,
		credits.TypeRefund: true, credits.TypeDispute: true, credits.TypeAdjustment: true,
		credits.TypeUsage: false, "something_new": false,
		credits.TypeOpening: true, credits.TypeBonus: false, credits.TypeExpiry: false, // issue 14
	} {
		if got := typ.Booked(); got != want {
			t.Errorf("%s.Booked() = %v, want %v", typ, got, want)
		}
	}
}
