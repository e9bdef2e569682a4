package keys_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/internal/database/databasetest"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/keys"
	"github.com/manacore/mana-core-auth/provider/store"
)

// TestRotateIfDueOnceAcrossReplicas: rings of several replicas on one
// database, all running the scheduled rotation at the same moment, store
// exactly one new key per algorithm; the winner reports it (Rotated), the
// others take the winner's key, and every ring then publishes it and
// switches to it at the same ActiveAt. A second round within the interval
// rotates nothing.
func TestRotateIfDueOnceAcrossReplicas(t *testing.T) {
	for _, d := range databasetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ctx := t.Context()
			st, err := store.New(databasetest.Open(t, d))
			if err != nil {
				t.Fatal(err)
			}
			secret := []byte("0123456789abcdef0123456789abcdef-replicas")
			var clock atomic.Int64
			clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
			now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
			var told atomic.Int64
			rings := make([]*keys.Ring, 4)
			for i := range rings {
				r, err := keys.New(st, secret, keys.Options{Now: now, Rotated: func(context.Context) { told.Add(1) }})
				if err != nil {
					t.Fatal(err)
				}
				if err := r.Init(ctx); err != nil {
					t.Fatal(err)
				}
				rings[i] = r
			}
			const interval, delay = 24 * time.Hour, time.Minute
			before := len(mustKeys(t, rings[0]))

			rotateAll := func() int {
				var won atomic.Int64
				var wg sync.WaitGroup
				for _, r := range rings {
					wg.Go(func() {
						_, ok, err := r.RotateIfDue(ctx, provider.AlgEdDSA, interval, delay)
						if err != nil {
							t.Error(err)
						}
						if ok {
							won.Add(1)
						}
					})
				}
				wg.Wait()
				return int(won.Load())
			}
			if n := rotateAll(); n != 0 {
				t.Fatalf("%d replicas rotated keys younger than the interval", n)
			}
			clock.Add(int64(interval))
			if n := rotateAll(); n != 1 {
				t.Fatalf("%d replicas rotated at once, want exactly 1", n)
			}
			if told.Load() != 1 {
				t.Errorf("Rotated called %d times, want once", told.Load())
			}
			all := mustKeys(t, rings[0])
			if len(all) != before+1 {
				t.Fatalf("%d keys after the rotation, want %d", len(all), before+1)
			}
			newest := all[len(all)-1]
			for i, r := range rings {
				if err := r.Reload(ctx); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(r.JWKS()), `"`+newest.ID+`"`) {
					t.Errorf("replica %d does not publish the new key", i)
				}
			}
			// All switch at ActiveAt.
			clock.Add(int64(delay))
			for i, r := range rings {
				tok, err := r.Sign(provider.AlgEdDSA, "JWT", map[string]any{"n": i})
				if err != nil {
					t.Fatal(err)
				}
				if kid := kidOf(t, tok); kid != newest.ID {
					t.Errorf("replica %d signs with %s after ActiveAt, want %s", i, kid, newest.ID)
				}
			}
			if n := rotateAll(); n != 0 {
				t.Fatalf("%d replicas rotated again within the interval", n)
			}
		})
	}
}

func mustKeys(t *testing.T, r *keys.Ring) []*provider.Key {
	t.Helper()
	ks, err := r.Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []*provider.Key
	for _, k := range ks {
		if k.Alg == provider.AlgEdDSA {
			out = append(out, k)
		}
	}
	return out
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	h, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &hdr); err != nil {
		t.Fatal(err)
	}
	return hdr.Kid
}

// issue 13 (review): rings of several replicas starting together on a
// fresh database store one key per algorithm, not one each, and all sign
// with it. Later, with every stored key expired, replicas starting
// together again store one new key per algorithm.
func TestInitOnceAcrossReplicas(t *testing.T) {
	for _, d := range databasetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ctx := t.Context()
			st, err := store.New(databasetest.Open(t, d))
			if err != nil {
				t.Fatal(err)
			}
			secret := []byte("0123456789abcdef0123456789abcdef-replicas")
			var clock atomic.Int64
			clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 123456789, time.UTC).UnixNano())
			now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }

			// startAll builds 4 rings and has them Init at the same moment.
			startAll := func() []*keys.Ring {
				rings := make([]*keys.Ring, 4)
				for i := range rings {
					r, err := keys.New(st, secret, keys.Options{Now: now})
					if err != nil {
						t.Fatal(err)
					}
					rings[i] = r
				}
				start := make(chan struct{})
				var wg sync.WaitGroup
				for _, r := range rings {
					wg.Go(func() {
						<-start
						if err := r.Init(ctx); err != nil {
							t.Error(err)
						}
					})
				}
				close(start)
				wg.Wait()
				if t.Failed() {
					t.FailNow()
				}
				return rings
			}
			// usable checks that the store holds exactly one unexpired key
			// per algorithm and that every ring signs with it.
			usable := func(rings []*keys.Ring, stored int) {
				t.Helper()
				all, err := st.ListKeys(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(all) != stored {
					t.Errorf("%d keys stored, want %d", len(all), stored)
				}
				live := map[string][]string{}
				for _, k := range all {
					if k.ExpiresAt == nil {
						live[k.Alg] = append(live[k.Alg], k.ID)
					}
				}
				for _, alg := range []string{provider.AlgEdDSA, provider.AlgRS256} {
					if len(live[alg]) != 1 {
						t.Errorf("%s: %d unexpired keys %v, want 1", alg, len(live[alg]), live[alg])
						continue
					}
					for i, r := range rings {
						tok, err := r.Sign(alg, "JWT", map[string]any{"n": i})
						if err != nil {
							t.Fatal(err)
						}
						if kid := kidOf(t, tok); kid != live[alg][0] {
							t.Errorf("%s: replica %d signs with %s, want %s", alg, i, kid, live[alg][0])
						}
					}
				}
			}
			usable(startAll(), 2)

			// Every key expires (as after a long outage); the next start
			// replaces each algorithm's key once.
			later := now().Add(time.Hour)
			all, err := st.ListKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range all {
				retired, expires := now(), now().Add(time.Minute)
				if err := st.UpdateKeyTimes(ctx, k.ID, &retired, &expires); err != nil {
					t.Fatal(err)
				}
			}
			clock.Store(later.UnixNano())
			usable(startAll(), 4)
		})
	}
}
