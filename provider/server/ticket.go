package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// ticketer seals small state that makes a round trip through the browser
// (a consent challenge, proof of a fresh login, a logout confirmation)
// with an HMAC, so the server keeps no per-request state and any replica
// can verify it.
type ticketer struct {
	key []byte
	now func() time.Time
}

type ticketEnvelope struct {
	Purpose string          `json:"p"`
	Expires int64           `json:"e"`
	Data    json.RawMessage `json:"d"`
}

var errBadTicket = errors.New("invalid or expired ticket")

func (t *ticketer) mac(b []byte) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write(b)
	return m.Sum(nil)
}

func (t *ticketer) seal(purpose string, data any, ttl time.Duration) (string, error) {
	d, err := json.Marshal(data)
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(ticketEnvelope{Purpose: purpose, Expires: t.now().Add(ttl).Unix(), Data: d})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(t.mac(body)), nil
}

func (t *ticketer) open(purpose, ticket string, dst any) error {
	b64, sig, ok := strings.Cut(ticket, ".")
	if !ok {
		return errBadTicket
	}
	body, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return errBadTicket
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, t.mac(body)) {
		return errBadTicket
	}
	var env ticketEnvelope
	if err := json.Unmarshal(body, &env); err != nil || env.Purpose != purpose || t.now().Unix() > env.Expires {
		return errBadTicket
	}
	if err := json.Unmarshal(env.Data, dst); err != nil {
		return errBadTicket
	}
	return nil
}
