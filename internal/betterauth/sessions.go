package betterauth

import "context"

// importSessions: issue 14, being built.
func (im *importer) importSessions(ctx context.Context) error { return nil }
