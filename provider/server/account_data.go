package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/admin"
	"github.com/manacore/mana-core-auth/templates"
)

// The user's own data pages, no admin involved: "Your data" (everything
// this service holds as JSON, and what each app reports) and "Delete
// account" (the same erasure an admin runs, with the same receipt).

func (s *server) handleAccountData() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, u, ok := s.accountUser(w, r, "/account/data")
		if !ok {
			return
		}
		exp, err := s.Admin.Export(r.Context(), u.ID)
		if err != nil {
			s.pageError(w, r, fmt.Errorf("your data: %w", err))
			return
		}
		s.render(r.Context(), w, http.StatusOK, templates.AccountDataPage(templates.AccountDataView{Lang: lang(r), Apps: appViews(exp.Projects)}))
	})
}

// handleAccountExport is the download of everything as one JSON document.
func (s *server) handleAccountExport() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, u, ok := s.accountUser(w, r, "/account/data")
		if !ok {
			return
		}
		exp, err := s.Admin.Export(r.Context(), u.ID)
		if err != nil {
			s.pageError(w, r, fmt.Errorf("data export: %w", err))
			return
		}
		b, err := json.MarshalIndent(exp, "", "  ")
		if err != nil {
			s.pageError(w, r, fmt.Errorf("data export: encode: %w", err))
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="mana-data-`+s.Config.Now().UTC().Format("2006-01-02")+`.json"`)
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b)
	})
}

func (s *server) renderAccountDelete(w http.ResponseWriter, r *http.Request, status int, userID, email, typed, errKey string) {
	twoFactor, err := s.Accounts.TOTPEnabled(r.Context(), userID)
	if err != nil {
		s.pageError(w, r, fmt.Errorf("delete account page: second factor: %w", err))
		return
	}
	v := templates.AccountDeleteView{Lang: lang(r), Email: email, TwoFactor: twoFactor, TypedEmail: typed}
	if errKey != "" {
		v.Error = templates.T(v.Lang, errKey)
	}
	s.render(r.Context(), w, status, templates.AccountDeletePage(v))
}

func (s *server) handleAccountDeletePage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, u, ok := s.accountUser(w, r, "/account/delete")
		if !ok {
			return
		}
		s.renderAccountDelete(w, r, http.StatusOK, u.ID, u.Email, "", "")
	})
}

// erasureTicketTTL is how long the result page of a self-deletion can be
// reloaded.
const erasureTicketTTL = time.Hour

// handleAccountDelete erases the signed-in user everywhere after the
// password, the second factor (when enrolled) and the typed email address,
// signs the browser out and shows the receipt.
func (s *server) handleAccountDelete() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, u, ok := s.accountUser(w, r, "/account/delete")
		if !ok || !s.parseForm(w, r) {
			return
		}
		f := r.PostForm
		typed := f.Get("confirm_email")
		res, err := s.Admin.EraseSelf(r.Context(), u.ID, admin.SelfErasure{Password: f.Get("password"), Code: f.Get("code"),
			TypedEmail: typed, IP: s.clientIP(r), UserAgent: r.UserAgent()})
		var ve *admin.ValidationError
		switch {
		case errors.Is(err, admin.ErrWrongPassword), errors.Is(err, account.ErrInvalidCredentials):
			s.renderAccountDelete(w, r, http.StatusBadRequest, u.ID, u.Email, typed, templates.KeyDeleteWrongPassword)
		case errors.Is(err, admin.ErrCodeRequired):
			s.renderAccountDelete(w, r, http.StatusBadRequest, u.ID, u.Email, typed, templates.KeyDeleteCodeRequired)
		case errors.As(err, &ve):
			s.renderAccountDelete(w, r, http.StatusBadRequest, u.ID, u.Email, typed, templates.KeyErasureEmailMismatch)
		case err != nil:
			s.pageError(w, r, fmt.Errorf("delete account: %w", err))
		default:
			// The erasure ended every session; the cookie goes too.
			s.Sessions.ClearCookie(w, r)
			target := "/account/deleted"
			// The outcome holds no personal data (the receipt names a
			// pseudonym), so it may travel in the URL, sealed.
			if t, err := s.tickets.seal("erasure", erasureView(res), erasureTicketTTL); err == nil {
				target += "?" + url.Values{"r": {t}}.Encode()
			} else {
				s.Logger.ErrorContext(r.Context(), "delete account: seal result", "error", err)
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
		}
	})
}

// handleAccountDeleted is the result page of a self-deletion.
func (s *server) handleAccountDeleted() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := templates.AccountDeletedView{Lang: lang(r)}
		if t := r.URL.Query().Get("r"); t != "" {
			// A forged or expired ticket shows the plain confirmation.
			_ = s.tickets.open("erasure", t, &v.Result)
		}
		s.render(r.Context(), w, http.StatusOK, templates.AccountDeletedPage(v))
	})
}
