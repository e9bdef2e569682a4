package templates

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// previewCredits is a credits page with billing, packages, purchases and
// one transaction of each common type.
func previewCredits(lang string) CreditsView {
	return CreditsView{
		Lang: lang, Free: 130, Paid: 1525, Available: 1655, Billing: true,
		Notice: T(lang, KeyCreditsPurchaseSuccess),
		Transactions: []CreditsTransaction{
			{Type: "usage", Amount: -25, AppID: "mana-notes", Description: "Summary", At: previewNow},
			{Type: "purchase", Amount: 1500, At: previewNow.Add(-time.Hour)},
			{Type: "daily_free", Amount: 5, At: previewNow.Add(-2 * time.Hour)},
			{Type: "signup_bonus", Amount: 150, Description: "Signup bonus", At: previewNow.Add(-3 * time.Hour)},
		},
		Packages: []CreditsPackage{
			{ID: "credits-500", Name: "500 Credits", Credits: 500, PriceCents: 500, Currency: "eur"},
			{ID: "credits-1000", Name: "1000 Credits", Credits: 1000, PriceCents: 1000, Currency: "eur"},
		},
		Purchases: []CreditsPurchase{
			{Credits: 1500, AmountCents: 1500, Currency: "eur", Status: "succeeded", At: previewNow.Add(-time.Hour)},
			{Credits: 500, AmountCents: 500, Currency: "eur", Status: "pending", At: previewNow},
		},
	}
}

func TestCreditsPage(t *testing.T) {
	t.Parallel()
	out, doc := render(t, CreditsPage(previewCredits("en")))
	assertCSPSafe(t, out, doc)
	assertLang(t, doc, "en")

	for id, want := range map[string]string{
		"balance-available": "1,655", "balance-free": "130", "balance-paid": "1,525",
		"notice": T("en", KeyCreditsPurchaseSuccess),
	} {
		if got := text(byTestID(t, doc, id)); got != want {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	wantAttr(t, byTestID(t, doc, "back-to-account"), "href", "/account")

	forms := findAll(doc, func(n *html.Node) bool { return testID(n) == "checkout-form" })
	if len(forms) != 2 {
		t.Fatalf("checkout forms = %d, want 2", len(forms))
	}
	for i, id := range []string{"credits-500", "credits-1000"} {
		wantAttr(t, forms[i], "method", "post")
		wantAttr(t, forms[i], "action", "/account/credits/checkout")
		wantAttr(t, inputNamed(t, forms[i], "package_id"), "value", id)
	}
	if got := text(byTestID(t, doc, "package-price")); got != "€5.00" {
		t.Errorf("price = %q", got)
	}

	txs := findAll(doc, func(n *html.Node) bool { return testID(n) == "transaction" })
	if len(txs) != 4 {
		t.Fatalf("transactions = %d, want 4", len(txs))
	}
	var got []string
	for _, tx := range txs {
		got = append(got, text(findTestID(tx, "tx-type"))+"|"+text(findTestID(tx, "tx-amount"))+"|"+text(findTestID(tx, "tx-app")))
	}
	want := "Usage|−25|mana-notes Purchase|+1,500|— Daily free credits|+5|— Welcome bonus|+150|—"
	if strings.Join(got, " ") != want {
		t.Errorf("transactions = %q, want %q", strings.Join(got, " "), want)
	}
	if !strings.Contains(out, `<time datetime="2025-11-27T07:12:00Z">27 Nov 2025, 07:12 UTC</time>`) {
		t.Error("transaction time missing")
	}

	var statuses []string
	for _, p := range findAll(doc, func(n *html.Node) bool { return testID(n) == "purchase" }) {
		statuses = append(statuses, text(findTestID(p, "purchase-status")))
	}
	if strings.Join(statuses, ",") != "Paid,Pending" {
		t.Errorf("purchase statuses = %v", statuses)
	}
}

func TestCreditsPageWithoutBilling(t *testing.T) {
	t.Parallel()
	out, doc := render(t, CreditsPage(CreditsView{Lang: "en", Free: 155, Available: 155}))
	assertCSPSafe(t, out, doc)
	for _, id := range []string{"buy", "checkout-form", "purchases", "notice", "error"} {
		if findTestID(doc, id) != nil {
			t.Errorf("%s shown without billing", id)
		}
	}
	if got := text(byTestID(t, doc, "balance-available")); got != "155" {
		t.Errorf("available = %q", got)
	}
	if !strings.Contains(text(byTestID(t, doc, "transactions")), T("en", "credits.tx.none")) {
		t.Error("empty transactions text missing")
	}
}

func TestCreditsPageXSS(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	out, doc := render(t, CreditsPage(CreditsView{
		Lang: "en", Notice: xss, Error: xss, Billing: true,
		Transactions: []CreditsTransaction{{Type: xss, Amount: -1, AppID: xss, Description: xss, At: at}},
		Packages:     []CreditsPackage{{ID: xss, Name: xss, Credits: 1, PriceCents: 1, Currency: xss}},
		Purchases:    []CreditsPurchase{{Credits: 1, AmountCents: 1, Currency: xss, Status: xss, At: at}},
	}))
	assertCSPSafe(t, out, doc)
	assertEscaped(t, out, doc)
	wantAttr(t, inputNamed(t, byTestID(t, doc, "checkout-form"), "package_id"), "value", xss)
	for _, id := range []string{"tx-app", "tx-description", "tx-type", "package-name", "purchase-status"} {
		if got := text(byTestID(t, doc, id)); got != strings.Join(strings.Fields(xss), " ") {
			t.Errorf("%s = %q, want the raw text", id, got)
		}
	}
	wantAttr(t, byTestID(t, doc, "transaction"), "data-type", xss)
}

func TestAccountPageCreditsLink(t *testing.T) {
	t.Parallel()
	_, doc := render(t, AccountPage(AccountView{Lang: "de", Credits: true}))
	link := byTestID(t, doc, "credits-link")
	wantAttr(t, link, "href", "/account/credits")
	if got := text(link); got != "Credits" {
		t.Errorf("link text = %q", got)
	}
	if _, doc := render(t, AccountPage(AccountView{Lang: "en"})); findTestID(doc, "credits-link") != nil {
		t.Error("credits link shown without credits")
	}
}

func TestFormatCreditsAndMoney(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ got, want string }{
		{formatCredits("en", 0, true), "0"},
		{formatCredits("en", 999, false), "999"},
		{formatCredits("en", 1000, true), "+1,000"},
		{formatCredits("de", -1234567, true), "−1.234.567"},
		{formatMoney("en", 500, "eur"), "€5.00"},
		{formatMoney("de", 1999, "eur"), "19,99 €"},
		{formatMoney("en", 5, "usd"), "0.05 USD"},
		{formatMoney("de", 100, ""), "1,00"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if txTypeLabel("de", "usage") != "Verbrauch" || txTypeLabel("en", "other") != "other" ||
		txTypeLabel("de", "opening") != "Übertrag" || txTypeLabel("en", "expiry") != "Expired credits" {
		t.Error("txTypeLabel")
	}
	if purchaseStatusLabel("de", "refunded") != "Erstattet" || purchaseStatusLabel("en", "x") != "x" {
		t.Error("purchaseStatusLabel")
	}
}
