package betterauth

import "context"

// importClients: issue 14, being built.
func (im *importer) importClients(ctx context.Context) error { return nil }
