package templates

import (
	"strconv"
	"strings"
)

// Supported languages.
const (
	LangEN = "en"
	LangDE = "de"
)

// Translation keys for messages that handlers pass to the pages (LoginView.Error,
// ErrorView.Title and ErrorView.Message). Use them with T.
const (
	KeyLoginInvalid         = "login.invalid"
	KeyLoginRequired        = "login.required"
	KeyLoginLocked          = "login.locked"
	KeyErrorTitle           = "error.title"
	KeyErrorNotFound        = "error.not_found"
	KeyErrorBadRequest      = "error.bad_request"
	KeyErrorInvalidClient   = "error.invalid_client"
	KeyErrorInvalidRedirect = "error.invalid_redirect"
	KeyErrorInternal        = "error.internal"
	KeyErrorCSRF            = "error.csrf"
)

// PickLang returns the best supported language ("de" or "en") for an
// Accept-Language header value, honouring q-values. Any German variant
// ("de", "de-DE", "de-AT", …) maps to "de". Without a supported language
// in the header it returns "en".
func PickLang(acceptLanguage string) string {
	best, bestQ := LangEN, 0.0
	for part := range strings.SplitSeq(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(part, ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		primary, _, _ := strings.Cut(tag, "-")
		if primary != LangDE && primary != LangEN {
			continue
		}
		q, ok := parseQ(params)
		if !ok || q <= 0 {
			continue
		}
		if q > bestQ { // strictly greater: earlier entries win ties
			best, bestQ = primary, q
		}
	}
	return best
}

// parseQ extracts the q parameter from the parameters of one
// Accept-Language entry (the part after the first ';'). A missing q means 1.
func parseQ(params string) (float64, bool) {
	q := 1.0
	for p := range strings.SplitSeq(params, ";") {
		name, value, found := strings.Cut(strings.TrimSpace(p), "=")
		if !found || !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || v < 0 || v > 1 {
			return 0, false
		}
		q = v
	}
	return q, true
}

// normLang maps anything but "de" to "en".
func normLang(lang string) string {
	if lang == LangDE {
		return LangDE
	}
	return LangEN
}

// T returns the message for key in lang ("de" or "en"; anything else is
// treated as "en"). An unknown key is returned unchanged.
func T(lang, key string) string {
	m, ok := messages[key]
	if !ok {
		return key
	}
	if normLang(lang) == LangDE && m.de != "" {
		return m.de
	}
	return m.en
}

type message struct{ en, de string }

// messages is the translation table. Every key must have both languages;
// templates_test.go checks this and that every key used by the pages exists.
var messages = map[string]message{
	// Layout.
	"app.name":       {"Mana", "Mana"},
	"footer.tagline": {"Mana account · Secure sign-in", "Mana-Konto · Sichere Anmeldung"},

	// Login.
	"login.title":             {"Sign in", "Anmelden"},
	"login.subtitle":          {"Use your Mana account", "Mit deinem Mana-Konto"},
	"login.continue_to":       {"Continue to", "Weiter zu"},
	"login.email":             {"Email", "E-Mail"},
	"login.email_placeholder": {"you@example.com", "du@beispiel.de"},
	"login.password":          {"Password", "Passwort"},
	"login.forgot":            {"Forgot password?", "Passwort vergessen?"},
	"login.remember":          {"Keep me signed in", "Angemeldet bleiben"},
	"login.submit":            {"Sign in", "Anmelden"},
	"login.no_account":        {"New to Mana?", "Neu bei Mana?"},
	"login.register":          {"Create account", "Konto erstellen"},
	KeyLoginInvalid:           {"Invalid email or password", "E-Mail oder Passwort ist falsch"},
	KeyLoginRequired:          {"Please enter your email and password.", "Bitte gib deine E-Mail-Adresse und dein Passwort ein."},
	KeyLoginLocked:            {"Too many attempts. Please try again later.", "Zu viele Versuche. Bitte versuche es später erneut."},

	// Consent.
	"consent.title":        {"Allow access", "Zugriff erlauben"},
	"consent.unknown_app":  {"An application", "Eine Anwendung"},
	"consent.wants_access": {"wants to access your Mana account", "möchte auf dein Mana-Konto zugreifen"},
	"consent.signed_in_as": {"Signed in as", "Angemeldet als"},
	"consent.scopes_intro": {"This will allow the app to:", "Die App erhält damit folgende Berechtigungen:"},
	"consent.remember":     {"Remember my decision", "Entscheidung merken"},
	"consent.allow":        {"Allow", "Erlauben"},
	"consent.deny":         {"Deny", "Ablehnen"},
	"consent.note": {
		"Only allow access if you trust this app. You can revoke it at any time in your Mana account.",
		"Erlaube den Zugriff nur, wenn du dieser App vertraust. Du kannst ihn jederzeit in deinem Mana-Konto widerrufen.",
	},

	// Scope descriptions (see scopeKey).
	"scope.openid":         {"Sign you in with your Mana account", "Dich mit deinem Mana-Konto anmelden"},
	"scope.profile":        {"See your name and profile picture", "Deinen Namen und dein Profilbild sehen"},
	"scope.email":          {"See your email address", "Deine E-Mail-Adresse sehen"},
	"scope.offline_access": {"Stay connected while you are not using the app", "Verbunden bleiben, auch wenn du die App gerade nicht nutzt"},
	"scope.credits:read":   {"See your credit balance", "Dein Credit-Guthaben sehen"},
	"scope.credits:write":  {"Spend credits on your behalf", "In deinem Namen Credits ausgeben"},

	// Logout.
	"logout.title":        {"Sign out", "Abmelden"},
	"logout.question":     {"Do you want to sign out of Mana?", "Möchtest du dich von Mana abmelden?"},
	"logout.explain":      {"You will be signed out of your Mana account in this browser.", "Du wirst in diesem Browser von deinem Mana-Konto abgemeldet."},
	"logout.requested_by": {"Requested by", "Angefragt von"},
	"logout.confirm":      {"Sign out", "Abmelden"},
	"logout.cancel":       {"Cancel", "Abbrechen"},

	// Signed out.
	"loggedout.title":   {"Signed out", "Abgemeldet"},
	"loggedout.message": {"You have been signed out.", "Du wurdest abgemeldet."},
	"loggedout.hint":    {"You can close this window now.", "Du kannst dieses Fenster jetzt schließen."},
	"loggedout.signin":  {"Sign in again", "Erneut anmelden"},

	// Errors.
	KeyErrorTitle:      {"Something went wrong", "Etwas ist schiefgelaufen"},
	KeyErrorNotFound:   {"The page could not be found.", "Die Seite wurde nicht gefunden."},
	KeyErrorBadRequest: {"The request is invalid.", "Die Anfrage ist ungültig."},
	KeyErrorInvalidClient: {
		"This application is not registered.",
		"Diese Anwendung ist nicht registriert.",
	},
	KeyErrorInvalidRedirect: {
		"The redirect address of this application is not registered. For your safety we do not forward you.",
		"Die Weiterleitungsadresse dieser Anwendung ist nicht registriert. Zu deiner Sicherheit leiten wir dich nicht weiter.",
	},
	KeyErrorInternal: {
		"An unexpected error occurred. Please try again.",
		"Ein unerwarteter Fehler ist aufgetreten. Bitte versuche es erneut.",
	},
	KeyErrorCSRF: {
		"The form expired or came from another site. Please try again.",
		"Das Formular ist abgelaufen oder stammt von einer anderen Website. Bitte versuche es erneut.",
	},
	"error.status":     {"Error", "Fehler"},
	"error.request_id": {"Request ID", "Anfrage-ID"},
	"error.back":       {"Back to sign-in", "Zurück zur Anmeldung"},
}
