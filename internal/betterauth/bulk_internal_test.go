package betterauth

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// BulkPasswordHash is a real better-auth 1.4.4 scrypt hash (saltHex:keyHex)
// given to every bulk user.
const BulkPasswordHash = "33536968b9ef6581c1da28f0e762c136:1955bd23a27fe81f5980a3491b82fa42b63c8348ef3e1ff8597c72311e913986f3a71b3fb29870bbbb5374bf259038e87f590d12dd9fc75caea7c1afa7747ec7"

// SeedOldBulk fills the old database behind conn with n users u1…un
// (email user<i>@example.com), each with a credential account holding
// BulkPasswordHash, one live session whose 64-character refresh token is
// md5('r'||i)||md5('s'||i) (expiring in 7 days), a credits balance (paid
// (i%7)*100, free 150-i%50, daily reset yesterday), three completed
// transactions (signup bonus, a daily grant, a usage of i%50+1 under key
// 'bulk-<i>') and one usage_stats row. generate_series: a few seconds for
// 100,000 users. Exported (in a test file only) so that the external tests
// in bulk_test.go can use it too.
func SeedOldBulk(t testing.TB, conn *pgx.Conn, n int) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO auth.users (id, name, email, email_verified, created_at, updated_at)
		 SELECT 'u' || i, 'User ' || i, 'user' || i || '@example.com', true,
		        now() - interval '90 days', now() - interval '1 day'
		 FROM generate_series(1, $1::int) i`,
		`INSERT INTO auth.accounts (id, account_id, provider_id, user_id, password, created_at, updated_at)
		 SELECT 'acc' || i, 'u' || i, 'credential', 'u' || i, '` + BulkPasswordHash + `', now() - interval '90 days', now()
		 FROM generate_series(1, $1::int) i`,
		`INSERT INTO auth.sessions (id, expires_at, token, user_id, refresh_token, refresh_token_expires_at,
		        ip_address, user_agent, device_id, device_name, created_at, updated_at, last_activity_at)
		 SELECT 'sess' || i, now() + interval '7 days', 'tok' || md5('t' || i), 'u' || i,
		        md5('r' || i) || md5('s' || i), now() + interval '7 days',
		        '203.0.113.' || (i % 250), 'Bulk/1.0', 'dev' || i, 'Device ' || i, now() - interval '1 day', now(), now()
		 FROM generate_series(1, $1::int) i`,
		`INSERT INTO credits.balances (user_id, balance, free_credits_remaining, last_daily_reset_at,
		        total_earned, total_spent, created_at, updated_at)
		 SELECT 'u' || i, (i % 7) * 100, 150 - i % 50, now() - interval '1 day',
		        155 + (i % 7) * 100, i % 50 + 1, now() - interval '90 days', now() - interval '1 day'
		 FROM generate_series(1, $1::int) i`,
		`INSERT INTO credits.transactions (user_id, type, status, amount, balance_before, balance_after, app_id,
		        description, idempotency_key, metadata, created_at, completed_at)
		 SELECT 'u' || i, 'bonus', 'completed', 150, 0, 150, 'system', 'Signup bonus', NULL, NULL::jsonb,
		        now() - interval '90 days', now() - interval '90 days'
		 FROM generate_series(1, $1::int) i
		 UNION ALL
		 SELECT 'u' || i, 'bonus', 'completed', 5, 150, 155, 'system', 'Daily free credits', NULL, NULL,
		        now() - interval '1 day', now() - interval '1 day'
		 FROM generate_series(1, $1::int) i
		 UNION ALL
		 SELECT 'u' || i, 'usage', 'completed', -(i % 50 + 1), 155, 155 - (i % 50 + 1), 'chat', 'reply',
		        'bulk-' || i, '{"model": "m"}'::jsonb, now() - interval '1 hour', now() - interval '1 hour'
		 FROM generate_series(1, $1::int) i`,
		`INSERT INTO credits.usage_stats (user_id, app_id, credits_used, date)
		 SELECT 'u' || i, 'chat', i % 50 + 1, date_trunc('day', now() - interval '1 hour')
		 FROM generate_series(1, $1::int) i`,
	} {
		if _, err := conn.Exec(ctx, q, n); err != nil {
			t.Fatalf("seed %d old users: %v", n, err)
		}
	}
}
