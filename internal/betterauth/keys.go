package betterauth

import "context"

// importKeys: issue 14, being built.
func (im *importer) importKeys(ctx context.Context) error { return nil }
