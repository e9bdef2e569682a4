package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/manacore/mana-core-auth/credits/billing"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/templates"
)

// creditsPagePath is the signed-in user's credits page; Stripe Checkout
// returns to it with ?purchase=success or ?purchase=cancelled.
const creditsPagePath = "/account/credits"

// creditsPageTransactions is how many recent transactions the page lists.
const creditsPageTransactions = 20

var purchaseNotices = map[string]string{
	"success":   templates.KeyCreditsPurchaseSuccess,
	"cancelled": templates.KeyCreditsPurchaseCancelled,
}

func (s *server) handleCreditsPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, u, ok := s.accountUser(w, r, creditsPagePath)
		if !ok {
			return
		}
		v := templates.CreditsView{}
		if key, ok := purchaseNotices[r.URL.Query().Get("purchase")]; ok {
			v.Notice = templates.T(lang(r), key)
		}
		s.renderCredits(w, r, http.StatusOK, u, v)
	})
}

// renderCredits fills v with the user's balance, transactions, purchases
// and packages and renders the credits page. A part that fails to load is
// logged and left out; a failed balance shows the internal error.
func (s *server) renderCredits(w http.ResponseWriter, r *http.Request, status int, u *provider.User, v templates.CreditsView) {
	ctx := r.Context()
	v.Lang = lang(r)
	b, err := s.Credits.Balance(ctx, u.ID)
	if err != nil {
		s.pageError(w, r, fmt.Errorf("credits page: balance: %w", err))
		return
	}
	v.Free, v.Paid, v.Available = b.Free, b.Paid, b.Available()
	if txs, err := s.Credits.Transactions(ctx, u.ID, creditsPageTransactions, 0); err != nil {
		s.Logger.ErrorContext(ctx, "credits page: transactions", "error", err)
	} else {
		for _, tx := range txs {
			v.Transactions = append(v.Transactions, templates.CreditsTransaction{
				Type: string(tx.Type), Amount: tx.Amount, AppID: tx.AppID, Description: tx.Description, At: tx.CreatedAt,
				OwnDescription: tx.Type.Booked(),
			})
		}
	}
	if s.Billing != nil {
		v.Billing = true
		if pkgs, err := s.Billing.Packages(ctx); err != nil {
			s.Logger.ErrorContext(ctx, "credits page: packages", "error", err)
		} else {
			for _, p := range pkgs {
				if !p.Active {
					continue
				}
				v.Packages = append(v.Packages, templates.CreditsPackage{
					ID: p.ID, Name: p.Name, Credits: p.Credits, PriceCents: p.PriceCents, Currency: p.Currency,
				})
			}
		}
		if ps, err := s.Billing.Purchases(ctx, u.ID, creditsPageTransactions, 0); err != nil {
			s.Logger.ErrorContext(ctx, "credits page: purchases", "error", err)
		} else {
			for _, p := range ps {
				v.Purchases = append(v.Purchases, templates.CreditsPurchase{
					Credits: p.Credits, AmountCents: p.AmountCents, Currency: p.Currency, Status: string(p.Status), At: p.CreatedAt,
				})
			}
		}
	}
	s.render(ctx, w, status, templates.CreditsPage(v))
}

// handleCreditsCheckout starts a Stripe Checkout for one package and sends
// the browser there.
func (s *server) handleCreditsCheckout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, u, ok := s.accountUser(w, r, creditsPagePath)
		if !ok {
			return
		}
		if !s.parseForm(w, r) {
			return
		}
		ctx, l := r.Context(), lang(r)
		id := r.PostForm.Get("package_id")
		if id == "" {
			s.renderCredits(w, r, http.StatusBadRequest, u, templates.CreditsView{Error: templates.T(l, templates.KeyCreditsPackageNotFound)})
			return
		}
		target, err := s.Billing.CreateCheckout(ctx, u.ID, u.Email, id)
		switch {
		case errors.Is(err, billing.ErrPackageNotFound):
			s.renderCredits(w, r, http.StatusNotFound, u, templates.CreditsView{Error: templates.T(l, templates.KeyCreditsPackageNotFound)})
		case err != nil:
			s.Logger.ErrorContext(ctx, "credits page: checkout", "error", err)
			s.renderCredits(w, r, http.StatusBadGateway, u, templates.CreditsView{Error: templates.T(l, templates.KeyErrorInternal)})
		default:
			http.Redirect(w, r, target, http.StatusSeeOther)
		}
	})
}
