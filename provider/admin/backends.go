package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The contract every app backend implements, unchanged from the old
// service so the apps need no change:
//
//	GET    {url}/api/v1/admin/user-data/{userId} → {entities:[{entity,count,label}], totalCount, lastActivityAt?}
//	DELETE {url}/api/v1/admin/user-data/{userId} → {success, deletedCounts:[{entity,count}], totalDeleted}
//
// with the header X-Service-Key and, new, Authorization: Bearer with a
// short-lived access token of ours (aud = the backend's id, scope
// admin:user-data) that a backend can verify against the JWKS instead of
// trusting a shared key.
const (
	userDataPath = "/api/v1/admin/user-data/"
	// ServiceScope is the scope of the tokens the backends receive.
	ServiceScope = "admin:user-data"
	// maxBackendBody bounds what we read from a backend: a summary is a
	// few hundred bytes; a misbehaving backend must not fill our memory.
	maxBackendBody = 1 << 20
)

// TokenSource mints the short-lived access token a backend call carries.
type TokenSource interface {
	ServiceToken(ctx context.Context, audience, scope string) (string, error)
}

var backendID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ParseBackends reads the ADMIN_BACKENDS_FILE registry: a list of backends
// in YAML or JSON (JSON is YAML), or an object with a "backends" list.
// Unknown keys are refused, so a misspelt serviceKey is not silently
// dropped.
func ParseBackends(data []byte) ([]Backend, error) {
	var list []Backend
	if err := decodeStrict(data, &list); err != nil {
		var wrapped struct {
			Backends []Backend `yaml:"backends"`
		}
		if err2 := decodeStrict(data, &wrapped); err2 != nil {
			return nil, fmt.Errorf("parse backends: %w", err)
		}
		list = wrapped.Backends
	}
	seen := map[string]bool{}
	var problems []string
	for i := range list {
		b := &list[i]
		b.ID, b.Name, b.URL = strings.TrimSpace(b.ID), strings.TrimSpace(b.Name), strings.TrimRight(strings.TrimSpace(b.URL), "/")
		switch {
		case !backendID.MatchString(b.ID):
			problems = append(problems, fmt.Sprintf("backend %d: id %q must be lower-case letters, digits, - or _", i+1, b.ID))
		case seen[b.ID]:
			problems = append(problems, fmt.Sprintf("backend %q: listed twice", b.ID))
		}
		seen[b.ID] = true
		if u, err := url.Parse(b.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, fmt.Sprintf("backend %q: url must be an absolute http(s) URL", b.ID))
		}
		if b.Name == "" {
			b.Name = b.ID
		}
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return list, nil
}

func decodeStrict(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// legacy are the backends the old service knew, by their variables.
var legacy = []Backend{
	{ID: "chat", Name: "Chat", Icon: "💬", URL: "CHAT_BACKEND_URL"},
	{ID: "todo", Name: "Todo", Icon: "✅", URL: "TODO_BACKEND_URL"},
	{ID: "contacts", Name: "Contacts", Icon: "👥", URL: "CONTACTS_BACKEND_URL"},
	{ID: "calendar", Name: "Calendar", Icon: "📅", URL: "CALENDAR_BACKEND_URL"},
	{ID: "picture", Name: "Picture", Icon: "🎨", URL: "PICTURE_BACKEND_URL"},
	{ID: "zitare", Name: "Zitare", Icon: "💡", URL: "ZITARE_BACKEND_URL"},
	{ID: "presi", Name: "Presi", Icon: "📊", URL: "PRESI_BACKEND_URL"},
}

// LegacyBackends builds the registry from the old variables
// (CHAT_BACKEND_URL, …) for deployments that have no ADMIN_BACKENDS_FILE.
// Only backends whose variable is set are listed: the old localhost
// defaults never pointed anywhere in production.
func LegacyBackends(getenv func(string) string, serviceKey string) ([]Backend, error) {
	var out []Backend
	for _, b := range legacy {
		u := strings.TrimSpace(getenv(b.URL))
		if u == "" {
			continue
		}
		b.URL, b.ServiceKey = u, serviceKey
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, nil
	}
	data, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return ParseBackends(data) // the same checks as the file
}

// Configured says whether the admin data features can work: at least one
// backend with a service key. Without one the pages and the API say "not
// configured" instead of reporting every app as unreachable.
func (s *Service) Configured() bool {
	for _, b := range s.cfg.Backends {
		if b.ServiceKey != "" {
			return true
		}
	}
	return false
}

// BackendError is why a backend call failed, in words an admin can act on.
type BackendError struct {
	Reason string
	Err    error
}

func (e *BackendError) Error() string { return e.Reason }
func (e *BackendError) Unwrap() error { return e.Err }

// backendData is a backend's GET answer.
type backendData struct {
	Entities       []Entity   `json:"entities"`
	TotalCount     int64      `json:"totalCount"`
	LastActivityAt *time.Time `json:"lastActivityAt"`
}

// BackendDeletion is a backend's DELETE answer.
type BackendDeletion struct {
	Success       bool          `json:"success"`
	DeletedCounts []EntityCount `json:"deletedCounts"`
	TotalDeleted  int64         `json:"totalDeleted"`
}

// EntityCount is how many records of one kind a backend deleted.
type EntityCount struct {
	Entity string `json:"entity"`
	Count  int64  `json:"count"`
}

// fetchFromBackend reads what backend b holds about the user.
func (s *Service) fetchFromBackend(ctx context.Context, b Backend, userID string) (*backendData, error) {
	var d backendData
	if err := s.callBackend(ctx, b, http.MethodGet, userID, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// deleteFromBackend asks backend b to delete everything of the user. A
// backend that answers 2xx without success:true has not deleted.
func (s *Service) deleteFromBackend(ctx context.Context, b Backend, userID string) (BackendDeletion, error) {
	var d BackendDeletion
	if err := s.callBackend(ctx, b, http.MethodDelete, userID, &d); err != nil {
		return BackendDeletion{}, err
	}
	if !d.Success {
		return BackendDeletion{}, &BackendError{Reason: "backend reported the deletion as failed"}
	}
	return d, nil
}

// callBackend makes one call of the contract, bounded by ctx, and decodes
// the JSON answer into out. Every failure is a *BackendError.
func (s *Service) callBackend(ctx context.Context, b Backend, method, userID string, out any) (err error) {
	// For the metrics: ok, unavailable (no answer, or the backend says it
	// cannot answer now) or error (an answer that is wrong).
	unavailable := false
	defer func() {
		switch {
		case err == nil:
			s.cfg.ObserveCall(b.ID, CallOK)
		case unavailable:
			s.cfg.ObserveCall(b.ID, CallUnavailable)
		default:
			s.cfg.ObserveCall(b.ID, CallError)
		}
	}()
	if b.ServiceKey == "" {
		return &BackendError{Reason: "no service key configured"}
	}
	req, err := http.NewRequestWithContext(ctx, method, b.URL+userDataPath+url.PathEscape(userID), nil)
	if err != nil {
		return &BackendError{Reason: "invalid backend URL", Err: err}
	}
	req.Header.Set("X-Service-Key", b.ServiceKey)
	req.Header.Set("Accept", "application/json")
	if s.deps.Tokens != nil {
		tok, err := s.deps.Tokens.ServiceToken(ctx, b.ID, ServiceScope)
		if err != nil {
			return &BackendError{Reason: "could not issue the service token", Err: err}
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		unavailable = true
		return &BackendError{Reason: transportReason(ctx, err), Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBackendBody+1))
	if err != nil {
		unavailable = true
		return &BackendError{Reason: transportReason(ctx, err), Err: err}
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		unavailable = true
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return &BackendError{Reason: fmt.Sprintf("service key rejected (HTTP %d)", resp.StatusCode)}
	case resp.StatusCode == http.StatusNotFound:
		return &BackendError{Reason: "the backend does not implement the user-data endpoint (HTTP 404)"}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return &BackendError{Reason: fmt.Sprintf("backend error (HTTP %d)", resp.StatusCode)}
	case len(body) > maxBackendBody:
		return &BackendError{Reason: "answer too large"}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return &BackendError{Reason: "invalid answer (not the user-data JSON)", Err: err}
	}
	return nil
}

// transportReason names a failed call the way an admin can act on it.
func transportReason(ctx context.Context, err error) string {
	var op *net.OpError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "no answer in time (timeout)"
	case errors.As(err, &op) && op.Op == "dial":
		return "Backend offline"
	default:
		return "connection failed"
	}
}
