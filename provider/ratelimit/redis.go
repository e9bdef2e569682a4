package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// The scripts take the time from Redis (TIME) rather than from the
// caller, so replicas with skewed clocks still share one notion of "now".
// Times are integer microseconds, exact in Lua's doubles (2^53 µs is 285
// years). Numbers written back go through string.format("%.0f") because
// Lua's tostring would print large ones in exponent form. Writes after TIME
// need effect replication, the default since Redis 5.

// gcraScript is gcra() in Lua. KEYS[1] holds the TAT; ARGV: interval µs,
// limit. Returns {allowed, remaining, retry µs}.
const gcraScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
local burst = limit * interval
local diff = new_tat - now
if diff > burst then
  return {0, 0, diff - burst}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil(diff / 1000))
return {1, math.floor((burst - diff) / interval), 0}
`

// backoffLib is BackoffPolicy.Delay in Lua, plus the shared preamble.
// ARGV: free, base µs, max µs, decay ms.
const backoffLib = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local free = tonumber(ARGV[1])
local base = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local decay_ms = tonumber(ARGV[4])
local function delay(n)
  if n <= free then return 0 end
  local d = base
  local k = n - free - 1
  while k > 0 and d < cap do
    d = d * 2
    k = k - 1
  end
  if d > cap then d = cap end
  return d
end
local st = redis.call('HMGET', KEYS[1], 'n', 'u')
local n = tonumber(st[1]) or 0
local u = tonumber(st[2]) or now
`

// acquireScript returns the remaining hold in µs, or 0 after placing the
// hold for the next attempt. The hold never shortens the key's TTL.
const acquireScript = backoffLib + `
if u > now then return u - now end
local hold = delay(n + 1)
if hold > 0 then
  redis.call('HSET', KEYS[1], 'n', n, 'u', string.format('%.0f', now + hold))
  local ms = math.ceil(hold / 1000)
  if redis.call('PTTL', KEYS[1]) < ms then redis.call('PEXPIRE', KEYS[1], ms) end
end
return 0
`

// failScript counts a failure and restarts the decay.
const failScript = backoffLib + `
n = n + 1
local held = now + delay(n)
if held > u then u = held end
redis.call('HSET', KEYS[1], 'n', n, 'u', string.format('%.0f', u))
redis.call('PEXPIRE', KEYS[1], decay_ms)
return n
`

// Redis is a Limiter shared by every replica through Redis. Each Allow is
// one EVALSHA of a script over one key, so it is atomic and works on Redis
// Cluster; the key's TTL is the time its state takes to become fresh, so
// idle keys expire on their own.
type Redis struct {
	client redis.UniversalClient
	prefix string
	script *redis.Script
}

var _ Limiter = (*Redis)(nil)

// NewRedis returns a Limiter storing its state under prefix+key (give it a
// prefix such as "manaauth:rl:" that nothing else uses).
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	return &Redis{client: client, prefix: prefix, script: redis.NewScript(gcraScript)}
}

// Allow implements Limiter. On a Redis error it answers Allowed with the
// error (fail open; see the package documentation).
func (l *Redis) Allow(ctx context.Context, key string, limit int, window time.Duration) (Decision, error) {
	t, err := interval(limit, window, time.Microsecond)
	if err != nil {
		return Decision{Allowed: true}, err
	}
	res, err := l.script.Run(ctx, l.client, []string{l.prefix + shortKey(key)}, t, limit).Int64Slice()
	if err != nil {
		return Decision{Allowed: true}, fmt.Errorf("rate limit in redis: %w", err)
	}
	if len(res) != 3 {
		return Decision{Allowed: true}, fmt.Errorf("rate limit in redis: script returned %d values", len(res))
	}
	return Decision{
		Allowed:    res[0] == 1,
		Remaining:  int(res[1]),
		RetryAfter: time.Duration(res[2]) * time.Microsecond,
	}, nil
}

// RedisBackoffStore is the BackoffStore shared by every replica through
// Redis: one hash per key (failures, hold end), updated by one script per
// call, expiring Decay after the last failure.
type RedisBackoffStore struct {
	client  redis.UniversalClient
	prefix  string
	acquire *redis.Script
	fail    *redis.Script
}

var _ BackoffStore = (*RedisBackoffStore)(nil)

// NewRedisBackoffStore returns a BackoffStore under prefix+key (a prefix
// such as "manaauth:backoff:" that nothing else uses).
func NewRedisBackoffStore(client redis.UniversalClient, prefix string) *RedisBackoffStore {
	return &RedisBackoffStore{
		client:  client,
		prefix:  prefix,
		acquire: redis.NewScript(acquireScript),
		fail:    redis.NewScript(failScript),
	}
}

func policyArgs(p BackoffPolicy) []any {
	return []any{
		p.Free,
		ceilDiv(p.Base, time.Microsecond),
		ceilDiv(p.Max, time.Microsecond),
		ceilDiv(p.Decay(), time.Millisecond),
	}
}

func ceilDiv(d, unit time.Duration) int64 { return int64((d + unit - 1) / unit) }

// Acquire implements BackoffStore.
func (s *RedisBackoffStore) Acquire(ctx context.Context, key string, p BackoffPolicy) (time.Duration, error) {
	if err := p.validate(); err != nil {
		return 0, err
	}
	us, err := s.acquire.Run(ctx, s.client, []string{s.prefix + shortKey(key)}, policyArgs(p)...).Int64()
	if err != nil {
		return 0, fmt.Errorf("acquire in redis: %w", err)
	}
	return time.Duration(us) * time.Microsecond, nil
}

// Fail implements BackoffStore.
func (s *RedisBackoffStore) Fail(ctx context.Context, key string, p BackoffPolicy) error {
	if err := p.validate(); err != nil {
		return err
	}
	if err := s.fail.Run(ctx, s.client, []string{s.prefix + shortKey(key)}, policyArgs(p)...).Err(); err != nil {
		return fmt.Errorf("fail in redis: %w", err)
	}
	return nil
}

// Reset implements BackoffStore.
func (s *RedisBackoffStore) Reset(ctx context.Context, key string) error {
	if err := s.client.Del(ctx, s.prefix+shortKey(key)).Err(); err != nil {
		return fmt.Errorf("reset in redis: %w", err)
	}
	return nil
}
