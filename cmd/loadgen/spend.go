package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The credits benchmark of issue 5: spends over HTTP by spendUsers
// concurrent users, each with a balance of its own (spend_distinct) or all
// on one balance (spend_shared).
const (
	spendUsers    = 32
	spendGrant    = "10000000" // credits each user gets before the clock starts
	spendTarget   = 1_000
	spendP99      = 50 * time.Millisecond
	spendPassword = "loadgen-spender-1"
)

// spendBody is the request every spend sends.
var spendBody = []byte(`{"amount":1,"appId":"loadgen","description":"bench"}`)

// spender is one seeded user, signed in.
type spender struct {
	id, auth string // user id, "Bearer …" header
}

// spenders seeds, credits and signs in the spend users once per run; both
// spend scenarios share them. cli runs a manaauth subcommand against the
// run's database.
type spenders struct {
	once  sync.Once
	users []spender
	err   error
	used  bool // a spend scenario ran, so the ledger must be verified
}

func (s *spenders) get(ctx context.Context, l *loader) ([]spender, error) {
	s.once.Do(func() { s.users, s.err = seedSpenders(ctx, l) })
	s.used = s.err == nil
	return s.users, s.err
}

func seedSpenders(ctx context.Context, l *loader) ([]spender, error) {
	if l.cli == nil {
		return nil, errors.New("spend scenarios need the manaauth CLI")
	}
	users := make([]spender, spendUsers)
	errs := make([]error, spendUsers)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4) // CLI runs are processes: a few at a time
	for i := range users {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			email := fmt.Sprintf("spender%02d@example.com", i)
			if _, err := l.cli(ctx, "users", "create", "--email", email, "--password", spendPassword, "--verified"); err != nil {
				errs[i] = err
				return
			}
			u, err := l.login(ctx, email, spendPassword)
			if err != nil {
				errs[i] = fmt.Errorf("log in %s: %w", email, err)
				return
			}
			if _, err := l.cli(ctx, "credits", "grant", "--user", u.id, "--amount", spendGrant, "--reason", "load"); err != nil {
				errs[i] = err
				return
			}
			users[i] = u
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return users, nil
}

// login signs a user in through the first-party API.
func (l *loader) login(ctx context.Context, email, password string) (spender, error) {
	in, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.base+"/api/v1/auth/login", bytes.NewReader(in))
	if err != nil {
		return spender{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	_, body, err := send(l.client, req, http.StatusOK)
	if err != nil {
		return spender{}, err
	}
	var out struct {
		AccessToken string `json:"accessToken"`
		User        struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.AccessToken == "" || out.User.ID == "" {
		return spender{}, fmt.Errorf("login response lacks accessToken or user.id: %.300s", body)
	}
	return spender{id: out.User.ID, auth: "Bearer " + out.AccessToken}, nil
}

// spend uses one credit as the user whose Authorization header is auth.
func (l *loader) spend(ctx context.Context, auth string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.base+"/api/v1/credits/use", bytes.NewReader(spendBody))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", auth)
	_, _, err = send(l.client, req, http.StatusOK)
	return err
}

// prepareSpend returns one op per spend user (the benchmark fixes the
// concurrency at spendUsers, whatever -concurrency says): worker i spends
// as user i, or with shared as user 0.
func prepareSpend(shared bool) func(context.Context, *loader, int) ([]op, error) {
	return func(ctx context.Context, l *loader, _ int) ([]op, error) {
		users, err := l.spenders.get(ctx, l)
		if err != nil {
			return nil, fmt.Errorf("seed spend users: %w", err)
		}
		ops := make([]op, len(users))
		for w := range ops {
			auth := users[w].auth
			if shared {
				auth = users[0].auth
			}
			ops[w] = func(ctx context.Context) error { return l.spend(ctx, auth) }
		}
		return ops, nil
	}
}

// verifyLedger runs `manaauth credits verify` and reports whether every
// cached balance matches its postings, with the command's output.
func verifyLedger(ctx context.Context, l *loader) (ok bool, out string, err error) {
	b, err := l.cli(ctx, "credits", "verify")
	out = strings.TrimSpace(string(b))
	if err != nil {
		if strings.Contains(out, "MISMATCH") {
			return false, out, nil
		}
		return false, out, err
	}
	return true, out, nil
}
