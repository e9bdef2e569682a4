package server

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/manacore/mana-core-auth/provider/websession"
	"github.com/manacore/mana-core-auth/templates"
)

// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at the
// end_session_endpoint.

// logoutChallenge is the sealed state of a logout awaiting confirmation.
type logoutChallenge struct {
	SID      string `json:"s"`
	Redirect string `json:"r,omitempty"`
	State    string `json:"st,omitempty"`
	Client   string `json:"c,omitempty"`
}

// logoutHint is what a verified id_token_hint says.
type logoutHint struct{ sub, sid, client string }

// handleLogout ends the session an id_token_hint names: the browser's own
// at once, or, when the request carries no session cookie (a relying party
// calling from its server), the session of the hint's sid. A browser whose
// session the hint does not name is asked to confirm, so a cross-site link
// cannot sign anyone out.
func (s *server) handleLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if !s.parseForm(w, r) {
			return
		}
		form := r.Form
		if r.Method == http.MethodPost && form.Get("challenge") != "" {
			s.confirmLogout(w, r)
			return
		}
		var hint logoutHint
		if raw := form.Get("id_token_hint"); raw != "" {
			claims, err := s.OP.DecodeIDToken(ctx, raw)
			if err != nil {
				s.errorPage(w, r, http.StatusBadRequest, templates.KeyErrorBadRequest)
				return
			}
			hint.sub, _ = claims["sub"].(string)
			hint.sid, _ = claims["sid"].(string)
			switch aud := claims["aud"].(type) {
			case string:
				hint.client = aud
			case []interface{}:
				if len(aud) > 0 {
					hint.client, _ = aud[0].(string)
				}
			}
		}
		clientID := form.Get("client_id")
		if clientID == "" {
			clientID = hint.client
		} else if hint.client != "" && clientID != hint.client {
			s.errorPage(w, r, http.StatusBadRequest, templates.KeyErrorBadRequest)
			return
		}
		redirect := ""
		if plr := form.Get("post_logout_redirect_uri"); plr != "" {
			c, err := s.OP.Client(ctx, clientID)
			if clientID == "" || err != nil || !slices.Contains(c.Model.PostLogoutRedirectURIs, plr) {
				s.errorPage(w, r, http.StatusBadRequest, templates.KeyErrorInvalidRedirect)
				return
			}
			redirect = plr
		}
		state := form.Get("state")

		sess, _, err := s.currentUser(ctx, r)
		if err != nil {
			s.pageError(w, r, fmt.Errorf("logout: %w", err))
			return
		}
		if sess == nil {
			s.Sessions.ClearCookie(w, r)
			ended := false
			if hint.sub != "" && hint.sid != "" {
				// The hint is an ID token we signed for that very session:
				// proof enough to end it without the browser's cookie.
				var err error
				if ended, err = s.Sessions.End(ctx, hint.sub, hint.sid, s.ending(r, websession.EndLogout)); err != nil {
					s.pageError(w, r, fmt.Errorf("logout by id_token_hint: %w", err))
					return
				}
			}
			s.afterLogout(w, r, redirect, state, ended)
			return
		}
		// Sign out without asking only when the hint names this very
		// session; a hint from another session of the user (or an older
		// one) still gets the confirmation page.
		if hint.sub != "" && hint.sub == sess.UserID && hint.sid == sess.ID {
			s.logoutBrowser(w, r, redirect, state)
			return
		}
		challenge, err := s.tickets.seal("logout", logoutChallenge{SID: sess.ID, Redirect: redirect, State: state, Client: clientID}, 15*time.Minute)
		if err != nil {
			s.pageError(w, r, fmt.Errorf("logout challenge: %w", err))
			return
		}
		name := ""
		if c, err := s.OP.Client(ctx, clientID); err == nil {
			name, _ = clientView(c)
		}
		s.render(ctx, w, http.StatusOK, templates.LogoutConfirmPage(templates.LogoutView{Lang: lang(r), ClientName: name, Challenge: challenge}))
	})
}

func (s *server) confirmLogout(w http.ResponseWriter, r *http.Request) {
	var c logoutChallenge
	if err := s.tickets.open("logout", r.PostForm.Get("challenge"), &c); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, templates.KeyErrorBadRequest)
		return
	}
	sess, _, err := s.currentUser(r.Context(), r)
	if err != nil {
		s.pageError(w, r, fmt.Errorf("logout: %w", err))
		return
	}
	if sess == nil || sess.ID != c.SID {
		// Signed out meanwhile (or another user): nothing left to end.
		s.afterLogout(w, r, c.Redirect, c.State, false)
		return
	}
	if r.PostForm.Get("action") != "logout" {
		target := c.Redirect
		if target == "" {
			target = "/"
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	s.logoutBrowser(w, r, c.Redirect, c.State)
}

// logoutBrowser ends the browser's session and answers.
func (s *server) logoutBrowser(w http.ResponseWriter, r *http.Request, redirect, state string) {
	ended, err := s.Sessions.Logout(r.Context(), w, r, s.ending(r, websession.EndLogout))
	if err != nil {
		s.pageError(w, r, fmt.Errorf("logout: %w", err))
		return
	}
	s.afterLogout(w, r, redirect, state, ended != nil)
}

// afterLogout returns to the relying party or shows the signed-out page,
// which says so only when a session was really ended.
func (s *server) afterLogout(w http.ResponseWriter, r *http.Request, redirect, state string, ended bool) {
	if redirect != "" {
		u, err := url.Parse(redirect)
		if err == nil {
			if state != "" {
				q := u.Query()
				q.Set("state", state)
				u.RawQuery = q.Encode()
			}
			http.Redirect(w, r, u.String(), http.StatusSeeOther)
			return
		}
	}
	s.render(r.Context(), w, http.StatusOK, templates.LoggedOutPage(templates.LoggedOutView{Lang: lang(r), NotSignedIn: !ended}))
}
