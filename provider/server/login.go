package server

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/oidc"
	"github.com/manacore/mana-core-auth/templates"
)

// safeReturnTo accepts only same-origin paths, so the login form cannot be
// turned into an open redirector.
func safeReturnTo(raw string) string {
	if raw == "" || !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") || strings.HasPrefix(raw, "/\\") {
		return "/"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return u.RequestURI()
}

// isAuthorizePath reports whether a return target resumes an authorization.
func isAuthorizePath(p string) bool {
	path, _, _ := strings.Cut(p, "?")
	return strings.HasSuffix(path, "/authorize")
}

// loginClient finds the client a return target belongs to, for the page
// header ("Sign in to Chat").
func (s *server) loginClient(r *http.Request, returnTo string) *oidc.Client {
	u, err := url.Parse(returnTo)
	if err != nil {
		return nil
	}
	id := u.Query().Get("client_id")
	if id == "" {
		return nil
	}
	c, err := s.OP.Client(r.Context(), id)
	if err != nil {
		return nil
	}
	return c
}

func (s *server) renderLogin(w http.ResponseWriter, r *http.Request, status int, email, returnTo, errKey string) {
	lang := templates.PickLang(r.Header.Get("Accept-Language"))
	name, logo := clientView(s.loginClient(r, returnTo))
	v := templates.LoginView{Lang: lang, ClientName: name, ClientLogoURI: logo, Email: email, ReturnTo: returnTo}
	if errKey != "" {
		v.Error = templates.T(lang, errKey)
	}
	s.render(r.Context(), w, status, templates.LoginPage(v))
}

func (s *server) handleLoginPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		s.renderLogin(w, r, http.StatusOK, q.Get("login_hint"), safeReturnTo(q.Get("return_to")), "")
	})
}

func (s *server) handleLoginSubmit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := r.ParseForm(); err != nil {
			s.errorPage(w, r, http.StatusBadRequest, "error.bad_request")
			return
		}
		email := strings.ToLower(strings.TrimSpace(r.PostForm.Get("email")))
		password := r.PostForm.Get("password")
		returnTo := safeReturnTo(r.PostForm.Get("return_to"))
		remember := r.PostForm.Get("remember") == "1"
		if email == "" || password == "" {
			s.renderLogin(w, r, http.StatusBadRequest, email, returnTo, "login.required")
			return
		}
		if wait := s.accountWait(r, email); wait > 0 {
			s.Accounts.LoginThrottled(ctx, email, s.clientIP(r), r.UserAgent(), "page")
			s.tooMany(w, r, true, wait)
			return
		}
		u, err := s.Accounts.Authenticate(ctx, email, password)
		s.accountResult(r, email, err)
		switch {
		case errors.Is(err, account.ErrInvalidCredentials):
			s.Accounts.LoginFailed(ctx, email, s.clientIP(r), r.UserAgent(), "page")
			s.renderLogin(w, r, http.StatusUnauthorized, email, returnTo, "login.invalid")
			return
		case errors.Is(err, account.ErrEmailNotVerified):
			s.renderLogin(w, r, http.StatusForbidden, email, returnTo, "login.unverified")
			return
		case err != nil:
			s.Logger.ErrorContext(ctx, "login", "error", err)
			s.errorPage(w, r, http.StatusInternalServerError, "error.internal")
			return
		}
		enabled, err := s.Accounts.TOTPEnabled(ctx, u.ID)
		if err != nil {
			s.Logger.ErrorContext(ctx, "login: totp state", "error", err)
			s.errorPage(w, r, http.StatusInternalServerError, "error.internal")
			return
		}
		if enabled {
			challenge, err := s.tickets.seal("page-2fa", pageTwoFactor{UserID: u.ID, Remember: remember, ReturnTo: returnTo}, 5*time.Minute)
			if err != nil {
				s.errorPage(w, r, http.StatusInternalServerError, "error.internal")
				return
			}
			s.render(ctx, w, http.StatusOK, templates.TwoFactorPage(templates.TwoFactorView{Lang: lang(r), Challenge: challenge}))
			return
		}
		s.completeLogin(w, r, u, []string{"pwd"}, remember, returnTo)
	})
}

func (s *server) handleHome() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sess, _ := s.currentUser(r.Context(), r); sess != nil {
			http.Redirect(w, r, "/account", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
}

// consentChallenge is the sealed state of a pending consent decision.
type consentChallenge struct {
	Query string `json:"q"` // the authorization request
	SID   string `json:"s"` // the browser session that must answer it
}

// openConsent verifies a challenge for the current browser session and
// rebuilds the authorization request it stands for.
func (s *server) openConsent(w http.ResponseWriter, r *http.Request, challenge string) (fosite.AuthorizeRequester, *provider.Session, *provider.User, url.Values, bool) {
	var c consentChallenge
	if err := s.tickets.open("consent", challenge, &c); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "error.bad_request")
		return nil, nil, nil, nil, false
	}
	sess, user := s.currentUser(r.Context(), r)
	if sess == nil || sess.ID != c.SID {
		s.errorPage(w, r, http.StatusBadRequest, "error.bad_request")
		return nil, nil, nil, nil, false
	}
	q, err := url.ParseQuery(c.Query)
	if err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "error.bad_request")
		return nil, nil, nil, nil, false
	}
	req := r.Clone(r.Context())
	req.Method = http.MethodGet
	req.URL.Path = "/oauth2/authorize"
	req.URL.RawQuery = q.Encode()
	req.Body, req.Form, req.PostForm = http.NoBody, nil, nil
	req.Header.Del("Content-Type")
	ar, err := s.newAuthorizeRequest(r.Context(), req)
	if err != nil {
		s.authorizeError(w, r, ar, err)
		return nil, nil, nil, nil, false
	}
	return ar, sess, user, q, true
}

func (s *server) handleConsentPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		challenge := r.URL.Query().Get("challenge")
		ar, _, user, _, ok := s.openConsent(w, r, challenge)
		if !ok {
			return
		}
		lang := templates.PickLang(r.Header.Get("Accept-Language"))
		name, logo := clientView(ar.GetClient().(*oidc.Client))
		s.render(r.Context(), w, http.StatusOK, templates.ConsentPage(templates.ConsentView{
			Lang: lang, ClientName: name, ClientLogoURI: logo, UserEmail: user.Email,
			Scopes: ar.GetRequestedScopes(), Challenge: challenge,
		}))
	})
}

func (s *server) handleConsentSubmit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := r.ParseForm(); err != nil {
			s.errorPage(w, r, http.StatusBadRequest, "error.bad_request")
			return
		}
		ar, sess, user, q, ok := s.openConsent(w, r, r.PostForm.Get("challenge"))
		if !ok {
			return
		}
		client := ar.GetClient().(*oidc.Client)
		if r.PostForm.Get("action") != "allow" {
			s.authorizeError(w, r, ar, fosite.ErrAccessDenied.WithHint("The user denied the request."))
			return
		}
		if r.PostForm.Get("remember") == "1" {
			scopes := []string(ar.GetRequestedScopes())
			if old, err := s.Store.GetConsent(ctx, user.ID, client.GetID()); err == nil {
				for _, sc := range old.Scopes {
					if !slices.Contains(scopes, sc) {
						scopes = append(scopes, sc)
					}
				}
			}
			if err := s.Store.SaveConsent(ctx, &provider.Consent{UserID: user.ID, ClientID: client.GetID(), Scopes: scopes, GrantedAt: s.Config.Now().UTC()}); err != nil {
				s.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err))
				return
			}
		}
		s.finishAuthorize(w, r, ar, sess, user, client, s.verifyLoginTicket(q.Get(loginTicketParam), sess))
	})
}
