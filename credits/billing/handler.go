package billing

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
)

// MaxWebhookBody is the largest webhook body accepted.
const MaxWebhookBody = 64 << 10

// WebhookHandler serves POST /api/v1/credits/stripe/webhook: 400 on a bad
// signature or payload, 413 on a body over 64 KiB, 500 on a store failure
// (so Stripe retries), 200 otherwise (also for ignored and repeated
// events).
func (b *Billing) WebhookHandler(logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		err = b.HandleWebhook(r.Context(), payload, r.Header.Get("Stripe-Signature"))
		switch {
		case errors.Is(err, ErrBadSignature):
			logger.Warn("stripe webhook: bad signature", "err", err)
			http.Error(w, "bad signature", http.StatusBadRequest)
		case errors.Is(err, ErrBadPayload):
			logger.Warn("stripe webhook: bad payload", "err", err)
			http.Error(w, "bad payload", http.StatusBadRequest)
		case err != nil:
			logger.Error("stripe webhook: processing failed", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"received":true}`+"\n")
		}
	})
}
