package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/provider"
)

// issue 12 (connected apps): the user's consents and one app's tokens.

func (s *Store) ListConsents(ctx context.Context, userID string) ([]*provider.Consent, error) {
	rows, err := s.db(ctx).Query(ctx, `SELECT client_id, scopes, granted_at FROM auth.consents
		WHERE user_id = $1 ORDER BY granted_at DESC, client_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list consents of user %q: %w", userID, mapErr(err))
	}
	out, err := collect(rows, func(row pgx.Row) (*provider.Consent, error) {
		c := provider.Consent{UserID: userID}
		if err := row.Scan(&c.ClientID, &c.Scopes, &c.GrantedAt); err != nil {
			return nil, mapErr(err)
		}
		c.Scopes, c.GrantedAt = nilIfEmpty(c.Scopes), c.GrantedAt.UTC()
		return &c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list consents of user %q: %w", userID, err)
	}
	return nilIfEmpty(out), nil
}

func (s *Store) ClientSubjectSessions(ctx context.Context, clientID, subject string) ([]string, error) {
	rows, err := s.db(ctx).Query(ctx, `SELECT DISTINCT session_id FROM auth.grants
		WHERE client_id = $1 AND subject = $2 AND session_id <> '' ORDER BY session_id`, clientID, subject)
	if err != nil {
		return nil, fmt.Errorf("list sessions of client %q: %w", clientID, mapErr(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list sessions of client %q: %w", clientID, mapErr(err))
	}
	return nilIfEmpty(ids), nil
}

func (s *Store) RevokeClientSubject(ctx context.Context, clientID, subject string) (int, error) {
	if clientID == "" || subject == "" {
		return 0, nil
	}
	tag, err := s.db(ctx).Exec(ctx, `
		WITH gr AS (DELETE FROM auth.grant_grace WHERE signature IN
			(SELECT signature FROM auth.grants WHERE client_id = $1 AND subject = $2))
		UPDATE auth.grants SET active = false WHERE client_id = $1 AND subject = $2 AND active`, clientID, subject)
	if err != nil {
		return 0, fmt.Errorf("revoke grants of client %q for user %q: %w", clientID, subject, mapErr(err))
	}
	return int(tag.RowsAffected()), nil
}
