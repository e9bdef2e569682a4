package admin

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

// Run is the durable retry of backend deletions that failed during an
// erasure. Every PollEvery it claims the due parts (leased for Lease, so
// one replica works on a part at a time and a killed process only delays
// it), asks the backend again and records the outcome: done (completing
// the receipt with the last part), or another attempt after a backoff of
// RetryBase doubling up to RetryMax. It blocks until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if _, err := s.RetryDue(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.ErrorContext(ctx, "erasure retry", "error", err)
		}
		t.Reset(s.cfg.PollEvery)
	}
}

// RetryDue makes one pass of Run and returns how many parts it completed.
func (s *Service) RetryDue(ctx context.Context) (int, error) {
	parts, err := s.deps.Store.ClaimErasureParts(ctx, s.cfg.Now(), s.cfg.Concurrency, s.cfg.Lease)
	if err != nil {
		return 0, err
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int
	)
	for _, p := range parts {
		wg.Go(func() {
			if s.retryPart(ctx, p) {
				mu.Lock()
				done++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return done, nil
}

func (s *Service) retryPart(ctx context.Context, p *provider.ErasurePart) bool {
	log := s.cfg.Logger.With("erasure_id", p.ErasureID, "backend", p.BackendID)
	b, ok := s.backend(p.BackendID)
	var (
		d   BackendDeletion
		err = errors.New("backend no longer configured")
	)
	if ok {
		cctx, cancel := context.WithTimeout(ctx, min(s.cfg.DeleteTimeout, s.cfg.Lease))
		d, err = s.deleteFromBackend(cctx, b, p.UserID)
		cancel()
	}
	if err != nil && ctx.Err() != nil {
		// The shutdown cut the call off: hand the part back so another
		// replica retries it at once (issue 13, replicas); a killed process
		// leaves it to the lease. Only then: a deletion the backend
		// confirmed as shutdown began is recorded below, with its count.
		if p.LeaseUntil != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			err := s.deps.Store.ReleaseErasurePart(sctx, p.ErasureID, p.BackendID, *p.LeaseUntil)
			cancel()
			if err != nil && !errors.Is(err, provider.ErrNotFound) {
				log.WarnContext(ctx, "erasure part not handed back; retried after its lease", "error", err)
			}
		}
		return false
	}
	// The outcome is recorded even if ctx ends now.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err != nil {
		attempts := p.Attempts + 1
		next := s.cfg.Now().Add(s.backoff(attempts))
		log.WarnContext(ctx, "backend deletion failed, will retry", "attempts", attempts, "next_attempt_at", next.UTC(), "error", err)
		if err := s.deps.Store.RetryErasurePart(rctx, p.ErasureID, p.BackendID, next, lastError(err)); err != nil &&
			!errors.Is(err, provider.ErrNotFound) {
			log.ErrorContext(ctx, "erasure retry not recorded", "error", err)
		}
		return false
	}
	completed, err := s.deps.Store.CompleteErasurePart(rctx, p.ErasureID, p.BackendID, d.TotalDeleted, s.cfg.Now().UTC())
	if err != nil {
		if !errors.Is(err, provider.ErrNotFound) {
			log.ErrorContext(ctx, "erasure part not recorded", "error", err)
		}
		return false
	}
	log.InfoContext(ctx, "backend deletion done", "attempts", p.Attempts+1, "erasure_completed", completed)
	return true
}

func (s *Service) backend(id string) (Backend, bool) {
	for _, b := range s.cfg.Backends {
		if b.ID == id {
			return b, true
		}
	}
	return Backend{}, false
}
