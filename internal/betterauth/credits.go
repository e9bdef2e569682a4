package betterauth

import "context"

// CreditsTarget is where the credits go. (issue 14: being built.)
type CreditsTarget interface{}

// importCredits copies the old credits.* tables. (issue 14: being built.)
func (im *importer) importCredits(ctx context.Context) error { return nil }
