package account

// issue 15 (passkeys): the mail that tells a user a passkey was added.

import (
	"context"
	"fmt"
	"strings"

	"github.com/manacore/mana-core-auth/provider"
	pmail "github.com/manacore/mana-core-auth/provider/mail"
)

// PasskeyAdded queues the mail that tells u a passkey was added to their
// account, with a link to the account page where it can be removed
// (passkey.Notifier). It goes through the outbox like every account mail:
// durable, retried, and dropped if the account is erased before it is
// sent. The passkey's name stays out of the mail: it is the user's free
// text, and the mail must not read as if we vouched for it.
//
// The user has no stored language: lang is that of the page or API call
// that added the passkey, as for the verification and reset mails
// (Compose falls back to English for an unknown one).
func (s *Service) PasskeyAdded(ctx context.Context, u *provider.User, _, lang string) error {
	var link string
	if s.cfg.BaseURL != "" {
		link = strings.TrimRight(s.cfg.BaseURL, "/") + "/account"
	}
	m, err := pmail.Compose(lang, pmail.KindPasskeyAdded, u.Email, pmail.Data{Name: u.Name, Link: link})
	if err != nil {
		return fmt.Errorf("passkey added mail for user %q: %w", u.ID, err)
	}
	return s.outbox.enqueue(ctx, jobMessage, mailMessage{UserID: u.ID, Message: m})
}
