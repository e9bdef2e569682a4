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
// ErrorView.Title, ErrorView.Message, RegisterView.Errors, the Error fields
// of the other views and AccountView.Notice/Error). Use them with T.
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
	KeyErrorUnavailable     = "error.unavailable"
	// KeyErrorBusy: refused for overload (issue 13); never blames the
	// credentials, which were not checked.
	KeyErrorBusy = "error.busy"

	KeyLoginUnverified          = "login.unverified"
	KeyRateLimit                = "ratelimit"
	KeyRegisterEmailTaken       = "register.email_taken"
	KeyRegisterInvalidEmail     = "register.invalid_email"
	KeyRegisterPasswordLength   = "register.password_length"
	KeyRegisterNameLength       = "register.name_length"
	KeyRegisterNameInvalid      = "register.name_invalid"
	KeyResetInvalidToken        = "reset.invalid_token"
	KeyResetMismatch            = "reset.mismatch"
	Key2FAInvalidCode           = "2fa.invalid_code"
	KeyPasswordWrongCurrent     = "password.wrong_current"
	KeyAccountSaved             = "account.saved"
	KeyAccountPasswordChanged   = "account.password_changed"
	KeyAccount2FAEnabled        = "account.2fa_enabled"
	KeyAccount2FADisabled       = "account.2fa_disabled"
	KeyAccountSessionRevoked    = "account.session_revoked"
	KeyAccountSessionsRevoked   = "account.sessions_revoked"
	KeyAccountSessionNotFound   = "account.session_not_found"
	KeyCreditsPurchaseSuccess   = "credits.purchase_success"
	KeyCreditsPurchaseCancelled = "credits.purchase_cancelled"
	KeyCreditsPackageNotFound   = "credits.package_not_found"
	// issue 11 part A: disabled accounts
	KeyLoginDisabled = "login.disabled"
)

// Keys of the account page additions (issue 12, B): connected apps and
// the profile picture.
const (
	KeyAccountAppRevoked  = "account.apps.revoked"
	KeyAccountAppNotFound = "account.apps.not_found"
	KeyAccountPictureBad  = "account.picture.invalid"
)

// Keys of the admin pages and the user's own data pages (issue 11, pages).
const (
	KeyErrorForbidden        = "error.forbidden"
	KeyAdminSessionsRevoked  = "admin.notice.sessions_revoked"
	KeyAdminRoleChanged      = "admin.notice.role_changed"
	KeyAdminDisabled         = "admin.notice.disabled"
	KeyAdminEnabled          = "admin.notice.enabled"
	KeyAdminSelf             = "admin.error.self"
	KeyAdminInvalid          = "admin.error.invalid"
	KeyAdminErased           = "admin.error.erased"
	KeyErasureEmailMismatch  = "erasure.email_mismatch"
	KeyClientCreated         = "admin.clients.created"
	KeyClientUpdated         = "admin.clients.updated"
	KeyClientDeleted         = "admin.clients.deleted"
	KeyClientExists          = "admin.clients.exists"
	KeyClientBuiltIn         = "admin.clients.builtin_refused"
	KeyClientInvalid         = "admin.clients.invalid"
	KeyDeleteWrongPassword   = "delete.wrong_password"
	KeyDeleteCodeRequired    = "delete.code_required"
	KeyErasureSessions       = "erasure.auth.sessions"
	KeyErasureTokens         = "erasure.auth.tokens"
	KeyErasureConsents       = "erasure.auth.consents"
	KeyErasureAccounts       = "erasure.auth.accounts"
	KeyErasureTwoFactor      = "erasure.auth.two_factor"
	KeyErasureDevices        = "erasure.auth.devices"
	KeyErasureVerification   = "erasure.auth.verification"
	KeyErasureEvents         = "erasure.auth.events"
	KeyErasureLedgerDetached = "erasure.auth.ledger"
)

// Issue 12, part A (journeys back into the app, error pages): the notices
// on /login after a mail link and the error page's statuses. The "_app"
// variants hold one %s, the app's name.
const (
	KeyLoginVerified         = "login.verified"
	KeyLoginVerifiedApp      = "login.verified_app"
	KeyLoginResetDone        = "login.reset_done"
	KeyLoginResetDoneApp     = "login.reset_done_app"
	KeyErrorMethodNotAllowed = "error.method_not_allowed"
	KeyErrorNotFoundTitle    = "error.not_found_title"
)

// Keys of the passkey pages and messages (issue 15).
const (
	KeyPasskeyFailed      = "passkey.failed"
	KeyPasskeyRejected    = "passkey.rejected"
	KeyPasskeyAdded       = "account.passkeys.added"
	KeyPasskeyRenamed     = "account.passkeys.renamed"
	KeyPasskeyRemoved     = "account.passkeys.removed"
	KeyPasskeyNotFound    = "account.passkeys.not_found"
	KeyPasskeyNameInvalid = "account.passkeys.name_invalid"
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
	"login.continue_as":       {"Continue as", "Weiter als"},
	"login.use_another":       {"Or sign in with another account:", "Oder mit einem anderen Konto anmelden:"},
	KeyLoginInvalid:           {"Invalid email or password", "E-Mail oder Passwort ist falsch"},
	KeyLoginRequired:          {"Please enter your email and password.", "Bitte gib deine E-Mail-Adresse und dein Passwort ein."},
	KeyLoginLocked:            {"Too many attempts. Please try again later.", "Zu viele Versuche. Bitte versuche es später erneut."},
	KeyLoginUnverified: {
		"Please confirm your email address first — we sent you a link.",
		"Bitte bestätige zuerst deine E-Mail-Adresse – wir haben dir einen Link geschickt.",
	},
	KeyRateLimit: {
		"Too many attempts. Please wait a moment and try again.",
		"Zu viele Versuche. Bitte warte einen Moment und versuche es dann erneut.",
	},

	// Register.
	"register.title":        {"Create your account", "Konto erstellen"},
	"register.subtitle":     {"One account for all Mana apps", "Ein Konto für alle Mana-Apps"},
	"register.name":         {"Name", "Name"},
	"register.submit":       {"Create account", "Konto erstellen"},
	"register.have_account": {"Already have an account?", "Du hast schon ein Konto?"},
	"password.hint":         {"At least 8 characters", "Mindestens 8 Zeichen"},
	KeyRegisterEmailTaken: {
		"An account with this email address already exists. Sign in or reset your password.",
		"Mit dieser E-Mail-Adresse gibt es schon ein Konto. Melde dich an oder setze dein Passwort zurück.",
	},
	KeyRegisterInvalidEmail:   {"Please enter a valid email address.", "Bitte gib eine gültige E-Mail-Adresse ein."},
	KeyRegisterPasswordLength: {"Your password must be 8 to 128 characters long.", "Dein Passwort muss 8 bis 128 Zeichen lang sein."},
	KeyRegisterNameLength:     {"Please enter your name (at most 255 characters).", "Bitte gib deinen Namen ein (höchstens 255 Zeichen)."},
	KeyRegisterNameInvalid:    {"Please enter just your name, without links or web addresses.", "Bitte gib nur deinen Namen ein, ohne Links oder Webadressen."},

	// Registered / email confirmation.
	"registered.title":        {"Check your inbox", "Schau in dein Postfach"},
	"registered.sent_to":      {"We sent a confirmation link to", "Wir haben einen Bestätigungslink an"},
	"registered.sent_to_end":  {".", " geschickt."},
	"registered.sent":         {"We sent you a confirmation link.", "Wir haben dir einen Bestätigungslink geschickt."},
	"registered.explain":      {"Open it to activate your account. The link is valid for 24 hours.", "Öffne ihn, um dein Konto zu aktivieren. Der Link ist 24 Stunden gültig."},
	"registered.not_received": {"No email? Check your spam folder or request a new link.", "Keine E-Mail bekommen? Schau in deinen Spam-Ordner oder fordere einen neuen Link an."},
	"verify.resend":           {"Send new link", "Neuen Link senden"},
	"verify.ok_title":         {"Email address confirmed", "E-Mail-Adresse bestätigt"},
	"verify.ok_text":          {"Your account is ready. You can sign in now.", "Dein Konto ist bereit. Du kannst dich jetzt anmelden."},
	"verify.signin":           {"Continue to sign-in", "Weiter zur Anmeldung"},
	"verify.failed_title":     {"This link is no longer valid", "Dieser Link ist nicht mehr gültig"},
	"verify.failed_text": {
		"The confirmation link is invalid, expired or has already been used. Request a new one below.",
		"Der Bestätigungslink ist ungültig, abgelaufen oder wurde schon benutzt. Fordere unten einen neuen an.",
	},

	// Forgot / reset password.
	"forgot.title":           {"Reset your password", "Passwort zurücksetzen"},
	"forgot.subtitle":        {"Enter your email address and we'll send you a link to choose a new password.", "Gib deine E-Mail-Adresse ein. Wir schicken dir einen Link, mit dem du ein neues Passwort wählen kannst."},
	"forgot.submit":          {"Send reset link", "Link senden"},
	"forgot.sent_to":         {"If an account exists for", "Falls es ein Konto für"},
	"forgot.sent_to_end":     {", we sent it a link to reset the password.", " gibt, haben wir einen Link zum Zurücksetzen des Passworts geschickt."},
	"forgot.sent":            {"If an account exists for this address, we sent it a link to reset the password.", "Falls es ein Konto für diese Adresse gibt, haben wir einen Link zum Zurücksetzen des Passworts geschickt."},
	"forgot.sent_hint":       {"The link is valid for 1 hour. No email? Check your spam folder.", "Der Link ist 1 Stunde gültig. Keine E-Mail bekommen? Schau in deinen Spam-Ordner."},
	"reset.title":            {"Choose a new password", "Neues Passwort wählen"},
	"reset.subtitle":         {"Pick a password you don't use anywhere else.", "Wähle ein Passwort, das du nirgendwo sonst verwendest."},
	"reset.new_password":     {"New password", "Neues Passwort"},
	"reset.confirm_password": {"Repeat new password", "Neues Passwort wiederholen"},
	"reset.submit":           {"Save password", "Passwort speichern"},
	"reset.done_title":       {"Password changed", "Passwort geändert"},
	"reset.done_text":        {"You can now sign in with your new password.", "Du kannst dich jetzt mit deinem neuen Passwort anmelden."},
	KeyResetInvalidToken: {
		"This reset link is invalid or expired. Please request a new one.",
		"Dieser Link ist ungültig oder abgelaufen. Bitte fordere einen neuen an.",
	},
	KeyResetMismatch:        {"The passwords do not match.", "Die Passwörter stimmen nicht überein."},
	KeyPasswordWrongCurrent: {"Your current password is not correct.", "Dein aktuelles Passwort ist nicht korrekt."},

	// Two-factor login step.
	"2fa.title":         {"Two-factor authentication", "Zwei-Faktor-Authentifizierung"},
	"2fa.subtitle":      {"Enter the 6-digit code from your authenticator app.", "Gib den 6-stelligen Code aus deiner Authenticator-App ein."},
	"2fa.code":          {"Code", "Code"},
	"2fa.recovery_hint": {"No access to your app? Enter one of your recovery codes instead.", "Kein Zugriff auf deine App? Gib stattdessen einen deiner Wiederherstellungscodes ein."},
	"2fa.submit":        {"Verify", "Bestätigen"},
	"2fa.cancel":        {"Cancel and go back", "Abbrechen und zurück"},
	Key2FAInvalidCode:   {"The code is not valid. Please try again.", "Der Code ist ungültig. Bitte versuche es erneut."},

	// Account.
	"account.title":            {"Your account", "Dein Konto"},
	"account.email_verified":   {"Verified", "Bestätigt"},
	"account.email_unverified": {"Not verified", "Nicht bestätigt"},
	"account.save":             {"Save", "Speichern"},
	"account.profile.title":    {"Profile", "Profil"},
	"account.password.title":   {"Password", "Passwort"},
	"account.password.intro":   {"Enter your current password to choose a new one.", "Gib dein aktuelles Passwort ein, um ein neues zu wählen."},
	"account.password.current": {"Current password", "Aktuelles Passwort"},
	"account.password.submit":  {"Change password", "Passwort ändern"},
	"account.2fa.title":        {"Two-factor authentication", "Zwei-Faktor-Authentifizierung"},
	"account.2fa.on":           {"On", "An"},
	"account.2fa.off":          {"Off", "Aus"},
	"account.2fa.disabled_text": {
		"Protect your account with a second step: after your password, enter a code from an authenticator app on your phone.",
		"Schütze dein Konto mit einem zweiten Schritt: Nach deinem Passwort gibst du einen Code aus einer Authenticator-App auf deinem Handy ein.",
	},
	"account.2fa.enroll": {"Set up two-factor authentication", "Zwei-Faktor-Authentifizierung einrichten"},
	"account.2fa.enabled_text": {
		"When you sign in, you enter a code from your authenticator app after your password.",
		"Bei der Anmeldung gibst du nach deinem Passwort einen Code aus deiner Authenticator-App ein.",
	},
	"account.2fa.disable_hint": {"To turn it off, confirm with a current code from your app.", "Zum Ausschalten bestätige mit einem aktuellen Code aus deiner App."},
	"account.2fa.disable":      {"Turn off", "Ausschalten"},
	"account.2fa.step_scan":    {"Scan the QR code with your authenticator app.", "Scanne den QR-Code mit deiner Authenticator-App."},
	"account.2fa.qr_alt":       {"QR code for your authenticator app", "QR-Code für deine Authenticator-App"},
	"account.2fa.manual":       {"Can't scan it? Enter this key instead:", "Scannen klappt nicht? Gib stattdessen diesen Schlüssel ein:"},
	"account.2fa.step_code":    {"Enter the 6-digit code the app shows.", "Gib den 6-stelligen Code ein, den die App anzeigt."},
	"account.2fa.verify":       {"Turn on", "Einschalten"},
	"account.2fa.codes_title":  {"Save your recovery codes", "Speichere deine Wiederherstellungscodes"},
	"account.2fa.codes_text": {
		"If you lose your phone, each code lets you sign in once. Keep them somewhere safe — they are shown only now.",
		"Wenn du dein Handy verlierst, kannst du dich mit jedem Code einmal anmelden. Bewahre sie sicher auf – sie werden nur jetzt angezeigt.",
	},
	"account.sessions.title":         {"Sessions and devices", "Sitzungen und Geräte"},
	"account.sessions.intro":         {"Where you are signed in. Sign out anything you don't recognise.", "Hier bist du angemeldet. Melde alles ab, was du nicht kennst."},
	"account.sessions.none":          {"No active sessions.", "Keine aktiven Sitzungen."},
	"account.sessions.this_device":   {"This device", "Dieses Gerät"},
	"account.sessions.last_active":   {"Last active", "Zuletzt aktiv"},
	"account.sessions.signed_in":     {"Signed in", "Angemeldet am"},
	"account.sessions.revoke":        {"Sign out", "Abmelden"},
	"account.sessions.revoke_others": {"Sign out everywhere else", "Überall sonst abmelden"},
	"account.sessions.revoke_others_hint": {
		"Signs you out on every other device. This device stays signed in.",
		"Meldet dich auf allen anderen Geräten ab. Auf diesem Gerät bleibst du angemeldet.",
	},
	"account.sessions.on":             {"on", "auf"},
	"account.sessions.unknown_device": {"Unknown device", "Unbekanntes Gerät"},
	"account.events.title":            {"Recent security activity", "Letzte Sicherheitsaktivitäten"},
	"account.events.intro":            {"Sign-ins and changes to your account.", "Anmeldungen und Änderungen an deinem Konto."},
	"account.events.none":             {"No activity yet.", "Noch keine Aktivitäten."},
	"account.events.event":            {"Event", "Ereignis"},
	"account.events.time":             {"When", "Wann"},
	"account.events.ip":               {"IP address", "IP-Adresse"},
	"account.events.device":           {"Device", "Gerät"},
	KeyAccountSaved:                   {"Your profile was saved.", "Dein Profil wurde gespeichert."},
	KeyAccountPasswordChanged:         {"Your password was changed.", "Dein Passwort wurde geändert."},
	KeyAccount2FAEnabled:              {"Two-factor authentication is now on.", "Die Zwei-Faktor-Authentifizierung ist jetzt eingeschaltet."},
	KeyAccount2FADisabled:             {"Two-factor authentication is now off.", "Die Zwei-Faktor-Authentifizierung ist jetzt ausgeschaltet."},
	KeyAccountSessionRevoked:          {"The session was signed out.", "Die Sitzung wurde abgemeldet."},
	KeyAccountSessionsRevoked:         {"You were signed out on all other devices.", "Du wurdest auf allen anderen Geräten abgemeldet."},
	KeyAccountSessionNotFound:         {"That session was not found; it may have ended already.", "Diese Sitzung wurde nicht gefunden; vielleicht ist sie schon beendet."},

	"account.credits_link": {"Credits", "Credits"},

	// Credits page.
	"credits.title":              {"Credits", "Credits"},
	"credits.back":               {"Back to your account", "Zurück zu deinem Konto"},
	"credits.balance.title":      {"Balance", "Guthaben"},
	"credits.balance.available":  {"Available", "Verfügbar"},
	"credits.balance.free":       {"Free credits", "Gratis-Credits"},
	"credits.balance.paid":       {"Purchased credits", "Gekaufte Credits"},
	"credits.balance.hint":       {"Free credits are used first.", "Gratis-Credits werden zuerst verbraucht."},
	"credits.tx.title":           {"Recent transactions", "Letzte Buchungen"},
	"credits.tx.none":            {"No transactions yet.", "Noch keine Buchungen."},
	"credits.tx.type":            {"Type", "Art"},
	"credits.tx.amount":          {"Amount", "Betrag"},
	"credits.tx.app":             {"App", "App"},
	"credits.tx.date":            {"Date", "Datum"},
	"credits.tx.signup_bonus":    {"Welcome bonus", "Willkommensbonus"},
	"credits.tx.daily_free":      {"Daily free credits", "Tägliche Gratis-Credits"},
	"credits.tx.usage":           {"Usage", "Verbrauch"},
	"credits.tx.purchase":        {"Purchase", "Kauf"},
	"credits.tx.refund":          {"Refund", "Erstattung"},
	"credits.tx.adjustment":      {"Adjustment", "Korrektur"},
	"credits.tx.opening":         {"Balance carried over", "Übertrag"},
	"credits.tx.bonus":           {"Bonus", "Bonus"},
	"credits.tx.expiry":          {"Expired credits", "Verfallene Credits"},
	"credits.buy.title":          {"Buy credits", "Credits kaufen"},
	"credits.buy.intro":          {"You pay securely with Stripe and return here afterwards.", "Du bezahlst sicher über Stripe und kommst danach hierher zurück."},
	"credits.buy.none":           {"No packages are available right now.", "Gerade sind keine Pakete verfügbar."},
	"credits.buy.submit":         {"Buy", "Kaufen"},
	"credits.purchases.title":    {"Purchase history", "Kaufverlauf"},
	"credits.purchases.none":     {"No purchases yet.", "Noch keine Käufe."},
	"credits.purchases.credits":  {"Credits", "Credits"},
	"credits.purchases.price":    {"Price", "Preis"},
	"credits.purchases.status":   {"Status", "Status"},
	"credits.purchase.pending":   {"Pending", "Ausstehend"},
	"credits.purchase.succeeded": {"Paid", "Bezahlt"},
	"credits.purchase.failed":    {"Failed", "Fehlgeschlagen"},
	"credits.purchase.refunded":  {"Refunded", "Erstattet"},
	KeyCreditsPurchaseSuccess: {
		"Thank you! Your credits will appear as soon as the payment is confirmed.",
		"Danke! Deine Credits erscheinen, sobald die Zahlung bestätigt ist.",
	},
	KeyCreditsPurchaseCancelled: {"The purchase was cancelled. You were not charged.", "Der Kauf wurde abgebrochen. Dir wurde nichts berechnet."},
	KeyCreditsPackageNotFound:   {"This package is not available.", "Dieses Paket ist nicht verfügbar."},

	// Security event types (see eventKeys).
	"event.registered":          {"Account created", "Konto erstellt"},
	"event.login_success":       {"Signed in", "Angemeldet"},
	"event.login_failure":       {"Failed sign-in attempt", "Fehlgeschlagener Anmeldeversuch"},
	"event.logout":              {"Signed out", "Abgemeldet"},
	"event.refresh_token_reuse": {"Suspicious token reuse blocked", "Verdächtige Token-Wiederverwendung blockiert"},
	"event.password_changed":    {"Password changed", "Passwort geändert"},
	"event.password_reset":      {"Password reset", "Passwort zurückgesetzt"},
	"event.email_verified":      {"Email address confirmed", "E-Mail-Adresse bestätigt"},
	"event.2fa_enabled":         {"Two-factor authentication turned on", "Zwei-Faktor-Authentifizierung eingeschaltet"},
	"event.2fa_disabled":        {"Two-factor authentication turned off", "Zwei-Faktor-Authentifizierung ausgeschaltet"},
	"event.2fa_used":            {"Signed in with two-factor code", "Mit Zwei-Faktor-Code angemeldet"},
	"event.recovery_code_used":  {"Recovery code used", "Wiederherstellungscode verwendet"},
	"event.session_revoked":     {"Session signed out", "Sitzung abgemeldet"},
	"event.account_locked":      {"Account temporarily locked", "Konto vorübergehend gesperrt"},
	"event.profile_updated":     {"Profile changed", "Profil geändert"},

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
	"loggedout.none":    {"You were not signed in.", "Du warst nicht angemeldet."},
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
	KeyErrorUnavailable: {
		"Sign-in is briefly unavailable. You are still signed in; please try again in a few seconds.",
		"Die Anmeldung ist kurz nicht erreichbar. Du bleibst angemeldet; bitte versuche es in ein paar Sekunden erneut.",
	},
	KeyErrorBusy: {
		"Too many people are signing in right now. Your details were not checked; please try again in a few seconds.",
		"Gerade melden sich sehr viele Menschen an. Deine Angaben wurden nicht geprüft; bitte versuche es in ein paar Sekunden erneut.",
	},
	"error.status":     {"Error", "Fehler"},
	"error.request_id": {"Request ID", "Anfrage-ID"},
	"error.back":       {"Back to sign-in", "Zurück zur Anmeldung"},

	// issue 11 part A: disabled accounts
	KeyLoginDisabled: {
		"This account has been disabled. Please contact support.",
		"Dieses Konto wurde deaktiviert. Bitte wende dich an den Support.",
	},

	// Admin pages and "Your data" (issue 11, pages).
	"account.data_link":              {"Your data", "Deine Daten"},
	"account.delete_link":            {"Delete account", "Konto löschen"},
	KeyErrorForbidden:                {"This page is for administrators only.", "Diese Seite ist nur für Administratoren."},
	"admin.title":                    {"Administration", "Verwaltung"},
	"admin.nav.users":                {"Users", "Nutzer"},
	"admin.nav.clients":              {"OAuth clients", "OAuth-Clients"},
	"admin.nav.account":              {"My account", "Mein Konto"},
	"admin.users.title":              {"Users", "Nutzer"},
	"admin.users.intro":              {"Search by email address or name.", "Suche nach E-Mail-Adresse oder Name."},
	"admin.users.search":             {"Search", "Suche"},
	"admin.users.search_placeholder": {"Email or name", "E-Mail oder Name"},
	"admin.users.show_erased":        {"Show erased accounts", "Gelöschte Konten anzeigen"},
	"admin.users.search_submit":      {"Search", "Suchen"},
	"admin.users.total":              {"Accounts found", "Gefundene Konten"},
	"admin.users.none":               {"No account matches.", "Kein Konto passt."},
	"admin.users.user":               {"User", "Nutzer"},
	"admin.users.role":               {"Role", "Rolle"},
	"admin.users.registered":         {"Registered", "Registriert"},
	"admin.users.last_active":        {"Last active", "Zuletzt aktiv"},
	"admin.users.prev":               {"Previous", "Zurück"},
	"admin.users.next":               {"Next", "Weiter"},
	"admin.users.page_of":            {"Page %d of %d", "Seite %d von %d"},
	"admin.user.title":               {"User", "Nutzer"},
	"admin.user.erased_name":         {"Erased account", "Gelöschtes Konto"},
	"admin.user.erased":              {"Erased", "Gelöscht"},
	"admin.user.disabled":            {"Disabled", "Gesperrt"},
	"admin.user.back":                {"All users", "Alle Nutzer"},
	"admin.user.back_to_user":        {"Back to the user", "Zurück zum Nutzer"},
	"admin.role.admin":               {"Admin", "Admin"},
	"admin.role.user":                {"User", "Nutzer"},
	"admin.stats.title":              {"Overview", "Übersicht"},
	"admin.stats.entities":           {"Entities", "Einträge"},
	"admin.stats.apps":               {"Apps with data", "Apps mit Daten"},
	"admin.stats.credits":            {"Credits", "Credits"},
	"admin.stats.transactions":       {"Transactions", "Transaktionen"},
	"admin.auth.title":               {"Sign-in", "Anmeldung"},
	"admin.auth.sessions":            {"Active sessions", "Aktive Sitzungen"},
	"admin.auth.accounts":            {"Credentials", "Zugangsdaten"},
	"admin.auth.last_login":          {"Last sign-in", "Letzte Anmeldung"},
	"admin.credits.earned":           {"Earned in total", "Insgesamt erhalten"},
	"admin.credits.spent":            {"Spent in total", "Insgesamt verbraucht"},
	"admin.apps.title":               {"Data in the Mana apps", "Daten in den Mana-Apps"},
	"admin.apps.not_configured":      {"No app backends are configured.", "Es sind keine App-Backends konfiguriert."},
	"admin.apps.reachable":           {"Backend reachable", "Backend erreichbar"},
	"admin.apps.unreachable":         {"Backend unreachable", "Backend nicht erreichbar"},
	"admin.apps.no_data":             {"No data stored.", "Keine Daten gespeichert."},
	"admin.apps.last_activity":       {"Last activity:", "Letzte Aktivität:"},
	"admin.pending.title":            {"Pending deletions", "Ausstehende Löschungen"},
	"admin.pending.intro":            {"These apps have not confirmed the deletion yet; it is retried until they do.", "Diese Apps haben die Löschung noch nicht bestätigt; sie wird wiederholt, bis sie es tun."},
	"admin.pending.attempts":         {"Attempts", "Versuche"},
	"admin.pending.next":             {"Next attempt", "Nächster Versuch"},
	"admin.actions.title":            {"Actions", "Aktionen"},
	"admin.actions.signout":          {"Sign out everywhere", "Überall abmelden"},
	"admin.actions.role":             {"Change role", "Rolle ändern"},
	"admin.actions.enable":           {"Enable", "Entsperren"},
	"admin.actions.disable":          {"Disable", "Sperren"},
	KeyAdminSessionsRevoked:          {"The user was signed out everywhere.", "Der Nutzer wurde überall abgemeldet."},
	KeyAdminRoleChanged:              {"The role was changed.", "Die Rolle wurde geändert."},
	KeyAdminDisabled:                 {"The account was disabled and signed out everywhere.", "Das Konto wurde gesperrt und überall abgemeldet."},
	KeyAdminEnabled:                  {"The account was enabled.", "Das Konto wurde entsperrt."},
	KeyAdminSelf:                     {"You cannot disable or demote your own account.", "Du kannst dein eigenes Konto nicht sperren oder herabstufen."},
	KeyAdminInvalid:                  {"This value is not allowed.", "Dieser Wert ist nicht erlaubt."},
	KeyAdminErased:                   {"This account was erased; only its tombstone is left.", "Dieses Konto wurde gelöscht; nur sein Platzhalter ist übrig."},
	"admin.delete.open":              {"Delete user…", "Nutzer löschen …"},
	"admin.delete.title":             {"Delete this user everywhere", "Diesen Nutzer überall löschen"},
	"admin.delete.intro":             {"This erases the person in every Mana app and in this service. It cannot be undone.", "Damit wird die Person in allen Mana-Apps und in diesem Dienst gelöscht. Das lässt sich nicht rückgängig machen."},
	"admin.delete.records":           {"records", "Einträge"},
	"admin.delete.retried":           {"the deletion is retried until it succeeds", "die Löschung wird wiederholt, bis sie gelingt"},
	"admin.delete.cancel":            {"Cancel", "Abbrechen"},
	"admin.delete.submit":            {"Delete everywhere", "Überall löschen"},
	"erasure.consequence.apps":       {"Everything the Mana apps store about the person is deleted.", "Alles, was die Mana-Apps über die Person speichern, wird gelöscht."},
	"erasure.consequence.auth":       {"Email address, name, password, two-factor settings, sessions, tokens and consents are erased; the email address can register again.", "E-Mail-Adresse, Name, Passwort, Zwei-Faktor-Einstellungen, Sitzungen, Tokens und Zustimmungen werden gelöscht; die E-Mail-Adresse kann sich neu registrieren."},
	"erasure.consequence.signout":    {"Every device and app is signed out at once.", "Alle Geräte und Apps werden sofort abgemeldet."},
	"erasure.consequence.ledger":     {"Credit transactions are kept for accounting, without any link to the person.", "Credit-Buchungen bleiben für die Buchhaltung erhalten, ohne Bezug zur Person."},
	"erasure.consequence.final":      {"A receipt without personal data records what was deleted where and when.", "Ein Beleg ohne personenbezogene Daten hält fest, was wo und wann gelöscht wurde."},
	"erasure.type_email":             {"To confirm, type the email address", "Zur Bestätigung tippe die E-Mail-Adresse"},
	KeyErasureEmailMismatch:          {"The email address typed does not match the account's.", "Die getippte E-Mail-Adresse passt nicht zum Konto."},
	"erasure.result.title":           {"Deletion", "Löschung"},
	"erasure.result.complete":        {"Complete", "Vollständig"},
	"erasure.result.partial":         {"Not complete yet", "Noch nicht vollständig"},
	"erasure.result.partial_text":    {"Some apps could not delete yet. Their deletion is retried until it succeeds; the receipt follows then.", "Einige Apps konnten noch nicht löschen. Ihre Löschung wird wiederholt, bis sie gelingt; dann folgt der Beleg."},
	"erasure.result.where":           {"Where", "Wo"},
	"erasure.result.outcome":         {"Outcome", "Ergebnis"},
	"erasure.result.deleted":         {"Deleted", "Gelöscht"},
	"erasure.result.ok":              {"Deleted", "Gelöscht"},
	"erasure.result.pending":         {"Retrying", "Wird wiederholt"},
	"erasure.result.failed":          {"Failed", "Fehlgeschlagen"},
	"erasure.result.auth":            {"Mana account", "Mana-Konto"},
	"erasure.result.total":           {"Records deleted in total", "Insgesamt gelöschte Einträge"},
	"erasure.receipts":               {"Erasure receipts", "Löschbelege"},
	"erasure.receipt":                {"Erasure receipt", "Löschbeleg"},
	"erasure.receipt.intro":          {"Proof of the deletion. It contains no personal data.", "Nachweis der Löschung. Er enthält keine personenbezogenen Daten."},
	"erasure.receipt.later":          {"The receipt is issued once every app has confirmed the deletion.", "Der Beleg wird ausgestellt, sobald jede App die Löschung bestätigt hat."},
	"erasure.receipt.id":             {"Erasure", "Löschung"},
	"erasure.receipt.subject":        {"Subject (pseudonym)", "Betroffene Person (Pseudonym)"},
	"erasure.receipt.requested_by":   {"Requested by", "Beantragt von"},
	"erasure.receipt.requested_at":   {"Requested", "Beantragt"},
	"erasure.receipt.completed_at":   {"Completed", "Abgeschlossen"},
	"erasure.by_self":                {"the person themself", "der Person selbst"},
	"erasure.by_admin":               {"administrator", "Administrator"},
	KeyErasureSessions:               {"sessions", "Sitzungen"},
	KeyErasureTokens:                 {"tokens", "Tokens"},
	KeyErasureConsents:               {"consents", "Zustimmungen"},
	KeyErasureAccounts:               {"credentials", "Zugangsdaten"},
	KeyErasureTwoFactor:              {"two-factor settings", "Zwei-Faktor-Einstellungen"},
	KeyErasureDevices:                {"devices", "Geräte"},
	KeyErasureVerification:           {"verification and reset links", "Bestätigungs- und Rücksetz-Links"},
	KeyErasureEvents:                 {"security events pseudonymised", "Sicherheitsereignisse pseudonymisiert"},
	KeyErasureLedgerDetached:         {"credit transactions detached", "Credit-Buchungen entkoppelt"},
	"stepup.title":                   {"Confirm it's you", "Bestätige, dass du es bist"},
	"stepup.intro":                   {"The admin pages need your second factor.", "Die Verwaltung braucht deinen zweiten Faktor."},
	"stepup.code":                    {"Authenticator code or recovery code", "Code aus der Authenticator-App oder Wiederherstellungscode"},
	"stepup.hint":                    {"6 digits from your app, or one of your recovery codes", "6 Ziffern aus deiner App oder einer deiner Wiederherstellungscodes"},
	"stepup.submit":                  {"Confirm", "Bestätigen"},
	"admin.clients.title":            {"OAuth clients", "OAuth-Clients"},
	"admin.clients.intro":            {"The applications that may sign users in.", "Die Anwendungen, die Nutzer anmelden dürfen."},
	"admin.clients.list":             {"Registered clients", "Registrierte Clients"},
	"admin.clients.none":             {"No clients yet.", "Noch keine Clients."},
	"admin.clients.public":           {"Public", "Öffentlich"},
	"admin.clients.trusted":          {"First-party", "Eigene App"},
	"admin.clients.builtin":          {"Built in", "Eingebaut"},
	"admin.clients.redirects":        {"Redirect URIs", "Weiterleitungs-URIs"},
	"admin.clients.redirects_hint":   {"One address per line", "Eine Adresse pro Zeile"},
	"admin.clients.delete":           {"Delete", "Löschen"},
	"admin.clients.create":           {"Create client", "Client anlegen"},
	"admin.clients.id":               {"Client ID", "Client-ID"},
	"admin.clients.public_hint":      {"Public client (no secret: SPA or mobile app)", "Öffentlicher Client (ohne Secret: SPA oder Mobil-App)"},
	"admin.clients.trusted_hint":     {"First-party app (no consent screen)", "Eigene App (ohne Zustimmungsseite)"},
	"admin.clients.secret_title":     {"Client secret", "Client-Secret"},
	"admin.clients.secret_text":      {"Copy it now: it is shown only once. Client", "Kopiere es jetzt: Es wird nur einmal angezeigt. Client"},
	KeyClientCreated:                 {"The client was created.", "Der Client wurde angelegt."},
	KeyClientUpdated:                 {"The client was saved.", "Der Client wurde gespeichert."},
	KeyClientDeleted:                 {"The client was deleted.", "Der Client wurde gelöscht."},
	KeyClientExists:                  {"This client ID is already taken.", "Diese Client-ID ist schon vergeben."},
	KeyClientBuiltIn:                 {"Built-in clients cannot be changed.", "Eingebaute Clients lassen sich nicht ändern."},
	KeyClientInvalid:                 {"Please check the client's fields:", "Bitte prüfe die Felder des Clients:"},
	"data.title":                     {"Your data", "Deine Daten"},
	"data.export.title":              {"Download everything", "Alles herunterladen"},
	"data.export.intro":              {"Everything this service holds about you as JSON: profile, sessions, connected apps, security events, credits and purchases, and what each app reports.", "Alles, was dieser Dienst über dich speichert, als JSON: Profil, Sitzungen, verbundene Apps, Sicherheitsereignisse, Credits und Käufe sowie was jede App meldet."},
	"data.export.download":           {"Download (JSON)", "Herunterladen (JSON)"},
	"data.apps.title":                {"In the Mana apps", "In den Mana-Apps"},
	"data.apps.intro":                {"What each app stores about you.", "Was jede App über dich speichert."},
	"data.apps.none":                 {"No apps are connected.", "Es sind keine Apps verbunden."},
	"delete.title":                   {"Delete account", "Konto löschen"},
	"delete.teaser":                  {"Erase your account and your data in every Mana app.", "Lösche dein Konto und deine Daten in allen Mana-Apps."},
	"delete.intro":                   {"Your account and everything the Mana apps store about you are erased. This cannot be undone.", "Dein Konto und alles, was die Mana-Apps über dich speichern, werden gelöscht. Das lässt sich nicht rückgängig machen."},
	"delete.submit":                  {"Delete my account", "Mein Konto löschen"},
	"delete.done":                    {"Your account was deleted and you were signed out.", "Dein Konto wurde gelöscht und du wurdest abgemeldet."},
	"delete.consequence.apps":        {"Everything the Mana apps store about you is deleted.", "Alles, was die Mana-Apps über dich speichern, wird gelöscht."},
	"delete.consequence.auth":        {"Your email address, name, password, two-factor settings, sessions and consents are erased; you can register again with the same address later.", "Deine E-Mail-Adresse, dein Name, Passwort, Zwei-Faktor-Einstellungen, Sitzungen und Zustimmungen werden gelöscht; du kannst dich später mit derselben Adresse neu registrieren."},
	"delete.consequence.signout":     {"You are signed out on every device and in every app at once.", "Du wirst sofort auf allen Geräten und in allen Apps abgemeldet."},
	"delete.consequence.ledger":      {"Credit transactions are kept for accounting, without any link to you; remaining credits are lost.", "Credit-Buchungen bleiben für die Buchhaltung erhalten, ohne Bezug zu dir; verbleibende Credits verfallen."},
	"delete.consequence.final":       {"You get a receipt without personal data that records what was deleted where and when.", "Du bekommst einen Beleg ohne personenbezogene Daten, der festhält, was wo und wann gelöscht wurde."},
	KeyDeleteWrongPassword:           {"The password is wrong.", "Das Passwort ist falsch."},
	KeyDeleteCodeRequired:            {"Please enter a valid code of your second factor.", "Bitte gib einen gültigen Code deines zweiten Faktors ein."},
	// Issue 12, part A: journeys back into the app, error pages.
	KeyLoginVerified:         {"Email confirmed — sign in to continue.", "E-Mail bestätigt – melde dich an, um fortzufahren."},
	KeyLoginVerifiedApp:      {"Email confirmed — sign in to continue to %s.", "E-Mail bestätigt – melde dich an, um weiter zu %s zu gelangen."},
	KeyLoginResetDone:        {"Password changed — sign in with your new password.", "Passwort geändert – melde dich mit deinem neuen Passwort an."},
	KeyLoginResetDoneApp:     {"Password changed — sign in to continue to %s.", "Passwort geändert – melde dich an, um weiter zu %s zu gelangen."},
	KeyErrorMethodNotAllowed: {"This page cannot be used that way.", "Diese Seite lässt sich so nicht aufrufen."},
	KeyErrorNotFoundTitle:    {"Page not found", "Seite nicht gefunden"},

	// issue 12 (B): connected apps, profile picture, device names, ledger
	// descriptions.
	"account.apps.title":             {"Connected apps", "Verbundene Apps"},
	"account.apps.intro":             {"Apps outside Mana you allowed to use your account. Removing one signs it out and it has to ask again.", "Apps außerhalb von Mana, denen du Zugriff auf dein Konto erlaubt hast. Entfernst du eine, wird sie abgemeldet und muss erneut fragen."},
	"account.apps.none":              {"You have not allowed any other app to use your account.", "Du hast keiner anderen App Zugriff auf dein Konto erlaubt."},
	"account.apps.scopes":            {"Permissions", "Berechtigungen"},
	"account.apps.granted":           {"Allowed", "Erlaubt"},
	"account.apps.revoke":            {"Remove access", "Zugriff entfernen"},
	KeyAccountAppRevoked:             {"Access removed. The app was signed out.", "Zugriff entfernt. Die App wurde abgemeldet."},
	KeyAccountAppNotFound:            {"This app has no access to your account.", "Diese App hat keinen Zugriff auf dein Konto."},
	"event.consent_revoked":          {"App access removed", "App-Zugriff entfernt"},
	"account.picture":                {"Profile picture", "Profilbild"},
	"account.picture_hint":           {"The https:// address of an image. Apps you allow to see your profile show it. Leave empty for none.", "Die https://-Adresse eines Bildes. Apps, denen du dein Profil zeigst, zeigen es an. Leer lassen für keins."},
	"account.sessions.more":          {"Show {n} more", "{n} weitere anzeigen"},
	"account.sessions.count":         {"{n} sessions", "{n} Sitzungen"},
	"credits.tx.dispute":             {"Chargeback", "Rückbuchung"},
	"credits.desc.signup_bonus":      {"Thank you for joining Mana", "Danke, dass du bei Mana bist"},
	"credits.desc.daily_free":        {"Your free credits for today", "Deine Gratis-Credits für heute"},
	"credits.desc.purchase":          {"Credits you bought", "Von dir gekaufte Credits"},
	"credits.desc.refund":            {"Taken back after a refunded payment", "Nach einer erstatteten Zahlung zurückgebucht"},
	"credits.desc.opening":           {"Your balance from the previous Mana service", "Dein Guthaben aus dem bisherigen Mana-Dienst"},
	"credits.desc.dispute":           {"Taken back after a disputed payment", "Nach einer angefochtenen Zahlung zurückgebucht"},
	"credits.desc.adjustment_grant":  {"Granted by Mana support", "Gutschrift vom Mana-Support"},
	"credits.desc.adjustment_deduct": {"Corrected by Mana support", "Korrektur durch den Mana-Support"},
	KeyAccountPictureBad:             {"The picture must be an https:// address of at most 2048 characters.", "Das Bild muss eine https://-Adresse mit höchstens 2048 Zeichen sein."},
	// issue 15 (passkeys).
	"event.passkey_added":               {"Passkey added", "Passkey hinzugefügt"},
	"event.passkey_removed":             {"Passkey removed", "Passkey entfernt"},
	"event.passkey_counter_regression":  {"Possibly copied passkey refused", "Möglicherweise kopierter Passkey abgelehnt"},
	"passkey.or":                        {"or", "oder"},
	"passkey.sign_in":                   {"Sign in with a passkey", "Mit einem Passkey anmelden"},
	"passkey.use_instead":               {"Use a passkey instead", "Stattdessen einen Passkey verwenden"},
	"passkey.unsupported":               {"This browser cannot use passkeys.", "Dieser Browser kann keine Passkeys verwenden."},
	KeyPasskeyFailed:                    {"The passkey could not be used. Please try again.", "Der Passkey konnte nicht verwendet werden. Bitte versuche es erneut."},
	KeyPasskeyRejected:                  {"This passkey was refused because it may have been copied. Sign in another way and remove it from your account.", "Dieser Passkey wurde abgelehnt, weil er kopiert worden sein könnte. Melde dich anders an und entferne ihn aus deinem Konto."},
	"account.passkeys.title":            {"Passkeys", "Passkeys"},
	"account.passkeys.intro":            {"Sign in with your fingerprint, face or device PIN instead of your password, or use a passkey as your second factor.", "Melde dich mit Fingerabdruck, Gesicht oder Geräte-PIN statt mit deinem Passwort an, oder nutze einen Passkey als zweiten Faktor."},
	"account.passkeys.none":             {"You have no passkeys yet.", "Du hast noch keine Passkeys."},
	"account.passkeys.synced":           {"Synced", "Synchronisiert"},
	"account.passkeys.created":          {"Added", "Hinzugefügt"},
	"account.passkeys.last_used":        {"Last used", "Zuletzt verwendet"},
	"account.passkeys.never_used":       {"Never used", "Noch nie verwendet"},
	"account.passkeys.name":             {"Name", "Name"},
	"account.passkeys.name_placeholder": {"e.g. My laptop", "z. B. Mein Laptop"},
	"account.passkeys.name_hint":        {"So you can tell your passkeys apart. Optional.", "Damit du deine Passkeys auseinanderhalten kannst. Optional."},
	"account.passkeys.reauth_hint":      {"Confirm it's you before adding a passkey.", "Bestätige, dass du es bist, bevor du einen Passkey hinzufügst."},
	"account.passkeys.add":              {"Add a passkey", "Passkey hinzufügen"},
	"account.passkeys.rename":           {"Rename", "Umbenennen"},
	"account.passkeys.remove":           {"Remove", "Entfernen"},
	KeyPasskeyAdded:                     {"Passkey added. You can now sign in with it.", "Passkey hinzugefügt. Du kannst dich jetzt damit anmelden."},
	KeyPasskeyRenamed:                   {"Passkey renamed.", "Passkey umbenannt."},
	KeyPasskeyRemoved:                   {"Passkey removed. It can no longer sign in.", "Passkey entfernt. Er kann dich nicht mehr anmelden."},
	KeyPasskeyNotFound:                  {"This passkey does not exist (any more).", "Diesen Passkey gibt es nicht (mehr)."},
	KeyPasskeyNameInvalid:               {"A passkey's name must be 1 to 64 characters of plain text.", "Der Name eines Passkeys muss aus 1 bis 64 Zeichen einfachem Text bestehen."},
}
