package server

import (
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/manacore/mana-core-auth/templates"
)

// logoutChallenge is the sealed state of a logout awaiting confirmation.
type logoutChallenge struct {
	SID      string `json:"s"`
	Redirect string `json:"r,omitempty"`
	State    string `json:"st,omitempty"`
	Client   string `json:"c,omitempty"`
}

// handleLogout implements RP-initiated logout: with a valid id_token_hint
// for the signed-in user it ends the session at once; without one it asks
// the user to confirm, so a cross-site link cannot sign anyone out.
func (s *server) handleLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := r.ParseForm(); err != nil {
			s.errorPage(w, r, http.StatusBadRequest, "error.bad_request")
			return
		}
		form := r.Form
		if r.Method == http.MethodPost && form.Get("challenge") != "" {
			s.confirmLogout(w, r)
			return
		}

		var hintSub, hintClient, hintSID string
		if hint := form.Get("id_token_hint"); hint != "" {
			claims, err := s.OP.DecodeIDToken(ctx, hint)
			if err != nil {
				s.errorPage(w, r, http.StatusBadRequest, "error.bad_request")
				return
			}
			hintSub, _ = claims["sub"].(string)
			hintSID, _ = claims["sid"].(string)
			switch aud := claims["aud"].(type) {
			case string:
				hintClient = aud
			case []interface{}:
				if len(aud) > 0 {
					hintClient, _ = aud[0].(string)
				}
			}
		}
		clientID := form.Get("client_id")
		if clientID == "" {
			clientID = hintClient
		} else if hintClient != "" && clientID != hintClient {
			s.errorPage(w, r, http.StatusBadRequest, "error.bad_request")
			return
		}
		redirect := ""
		if plr := form.Get("post_logout_redirect_uri"); plr != "" {
			c, err := s.OP.Client(ctx, clientID)
			if clientID == "" || err != nil || !slices.Contains(c.Model.PostLogoutRedirectURIs, plr) {
				s.errorPage(w, r, http.StatusBadRequest, "error.invalid_redirect")
				return
			}
			redirect = plr
		}
		state := form.Get("state")

		sess, _ := s.currentUser(ctx, r)
		if sess == nil {
			s.Sessions.ClearCookie(w, r)
			s.afterLogout(w, r, redirect, state)
			return
		}
		// Sign out without asking only when the hint names this very
		// session; a hint from another session of the user (or an older
		// one) still gets the confirmation page.
		if hintSub != "" && hintSub == sess.UserID && hintSID == sess.ID {
			s.endSession(w, r)
			s.afterLogout(w, r, redirect, state)
			return
		}
		challenge, err := s.tickets.seal("logout", logoutChallenge{SID: sess.ID, Redirect: redirect, State: state, Client: clientID}, 15*time.Minute)
		if err != nil {
			s.errorPage(w, r, http.StatusInternalServerError, "error.internal")
			return
		}
		lang := templates.PickLang(r.Header.Get("Accept-Language"))
		name := ""
		if c, err := s.OP.Client(ctx, clientID); err == nil {
			name, _ = clientView(c)
		}
		s.render(ctx, w, http.StatusOK, templates.LogoutConfirmPage(templates.LogoutView{Lang: lang, ClientName: name, Challenge: challenge}))
	})
}

func (s *server) confirmLogout(w http.ResponseWriter, r *http.Request) {
	var c logoutChallenge
	if err := s.tickets.open("logout", r.PostForm.Get("challenge"), &c); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "error.bad_request")
		return
	}
	sess, _ := s.currentUser(r.Context(), r)
	if sess == nil || sess.ID != c.SID {
		// Signed out meanwhile (or another user): nothing left to end.
		s.afterLogout(w, r, c.Redirect, c.State)
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
	s.endSession(w, r)
	s.afterLogout(w, r, c.Redirect, c.State)
}

// endSession deletes the browser session and revokes every token issued
// from it.
func (s *server) endSession(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ended, err := s.Sessions.Logout(ctx, w, r)
	if err != nil {
		s.Logger.ErrorContext(ctx, "logout: delete session", "error", err)
		return
	}
	if ended == nil {
		return
	}
	n, err := s.Store.RevokeSession(ctx, ended.ID)
	if err != nil {
		s.Logger.ErrorContext(ctx, "logout: revoke tokens", "error", err)
	}
	s.sessionEnded(ctx, ended.ID, ended.UserID)
	s.Logger.InfoContext(ctx, "logout", "user_id", ended.UserID, "revoked_grants", n)
}

func (s *server) afterLogout(w http.ResponseWriter, r *http.Request, redirect, state string) {
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
	lang := templates.PickLang(r.Header.Get("Accept-Language"))
	s.render(r.Context(), w, http.StatusOK, templates.LoggedOutPage(templates.LoggedOutView{Lang: lang}))
}
