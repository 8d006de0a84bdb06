// A hold expiry whose decision call fails (Redis down) is a ledger command, like a notification's:
// the gateway sends no void for it. A void, retried until Redis answers, would record a
// `system_error` for `expired:<group>` that every later scan replays: the hold never released.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decisionKeys } from '../../shared/redis-keys.ts';
import { startPrivateRedis, waitFor } from '../../shared/dev/processes.ts';
import { createBusinessCard } from '../support/cardholders.ts';
import { startTestGateway } from '../support/gateway-harness.ts';
import { basicAuth, jitRequest } from '../support/jit-requests.ts';

let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
let gw: Awaited<ReturnType<typeof startTestGateway>>;

beforeAll(async () => {
  redis = await startPrivateRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
  gw = await startTestGateway({ REDIS_URL: redis.url, HOLD_EXPIRY_DAYS: '7' });
});
afterAll(async () => {
  await gw?.close();
  await redis?.destroy();
});

describe('hold expiry when Redis fails', () => {
  it('sends no void: the next scan releases the hold once Redis is back', async () => {
    const card = await createBusinessCard(gw.sql, { daily_limit_minor: 100_000n });
    const response = await gw.app.inject({
      method: 'POST',
      url: '/api/transactions/authorize',
      headers: { authorization: basicAuth() },
      payload: jitRequest({ ...card, amount: 30 }),
    });
    const group_token = (response.json().jit_funding as { token: string }).token;
    await gw.sql`
      INSERT INTO authorization_holds (group_token, card_id, card_token, user_token, currency_code, held_minor, created_at)
      VALUES (${group_token}, ${card.card_id}, ${card.card_token}, ${card.user_token}, 'USD', 3000,
              ${new Date(Date.now() - 8 * 86_400_000)})`;
    const ledger = decisionKeys(gw.layout, card.user_token, card.card_token, '').ledger;
    expect(await gw.redis.hget(ledger, 'held')).toBe('3000');

    // Redis down while the release is attempted: answered system_error, nothing written.
    await redis.stop();
    try {
      expect(await gw.hold_expiry.scan()).toBe(0);
    } finally {
      await redis.start();
    }
    // The next scan releases the hold, once; no void was ever attempted for it.
    await waitFor(
      async () => {
        await gw.hold_expiry.scan();
        return (await gw.redis.hget(ledger, 'held')) === '0';
      },
      'a rescan to release the hold',
      15_000,
    );
    const expired = decisionKeys(gw.layout, card.user_token, card.card_token, `expired:${group_token}`);
    expect(await gw.redis.hget(expired.decision, 's')).toBe('0');
    const metrics = (await gw.internal_app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).not.toMatch(/afc_redis_script_duration_seconds_count\{[^}]*script="void"[^}]*\} [1-9]/);
  });
});
