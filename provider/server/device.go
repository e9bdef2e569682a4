package server

import (
	"crypto/rand"
	"net/http"
	"strings"
	"time"
)

// Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device
// Cookies"): a browser that signed in to an account gets a ticket naming
// the account and a random nonce, sealed like every other ticket. A later
// login to that account presenting it is judged by its own failures only,
// so the owner's browser gets through a hold that someone else's guessing
// put on the account or the network.
const (
	deviceCookie  = "mana_device"
	devicePurpose = "device"
	deviceTTL     = 180 * 24 * time.Hour
	// maxDevices bounds the accounts one browser is known for (a shared
	// family computer) and with it the cookie's size and the work of
	// reading it.
	maxDevices = 5
)

// deviceTicket binds a device to an account by its normalised address,
// the only name a login has before the password is checked.
type deviceTicket struct {
	Email string `json:"m"`
	Nonce string `json:"n"`
}

// deviceTickets are the cookie's tickets, at most maxDevices of them.
func deviceTickets(r *http.Request) []string {
	c, err := r.Cookie(deviceCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	ts := strings.SplitN(c.Value, "~", maxDevices+1)
	return ts[:min(len(ts), maxDevices)]
}

// knownDevice returns the nonce of the request's valid device ticket for
// email (normalised), or "" when it has none: a forged, altered, expired
// or foreign ticket makes the browser an unknown one, nothing worse.
func (s *server) knownDevice(r *http.Request, email string) string {
	for _, t := range deviceTickets(r) {
		var d deviceTicket
		if s.tickets.open(devicePurpose, t, &d) == nil && d.Email == email && d.Nonce != "" {
			return d.Nonce
		}
	}
	return ""
}

// rememberDevice gives the browser a fresh device ticket for email
// (normalised) after a successful login, in front of its tickets for other
// accounts. A new nonce each time leaves a copied cookie behind.
func (s *server) rememberDevice(w http.ResponseWriter, r *http.Request, email string) {
	t, err := s.tickets.seal(devicePurpose, deviceTicket{Email: email, Nonce: rand.Text()}, deviceTTL)
	if err != nil {
		// The login itself succeeded; only the next hold is not skipped.
		s.Logger.ErrorContext(r.Context(), "seal device ticket", "error", err)
		return
	}
	keep := []string{t}
	for _, old := range deviceTickets(r) {
		var d deviceTicket
		if len(keep) < maxDevices && s.tickets.open(devicePurpose, old, &d) == nil && d.Email != email {
			keep = append(keep, old)
		}
	}
	http.SetCookie(w, &http.Cookie{
		Name: deviceCookie, Value: strings.Join(keep, "~"), Path: "/", MaxAge: int(deviceTTL / time.Second),
		Secure: s.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}
