package templates

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// View models of the admin pages (/admin) and of the user's own data pages
// (/account/data, /account/delete).

// AdminUserRow is one account in the admin's user list.
type AdminUserRow struct {
	ID, Email, Name, Role string
	Disabled              bool
	CreatedAt             time.Time
	LastActiveAt          *time.Time
	Erased                bool
}

// AdminUsersView is the view model of AdminUsersPage.
type AdminUsersView struct {
	Lang        string
	Search      string // the search box's value
	ShowErased  bool   // the "show erased" toggle
	Users       []AdminUserRow
	Total       int
	Page, Pages int // Page from 1; Pages at least 1
}

// AdminEntity is one kind of record an app holds.
type AdminEntity struct {
	Label string
	Count int64
}

// AdminApp is what one app backend reported about a user.
type AdminApp struct {
	ID, Name, Icon string
	Available      bool
	Error          string // why the backend could not answer
	Entities       []AdminEntity
	Total          int64
	LastActivityAt *time.Time
}

// AdminPending is a backend deletion still being retried.
type AdminPending struct {
	App         string
	Attempts    int
	LastError   string
	NextAttempt time.Time
}

// ReceiptPart is one place an erasure deleted data.
type ReceiptPart struct {
	Name    string
	Deleted int64
	At      time.Time
}

// ReceiptView is an erasure receipt: what was deleted where, when, on whose
// request; it names no person.
type ReceiptView struct {
	ID          string
	Subject     string
	RequestedBy string // an admin's id or "self"
	RequestedAt time.Time
	CompletedAt *time.Time
	Parts       []ReceiptPart
}

// AdminUserCard is the account part of the user page.
type AdminUserCard struct {
	ID, Email, Name, Role string
	EmailVerified         bool
	Disabled              bool
	Erased                bool
	CreatedAt             time.Time
	Self                  bool // the admin looks at their own account
}

// AdminUserView is the view model of AdminUserPage.
type AdminUserView struct {
	Lang          string
	Notice, Error string // translated flash message after an action
	User          AdminUserCard
	Configured    bool // app backends are configured
	// Auth panel.
	Sessions, Accounts int
	Has2FA             bool
	LastLoginAt        *time.Time
	// Credits panel.
	Balance, Earned, Spent, Transactions int64
	// Stat cards.
	TotalEntities int64
	AppsWithData  int
	Apps          []AdminApp
	Pending       []AdminPending
	Receipts      []ReceiptView
}

// AdminDeleteView is the view model of AdminDeletePage, the deletion
// dialog.
type AdminDeleteView struct {
	Lang       string
	User       AdminUserCard
	Apps       []AdminApp // where data will be deleted
	TypedEmail string     // keeps a mistyped confirmation
	Error      string
}

// ErasureProject is one app's part of an erasure.
type ErasureProject struct {
	Name    string
	Success bool
	Pending bool // failed for now, retried until it succeeds
	Deleted int64
	Error   string
}

// ErasureCount is one kind of record erased in this service.
type ErasureCount struct {
	Key   string // translation key of the kind
	Count int64
}

// ErasureView is the outcome of an erasure, for the admin and the user.
type ErasureView struct {
	ID           string
	Success      bool
	Projects     []ErasureProject
	Auth         []ErasureCount
	TotalDeleted int64
	Receipt      *ReceiptView // set once every part is done
}

// AdminErasedView is the view model of AdminErasedPage.
type AdminErasedView struct {
	Lang   string
	UserID string
	Result ErasureView
}

// AdminClient is one OAuth client in the admin's list.
type AdminClient struct {
	ID, Name        string
	Public, Trusted bool
	Disabled        bool
	BuiltIn         bool
	RedirectURIs    []string
	CreatedAt       time.Time
}

// AdminClientForm keeps the create form's input.
type AdminClientForm struct {
	ID, Name, RedirectURIs string
	Public, Trusted        bool
}

// AdminClientsView is the view model of AdminClientsPage.
type AdminClientsView struct {
	Lang          string
	Notice, Error string
	Clients       []AdminClient
	Form          AdminClientForm
	// CreatedID and Secret show a new client's secret, once.
	CreatedID, Secret string
}

// StepUpView is the view model of StepUpPage: the admin pages ask for the
// second factor when the session was signed in without it.
type StepUpView struct {
	Lang     string
	ReturnTo string // hidden field "return_to"
	Error    string
}

// AccountDataView is the view model of AccountDataPage ("Your data").
type AccountDataView struct {
	Lang string
	Apps []AdminApp
}

// AccountDeleteView is the view model of AccountDeletePage.
type AccountDeleteView struct {
	Lang       string
	Email      string
	TwoFactor  bool   // ask for the second factor too
	TypedEmail string // keeps the confirmation input
	Error      string
}

// AccountDeletedView is the view model of AccountDeletedPage.
type AccountDeletedView struct {
	Lang   string
	Result ErasureView
}

// pageOf is "Page X of Y" / "Seite X von Y".
func pageOf(lang string, page, pages int) string {
	return fmt.Sprintf(T(lang, "admin.users.page_of"), page, pages)
}

// usersPageURL is the list's URL for another page with the same search.
func usersPageURL(v AdminUsersView, page int) string {
	q := url.Values{"page": {strconv.Itoa(page)}}
	if v.Search != "" {
		q.Set("q", v.Search)
	}
	if v.ShowErased {
		q.Set("erased", "1")
	}
	return "/admin?" + q.Encode()
}

// appsWithData is "x/n" of the stat card.
func appsWithData(v AdminUserView) string {
	return strconv.Itoa(v.AppsWithData) + "/" + strconv.Itoa(len(v.Apps))
}

func itoa(n int) string { return strconv.Itoa(n) }

// optTime renders a time that may be missing.
func optTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// roleKeys maps roles to their translation keys.
var roleKeys = map[string]string{"admin": "admin.role.admin", "user": "admin.role.user"}

func roleLabel(lang, role string) string {
	if k, ok := roleKeys[role]; ok {
		return T(lang, k)
	}
	return role
}

// requestedBy says who asked for an erasure.
func requestedBy(lang, by string) string {
	if by == "self" {
		return T(lang, "erasure.by_self")
	}
	return T(lang, "erasure.by_admin") + " " + by
}

// joinLines shows a list one entry a line, as the textareas take it.
func joinLines(list []string) string { return strings.Join(list, "\n") }
