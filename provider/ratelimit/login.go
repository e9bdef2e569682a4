package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// LoginBackoff is the password backoff of the login, composed of several
// Backoff keys on one store so that guessing stays slow while nobody can
// hold the owner out (OWASP, "Slow Down Online Guessing Attacks with
// Device Cookies"):
//
//   - a client network (IPv4 /24, IPv6 /64) has its own failure count per
//     account, so an attacker's failures hold only the attacker's network;
//     the /48 around an IPv6 /64 has one too, with the account's
//     threshold, as one host may hold all its /64s;
//   - a device that signed in to the account before (a valid device
//     cookie, checked by the caller) skips the network and account holds
//     and only counts its own failures; once those hold it, the device is
//     treated as unknown again;
//   - every unknown client is held together once the account collected
//     more failures than a few networks can make (distributed guessing).
//
// A network adds its first Free+1 failures to the account count, then one
// per share hold, which lasts twice the account's decay, so one network
// alone, however patient, never brings the account over its threshold.
// For that share an IPv6 network is its /48 (see ShareNetwork): one host
// often holds a whole /48, 65,536 /64s, which would otherwise be enough
// networks to hold the owner out.
type LoginBackoff struct {
	b *Backoff
	// account is the shared count of unknown clients: accountNetworks
	// networks' worth of free failures before it holds anyone.
	account BackoffPolicy
	// shares paces what one network adds to the account count: its Free
	// failures, then one per hold, which outlasts the account's decay.
	shares BackoffPolicy
}

// accountNetworks is how many networks' free failures the account count
// tolerates: more than one attacker's network and the owner's own typos,
// few enough that a botnet's free guesses stay a handful.
const accountNetworks = 4

// NewLoginBackoff composes the login keys on b's store; b's policy is the
// per-network and per-device schedule.
func NewLoginBackoff(b *Backoff) *LoginBackoff {
	p := b.policy
	acct := BackoffPolicy{Free: accountNetworks * p.Free, Base: p.Base, Max: p.Max}
	hold := 2 * acct.Decay()
	return &LoginBackoff{b: b, account: acct, shares: BackoffPolicy{Free: p.Free, Base: hold, Max: hold}}
}

// LoginTurn is one login attempt between Begin and Fail or Succeed.
type LoginTurn struct {
	email, network, device string
	// share is the wider network whose failures share one part of the
	// account count.
	share string
	// known: the device's own count applies, not the network's and
	// the account's.
	known bool
}

func (t LoginTurn) accountKey() string { return "login:acct:" + t.email }
func (t LoginTurn) networkKey() string { return t.accountKey() + ":net:" + t.network }
func (t LoginTurn) shareKey() string   { return t.accountKey() + ":share:" + t.share }
func (t LoginTurn) wideKey() string    { return t.accountKey() + ":wide:" + t.share }
func (t LoginTurn) deviceKey() string  { return t.accountKey() + ":dev:" + t.device }

// wide reports whether the share network is wider than the network (an
// IPv6 /48 around a /64) and so needs a hold of its own: an IPv4 /24 is
// held as the network already.
func (t LoginTurn) wide() bool { return t.share != t.network }

// Begin reports how long an attempt on email from ip must still wait (0 =
// judge it now); device is the nonce of a device cookie the caller has
// verified for this email, or empty. email must be normalised. A zero wait
// reserves the turn: call Fail or Succeed after judging the password. On
// a store error the wait is 0 (fail open), as with Backoff.Wait.
func (l *LoginBackoff) Begin(ctx context.Context, email, ip, device string) (LoginTurn, time.Duration, error) {
	t := LoginTurn{email: email, network: Network(ip), share: ShareNetwork(ip), device: device}
	if device != "" {
		d, err := l.b.Wait(ctx, t.deviceKey())
		if err != nil {
			return t, 0, fmt.Errorf("login device: %w", err)
		}
		if d == 0 {
			t.known = true
			return t, 0, nil
		}
		// A device that keeps failing has lost its trust for now.
	}
	// The network first: a held network must not take the account's turn.
	d, err := l.b.Wait(ctx, t.networkKey())
	if err != nil || d > 0 {
		return t, d, err
	}
	if t.wide() {
		// As many free failures as the account tolerates: the /64s of one
		// /48 get no more guesses together than that many networks.
		d, err = l.b.store.Acquire(ctx, t.wideKey(), l.account)
		if err != nil || d > 0 {
			return t, d, wrap("login wide network", err)
		}
	}
	d, err = l.b.store.Acquire(ctx, t.accountKey(), l.account)
	if err != nil {
		return t, 0, fmt.Errorf("login account: %w", err)
	}
	return t, d, nil
}

// Fail books a wrong password.
func (l *LoginBackoff) Fail(ctx context.Context, t LoginTurn) error {
	if t.known {
		return l.b.Fail(ctx, t.deviceKey())
	}
	err := l.b.Fail(ctx, t.networkKey())
	if t.wide() {
		err = errors.Join(err, wrap("login wide network", l.b.store.Fail(ctx, t.wideKey(), l.account)))
	}
	if err2 := l.addShare(ctx, t); err2 != nil {
		err = errors.Join(err, err2)
	}
	return err
}

// addShare adds the failure to the account count if the network has not
// used up its share of it.
func (l *LoginBackoff) addShare(ctx context.Context, t LoginTurn) error {
	d, err := l.b.store.Acquire(ctx, t.shareKey(), l.shares)
	if err != nil {
		return fmt.Errorf("login share: %w", err)
	}
	if d > 0 {
		return nil
	}
	if err := l.b.store.Fail(ctx, t.shareKey(), l.shares); err != nil {
		return fmt.Errorf("login share: %w", err)
	}
	if err := l.b.store.Fail(ctx, t.accountKey(), l.account); err != nil {
		return fmt.Errorf("login account: %w", err)
	}
	return nil
}

// Succeed books a right password: the client that proved itself starts
// afresh. An unknown client also clears the account count, as only a
// client past its hold can get here, and leaving the turn reserved would
// hold the next one.
func (l *LoginBackoff) Succeed(ctx context.Context, t LoginTurn) error {
	if t.known {
		return l.b.Reset(ctx, t.deviceKey())
	}
	return errors.Join(l.b.Reset(ctx, t.networkKey()), l.resetWide(ctx, t), l.b.Reset(ctx, t.shareKey()), l.b.Reset(ctx, t.accountKey()))
}

func (l *LoginBackoff) resetWide(ctx context.Context, t LoginTurn) error {
	if !t.wide() {
		return nil
	}
	return l.b.Reset(ctx, t.wideKey())
}

// wrap adds context to a store error; nil stays nil.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Clear forgets the account's hold and that of the network ip is in:
// after a password reset, the one who reset it is the owner. The holds of
// other networks stay; they are the attacker's.
func (l *LoginBackoff) Clear(ctx context.Context, email, ip string) error {
	t := LoginTurn{email: email, network: Network(ip), share: ShareNetwork(ip)}
	return errors.Join(l.b.Reset(ctx, t.accountKey()), l.b.Reset(ctx, t.networkKey()), l.resetWide(ctx, t), l.b.Reset(ctx, t.shareKey()))
}

// Network is the client network of an address for the login backoff: an
// IPv4 /24 or an IPv6 /64, as one client or household usually holds a
// whole one. An unparsable address is its own network.
func Network(ip string) string { return prefix(ip, 64) }

// ShareNetwork is the network of an address whose failures count as one
// toward the account's hold: an IPv4 /24 or an IPv6 /48, the prefix a
// tunnel broker or provider hands a single customer for free, so that
// one host cannot pose as thousands of networks. An unparsable address is
// its own network.
func ShareNetwork(ip string) string { return prefix(ip, 48) }

// prefix is the IPv4 /24 or the IPv6 prefix of v6bits that holds ip.
func prefix(ip string, v6bits int) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	bits := v6bits
	if addr.Is4() {
		bits = 24
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return ip
	}
	return p.String()
}
