package mail

import (
	"html"
	"strings"
	"testing"
)

// issue 15 (passkeys): the notification that a passkey was added.
func TestComposePasskeyAdded(t *testing.T) {
	for lang, subject := range map[string]string{"de": "Ein Passkey wurde hinzugefügt", "en": "A passkey was added"} {
		t.Run(lang, func(t *testing.T) {
			m, err := Compose(lang, KindPasskeyAdded, "kim@example.com", Data{Name: "Kim", Link: "https://auth.mana.how/account"})
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != subject {
				t.Errorf("subject %q, want %q", m.Subject, subject)
			}
			for part, body := range map[string]string{"text": m.Text, "html": html.UnescapeString(m.HTML)} {
				if !strings.Contains(body, "Kim") || !strings.Contains(body, "Passkey") && !strings.Contains(body, "passkey") ||
					!strings.Contains(body, "https://auth.mana.how/account") {
					t.Errorf("%s part lacks name, passkey or account link:\n%s", part, body)
				}
			}
			if _, err := validate(m); err != nil {
				t.Errorf("validate: %v", err)
			}
			// The link is optional: a notification, not an action.
			m, err = Compose(lang, KindPasskeyAdded, "kim@example.com", Data{})
			if err != nil || strings.Contains(m.Text, "()") || strings.Contains(m.HTML, "href") {
				t.Errorf("without link: %v\n%s\n%s", err, m.Text, m.HTML)
			}
		})
	}
}
