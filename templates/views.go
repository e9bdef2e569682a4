package templates

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/a-h/templ"
)

// LoginView is the view model of LoginPage.
type LoginView struct {
	Lang          string // "de" or "en"
	ClientName    string // the app the user is signing in to; "" for a plain login
	ClientLogoURI string // optional; shown only for absolute http(s) URLs
	Email         string // keeps the user's input / login_hint
	Error         string // already translated message shown in place; "" for none
	ReturnTo      string // hidden field "return_to"
	Notice        string // already translated confirmation ("Email confirmed — …"); "" for none
	// CurrentEmail and ContinueURL offer the signed-in account
	// (prompt=select_account): "Continue as" links to ContinueURL, the
	// form signs in with another account. Both "" otherwise.
	CurrentEmail string
	ContinueURL  string
	// Passkeys offers "Sign in with a passkey" and the passkey autofill
	// (issue 15).
	Passkeys bool
}

// ConsentView is the view model of ConsentPage.
type ConsentView struct {
	Lang          string
	ClientName    string
	ClientLogoURI string
	UserEmail     string
	Scopes        []string // scope names; known ones get a translated description
	Challenge     string   // hidden field "challenge"
}

// LogoutView is the view model of LogoutConfirmPage.
type LogoutView struct {
	Lang       string
	ClientName string // may be ""
	Challenge  string // hidden field "challenge"
}

// LoggedOutView is the view model of LoggedOutPage.
type LoggedOutView struct {
	Lang string
	// NotSignedIn: the request ended no session (there was none).
	NotSignedIn bool
}

// ErrorView is the view model of ErrorPage.
type ErrorView struct {
	Lang      string
	Status    int    // HTTP status, shown small; 0 hides it
	Title     string // already translated; "" uses T(lang, "error.title")
	Message   string // already translated / safe text
	RequestID string // optional, shown small for support
}

// RegisterView is the view model of RegisterPage.
type RegisterView struct {
	Lang     string
	Name     string // keeps the user's input
	Email    string // keeps the user's input
	ReturnTo string // hidden field "return_to"
	// Errors maps a field ("name", "email", "password") to its translated
	// message, shown under the field; the "" key is a general message shown
	// above the form.
	Errors map[string]string
}

// RegisteredView is the view model of RegisteredPage.
type RegisteredView struct {
	Lang     string
	Email    string // where the confirmation link was sent
	ReturnTo string // the flow's continuation, kept by the resend form; "" for none
}

// VerifyResultView is the view model of VerifyResultPage.
type VerifyResultView struct {
	Lang  string
	OK    bool   // true: the address was confirmed; false: the link is invalid or expired
	Email string // prefills the resend form when known
	// ReturnTo is the flow's continuation, kept by the resend form; "" for none.
	ReturnTo string
}

// ForgotView is the view model of ForgotPasswordPage.
type ForgotView struct {
	Lang  string
	Email string // keeps the user's input
	Error string // already translated; "" for none
	Sent  bool   // show the (enumeration-safe) confirmation instead of the form
	// ReturnTo is the flow's continuation (an app's pending authorization),
	// carried into the reset link; "" or "/" for none.
	ReturnTo string
}

// ResetView is the view model of ResetPasswordPage.
type ResetView struct {
	Lang  string
	Token string // hidden field "token"
	Error string // already translated; "" for none
	Done  bool   // the password was changed: show the success message
	// Continue is hidden field "continue": where the flow goes on after the
	// reset (from the link); "" for none.
	Continue string
}

// TwoFactorView is the view model of TwoFactorPage (login step 2).
type TwoFactorView struct {
	Lang      string
	Challenge string // hidden field "challenge"
	Error     string // already translated; "" for none
	// Passkey offers the user's passkey instead of the code (issue 15).
	Passkey bool
}

// AccountSession is one signed-in browser or device on the account page.
type AccountSession struct {
	ID         string // hidden field "session_id" of the revoke form
	DeviceName string // may be "" or a placeholder; then a summary of UserAgent is shown
	DeviceID   string // sessions of one device id are grouped (issue 12)
	UserAgent  string
	IP         string
	CreatedAt  time.Time
	LastSeenAt time.Time
	Current    bool // the session of this request: badge, no revoke button
}

// AccountEvent is one entry of the recent security activity.
type AccountEvent struct {
	Type      string // provider event type such as "login_success"; known types are translated
	IP        string
	UserAgent string
	At        time.Time
}

// EnrollView is a two-factor enrolment in progress.
type EnrollView struct {
	QRDataURI string // "data:image/png;base64,…"; anything else is not shown
	Secret    string // base32 secret for manual entry
}

// AccountView is the view model of AccountPage.
type AccountView struct {
	Lang             string
	Name, Email      string
	EmailVerified    bool
	Notice, Error    string // translated flash message after a form post
	TwoFactorEnabled bool
	Enroll           *EnrollView // non-nil while a 2FA enrolment awaits its first code
	RecoveryCodes    []string    // shown once, right after 2FA was enabled
	Sessions         []AccountSession
	Events           []AccountEvent
	Credits          bool // the credits page exists: link to it
	Admin            bool // the user is an admin: link to /admin (issue 11, pages)
	// issue 12: the profile picture (https URL, may be "") and the
	// third-party apps the user consented to.
	Picture string
	Apps    []AccountApp
	// issue 15 (passkeys): the panel is shown when PasskeysEnabled.
	PasskeysEnabled bool
	Passkeys        []AccountPasskey
}

// AccountPasskey is one passkey on the account page (issue 15).
type AccountPasskey struct {
	ID, Name   string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero: never used
	// Synced: a multi-device passkey (backed up by its provider).
	Synced bool
}

// CreditsTransaction is one entry of the credits ledger on the credits page.
type CreditsTransaction struct {
	Type        string // "usage", "purchase", …; known types are translated
	Amount      int64  // signed: negative for usage
	AppID       string // may be ""
	Description string // may be ""
	At          time.Time
	// OwnDescription: the ledger booked it (credits.Type.Booked), so the
	// page describes it from Type in its language and ignores Description
	// (issue 12).
	OwnDescription bool
}

// CreditsPackage is a credit package the user can buy.
type CreditsPackage struct {
	ID         string // hidden field "package_id" of the checkout form
	Name       string
	Credits    int64
	PriceCents int64
	Currency   string // ISO code, lower case ("eur")
}

// CreditsPurchase is one purchase in the purchase history.
type CreditsPurchase struct {
	Credits     int64
	AmountCents int64
	Currency    string
	Status      string // "pending", "succeeded", "failed", "refunded"; known ones are translated
	At          time.Time
}

// CreditsView is the view model of CreditsPage.
type CreditsView struct {
	Lang                  string
	Free, Paid, Available int64
	Notice, Error         string // translated flash message, e.g. after a checkout
	Transactions          []CreditsTransaction
	Billing               bool // purchases are enabled: show the history and the buy section
	Packages              []CreditsPackage
	Purchases             []CreditsPurchase
}

// safeImageURL returns the sanitised URL of a client logo and whether it may
// be rendered at all. Only absolute http and https URLs with a host are
// accepted; everything else (javascript:, data:, relative paths, …) is
// dropped so that no image is shown.
func safeImageURL(raw string) (templ.SafeURL, bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", false
	}
	if scheme := strings.ToLower(u.Scheme); scheme != "http" && scheme != "https" {
		return "", false
	}
	safe := templ.URL(raw)
	if safe == templ.FailedSanitizationURL {
		return "", false
	}
	return safe, true
}

// scopeKeys maps the scopes with a human description to their T key.
var scopeKeys = map[string]string{
	"openid":         "scope.openid",
	"profile":        "scope.profile",
	"email":          "scope.email",
	"offline_access": "scope.offline_access",
	"credits:read":   "scope.credits:read",
	"credits:write":  "scope.credits:write",
}

// scopeDescription returns the translated description of a scope and true,
// or the raw scope name and false for scopes without a description.
func scopeDescription(lang, scope string) (string, bool) {
	if key, ok := scopeKeys[scope]; ok {
		return T(lang, key), true
	}
	return scope, false
}

// clientName returns the display name of a client, or a generic
// "An application" when the name is empty.
func clientName(lang, name string) string {
	if strings.TrimSpace(name) == "" {
		return T(lang, "consent.unknown_app")
	}
	return name
}

// initial returns the upper-cased first letter or digit of name, used as a
// monogram when a client has no logo. It returns "?" when there is none.
func initial(name string) string {
	for _, r := range name {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return string(unicode.ToUpper(r))
		}
	}
	return "?"
}

// qrDataPrefix is the only kind of data URI rendered as an image.
const qrDataPrefix = "data:image/png;base64,"

// safeQRURL returns the enrolment QR code as a URL for <img src> and whether
// it may be rendered: only "data:image/png;base64," followed by non-empty
// standard base64 is accepted.
func safeQRURL(raw string) (templ.SafeURL, bool) {
	data, ok := strings.CutPrefix(raw, qrDataPrefix)
	if !ok || data == "" {
		return "", false
	}
	for i := 0; i < len(data); i++ {
		c := data[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return "", false
		}
	}
	return templ.SafeURL(raw), true
}

// groupSecret splits a base32 secret into groups of four characters so that
// it is easier to type, e.g. "JBSW Y3DP EHPK 3PXP".
func groupSecret(secret string) string {
	secret = strings.ReplaceAll(strings.TrimSpace(secret), " ", "")
	var b strings.Builder
	for i, r := range []rune(secret) {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isoTime is the machine-readable datetime attribute of <time>.
func isoTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}

var monthsDE = [...]string{"Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez."}

// formatTime renders t (in UTC) for people, e.g. "27 Nov 2025, 07:12 UTC"
// or "27. Nov. 2025, 07:12 UTC".
func formatTime(lang string, t time.Time) string {
	t = t.UTC()
	if normLang(lang) == LangDE {
		return t.Format("2. ") + monthsDE[t.Month()-1] + t.Format(" 2006, 15:04") + " UTC"
	}
	return t.Format("2 Jan 2006, 15:04") + " UTC"
}

// eventKeys lists the security event types with a translation.
var eventKeys = map[string]string{
	"registered":          "event.registered",
	"login_success":       "event.login_success",
	"login_failure":       "event.login_failure",
	"logout":              "event.logout",
	"refresh_token_reuse": "event.refresh_token_reuse",
	"password_changed":    "event.password_changed",
	"password_reset":      "event.password_reset",
	"email_verified":      "event.email_verified",
	"2fa_enabled":         "event.2fa_enabled",
	"2fa_disabled":        "event.2fa_disabled",
	"2fa_used":            "event.2fa_used",
	"recovery_code_used":  "event.recovery_code_used",
	"session_revoked":     "event.session_revoked",
	"account_locked":      "event.account_locked",
	"profile_updated":     "event.profile_updated",
	"consent_revoked":     "event.consent_revoked", // issue 12
	// issue 15 (passkeys)
	"passkey_added":              "event.passkey_added",
	"passkey_removed":            "event.passkey_removed",
	"passkey_counter_regression": "event.passkey_counter_regression",
}

// eventLabel returns the translated name of a security event type, or the
// raw type for unknown ones.
func eventLabel(lang, typ string) string {
	if key, ok := eventKeys[typ]; ok {
		return T(lang, key)
	}
	return typ
}

// eventWarning reports whether an event type deserves the user's attention.
func eventWarning(typ string) bool {
	switch typ {
	case "login_failure", "refresh_token_reuse", "account_locked", "2fa_disabled", "recovery_code_used",
		"passkey_added", "passkey_removed", "passkey_counter_regression":
		return true
	}
	return false
}

// sessionTitle is the headline of a session row: its device name, else a
// summary of its user agent ("Firefox on Windows"), else "Unknown device".
func sessionTitle(lang string, s AccountSession) string {
	if name := deviceName(s.DeviceName); name != "" {
		return name
	}
	return uaSummary(lang, s.UserAgent)
}

// uaSummary turns a User-Agent header into "Browser on OS". It knows the
// common browsers and systems; anything else gives "Unknown device" (or the
// part it recognised).
func uaSummary(lang, ua string) string {
	browser, system := uaBrowser(ua), uaOS(ua)
	switch {
	case browser != "" && system != "":
		return browser + " " + T(lang, "account.sessions.on") + " " + system
	case browser != "":
		return browser
	case system != "":
		return system
	}
	return T(lang, "account.sessions.unknown_device")
}

func uaBrowser(ua string) string {
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"EdgiOS/", "Edge"},
		{"OPR/", "Opera"}, {"SamsungBrowser/", "Samsung Internet"},
		{"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
		{"CriOS/", "Chrome"}, {"Chromium/", "Chromium"}, {"Chrome/", "Chrome"},
		{"Safari/", "Safari"}, {"curl/", "curl"},
	} {
		if strings.Contains(ua, b.token) {
			return b.name
		}
	}
	return ""
}

func uaOS(ua string) string {
	for _, o := range []struct{ token, name string }{
		{"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Android", "Android"},
		{"CrOS", "ChromeOS"}, {"Windows", "Windows"}, {"Mac OS X", "macOS"},
		{"Macintosh", "macOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			return o.name
		}
	}
	return ""
}

// hasOtherSessions reports whether any session but the current one exists.
func hasOtherSessions(sessions []AccountSession) bool {
	for _, s := range sessions {
		if !s.Current {
			return true
		}
	}
	return false
}

// registerFocus returns the register field that gets autofocus: the first
// one with an error, else the first empty one.
func registerFocus(v RegisterView) string {
	for _, f := range []string{"name", "email", "password"} {
		if v.Errors[f] != "" {
			return f
		}
	}
	switch {
	case v.Name == "":
		return "name"
	case v.Email == "":
		return "email"
	}
	return "password"
}

// dash returns s, or an em dash when s is empty.
func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

// txTypeKeys maps credits transaction types to their translation keys.
var txTypeKeys = map[string]string{
	"signup_bonus": "credits.tx.signup_bonus",
	"daily_free":   "credits.tx.daily_free",
	"usage":        "credits.tx.usage",
	"purchase":     "credits.tx.purchase",
	"refund":       "credits.tx.refund",
	"adjustment":   "credits.tx.adjustment",
	"dispute":      "credits.tx.dispute", // issue 12
	// issue 14: the history and opening balance imported from the old service.
	"opening": "credits.tx.opening",
	"bonus":   "credits.tx.bonus",
	"expiry":  "credits.tx.expiry",
}

// txTypeLabel translates a transaction type; unknown types are shown as is.
func txTypeLabel(lang, typ string) string {
	if k, ok := txTypeKeys[typ]; ok {
		return T(lang, k)
	}
	return typ
}

// purchaseStatusKeys maps purchase statuses to their translation keys.
var purchaseStatusKeys = map[string]string{
	"pending":   "credits.purchase.pending",
	"succeeded": "credits.purchase.succeeded",
	"failed":    "credits.purchase.failed",
	"refunded":  "credits.purchase.refunded",
}

// purchaseStatusLabel translates a purchase status; unknown ones are shown as is.
func purchaseStatusLabel(lang, status string) string {
	if k, ok := purchaseStatusKeys[status]; ok {
		return T(lang, k)
	}
	return status
}

// formatCredits renders a credit amount with thousands separators
// ("1,500" / "1.500"); signed adds "+" to positive amounts.
func formatCredits(lang string, n int64, signed bool) string {
	sign := ""
	if n < 0 {
		sign, n = "−", -n
	} else if signed && n > 0 {
		sign = "+"
	}
	sep := ","
	if normLang(lang) == LangDE {
		sep = "."
	}
	digits := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(c)
	}
	return sign + b.String()
}

// formatMoney renders an amount in cents, e.g. "€5.00" / "5,00 €", or
// "5.00 USD" for currencies without a symbol here.
func formatMoney(lang string, cents int64, currency string) string {
	neg := cents < 0
	if neg {
		cents = -cents
	}
	whole, frac := strconv.FormatInt(cents/100, 10), fmt.Sprintf("%02d", cents%100)
	code := strings.ToUpper(strings.TrimSpace(currency))
	de := normLang(lang) == LangDE
	num := whole + "." + frac
	if de {
		num = whole + "," + frac
	}
	if neg {
		num = "−" + num
	}
	switch {
	case code == "EUR" && de:
		return num + " €"
	case code == "EUR":
		return "€" + num
	case code == "":
		return num
	default:
		return num + " " + code
	}
}

// continueURL is path with the flow's continuation as return_to, so that
// the links between login, registration and password reset keep an app's
// pending authorization. Without one ("" or our start page) it is path.
func continueURL(path, returnTo string) templ.SafeURL {
	if returnTo == "" || returnTo == "/" {
		return templ.SafeURL(path)
	}
	return templ.SafeURL(path + "?" + url.Values{"return_to": {returnTo}}.Encode())
}
