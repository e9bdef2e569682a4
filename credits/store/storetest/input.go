package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/manacore/mana-core-auth/credits"
)

// runInput checks what the Service refuses before or instead of booking:
// a reused idempotency key with another request, and text no store can
// keep as it is.
func runInput(t *testing.T, open func(t *testing.T) credits.Store) {
	ctx := context.Background()

	t.Run("IdempotencyKeyReused", func(t *testing.T) {
		svc, _ := newService(t, open(t), credits.Config{})
		in := credits.SpendInput{UserID: "u1", Amount: 10, AppID: "chat", Description: "answer", IdempotencyKey: "k1",
			Metadata: []byte(`{"model":"x","n":1}`)}
		first, _, replay, err := svc.Spend(ctx, in)
		if err != nil || replay {
			t.Fatal(err, replay)
		}
		same := in
		same.AppID = " chat " // trimmed as when booked
		if tx, _, replay, err := svc.Spend(ctx, same); err != nil || !replay || tx.ID != first.ID {
			t.Fatalf("same request: %+v %v %v", tx, replay, err)
		}
		// The same metadata written with other whitespace and key order is
		// the same request.
		same.Metadata = []byte("{ \"n\" : 1,\n\t\"model\":\"x\" }")
		if tx, _, replay, err := svc.Spend(ctx, same); err != nil || !replay || tx.ID != first.ID {
			t.Fatalf("same metadata, other whitespace: %+v %v %v", tx, replay, err)
		}
		for name, change := range map[string]func(*credits.SpendInput){
			"amount":      func(in *credits.SpendInput) { in.Amount = 1 },
			"appId":       func(in *credits.SpendInput) { in.AppID = "todo" },
			"description": func(in *credits.SpendInput) { in.Description = "other" },
			"metadata":    func(in *credits.SpendInput) { in.Metadata = []byte(`{"model":"y","n":1}`) },
			"no metadata": func(in *credits.SpendInput) { in.Metadata = nil },
		} {
			other := in
			change(&other)
			if tx, _, _, err := svc.Spend(ctx, other); !errors.Is(err, credits.ErrIdempotencyKeyReused) {
				t.Errorf("%s changed: %+v, %v", name, tx, err)
			}
		}
		b, _ := svc.Balance(ctx, "u1")
		if b.TotalSpent != 10 || countType(allTxs(t, svc, "u1"), credits.TypeUsage) != 1 {
			t.Fatalf("balance %+v", b)
		}
		verifyClean(t, svc)
	})

	t.Run("ConcurrentIdempotencyKeyReused", func(t *testing.T) {
		svc, _ := newService(t, open(t), credits.Config{})
		var fresh, replays, reused atomic.Int64
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				// Half of the requests ask for 7 credits, half for 8, under one key.
				_, _, replay, err := svc.Spend(ctx, credits.SpendInput{UserID: "u1", Amount: 7 + int64(i%2), AppID: "chat", IdempotencyKey: "same"})
				switch {
				case errors.Is(err, credits.ErrIdempotencyKeyReused):
					reused.Add(1)
				case err != nil:
					t.Error(err)
				case replay:
					replays.Add(1)
				default:
					fresh.Add(1)
				}
			})
		}
		wg.Wait()
		// One booked; the nine of the same amount replay it, the ten others are refused.
		if fresh.Load() != 1 || replays.Load() != 9 || reused.Load() != 10 {
			t.Fatalf("fresh %d, replays %d, reused %d", fresh.Load(), replays.Load(), reused.Load())
		}
		txs := allTxs(t, svc, "u1")
		if countType(txs, credits.TypeUsage) != 1 {
			t.Fatalf("transactions %+v", txs)
		}
		verifyClean(t, svc)
	})

	t.Run("TextRefused", func(t *testing.T) {
		svc, _ := newService(t, open(t), credits.Config{})
		ok := credits.SpendInput{UserID: "u1", Amount: 1, AppID: "chat", Description: "d", IdempotencyKey: "k"}
		for _, tc := range []struct {
			field  string
			change func(*credits.SpendInput)
		}{
			{"appId", func(in *credits.SpendInput) { in.AppID = "ch\x00at" }},
			{"appId", func(in *credits.SpendInput) { in.AppID = "ch\xffat" }},
			{"description", func(in *credits.SpendInput) { in.Description = "\x00" }},
			{"description", func(in *credits.SpendInput) { in.Description = "caf\xc3" }},
			{"idempotencyKey", func(in *credits.SpendInput) { in.IdempotencyKey = "k\x00" }},
			{"idempotencyKey", func(in *credits.SpendInput) { in.IdempotencyKey = "\xed\xa0\x80" }}, // a UTF-16 surrogate
			{"idempotencyKey", func(in *credits.SpendInput) { in.IdempotencyKey = "stripe-refund:ch_1:100" }},
			{"idempotencyKey", func(in *credits.SpendInput) { in.IdempotencyKey = "stripe:pi_1" }},
			{"metadata", func(in *credits.SpendInput) { in.Metadata = []byte("{\"m\":\"\xff\"}") }},
		} {
			in := ok
			tc.change(&in)
			_, _, _, err := svc.Spend(ctx, in)
			var invalid *credits.InvalidFieldsError
			if !errors.As(err, &invalid) || !errors.Is(err, credits.ErrInvalidInput) ||
				len(invalid.Fields) != 1 || invalid.Fields[tc.field] != "invalid" {
				t.Errorf("%s in %+v: %v", tc.field, in, err)
			}
		}
		if _, _, err := svc.Grant(ctx, "u1", 5, "bonus\x00"); !errors.Is(err, credits.ErrInvalidInput) {
			t.Errorf("grant with a NUL reason: %v", err)
		}
		if txs := allTxs(t, svc, "u1"); countType(txs, credits.TypeUsage) != 0 || countType(txs, credits.TypeAdjustment) != 0 {
			t.Fatalf("refused input was booked: %+v", txs)
		}
		// Text that is clean, however unusual, is kept as it is.
		in := ok
		in.AppID, in.Description = "チャット", "emoji 🎉 and \t tab"
		tx, _, _, err := svc.Spend(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if got := allTxs(t, svc, "u1")[0]; got.ID != tx.ID || got.AppID != in.AppID || got.Description != in.Description {
			t.Fatalf("stored %+v", got)
		}
		verifyClean(t, svc)
	})
}
