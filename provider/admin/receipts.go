package admin

import (
	"context"
	"fmt"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

// ReceiptPart is what one place deleted, and when.
type ReceiptPart struct {
	Where   string    `json:"where"` // "auth" or a backend id
	Name    string    `json:"name"`
	Deleted int64     `json:"deleted"`
	At      time.Time `json:"at"`
}

// Receipt proves an erasure without personal data: who asked, when, and
// what was deleted where. Subject is a keyed hash of the user id.
type Receipt struct {
	ErasureID   string        `json:"erasureId"`
	Subject     string        `json:"subject"`
	RequestedBy string        `json:"requestedBy"` // admin id or "self"
	RequestedAt time.Time     `json:"requestedAt"`
	CompletedAt *time.Time    `json:"completedAt,omitempty"`
	Parts       []ReceiptPart `json:"parts"`
}

// EventErasureViewed: an admin read an erasure's state.
const EventErasureViewed = "admin_erasure_viewed"

// Erasure returns the state of an erasure job: per-backend outcomes, the
// parts still pending and, once done, the receipt. provider.ErrNotFound
// for an unknown id.
func (s *Service) Erasure(ctx context.Context, actor Actor, erasureID string) (*Erasure, error) {
	if erasureID == "" || !provider.CleanText(erasureID) {
		return nil, provider.ErrNotFound
	}
	j, err := s.deps.Store.GetErasure(ctx, erasureID)
	if err != nil {
		return nil, fmt.Errorf("erasure %q: %w", erasureID, err)
	}
	s.record(ctx, actor, EventErasureViewed, erasureID)
	e := &Erasure{ID: j.ID, Done: j.CompletedAt != nil, Projects: []ProjectDeletion{}, Pending: []PendingDeletion{}}
	for _, p := range j.Parts {
		pd := ProjectDeletion{ProjectID: p.BackendID, ProjectName: p.BackendName, Success: p.Status == provider.ErasureDone,
			DeletedCount: p.DeletedCount}
		if !pd.Success {
			pd.Error, pd.Pending = p.LastError, true
			e.Pending = append(e.Pending, pendingOf(p))
		}
		e.Projects = append(e.Projects, pd)
	}
	if e.Done {
		e.Receipt = receiptOf(j)
	}
	return e, nil
}

// Pending lists the user's backend deletions still being retried.
func (s *Service) Pending(ctx context.Context, userID string) ([]PendingDeletion, error) {
	parts, err := s.deps.Store.PendingErasureParts(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]PendingDeletion, 0, len(parts))
	for _, p := range parts {
		out = append(out, pendingOf(p))
	}
	return out, nil
}

// Receipts lists the receipts of the user's finished erasures, newest
// first. They are found by the keyed hash of the id, never by the person.
func (s *Service) Receipts(ctx context.Context, userID string) ([]Receipt, error) {
	jobs, err := s.deps.Store.ListErasures(ctx, s.subject(userID))
	if err != nil {
		return nil, err
	}
	out := []Receipt{}
	for _, j := range jobs {
		if j.CompletedAt != nil {
			out = append(out, *receiptOf(j))
		}
	}
	return out, nil
}

// erasureState is the erasure part of a Summary.
func (s *Service) erasureState(ctx context.Context, userID string) ([]PendingDeletion, []Receipt, error) {
	pending, err := s.Pending(ctx, userID)
	if err != nil {
		return nil, nil, fmt.Errorf("pending deletions of %q: %w", userID, err)
	}
	receipts, err := s.Receipts(ctx, userID)
	if err != nil {
		return nil, nil, fmt.Errorf("receipts of %q: %w", userID, err)
	}
	return pending, receipts, nil
}

func pendingOf(p *provider.ErasurePart) PendingDeletion {
	return PendingDeletion{ErasureID: p.ErasureID, ProjectID: p.BackendID, ProjectName: p.BackendName, Attempts: p.Attempts,
		LastError: p.LastError, NextAttempt: p.NextAttemptAt}
}

// receiptOf builds the receipt of a job: the local part first, then each
// backend that has confirmed its deletion.
func receiptOf(j *provider.ErasureJob) *Receipt {
	r := &Receipt{ErasureID: j.ID, Subject: j.Subject, RequestedBy: j.RequestedBy, RequestedAt: j.RequestedAt,
		CompletedAt: j.CompletedAt, Parts: []ReceiptPart{}}
	if j.AuthAt != nil {
		r.Parts = append(r.Parts, ReceiptPart{Where: authWhere, Name: authName, Deleted: j.AuthDeleted, At: *j.AuthAt})
	}
	for _, p := range j.Parts {
		if p.Status == provider.ErasureDone && p.DoneAt != nil {
			r.Parts = append(r.Parts, ReceiptPart{Where: p.BackendID, Name: p.BackendName, Deleted: p.DeletedCount, At: *p.DoneAt})
		}
	}
	return r
}
