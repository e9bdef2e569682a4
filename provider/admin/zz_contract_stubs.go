package admin

// Stand-ins for the parts of /work/contract.md the pages call, until the
// users/clients and erasure domains are merged. The lead deletes this file
// at the merge; nothing here may be more than the contract declares.

import (
	"context"
	"errors"
	"time"
)

// errStub is what a stubbed action answers until the real domain is merged.
var errStub = errors.New("admin: not merged yet")

type UserQuery struct {
	Page, Limit    int
	Search         string
	IncludeDeleted bool
}

type UserRow struct {
	ID           string     `json:"id"`
	Email        string     `json:"email"`
	Name         string     `json:"name"`
	Role         string     `json:"role"`
	Disabled     bool       `json:"disabled"`
	CreatedAt    time.Time  `json:"createdAt"`
	LastActiveAt *time.Time `json:"lastActiveAt"`
	DeletedAt    *time.Time `json:"deletedAt,omitempty"`
}

type UserPage struct {
	Users []UserRow `json:"users"`
	Total int       `json:"total"`
	Page  int       `json:"page"`
	Limit int       `json:"limit"`
}

func (s *Service) ListUsers(ctx context.Context, actor Actor, q UserQuery) (*UserPage, error) {
	return &UserPage{Users: []UserRow{}, Page: max(q.Page, 1), Limit: 20}, nil
}

type UserPatch struct {
	Role          *string `json:"role"`
	Name          *string `json:"name"`
	EmailVerified *bool   `json:"emailVerified"`
	Disabled      *bool   `json:"disabled"`
}

func (s *Service) UpdateUser(ctx context.Context, actor Actor, userID string, p UserPatch) (*UserRow, error) {
	return nil, errStub
}

func (s *Service) RevokeSessions(ctx context.Context, actor Actor, userID string) (int, error) {
	return 0, errStub
}

type ClientView struct {
	ID                     string    `json:"id"`
	Name                   string    `json:"name"`
	Public                 bool      `json:"public"`
	Trusted                bool      `json:"trusted"`
	Disabled               bool      `json:"disabled"`
	BuiltIn                bool      `json:"builtIn"`
	RedirectURIs           []string  `json:"redirectUris"`
	PostLogoutRedirectURIs []string  `json:"postLogoutRedirectUris"`
	GrantTypes             []string  `json:"grantTypes"`
	Scopes                 []string  `json:"scopes"`
	LogoURI                string    `json:"logoUri,omitempty"`
	BackchannelLogoutURI   string    `json:"backchannelLogoutUri,omitempty"`
	CreatedAt              time.Time `json:"createdAt"`
}

type ClientInput struct {
	ID, Name               string
	Public, Trusted        bool
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes, Scopes     []string
	LogoURI                string
	BackchannelLogoutURI   string
}

type ClientPatch struct {
	Name                   *string
	RedirectURIs           *[]string
	PostLogoutRedirectURIs *[]string
	Disabled               *bool
}

func (s *Service) ListClients(ctx context.Context, actor Actor) ([]ClientView, error) {
	return []ClientView{}, nil
}

func (s *Service) CreateClient(ctx context.Context, actor Actor, in ClientInput) (*ClientView, string, error) {
	return nil, "", errStub
}

func (s *Service) UpdateClient(ctx context.Context, actor Actor, id string, p ClientPatch) (*ClientView, error) {
	return nil, errStub
}

func (s *Service) DeleteClient(ctx context.Context, actor Actor, id string) error {
	return errStub
}

var ErrClientExists = errors.New("client id already taken")
var ErrBuiltInClient = errors.New("built-in client cannot be changed")

type ProjectDeletion struct {
	ProjectID    string `json:"projectId"`
	ProjectName  string `json:"projectName"`
	Success      bool   `json:"success"`
	DeletedCount int64  `json:"deletedCount"`
	Error        string `json:"error,omitempty"`
	Pending      bool   `json:"pending"`
}

type AuthDeletion struct {
	Sessions, Tokens, Consents, Accounts, TwoFactor, Devices, VerificationTokens, Events int64
	LedgerEntriesDetached                                                                int64
}

type ErasureResult struct {
	ErasureID           string            `json:"erasureId"`
	Success             bool              `json:"success"`
	DeletedFromProjects []ProjectDeletion `json:"deletedFromProjects"`
	DeletedFromAuth     AuthDeletion      `json:"deletedFromAuth"`
	TotalDeleted        int64             `json:"totalDeleted"`
	Receipt             *Receipt          `json:"receipt,omitempty"`
}

type PendingDeletion struct {
	ErasureID   string    `json:"erasureId"`
	ProjectID   string    `json:"projectId"`
	ProjectName string    `json:"projectName"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"lastError"`
	NextAttempt time.Time `json:"nextAttemptAt"`
}

type ReceiptPart struct {
	Where   string    `json:"where"`
	Name    string    `json:"name"`
	Deleted int64     `json:"deleted"`
	At      time.Time `json:"at"`
}

type Receipt struct {
	ErasureID   string        `json:"erasureId"`
	Subject     string        `json:"subject"`
	RequestedBy string        `json:"requestedBy"`
	RequestedAt time.Time     `json:"requestedAt"`
	CompletedAt *time.Time    `json:"completedAt,omitempty"`
	Parts       []ReceiptPart `json:"parts"`
}

func (s *Service) Erase(ctx context.Context, actor Actor, userID string) (*ErasureResult, error) {
	return nil, errStub
}

func (s *Service) EraseSelf(ctx context.Context, userID string, req SelfErasure) (*ErasureResult, error) {
	return nil, errStub
}

type SelfErasure struct{ Password, Code, TypedEmail, IP, UserAgent string }

var ErrCodeRequired = errors.New("second factor required")
var ErrWrongPassword = errors.New("wrong password")

func (s *Service) Pending(ctx context.Context, userID string) ([]PendingDeletion, error) {
	return nil, nil
}

func (s *Service) Receipts(ctx context.Context, userID string) ([]Receipt, error) {
	return nil, nil
}

type Export struct {
	Projects   []ProjectData `json:"projects"`
	ExportedAt time.Time     `json:"exportedAt"`
}

func (s *Service) Export(ctx context.Context, userID string) (*Export, error) {
	return &Export{Projects: []ProjectData{}, ExportedAt: s.cfg.Now().UTC()}, nil
}
