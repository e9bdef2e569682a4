package betterauth

import "context"

// importUsers: issue 14, being built.
func (im *importer) importUsers(ctx context.Context) error { return nil }
