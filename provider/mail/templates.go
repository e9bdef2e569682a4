package mail

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
)

// Kind names one transactional email.
type Kind string

const (
	KindVerifyEmail     Kind = "verify_email"     // data: Name, Link, ExpiresIn ("24 Stunden"/"24 hours")
	KindResetPassword   Kind = "reset_password"   // data: Name, Link, ExpiresIn ("1 Stunde"/"1 hour")
	KindPasswordChanged Kind = "password_changed" // data: Name (notification, no link)
	// issue 15 (passkeys): data: Name, and Link to the account page
	// (optional), where the passkey can be removed.
	KindPasskeyAdded Kind = "passkey_added"
)

// Data fills a template. Name may be empty (the greeting then has no name);
// ExpiresIn is already localized by the caller ("24 Stunden").
type Data struct{ Name, Link, ExpiresIn string }

// content is one kind in one language. text and html are template bodies;
// html is wrapped in htmlLayout.
type content struct {
	subject, text, html string
	needsLink           bool
}

// htmlLayout is deliberately plain: no CSS, no images, no tracking. Mail
// clients render simple markup reliably and it keeps the message small.
const htmlLayout = `<!DOCTYPE html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Subject}}</title>
</head>
<body>
{{template "content" .}}
</body>
</html>
`

// catalog returns the texts for one language. German uses the informal "du",
// as the rest of the product does.
func catalog(german bool) map[Kind]content {
	if german {
		return map[Kind]content{
			KindVerifyEmail: {
				subject:   "Bestätige deine E-Mail-Adresse",
				needsLink: true,
				text: `Hallo{{if .Name}} {{.Name}}{{end}},

willkommen bei Mana! Bitte bestätige deine E-Mail-Adresse, indem du diesen Link öffnest:

{{.Link}}

{{if .ExpiresIn}}Der Link ist {{.ExpiresIn}} gültig. {{end}}Falls du dich nicht bei Mana registriert hast, kannst du diese E-Mail einfach ignorieren.

Viele Grüße
dein Mana-Team
`,
				html: `<p>Hallo{{if .Name}} {{.Name}}{{end}},</p>
<p>willkommen bei Mana! Bitte bestätige deine E-Mail-Adresse:</p>
<p><a href="{{.Link}}">E-Mail-Adresse bestätigen</a></p>
<p>Falls der Link nicht funktioniert, kopiere diese Adresse in deinen Browser:<br>{{.Link}}</p>
<p>{{if .ExpiresIn}}Der Link ist {{.ExpiresIn}} gültig. {{end}}Falls du dich nicht bei Mana registriert hast, kannst du diese E-Mail einfach ignorieren.</p>
<p>Viele Grüße<br>dein Mana-Team</p>
`,
			},
			KindResetPassword: {
				subject:   "Setze dein Passwort zurück",
				needsLink: true,
				text: `Hallo{{if .Name}} {{.Name}}{{end}},

jemand hat angefragt, das Passwort für dein Mana-Konto zurückzusetzen. Über diesen Link kannst du ein neues Passwort festlegen:

{{.Link}}

{{if .ExpiresIn}}Der Link ist {{.ExpiresIn}} gültig. {{end}}Falls du das nicht warst, ignoriere diese E-Mail einfach – dein Passwort bleibt unverändert.

Viele Grüße
dein Mana-Team
`,
				html: `<p>Hallo{{if .Name}} {{.Name}}{{end}},</p>
<p>jemand hat angefragt, das Passwort für dein Mana-Konto zurückzusetzen. Über diesen Link kannst du ein neues Passwort festlegen:</p>
<p><a href="{{.Link}}">Neues Passwort festlegen</a></p>
<p>Falls der Link nicht funktioniert, kopiere diese Adresse in deinen Browser:<br>{{.Link}}</p>
<p>{{if .ExpiresIn}}Der Link ist {{.ExpiresIn}} gültig. {{end}}Falls du das nicht warst, ignoriere diese E-Mail einfach – dein Passwort bleibt unverändert.</p>
<p>Viele Grüße<br>dein Mana-Team</p>
`,
			},
			KindPasswordChanged: {
				subject: "Dein Passwort wurde geändert",
				text: `Hallo{{if .Name}} {{.Name}}{{end}},

das Passwort für dein Mana-Konto wurde gerade geändert.

Wenn du das warst, ist alles in Ordnung. Falls nicht, setze dein Passwort bitte sofort über „Passwort vergessen“ auf der Anmeldeseite zurück.

Viele Grüße
dein Mana-Team
`,
				html: `<p>Hallo{{if .Name}} {{.Name}}{{end}},</p>
<p>das Passwort für dein Mana-Konto wurde gerade geändert.</p>
<p>Wenn du das warst, ist alles in Ordnung. Falls nicht, setze dein Passwort bitte sofort über „Passwort vergessen“ auf der Anmeldeseite zurück.</p>
<p>Viele Grüße<br>dein Mana-Team</p>
`,
			},
			// issue 15 (passkeys)
			KindPasskeyAdded: {
				subject: "Ein Passkey wurde hinzugefügt",
				text: `Hallo{{if .Name}} {{.Name}}{{end}},

zu deinem Mana-Konto wurde gerade ein neuer Passkey hinzugefügt. Mit ihm kann man sich ohne Passwort anmelden.

Wenn du das warst, ist alles in Ordnung. Falls nicht, entferne den Passkey bitte sofort in deinem Konto{{if .Link}} ({{.Link}}){{end}} und ändere dein Passwort.

Viele Grüße
dein Mana-Team
`,
				html: `<p>Hallo{{if .Name}} {{.Name}}{{end}},</p>
<p>zu deinem Mana-Konto wurde gerade ein neuer Passkey hinzugefügt. Mit ihm kann man sich ohne Passwort anmelden.</p>
<p>Wenn du das warst, ist alles in Ordnung. Falls nicht, entferne den Passkey bitte sofort in {{if .Link}}<a href="{{.Link}}">deinem Konto</a>{{else}}deinem Konto{{end}} und ändere dein Passwort.</p>
<p>Viele Grüße<br>dein Mana-Team</p>
`,
			},
		}
	}
	return map[Kind]content{
		KindVerifyEmail: {
			subject:   "Confirm your email address",
			needsLink: true,
			text: `Hi{{if .Name}} {{.Name}}{{end}},

welcome to Mana! Please confirm your email address by opening this link:

{{.Link}}

{{if .ExpiresIn}}The link is valid for {{.ExpiresIn}}. {{end}}If you did not sign up for Mana, you can safely ignore this email.

Best regards,
the Mana team
`,
			html: `<p>Hi{{if .Name}} {{.Name}}{{end}},</p>
<p>welcome to Mana! Please confirm your email address:</p>
<p><a href="{{.Link}}">Confirm email address</a></p>
<p>If the link does not work, copy this address into your browser:<br>{{.Link}}</p>
<p>{{if .ExpiresIn}}The link is valid for {{.ExpiresIn}}. {{end}}If you did not sign up for Mana, you can safely ignore this email.</p>
<p>Best regards,<br>the Mana team</p>
`,
		},
		KindResetPassword: {
			subject:   "Reset your password",
			needsLink: true,
			text: `Hi{{if .Name}} {{.Name}}{{end}},

someone asked to reset the password of your Mana account. Use this link to choose a new password:

{{.Link}}

{{if .ExpiresIn}}The link is valid for {{.ExpiresIn}}. {{end}}If this wasn't you, just ignore this email; your password stays unchanged.

Best regards,
the Mana team
`,
			html: `<p>Hi{{if .Name}} {{.Name}}{{end}},</p>
<p>someone asked to reset the password of your Mana account. Use this link to choose a new password:</p>
<p><a href="{{.Link}}">Choose a new password</a></p>
<p>If the link does not work, copy this address into your browser:<br>{{.Link}}</p>
<p>{{if .ExpiresIn}}The link is valid for {{.ExpiresIn}}. {{end}}If this wasn't you, just ignore this email; your password stays unchanged.</p>
<p>Best regards,<br>the Mana team</p>
`,
		},
		KindPasswordChanged: {
			subject: "Your password was changed",
			text: `Hi{{if .Name}} {{.Name}}{{end}},

the password of your Mana account was just changed.

If this was you, all is well. If not, please reset your password right away using "Forgot password" on the sign-in page.

Best regards,
the Mana team
`,
			html: `<p>Hi{{if .Name}} {{.Name}}{{end}},</p>
<p>the password of your Mana account was just changed.</p>
<p>If this was you, all is well. If not, please reset your password right away using “Forgot password” on the sign-in page.</p>
<p>Best regards,<br>the Mana team</p>
`,
		},
		// issue 15 (passkeys)
		KindPasskeyAdded: {
			subject: "A passkey was added",
			text: `Hi{{if .Name}} {{.Name}}{{end}},

a new passkey was just added to your Mana account. It signs in without a password.

If this was you, all is well. If not, please remove the passkey on your account page{{if .Link}} ({{.Link}}){{end}} right away and change your password.

Best regards,
the Mana team
`,
			html: `<p>Hi{{if .Name}} {{.Name}}{{end}},</p>
<p>a new passkey was just added to your Mana account. It signs in without a password.</p>
<p>If this was you, all is well. If not, please remove the passkey on {{if .Link}}<a href="{{.Link}}">your account page</a>{{else}}your account page{{end}} right away and change your password.</p>
<p>Best regards,<br>the Mana team</p>
`,
		},
	}
}

// isGerman accepts "de" and regional tags like "de-AT" or "de_CH"; every
// other language gets English.
func isGerman(lang string) bool {
	lang = strings.ToLower(lang)
	return lang == "de" || strings.HasPrefix(lang, "de-") || strings.HasPrefix(lang, "de_")
}

// Compose renders kind for the recipient to in lang ("de", otherwise
// English). Link is required for the kinds that carry one and must be an
// absolute http(s) URL. All data is escaped in the HTML part.
//
// Templates are parsed on every call instead of once into package state: a
// few transactional mails a minute make parsing cost irrelevant, and there is
// no global to initialise or race on.
func Compose(lang string, kind Kind, to string, d Data) (Message, error) {
	german := isGerman(lang)
	c, ok := catalog(german)[kind]
	if !ok {
		return Message{}, fmt.Errorf("compose mail: unknown kind %q", kind)
	}
	if c.needsLink {
		if err := checkLink(d.Link); err != nil {
			return Message{}, fmt.Errorf("compose %s mail: %w", kind, err)
		}
	}
	htmlLang := "en"
	if german {
		htmlLang = "de"
	}
	view := struct {
		Data
		Lang, Subject string
	}{d, htmlLang, c.subject}

	tt, err := texttemplate.New("text").Parse(c.text)
	if err != nil {
		return Message{}, fmt.Errorf("parse %s text template: %w", kind, err)
	}
	var text bytes.Buffer
	if err := tt.Execute(&text, view); err != nil {
		return Message{}, fmt.Errorf("render %s text: %w", kind, err)
	}

	ht, err := htmltemplate.New("layout").Parse(htmlLayout)
	if err == nil {
		_, err = ht.New("content").Parse(c.html)
	}
	if err != nil {
		return Message{}, fmt.Errorf("parse %s html template: %w", kind, err)
	}
	var html bytes.Buffer
	if err := ht.ExecuteTemplate(&html, "layout", view); err != nil {
		return Message{}, fmt.Errorf("render %s html: %w", kind, err)
	}

	return Message{To: to, Subject: c.subject, Text: text.String(), HTML: html.String()}, nil
}

// checkLink refuses anything but an absolute http(s) URL. html/template would
// neutralise a javascript: URL in href anyway, but the plain-text part would
// still show it, and an empty link means a caller bug worth surfacing.
func checkLink(link string) error {
	if link == "" {
		return errors.New("link is required")
	}
	u, err := url.Parse(link)
	if err != nil {
		// Not wrapped: url.Error quotes the link, and the link holds a token.
		return errors.New("link is not a valid URL")
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("link must be an absolute http(s) URL")
	}
	return nil
}
