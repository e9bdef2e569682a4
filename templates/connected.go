package templates

import "time"

// Connected apps on the account page (issue 12).

// AccountApp is one third-party app the user consented to.
type AccountApp struct {
	ClientID  string // hidden field "client_id" of the revoke form
	Name      string
	LogoURI   string // shown only when it is a safe image URL
	Scopes    []string
	GrantedAt time.Time
}
