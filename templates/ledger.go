package templates

// Ledger descriptions on the credits page (issue 12).

// txDescriptionKeys describe the transactions the ledger books itself.
var txDescriptionKeys = map[string]string{
	"signup_bonus": "credits.desc.signup_bonus",
	"daily_free":   "credits.desc.daily_free",
	"purchase":     "credits.desc.purchase",
	"refund":       "credits.desc.refund",
	"dispute":      "credits.desc.dispute",
	"opening":      "credits.desc.opening", // issue 14
}

// txDescription is the line under a transaction's type: for ours
// (OwnDescription) a sentence in lang from its type, whatever English the
// ledger stored; for an app's, its description as written.
func txDescription(lang string, tx CreditsTransaction) string {
	if !tx.OwnDescription {
		return tx.Description
	}
	if tx.Type == "adjustment" {
		if tx.Amount < 0 {
			return T(lang, "credits.desc.adjustment_deduct")
		}
		return T(lang, "credits.desc.adjustment_grant")
	}
	if key, ok := txDescriptionKeys[tx.Type]; ok {
		return T(lang, key)
	}
	return tx.Description
}
