package app

// issue 13 (replicas): what replicas tell each other, and the scheduled
// key rotation one of them performs.

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/manacore/mana-core-auth/provider"
)

// eventsChannel is the Redis pub/sub channel replicas announce changes on
// that the others must not learn of only at their next periodic reload.
// (LISTEN/NOTIFY would not pass PgBouncer in transaction mode.)
const eventsChannel = "manaauth:events"

// eventKeys: the signing keys changed (a rotation); reload them.
const eventKeys = "keys"

// keyReloadEvery is the periodic reload of the signing keys: the safety
// net for a missed announcement (no Redis, or Redis down at the moment).
const keyReloadEvery = 10 * time.Second

// publish announces event to the other replicas; without Redis it does
// nothing, and a failure is logged only, since the periodic reload
// catches up.
func (a *App) publish(ctx context.Context, event string) {
	if a.redis == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := a.redis.Publish(ctx, eventsChannel, event).Err(); err != nil {
		a.Logger.WarnContext(ctx, "announce to other replicas", "event", event, "error", err)
	}
}

// listen applies the other replicas' announcements until ctx ends. The
// go-redis subscription reconnects by itself after Redis was down.
func (a *App) listen(ctx context.Context) {
	if a.redis == nil {
		return
	}
	ps := a.redis.Subscribe(ctx, eventsChannel)
	defer ps.Close()
	msgs := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			a.applyEvent(ctx, m.Payload)
		}
	}
}

func (a *App) applyEvent(ctx context.Context, event string) {
	switch event {
	case eventKeys:
		if err := a.Ring.Reload(ctx); err != nil && ctx.Err() == nil {
			a.Logger.ErrorContext(ctx, "reload signing keys after a rotation elsewhere", "error", err)
		}
	default:
		a.Logger.DebugContext(ctx, "unknown replica event ignored", "event", event)
	}
}

// rotateKeys rotates each algorithm's key once its newest is
// KeyRotationInterval old. Every replica checks; the store lets one of
// them rotate (keys.Ring.RotateIfDue), which announces it to the others.
// It checks a tenth of the interval apart, between a second and an hour.
func (a *App) rotateKeys(ctx context.Context) {
	interval := a.Config.KeyRotationInterval
	every := min(max(interval/10, time.Second), time.Hour)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for _, alg := range []string{provider.AlgEdDSA, provider.AlgRS256} {
			k, ok, err := a.Ring.RotateIfDue(ctx, alg, interval, a.Config.KeyRotationDelay)
			switch {
			case err != nil && ctx.Err() == nil:
				a.Logger.ErrorContext(ctx, "scheduled key rotation", "alg", alg, "error", err)
			case ok:
				a.Logger.InfoContext(ctx, "scheduled key rotation", "alg", alg, "kid", k.ID, "active_at", k.ActiveAt)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// NotifyReplicas announces that the signing keys changed to the replicas
// listening on the Redis at redisURL, for `manaauth keys rotate`; an empty
// URL does nothing (they reload within keyReloadEvery anyway).
func NotifyReplicas(ctx context.Context, redisURL string) error {
	if redisURL == "" {
		return nil
	}
	o, err := redis.ParseURL(redisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	c := redis.NewClient(o)
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := c.Publish(ctx, eventsChannel, eventKeys).Err(); err != nil {
		return fmt.Errorf("announce key rotation on Redis: %w", err)
	}
	return nil
}
