package sqlite

import (
	"context"
	"fmt"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
)

// issue 12 (connected apps): the user's consents and one app's tokens.

func (s *Store) ListConsents(ctx context.Context, userID string) ([]*provider.Consent, error) {
	rows, err := s.reader(ctx).QueryContext(ctx, `SELECT client_id, scopes, granted_at FROM consents
		WHERE user_id = ? ORDER BY granted_at DESC, client_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list consents of user %q: %w", userID, mapErr(err))
	}
	out, err := collect(rows, func(row interface{ Scan(...any) error }) (*provider.Consent, error) {
		c := provider.Consent{UserID: userID}
		if err := row.Scan(&c.ClientID, listScanner{&c.Scopes}, database.ScanMillis(&c.GrantedAt)); err != nil {
			return nil, mapErr(err)
		}
		return &c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list consents of user %q: %w", userID, err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func (s *Store) ClientSubjectSessions(ctx context.Context, clientID, subject string) ([]string, error) {
	rows, err := s.reader(ctx).QueryContext(ctx, `SELECT DISTINCT session_id FROM grants
		WHERE client_id = ? AND subject = ? AND session_id <> '' ORDER BY session_id`, clientID, subject)
	if err != nil {
		return nil, fmt.Errorf("list sessions of client %q: %w", clientID, mapErr(err))
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list sessions of client %q: %w", clientID, mapErr(err))
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions of client %q: %w", clientID, mapErr(err))
	}
	return ids, nil
}

func (s *Store) RevokeClientSubject(ctx context.Context, clientID, subject string) (int, error) {
	if clientID == "" || subject == "" {
		return 0, nil
	}
	n, err := s.revoke(ctx, true, `client_id = ? AND subject = ?`, clientID, subject)
	if err != nil {
		return 0, fmt.Errorf("revoke grants of client %q for user %q: %w", clientID, subject, err)
	}
	return n, nil
}
