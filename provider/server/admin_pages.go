package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/admin"
	"github.com/manacore/mana-core-auth/provider/websession"
	"github.com/manacore/mana-core-auth/templates"
)

// The admin pages under /admin. They use the browser session: anonymous
// requests go to the login page, non-admins get 403, and an admin with a
// second factor enrolled must have used it in this session (else the
// step-up prompt). Actions are form posts that redirect back with a notice
// (post/redirect/get); a refused action renders its page with the message.

// adminSession authorises an admin page request and answers the refusal
// itself: a redirect to the login page, the 403 page or the step-up prompt.
func (s *server) adminSession(w http.ResponseWriter, r *http.Request) (admin.Actor, bool) {
	ctx := r.Context()
	sess, u, err := s.currentUser(ctx, r)
	if err != nil {
		s.pageError(w, r, err)
		return admin.Actor{}, false
	}
	returnTo := adminReturnTo(r)
	if sess == nil {
		http.Redirect(w, r, "/login?"+url.Values{"return_to": {returnTo}}.Encode(), http.StatusSeeOther)
		return admin.Actor{}, false
	}
	actor, _, err := s.Admin.Authorize(ctx, u.ID, s.clientIP(r), r.UserAgent())
	switch {
	case errors.Is(err, admin.ErrForbidden), errors.Is(err, provider.ErrNotFound):
		s.errorPage(w, r, http.StatusForbidden, templates.KeyErrorForbidden)
		return admin.Actor{}, false
	case err != nil:
		s.pageError(w, r, fmt.Errorf("authorise admin: %w", err))
		return admin.Actor{}, false
	}
	need, err := websession.StepUpRequired(ctx, s.Accounts, sess, u)
	if err != nil {
		s.pageError(w, r, err)
		return admin.Actor{}, false
	}
	if need {
		// A form post is not replayed after the step-up: the admin lands
		// on the page and repeats the action.
		status := http.StatusOK
		if r.Method != http.MethodGet {
			status = http.StatusForbidden
		}
		s.render(ctx, w, status, templates.StepUpPage(templates.StepUpView{Lang: lang(r), ReturnTo: returnTo}))
		return admin.Actor{}, false
	}
	return actor, true
}

// adminReturnTo is where to come back to after login or step-up: the page
// itself, or for a form post the page the form belongs to.
func adminReturnTo(r *http.Request) string {
	if r.Method == http.MethodGet {
		return r.URL.RequestURI()
	}
	if id := r.PathValue("id"); id != "" && strings.HasPrefix(r.URL.Path, "/admin/users/") {
		return "/admin/users/" + url.PathEscape(id)
	}
	if strings.HasPrefix(r.URL.Path, "/admin/clients") {
		return "/admin/clients"
	}
	return "/admin"
}

// safeAdminReturn keeps a step-up's return address inside /admin.
func safeAdminReturn(raw string) string {
	if p := safeReturnTo(raw); p == "/admin" || strings.HasPrefix(p, "/admin/") || strings.HasPrefix(p, "/admin?") {
		return p
	}
	return "/admin"
}

// handleAdminStepUp checks the second factor and marks the session as
// having passed it.
func (s *server) handleAdminPageStepUp() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		sess, u, err := s.currentUser(ctx, r)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		if sess == nil {
			http.Redirect(w, r, "/login?"+url.Values{"return_to": {"/admin"}}.Encode(), http.StatusSeeOther)
			return
		}
		if !s.parseForm(w, r) {
			return
		}
		returnTo := safeAdminReturn(r.PostForm.Get("return_to"))
		if _, _, err := s.Admin.Authorize(ctx, u.ID, s.clientIP(r), r.UserAgent()); err != nil {
			if errors.Is(err, admin.ErrForbidden) || errors.Is(err, provider.ErrNotFound) {
				s.errorPage(w, r, http.StatusForbidden, templates.KeyErrorForbidden)
			} else {
				s.pageError(w, r, fmt.Errorf("step-up: authorise admin: %w", err))
			}
			return
		}
		err = s.Sessions.StepUp(ctx, s.Accounts, sess, r.PostForm.Get("code"), s.clientIP(r), r.UserAgent())
		switch {
		case errors.Is(err, account.ErrInvalidCode), errors.Is(err, account.ErrTOTPNotEnrolled):
			s.render(ctx, w, http.StatusBadRequest, templates.StepUpPage(templates.StepUpView{
				Lang: lang(r), ReturnTo: returnTo, Error: templates.T(lang(r), templates.Key2FAInvalidCode)}))
		case err != nil:
			s.pageError(w, r, err)
		default:
			http.Redirect(w, r, returnTo, http.StatusSeeOther)
		}
	})
}

// usersPerPage is the user list's page size.
const usersPerPage = 20

func (s *server) handleAdminPageUsers() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, ok := s.adminSession(w, r)
		if !ok {
			return
		}
		q := r.URL.Query()
		page, _ := strconv.Atoi(q.Get("page"))
		query := admin.UserQuery{Page: max(page, 1), Limit: usersPerPage, Search: strings.TrimSpace(q.Get("q")), IncludeDeleted: q.Get("erased") == "1"}
		res, err := s.Admin.ListUsers(r.Context(), actor, query)
		var ve *admin.ValidationError
		switch {
		case errors.As(err, &ve):
			s.errorPage(w, r, http.StatusBadRequest, templates.KeyErrorBadRequest)
			return
		case err != nil:
			s.pageError(w, r, fmt.Errorf("admin users: %w", err))
			return
		}
		v := templates.AdminUsersView{Lang: lang(r), Search: query.Search, ShowErased: query.IncludeDeleted,
			Total: res.Total, Page: max(res.Page, 1), Pages: 1}
		if res.Limit > 0 && res.Total > 0 {
			v.Pages = (res.Total + res.Limit - 1) / res.Limit
		}
		for _, u := range res.Users {
			v.Users = append(v.Users, templates.AdminUserRow{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Disabled: u.Disabled,
				CreatedAt: u.CreatedAt, LastActiveAt: u.LastActiveAt, Erased: u.DeletedAt != nil})
		}
		s.render(r.Context(), w, http.StatusOK, templates.AdminUsersPage(v))
	})
}

var adminUserNotices = map[string]bool{
	templates.KeyAdminSessionsRevoked: true, templates.KeyAdminRoleChanged: true,
	templates.KeyAdminDisabled: true, templates.KeyAdminEnabled: true,
}

func (s *server) handleAdminPageUser() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, ok := s.adminSession(w, r)
		if !ok {
			return
		}
		notice := ""
		if n := r.URL.Query().Get("notice"); adminUserNotices[n] {
			notice = templates.T(lang(r), n)
		}
		s.renderAdminUser(w, r, http.StatusOK, actor, notice, "")
	})
}

// renderAdminUser reads the user's data through admin.UserData, which
// audits the read, and renders the user page.
func (s *server) renderAdminUser(w http.ResponseWriter, r *http.Request, status int, actor admin.Actor, notice, errKey string) {
	ctx, id := r.Context(), r.PathValue("id")
	sum, err := s.Admin.UserData(ctx, actor, id)
	if err != nil {
		s.pageError(w, r, fmt.Errorf("admin user page: %w", err))
		return
	}
	l := lang(r)
	v := templates.AdminUserView{Lang: l, Notice: notice, User: userCard(sum.User, actor), Configured: sum.Configured,
		Sessions: sum.Auth.SessionsCount, Accounts: sum.Auth.AccountsCount, Has2FA: sum.Auth.Has2FA, LastLoginAt: sum.Auth.LastLoginAt,
		Balance: sum.Credits.Balance, Earned: sum.Credits.TotalEarned, Spent: sum.Credits.TotalSpent, Transactions: sum.Credits.TransactionsCount,
		TotalEntities: sum.Totals.TotalEntities, AppsWithData: sum.Totals.ProjectsWithData, Apps: appViews(sum.Projects)}
	if errKey != "" {
		v.Error = templates.T(l, errKey)
	}
	for _, p := range sum.Pending {
		v.Pending = append(v.Pending, templates.AdminPending{App: p.ProjectName, Attempts: p.Attempts, LastError: p.LastError, NextAttempt: p.NextAttempt})
	}
	for _, rc := range sum.Receipts {
		v.Receipts = append(v.Receipts, receiptView(rc))
	}
	s.render(ctx, w, status, templates.AdminUserPage(v))
}

func userCard(u admin.SummaryUser, actor admin.Actor) templates.AdminUserCard {
	return templates.AdminUserCard{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, EmailVerified: u.EmailVerified,
		Disabled: u.Disabled, Erased: u.DeletedAt != nil, CreatedAt: u.CreatedAt, Self: u.ID == actor.UserID}
}

func appViews(projects []admin.ProjectData) []templates.AdminApp {
	out := make([]templates.AdminApp, 0, len(projects))
	for _, p := range projects {
		a := templates.AdminApp{ID: p.ProjectID, Name: p.ProjectName, Icon: p.Icon, Available: p.Available, Error: p.Error,
			Total: p.TotalCount, LastActivityAt: p.LastActivityAt}
		for _, e := range p.Entities {
			label := e.Label
			if label == "" {
				label = e.Entity
			}
			a.Entities = append(a.Entities, templates.AdminEntity{Label: label, Count: e.Count})
		}
		out = append(out, a)
	}
	return out
}

func receiptView(rc admin.Receipt) templates.ReceiptView {
	v := templates.ReceiptView{ID: rc.ErasureID, Subject: rc.Subject, RequestedBy: rc.RequestedBy, RequestedAt: rc.RequestedAt, CompletedAt: rc.CompletedAt}
	for _, p := range rc.Parts {
		v.Parts = append(v.Parts, templates.ReceiptPart{Name: p.Name, Deleted: p.Deleted, At: p.At})
	}
	return v
}

// adminUserAction runs one change on the account and goes back to the user
// page with its notice, or renders the page with why it was refused.
func (s *server) adminUserAction(do func(r *http.Request, actor admin.Actor, id string) (string, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, ok := s.adminSession(w, r)
		if !ok || !s.parseForm(w, r) {
			return
		}
		id := r.PathValue("id")
		notice, err := do(r, actor, id)
		var ve *admin.ValidationError
		switch {
		case errors.As(err, &ve):
			key := templates.KeyAdminInvalid
			if _, self := ve.Fields["self"]; self {
				key = templates.KeyAdminSelf
			}
			s.renderAdminUser(w, r, http.StatusBadRequest, actor, "", key)
		case errors.Is(err, admin.ErrErased):
			s.renderAdminUser(w, r, http.StatusConflict, actor, "", templates.KeyAdminErased)
		case err != nil:
			s.pageError(w, r, fmt.Errorf("admin action %s: %w", r.URL.Path, err))
		default:
			http.Redirect(w, r, "/admin/users/"+url.PathEscape(id)+"?notice="+notice, http.StatusSeeOther)
		}
	})
}

func (s *server) handleAdminPageRevokeSessions() http.Handler {
	return s.adminUserAction(func(r *http.Request, actor admin.Actor, id string) (string, error) {
		_, err := s.Admin.RevokeSessions(r.Context(), actor, id)
		return templates.KeyAdminSessionsRevoked, err
	})
}

func (s *server) handleAdminPageRole() http.Handler {
	return s.adminUserAction(func(r *http.Request, actor admin.Actor, id string) (string, error) {
		role := r.PostForm.Get("role")
		_, err := s.Admin.UpdateUser(r.Context(), actor, id, admin.UserPatch{Role: &role})
		return templates.KeyAdminRoleChanged, err
	})
}

func (s *server) handleAdminPageStatus() http.Handler {
	return s.adminUserAction(func(r *http.Request, actor admin.Actor, id string) (string, error) {
		disabled := r.PostForm.Get("disabled") == "1"
		_, err := s.Admin.UpdateUser(r.Context(), actor, id, admin.UserPatch{Disabled: &disabled})
		if disabled {
			return templates.KeyAdminDisabled, err
		}
		return templates.KeyAdminEnabled, err
	})
}

// renderAdminDelete renders the deletion dialog; the apps' answers list
// what will be deleted where.
func (s *server) renderAdminDelete(w http.ResponseWriter, r *http.Request, status int, actor admin.Actor, typed, errKey string) {
	sum, err := s.Admin.UserData(r.Context(), actor, r.PathValue("id"))
	if err != nil {
		s.pageError(w, r, fmt.Errorf("admin delete dialog: %w", err))
		return
	}
	if sum.User.DeletedAt != nil {
		http.Redirect(w, r, "/admin/users/"+url.PathEscape(sum.User.ID), http.StatusSeeOther)
		return
	}
	v := templates.AdminDeleteView{Lang: lang(r), User: userCard(sum.User, actor), Apps: appViews(sum.Projects), TypedEmail: typed}
	if errKey != "" {
		v.Error = templates.T(v.Lang, errKey)
	}
	s.render(r.Context(), w, status, templates.AdminDeletePage(v))
}

func (s *server) handleAdminPageDeleteDialog() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, ok := s.adminSession(w, r)
		if !ok {
			return
		}
		s.renderAdminDelete(w, r, http.StatusOK, actor, "", "")
	})
}

// handleAdminDelete erases the user everywhere once the admin typed the
// user's email address exactly, and shows the outcome.
func (s *server) handleAdminPageDelete() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, ok := s.adminSession(w, r)
		if !ok || !s.parseForm(w, r) {
			return
		}
		ctx, id := r.Context(), r.PathValue("id")
		typed := r.PostForm.Get("confirm_email")
		// The typed address is the page's safeguard against erasing the
		// wrong person; the browser checks it too, but only this counts.
		u, err := s.Store.GetUser(ctx, id)
		if err != nil {
			s.pageError(w, r, fmt.Errorf("admin delete: load user: %w", err))
			return
		}
		if u.DeletedAt != nil || typed != u.Email {
			s.renderAdminDelete(w, r, http.StatusBadRequest, actor, typed, templates.KeyErasureEmailMismatch)
			return
		}
		res, err := s.Admin.Erase(ctx, actor, id)
		var ve *admin.ValidationError
		switch {
		case errors.As(err, &ve):
			s.renderAdminDelete(w, r, http.StatusBadRequest, actor, typed, templates.KeyAdminSelf)
		case errors.Is(err, admin.ErrErased):
			s.renderAdminUser(w, r, http.StatusConflict, actor, "", templates.KeyAdminErased)
		case err != nil:
			s.pageError(w, r, fmt.Errorf("admin delete: %w", err))
		default:
			s.render(ctx, w, http.StatusOK, templates.AdminErasedPage(templates.AdminErasedView{Lang: lang(r), UserID: id, Result: erasureView(res)}))
		}
	})
}

// erasureView turns an erasure's outcome into what the pages show.
func erasureView(res *admin.ErasureResult) templates.ErasureView {
	v := templates.ErasureView{ID: res.ErasureID, Success: res.Success, TotalDeleted: res.TotalDeleted}
	for _, p := range res.DeletedFromProjects {
		v.Projects = append(v.Projects, templates.ErasureProject{Name: p.ProjectName, Success: p.Success, Pending: p.Pending,
			Deleted: p.DeletedCount, Error: p.Error})
	}
	a := res.DeletedFromAuth
	for _, c := range []templates.ErasureCount{
		{Key: templates.KeyErasureSessions, Count: a.Sessions}, {Key: templates.KeyErasureTokens, Count: a.Tokens},
		{Key: templates.KeyErasureConsents, Count: a.Consents}, {Key: templates.KeyErasureAccounts, Count: a.Accounts},
		{Key: templates.KeyErasureTwoFactor, Count: a.TwoFactor}, {Key: templates.KeyErasureDevices, Count: a.Devices},
		{Key: templates.KeyErasureVerification, Count: a.VerificationTokens}, {Key: templates.KeyErasureEvents, Count: a.Events},
		{Key: templates.KeyErasureLedgerDetached, Count: a.LedgerEntriesDetached},
	} {
		if c.Count > 0 {
			v.Auth = append(v.Auth, c)
		}
	}
	if res.Receipt != nil {
		rv := receiptView(*res.Receipt)
		v.Receipt = &rv
	}
	return v
}

// --- clients ---

var adminClientNotices = map[string]bool{
	templates.KeyClientUpdated: true, templates.KeyClientDeleted: true,
}

func (s *server) handleAdminPageClients() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, ok := s.adminSession(w, r)
		if !ok {
			return
		}
		v := templates.AdminClientsView{}
		if n := r.URL.Query().Get("notice"); adminClientNotices[n] {
			v.Notice = templates.T(lang(r), n)
		}
		s.renderAdminClients(w, r, http.StatusOK, actor, v)
	})
}

func (s *server) renderAdminClients(w http.ResponseWriter, r *http.Request, status int, actor admin.Actor, v templates.AdminClientsView) {
	list, err := s.Admin.ListClients(r.Context(), actor)
	if err != nil {
		s.pageError(w, r, fmt.Errorf("admin clients: %w", err))
		return
	}
	v.Lang = lang(r)
	for _, c := range list {
		v.Clients = append(v.Clients, templates.AdminClient{ID: c.ID, Name: c.Name, Public: c.Public, Trusted: c.Trusted,
			Disabled: c.Disabled, BuiltIn: c.BuiltIn, RedirectURIs: c.RedirectURIs, CreatedAt: c.CreatedAt})
	}
	s.render(r.Context(), w, status, templates.AdminClientsPage(v))
}

// lines splits a textarea into its non-empty lines.
func lines(s string) []string {
	out := []string{}
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// clientError is the message of a refused client change: the fields the
// domain named, after the translated lead.
func clientError(l string, err error) (int, string) {
	var ve *admin.ValidationError
	switch {
	case errors.As(err, &ve):
		fields := make([]string, 0, len(ve.Fields))
		for f, code := range ve.Fields {
			fields = append(fields, f+" ("+code+")")
		}
		slices.Sort(fields)
		return http.StatusBadRequest, templates.T(l, templates.KeyClientInvalid) + " " + strings.Join(fields, ", ")
	case errors.Is(err, admin.ErrClientExists):
		return http.StatusConflict, templates.T(l, templates.KeyClientExists)
	case errors.Is(err, admin.ErrBuiltInClient):
		return http.StatusConflict, templates.T(l, templates.KeyClientBuiltIn)
	}
	return 0, ""
}

func (s *server) handleAdminPageCreateClient() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, ok := s.adminSession(w, r)
		if !ok || !s.parseForm(w, r) {
			return
		}
		f := r.PostForm
		form := templates.AdminClientForm{ID: strings.TrimSpace(f.Get("id")), Name: strings.TrimSpace(f.Get("name")),
			RedirectURIs: f.Get("redirect_uris"), Public: f.Get("public") == "1", Trusted: f.Get("trusted") == "1"}
		c, secret, err := s.Admin.CreateClient(r.Context(), actor, admin.ClientInput{ID: form.ID, Name: form.Name,
			Public: form.Public, Trusted: form.Trusted, RedirectURIs: lines(form.RedirectURIs)})
		if status, msg := clientError(lang(r), err); status != 0 {
			s.renderAdminClients(w, r, status, actor, templates.AdminClientsView{Error: msg, Form: form})
			return
		}
		if err != nil {
			s.pageError(w, r, fmt.Errorf("admin create client: %w", err))
			return
		}
		// The secret is shown on this response only: no redirect.
		s.renderAdminClients(w, r, http.StatusCreated, actor, templates.AdminClientsView{
			Notice: templates.T(lang(r), templates.KeyClientCreated), CreatedID: c.ID, Secret: secret})
	})
}

// adminClientAction runs one change on a client and goes back to the list.
func (s *server) adminClientAction(notice string, do func(r *http.Request, actor admin.Actor, id string) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, ok := s.adminSession(w, r)
		if !ok || !s.parseForm(w, r) {
			return
		}
		err := do(r, actor, r.PathValue("id"))
		if status, msg := clientError(lang(r), err); status != 0 {
			s.renderAdminClients(w, r, status, actor, templates.AdminClientsView{Error: msg})
			return
		}
		if err != nil {
			s.pageError(w, r, fmt.Errorf("admin client %s: %w", r.URL.Path, err))
			return
		}
		http.Redirect(w, r, "/admin/clients?notice="+notice, http.StatusSeeOther)
	})
}

func (s *server) handleAdminPageClientRedirects() http.Handler {
	return s.adminClientAction(templates.KeyClientUpdated, func(r *http.Request, actor admin.Actor, id string) error {
		uris := lines(r.PostForm.Get("redirect_uris"))
		_, err := s.Admin.UpdateClient(r.Context(), actor, id, admin.ClientPatch{RedirectURIs: &uris})
		return err
	})
}

func (s *server) handleAdminPageClientStatus() http.Handler {
	return s.adminClientAction(templates.KeyClientUpdated, func(r *http.Request, actor admin.Actor, id string) error {
		disabled := r.PostForm.Get("disabled") == "1"
		_, err := s.Admin.UpdateClient(r.Context(), actor, id, admin.ClientPatch{Disabled: &disabled})
		return err
	})
}

func (s *server) handleAdminPageClientDelete() http.Handler {
	return s.adminClientAction(templates.KeyClientDeleted, func(r *http.Request, actor admin.Actor, id string) error {
		return s.Admin.DeleteClient(r.Context(), actor, id)
	})
}
