package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/internal/httpapi"
)

// Billing is what the purchase routes need from credits/billing.
type Billing interface {
	Packages(ctx context.Context) ([]credits.Package, error)
	Purchases(ctx context.Context, userID string, limit, offset int) ([]credits.Purchase, error)
	CreatePaymentIntent(ctx context.Context, userID, packageID string) (credits.Purchase, string, error)
	CreateCheckout(ctx context.Context, userID, email, packageID string) (string, error)
}

type packageJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Credits    int64  `json:"credits"`
	PriceCents int64  `json:"priceEuroCents"`
	Currency   string `json:"currency"`
	SortOrder  int    `json:"sortOrder"`
}

type purchaseJSON struct {
	ID          string     `json:"id"`
	PackageID   string     `json:"packageId"`
	Credits     int64      `json:"credits"`
	PriceCents  int64      `json:"priceEuroCents"`
	Currency    string     `json:"currency"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"createdAt"`
	CompletedAt *time.Time `json:"completedAt,omitempty"`
	// RefundedCredits are the credits refunds took back (a partly
	// refunded purchase stays "succeeded"); DisputeStatus is open, won,
	// lost or closed when the payment was disputed.
	RefundedCredits int64  `json:"refundedCredits"`
	DisputeStatus   string `json:"disputeStatus,omitempty"`
}

// Packages lists the active packages by sort order.
func (a *API) Packages(b Billing) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := a.authorize(w, r, ScopeRead); !ok {
			return
		}
		ps, err := b.Packages(r.Context())
		if err != nil {
			httpapi.InternalError(w, r, a.log, "packages", err)
			return
		}
		out := make([]packageJSON, 0, len(ps))
		for _, p := range ps {
			out = append(out, packageJSON{ID: p.ID, Name: p.Name, Credits: p.Credits, PriceCents: p.PriceCents, Currency: p.Currency, SortOrder: p.SortOrder})
		}
		httpapi.WriteJSON(w, http.StatusOK, out)
	})
}

// Purchases lists the caller's purchases, newest first.
func (a *API) Purchases(b Billing) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.authorize(w, r, ScopeRead)
		if !ok {
			return
		}
		list, err := b.Purchases(r.Context(), p.Subject, credits.MaxLimit, 0)
		if err != nil {
			httpapi.InternalError(w, r, a.log, "purchases", err)
			return
		}
		out := make([]purchaseJSON, 0, len(list))
		for _, x := range list {
			j := purchaseJSON{ID: x.ID, PackageID: x.PackageID, Credits: x.Credits, PriceCents: x.AmountCents, Currency: x.Currency, Status: string(x.Status), CreatedAt: x.CreatedAt,
				RefundedCredits: x.RefundedCredits, DisputeStatus: string(x.DisputeStatus)}
			if !x.CompletedAt.IsZero() {
				t := x.CompletedAt
				j.CompletedAt = &t
			}
			out = append(out, j)
		}
		httpapi.WriteJSON(w, http.StatusOK, out)
	})
}

// maxPackageID bounds the package id a client may send.
const maxPackageID = 128

// packageRequest reads {packageId} and answers a bad request itself.
func packageRequest(w http.ResponseWriter, r *http.Request) (string, bool) {
	var in struct {
		PackageID string `json:"packageId"`
	}
	if !httpapi.Decode(w, r, &in) {
		return "", false
	}
	fields := map[string]string{}
	httpapi.RequireFields(fields, map[string]string{"packageId": in.PackageID})
	if len(in.PackageID) > maxPackageID {
		fields["packageId"] = "length"
	}
	if len(fields) > 0 {
		httpapi.WriteValidation(w, fields)
		return "", false
	}
	return in.PackageID, true
}

// writeInvalid answers the fields the domain refused, if err names any.
func writeInvalid(w http.ResponseWriter, err error) bool {
	var invalid *credits.InvalidFieldsError
	if !errors.As(err, &invalid) {
		return false
	}
	httpapi.WriteValidation(w, invalid.Fields)
	return true
}

// Purchase starts a Stripe PaymentIntent for apps using Stripe Elements.
func (a *API) Purchase(b Billing) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.authorize(w, r, ScopeWrite)
		if !ok {
			return
		}
		pkg, ok := packageRequest(w, r)
		if !ok {
			return
		}
		pu, secret, err := b.CreatePaymentIntent(r.Context(), p.Subject, pkg)
		if writeInvalid(w, err) {
			return
		}
		if errors.Is(err, credits.ErrNotFound) {
			httpapi.WriteError(w, http.StatusNotFound, "package_not_found", "Package not found")
			return
		}
		if err != nil {
			httpapi.InternalError(w, r, a.log, "create payment intent", err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"purchaseId": pu.ID, "clientSecret": secret, "amount": pu.AmountCents, "currency": pu.Currency})
	})
}

// Checkout starts a Stripe Checkout Session for the web.
func (a *API) Checkout(b Billing) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.authorize(w, r, ScopeWrite)
		if !ok {
			return
		}
		pkg, ok := packageRequest(w, r)
		if !ok {
			return
		}
		url, err := b.CreateCheckout(r.Context(), p.Subject, "", pkg)
		if writeInvalid(w, err) {
			return
		}
		if errors.Is(err, credits.ErrNotFound) {
			httpapi.WriteError(w, http.StatusNotFound, "package_not_found", "Package not found")
			return
		}
		if err != nil {
			httpapi.InternalError(w, r, a.log, "create checkout", err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"url": url})
	})
}
