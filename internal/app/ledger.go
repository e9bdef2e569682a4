package app

// issue 11, part B (erasure): the credits module as administration sees
// it. credits never imports provider; this adapter, in the composition
// root, is where the two meet.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/provider/admin"
)

// adminLedger implements admin.Ledger. Its reads go to the stores, not
// the Service: Service.Balance grants the signup bonus and the daily
// credits, and an admin looking (or an erased user's summary) must not
// book anything.
type adminLedger struct {
	svc     *credits.Service
	store   credits.Store
	billing credits.BillingStore
}

var _ admin.Ledger = adminLedger{}

func (l adminLedger) Summary(ctx context.Context, userID string) (admin.CreditsSummary, error) {
	var sum admin.CreditsSummary
	switch b, err := l.store.Balance(ctx, userID); {
	case err == nil:
		sum.Balance, sum.TotalEarned, sum.TotalSpent = b.Available(), b.TotalEarned, b.TotalSpent
	case !errors.Is(err, credits.ErrNotFound):
		return sum, err
	}
	txs, err := l.transactions(ctx, userID)
	if err != nil {
		return sum, err
	}
	sum.TransactionsCount = int64(len(txs))
	return sum, nil
}

type exportPosting struct {
	Account string `json:"account"`
	Amount  int64  `json:"amount"`
}

type exportTransaction struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Amount      int64           `json:"amount"`
	AppID       string          `json:"appId,omitempty"`
	Description string          `json:"description,omitempty"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	CreatedAt   time.Time       `json:"createdAt"`
	Postings    []exportPosting `json:"postings"`
}

type exportPurchase struct {
	ID          string     `json:"id"`
	PackageID   string     `json:"packageId"`
	Credits     int64      `json:"credits"`
	AmountCents int64      `json:"amountCents"`
	Currency    string     `json:"currency"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"createdAt"`
	CompletedAt *time.Time `json:"completedAt,omitempty"`
}

func (l adminLedger) Export(ctx context.Context, userID string) (admin.LedgerExport, error) {
	txs, err := l.transactions(ctx, userID)
	if err != nil {
		return admin.LedgerExport{}, err
	}
	outTx := make([]exportTransaction, 0, len(txs))
	for _, t := range txs {
		et := exportTransaction{ID: t.ID, Type: string(t.Type), Amount: t.Amount, AppID: t.AppID, Description: t.Description,
			Metadata: t.Metadata, CreatedAt: t.CreatedAt, Postings: []exportPosting{}}
		for _, p := range t.Postings {
			et.Postings = append(et.Postings, exportPosting(p))
		}
		outTx = append(outTx, et)
	}
	outP := []exportPurchase{}
	if l.billing != nil {
		for off := 0; ; off += credits.MaxLimit {
			page, err := l.billing.Purchases(ctx, userID, credits.MaxLimit, off)
			if err != nil {
				return admin.LedgerExport{}, fmt.Errorf("purchases: %w", err)
			}
			for _, p := range page {
				ep := exportPurchase{ID: p.ID, PackageID: p.PackageID, Credits: p.Credits, AmountCents: p.AmountCents,
					Currency: p.Currency, Status: string(p.Status), CreatedAt: p.CreatedAt}
				if !p.CompletedAt.IsZero() {
					ep.CompletedAt = &p.CompletedAt
				}
				outP = append(outP, ep)
			}
			if len(page) < credits.MaxLimit {
				break
			}
		}
	}
	return admin.LedgerExport{Transactions: outTx, Purchases: outP}, nil
}

func (l adminLedger) Detach(ctx context.Context, userID, pseudonym string) (int64, error) {
	return l.svc.Detach(ctx, userID, pseudonym)
}

func (l adminLedger) transactions(ctx context.Context, userID string) ([]credits.Transaction, error) {
	var out []credits.Transaction
	for off := 0; ; off += credits.MaxLimit {
		page, err := l.store.Transactions(ctx, userID, credits.MaxLimit, off)
		if err != nil {
			return nil, fmt.Errorf("transactions: %w", err)
		}
		out = append(out, page...)
		if len(page) < credits.MaxLimit {
			return out, nil
		}
	}
}
