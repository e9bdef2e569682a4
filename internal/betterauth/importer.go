package betterauth

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/provider"
)

// Options configure an import.
type Options struct {
	// DryRun does everything but commit: the report says what would be
	// imported, and nothing is written.
	DryRun bool
	// Now is the clock (refresh token and key expiry); time.Now when nil.
	Now func() time.Time
	// SynapseSecret is the old SYNAPSE_OIDC_CLIENT_SECRET. The old service
	// registered the Matrix homeserver's client "matrix-synapse" in code,
	// not in its database, so its secret comes from the environment; empty
	// leaves the client out (reported).
	SynapseSecret string
	// SynapseRedirect is matrix-synapse's redirect URI.
	SynapseRedirect string
	// KeyGrace is how long the old signing keys stay published: tokens the
	// old service issued just before the switch verify until then. The old
	// access tokens lived at most an hour (OIDC), its API JWTs 15 minutes.
	KeyGrace time.Duration
}

// DefaultSynapseRedirect is the old service's hard-coded redirect URI for
// matrix-synapse.
const DefaultSynapseRedirect = "https://matrix.mana.how/_synapse/client/oidc/callback"

// Target is where the import writes.
type Target struct {
	Store   provider.Store
	Credits CreditsTarget
}

// importer carries one run.
type importer struct {
	old    pgx.Tx // read-only snapshot of the old database
	to     Target
	opts   Options
	now    time.Time
	report *Report
	// users holds the old user ids present in the target after the user
	// step (imported now or by an earlier run): sessions and credits of
	// anyone else are left out.
	users map[string]bool
}

// Run imports the old database at from (a PostgreSQL URL) into to and
// returns what it did. Records that fail validation are reported, not
// fatal; an error means a database failed, and then nothing of the
// failing step was written (each step is one transaction).
func Run(ctx context.Context, from string, to Target, opts Options) (*Report, error) {
	conn, err := pgx.Connect(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("connect to the old database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// One snapshot: a consistent copy even while the old service still
	// runs (a dry run before the cut-over).
	old, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("begin a snapshot of the old database: %w", err)
	}
	defer func() { _ = old.Rollback(context.WithoutCancel(ctx)) }()

	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SynapseRedirect == "" {
		opts.SynapseRedirect = DefaultSynapseRedirect
	}
	if opts.KeyGrace <= 0 {
		opts.KeyGrace = time.Hour
	}
	im := &importer{old: old, to: to, opts: opts, now: opts.Now().UTC(), report: NewReport(opts.DryRun), users: map[string]bool{}}
	if err := im.identity(ctx); err != nil {
		return nil, err
	}
	if err := im.importCredits(ctx); err != nil {
		return nil, err
	}
	return im.report, nil
}

// identity imports users, clients, keys and sessions in one transaction
// of the target, rolled back in a dry run.
func (im *importer) identity(ctx context.Context) error {
	st := im.to.Store
	tx, err := st.BeginTx(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = st.Rollback(tx) }()
	for _, step := range []struct {
		name string
		run  func(context.Context) error
	}{
		{"users", im.importUsers},
		{"clients", im.importClients},
		{"keys", im.importKeys},
		{"sessions", im.importSessions},
	} {
		if err := step.run(tx); err != nil {
			return fmt.Errorf("import %s: %w", step.name, err)
		}
	}
	if im.opts.DryRun {
		return st.Rollback(tx)
	}
	if err := st.Commit(tx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
