package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/oidc"
	"github.com/manacore/mana-core-auth/templates"
)

// The authorization endpoint and the consent page.

// loginTicketParam carries proof that the user just authenticated for this
// authorization request, so prompt=login and max_age are satisfied by the
// login that they caused instead of looping back to the login page.
const loginTicketParam = "login_ticket"

// accountChoiceParam carries proof that the signed-in user chose to
// continue with their account on the login page that prompt=select_account
// showed, so the request goes on instead of showing the page again.
const accountChoiceParam = "account_choice"

type loginTicket struct {
	SID string `json:"s"`
	// AuthTime in milliseconds: the session read back from the store has
	// lost the nanoseconds (SQLite keeps milliseconds, PostgreSQL
	// microseconds), and a ticket that never matches sends the user back
	// to the login page forever.
	AuthTime int64 `json:"a"`
}

func (s *server) handleAuthorize() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ar, err := s.newAuthorizeRequest(ctx, r)
		if err == nil {
			err = firstRepeated(ar.GetRequestForm())
		}
		if err != nil {
			s.authorizeError(w, r, ar, err)
			return
		}
		form := ar.GetRequestForm()
		prompts := fosite.RemoveEmpty(strings.Split(form.Get("prompt"), " "))

		sess, user, err := s.currentUser(ctx, r)
		if err != nil {
			s.pageError(w, r, fmt.Errorf("authorize: %w", err))
			return
		}
		freshLogin := sess != nil && s.verifyLoginTicket(form.Get(loginTicketParam), sess)
		needLogin := sess == nil
		if sess != nil && !freshLogin {
			if slices.Contains(prompts, "login") {
				needLogin = true
			}
			if maxAge, err := strconv.ParseInt(form.Get("max_age"), 10, 64); err == nil && maxAge >= 0 &&
				s.Config.Now().Sub(sess.AuthTime) > time.Duration(maxAge)*time.Second {
				needLogin = true
			}
		}
		// select_account: the login page offers the signed-in account
		// (continue) and the form for another. prompt=none with it is
		// refused by CheckAuthorizeRequest (none stands alone).
		chooseAccount := sess != nil && !needLogin && !freshLogin && slices.Contains(prompts, "select_account") &&
			!s.verifyAccountChoice(form.Get(accountChoiceParam), sess)
		if needLogin || chooseAccount {
			if slices.Contains(prompts, "none") {
				s.authorizeError(w, r, ar, fosite.ErrLoginRequired.WithHint("The user is not signed in."))
				return
			}
			q := url.Values{"return_to": {authorizeURL(r, form)}}
			if hint := form.Get("login_hint"); hint != "" {
				q.Set("login_hint", hint)
			}
			if chooseAccount {
				q.Set("prompt", "select_account")
			}
			http.Redirect(w, r, "/login?"+q.Encode(), http.StatusSeeOther)
			return
		}

		client := ar.GetClient().(*oidc.Client)
		if !client.Model.Trusted {
			c, err := s.Store.GetConsent(ctx, user.ID, client.GetID())
			if err != nil && !errors.Is(err, provider.ErrNotFound) {
				s.pageError(w, r, fmt.Errorf("authorize: load consent: %w", err))
				return
			}
			if slices.Contains(prompts, "consent") || c == nil || !covers(c.Scopes, ar.GetRequestedScopes()) {
				if slices.Contains(prompts, "none") {
					s.authorizeError(w, r, ar, fosite.ErrConsentRequired.WithHint("The user has not consented to this application."))
					return
				}
				challenge, err := s.tickets.seal("consent", consentChallenge{Query: form.Encode(), SID: sess.ID}, 15*time.Minute)
				if err != nil {
					s.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err))
					return
				}
				http.Redirect(w, r, "/consent?"+url.Values{"challenge": {challenge}}.Encode(), http.StatusSeeOther)
				return
			}
		}
		s.finishAuthorize(w, r, ar, sess, user, freshLogin)
	})
}

// newAuthorizeRequest is fosite's NewAuthorizeRequest without its demand
// for a state parameter, which OpenID Connect only recommends. fosite
// checks state last, so a request refused only for that is otherwise valid.
func (s *server) newAuthorizeRequest(ctx context.Context, r *http.Request) (fosite.AuthorizeRequester, error) {
	ar, err := s.OP.NewAuthorizeRequest(ctx, r)
	if err != nil && errors.Is(err, fosite.ErrInvalidState) && ar != nil && ar.GetState() == "" {
		err = nil
	}
	if err == nil && !exactRedirect(ar) {
		err = fosite.ErrInvalidRequest.WithHint("The redirect_uri is not registered for this client.")
	}
	if err == nil {
		err = s.OP.CheckAuthorizeRequest(ctx, ar)
	}
	return ar, err
}

// exactRedirect reports whether the request's redirect_uri, when given, is
// one of the client's registered URIs character for character. fosite also
// accepts any port on a loopback address (RFC 8252 7.3, for native apps);
// our clients are web apps and register the URI they use.
func exactRedirect(ar fosite.AuthorizeRequester) bool {
	if ar == nil || ar.GetClient() == nil {
		return false
	}
	raw := ar.GetRequestForm().Get("redirect_uri")
	return raw == "" || slices.Contains(ar.GetClient().GetRedirectURIs(), raw)
}

// finishAuthorize issues the authorization code for a signed-in user who
// has consented.
func (s *server) finishAuthorize(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, sess *provider.Session, user *provider.User, freshLogin bool) {
	resp, err := s.OP.Authorize(r.Context(), ar, user, sess, freshLogin)
	if err != nil {
		s.authorizeError(w, r, ar, err)
		return
	}
	s.writeAuthorize(w, r, ar, resp)
}

func (s *server) writeAuthorize(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, resp fosite.AuthorizeResponder) {
	s.OP.WriteAuthorizeResponse(r.Context(), &issWriter{ResponseWriter: w, iss: s.Config.Issuer}, ar, resp)
}

// authorizeError redirects the error to the client only when the redirect
// URI is registered; otherwise it shows an error page and never redirects,
// so the endpoint cannot be used as an open redirector.
func (s *server) authorizeError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	if errors.Is(err, oidc.ErrUnavailable) {
		// Our outage: the person can retry in place, while an error
		// redirect would make the app start over (or give up).
		s.pageError(w, r, err)
		return
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	if rfc.CodeField >= 500 {
		s.Logger.ErrorContext(r.Context(), "authorize", "error", err, "debug", rfc.DebugField)
	}
	if ar == nil || !ar.IsRedirectURIValid() || !exactRedirect(ar) {
		key := templates.KeyErrorBadRequest
		switch {
		case rfc.ErrorField == fosite.ErrInvalidClient.ErrorField:
			key = templates.KeyErrorInvalidClient
		case ar != nil && ar.GetClient() != nil:
			key = templates.KeyErrorInvalidRedirect
		}
		// The browser, not a client, sees this page: an unknown client is
		// a bad request here, not the 401 fosite gives it at the token
		// endpoint.
		s.errorPage(w, r, http.StatusBadRequest, key)
		return
	}
	s.OP.WriteAuthorizeError(r.Context(), &issWriter{ResponseWriter: w, iss: s.Config.Issuer}, ar, err)
}

// issWriter adds the iss parameter (RFC 9207) to every authorization
// response redirect, success or error, which fosite does not do, and drops
// the empty state fosite adds when the request had none.
type issWriter struct {
	http.ResponseWriter
	iss string
}

func (w *issWriter) WriteHeader(code int) {
	if code >= 300 && code < 400 {
		if loc := w.Header().Get("Location"); loc != "" {
			if u, err := url.Parse(loc); err == nil {
				q := u.Query()
				q.Set("iss", w.iss)
				// fosite writes "state=" for a request without state; RFC
				// 6749 returns state only when the client sent one.
				if q.Has("state") && q.Get("state") == "" {
					q.Del("state")
				}
				u.RawQuery = q.Encode()
				w.Header().Set("Location", u.String())
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (s *server) newLoginTicket(sess *provider.Session) string {
	t, err := s.tickets.seal("login", loginTicket{SID: sess.ID, AuthTime: sess.AuthTime.UnixMilli()}, 10*time.Minute)
	if err != nil {
		return ""
	}
	return t
}

// accountChoiceURL is returnTo continued with the signed-in account.
func (s *server) accountChoiceURL(returnTo string, sess *provider.Session) string {
	if !isAuthorizePath(returnTo) {
		return ""
	}
	t, err := s.tickets.seal("account", loginTicket{SID: sess.ID, AuthTime: sess.AuthTime.UnixMilli()}, 10*time.Minute)
	if err != nil {
		return ""
	}
	sep := "?"
	if strings.Contains(returnTo, "?") {
		sep = "&"
	}
	return returnTo + sep + accountChoiceParam + "=" + url.QueryEscape(t)
}

func (s *server) verifyAccountChoice(ticket string, sess *provider.Session) bool {
	return s.verifySessionTicket("account", ticket, sess)
}

func (s *server) verifyLoginTicket(ticket string, sess *provider.Session) bool {
	return s.verifySessionTicket("login", ticket, sess)
}

// verifySessionTicket reports whether ticket was sealed for purpose and
// the browser session sess, as it is now.
func (s *server) verifySessionTicket(purpose, ticket string, sess *provider.Session) bool {
	if ticket == "" {
		return false
	}
	var lt loginTicket
	if err := s.tickets.open(purpose, ticket, &lt); err != nil {
		return false
	}
	return lt.SID == sess.ID && lt.AuthTime == sess.AuthTime.UnixMilli()
}

// authorizeURL rebuilds the authorization request as a GET URL (it may have
// arrived as a POST) for the login page to return to.
func authorizeURL(r *http.Request, form url.Values) string {
	q := url.Values{}
	for k, v := range form {
		if k == loginTicketParam || k == accountChoiceParam {
			continue
		}
		q[k] = v
	}
	return r.URL.Path + "?" + q.Encode()
}

// --- consent ---

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
		s.errorPage(w, r, http.StatusBadRequest, templates.KeyErrorBadRequest)
		return nil, nil, nil, nil, false
	}
	sess, user, err := s.currentUser(r.Context(), r)
	if err != nil {
		s.pageError(w, r, fmt.Errorf("consent: %w", err))
		return nil, nil, nil, nil, false
	}
	if sess == nil || sess.ID != c.SID {
		s.errorPage(w, r, http.StatusBadRequest, templates.KeyErrorBadRequest)
		return nil, nil, nil, nil, false
	}
	q, err := url.ParseQuery(c.Query)
	if err != nil {
		s.errorPage(w, r, http.StatusBadRequest, templates.KeyErrorBadRequest)
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
		name, logo := clientView(ar.GetClient().(*oidc.Client))
		s.render(r.Context(), w, http.StatusOK, templates.ConsentPage(templates.ConsentView{
			Lang: lang(r), ClientName: name, ClientLogoURI: logo, UserEmail: user.Email,
			Scopes: ar.GetRequestedScopes(), Challenge: challenge,
		}))
	})
}

func (s *server) handleConsentSubmit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.parseForm(w, r) {
			return
		}
		ar, sess, user, q, ok := s.openConsent(w, r, r.PostForm.Get("challenge"))
		if !ok {
			return
		}
		if r.PostForm.Get("action") != "allow" {
			s.authorizeError(w, r, ar, fosite.ErrAccessDenied.WithHint("The user denied the request."))
			return
		}
		freshLogin := s.verifyLoginTicket(q.Get(loginTicketParam), sess)
		resp, err := s.OP.Consent(r.Context(), ar, user, sess, freshLogin, r.PostForm.Get("remember") == "1")
		if err != nil {
			s.authorizeError(w, r, ar, err)
			return
		}
		s.writeAuthorize(w, r, ar, resp)
	})
}
