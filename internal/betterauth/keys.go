package betterauth

import (
	"context"
	"fmt"
	"time"

	"github.com/manacore/mana-core-auth/provider/keys"
)

// importKeys publishes the old service's signing public keys (auth.jwks)
// as retired keys for opts.KeyGrace, so tokens it issued just before the
// switch still verify against our JWKS. The private halves are encrypted
// with the old BETTER_AUTH_SECRET and are not needed: the old keys never
// sign again. The grace runs from the import, which is why the import
// belongs in the cut-over, after the old service stopped issuing tokens.
func (im *importer) importKeys(ctx context.Context) error {
	have, err := im.to.Store.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	present := make(map[string]bool, len(have))
	for _, k := range have {
		present[k.ID] = true
	}
	rows, err := im.old.Query(ctx, `SELECT id, public_key, created_at FROM auth.jwks ORDER BY created_at, id`)
	if err != nil {
		return fmt.Errorf("read auth.jwks: %w", err)
	}
	type oldKey struct {
		id, public string
		created    time.Time
	}
	var old []oldKey
	for rows.Next() {
		var k oldKey
		if err := rows.Scan(&k.id, &k.public, &k.created); err != nil {
			rows.Close()
			return fmt.Errorf("read auth.jwks: %w", err)
		}
		old = append(old, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read auth.jwks: %w", err)
	}
	for _, o := range old {
		if present[o.id] {
			im.report.Existing(KindKeys, 1)
			continue
		}
		created := o.created.UTC()
		if created.After(im.now) { // the old clock ran ahead; the key retires now
			created = im.now
		}
		k, err := keys.ImportPublicKey(o.id, []byte(o.public), created, im.now, im.now.Add(im.opts.KeyGrace))
		if err != nil {
			im.report.Reject(KindKeys, o.id, err.Error())
			continue
		}
		if err := im.to.Store.InsertKey(ctx, k); err != nil {
			return fmt.Errorf("insert key %q: %w", o.id, err)
		}
		im.report.Imported(KindKeys, 1)
	}
	return nil
}
