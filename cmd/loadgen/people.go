package main

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gorilla/sessions"

	"github.com/manacore/mana-core-auth/provider/websession"
)

// floodWorkers is the login flood's fixed concurrency: far more logins at
// once than the password hasher admits, as in a credential-stuffing wave
// or a reconnect storm after an outage.
const floodWorkers = 256

// smallSeed is how many users (each with a live session) the session and
// login scenarios seed themselves when the run did not seed -data big.
const smallSeed = 1_000

// errRejected marks a request the server turned away with 503 (load
// shedding): counted on its own, neither a success nor a failure.
var errRejected = errors.New("rejected with 503")

// people are seeded users with one live browser session each (seed.go),
// shared by the session and login scenarios.
type people struct {
	once  sync.Once
	count int // users and sessions seeded; -data big seeds before the run
	err   error

	dsn       string // the run's database, for the small seed
	secretKey string // the server's SECRET_KEY, to seal session cookies
}

func (p *people) get(ctx context.Context) (int, error) {
	p.once.Do(func() {
		if p.count > 0 {
			return
		}
		if p.dsn == "" {
			p.err = errors.New("needs the run's own manaauth database")
			return
		}
		p.err = seedData(ctx, p.dsn, smallSeed, smallSeed, 0, nil)
		p.count = smallSeed
	})
	return p.count, p.err
}

// sessionCookies seals a session cookie for each seeded session the way
// manaauth does (gorilla securecookie keyed from SECRET_KEY, see
// provider/websession), so the scenario can act as that many signed-in
// browsers without logging each in.
func sessionCookies(secretKey string, n int) ([]*http.Cookie, error) {
	hashKey, err := hkdf.Key(sha256.New, []byte(secretKey), nil, "manaauth/session-cookie-hmac/v1", 32)
	if err != nil {
		return nil, err
	}
	blockKey, err := hkdf.Key(sha256.New, []byte(secretKey), nil, "manaauth/session-cookie-aes/v1", 32)
	if err != nil {
		return nil, err
	}
	codec := sessions.NewCookieStore(hashKey, blockKey).Codecs[0]
	cookies := make([]*http.Cookie, n)
	for i := range cookies {
		v, err := codec.Encode(websession.CookieName, map[any]any{"sid": seedSessionID(i + 1)})
		if err != nil {
			return nil, fmt.Errorf("seal session cookie: %w", err)
		}
		cookies[i] = &http.Cookie{Name: websession.CookieName, Value: v}
	}
	return cookies, nil
}

// prepareSession loads the account page as every seeded session in turn:
// each request looks its session (and user) up in the database. Run after
// the big seed it shows whether the server's memory grows with the number
// of live sessions (it must not: sessions live in the database).
func prepareSession(ctx context.Context, l *loader, workers int) ([]op, error) {
	n, err := l.people.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("seed sessions: %w", err)
	}
	cookies, err := sessionCookies(l.people.secretKey, n)
	if err != nil {
		return nil, err
	}
	var next atomic.Int64
	return same(func(ctx context.Context) error {
		c := cookies[int(next.Add(1)-1)%len(cookies)]
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.base+"/account", nil)
		if err != nil {
			return err
		}
		req.AddCookie(c)
		_, body, err := send(l.client, req, http.StatusOK)
		if err == nil && !bytes.Contains(body, []byte("@example.com")) {
			err = fmt.Errorf("account page does not show the user: %.200s", body)
		}
		return err
	}, workers), nil
}

// prepareLoginFlood signs in floodWorkers users at once, over and over,
// half through the login page and half through the JSON API, each with the
// real argon2id parameters. 503 answers (the server shedding load) are
// counted apart; every other non-success is a failure.
func prepareLoginFlood(ctx context.Context, l *loader, _ int) ([]op, error) {
	n, err := l.people.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("seed users: %w", err)
	}
	ops := make([]op, floodWorkers)
	for w := range ops {
		next := w
		page := w%2 == 1
		ops[w] = func(ctx context.Context) error {
			email := fmt.Sprintf("seed%d@example.com", 1+next%n)
			next += floodWorkers
			if page {
				return l.pageLogin(ctx, email)
			}
			return l.apiLogin(ctx, email)
		}
	}
	return ops, nil
}

func (l *loader) apiLogin(ctx context.Context, email string) error {
	body, _ := json.Marshal(map[string]string{"email": email, "password": userPassword})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.base+"/api/v1/auth/login", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return loginStatus(l.client.Do(req))
}

func (l *loader) pageLogin(ctx context.Context, email string) error {
	form := url.Values{"email": {email}, "password": {userPassword}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", l.base)
	return loginStatus(l.client.Do(req))
}

// loginStatus reads the whole answer (so the connection is reused) and
// sorts it: 200 or a redirect is a login, 503 a rejection.
func loginStatus(resp *http.Response, err error) error {
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusFound:
		return nil
	case resp.StatusCode == http.StatusServiceUnavailable:
		return errRejected
	}
	return fmt.Errorf("login: status %d: %.200s", resp.StatusCode, buf.Bytes())
}
