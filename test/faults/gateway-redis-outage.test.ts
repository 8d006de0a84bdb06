// Redis down or slow: the gateway answers a decline (`system_error` / `timeout`) instead of
// hanging, a too-late approval is voided, and decisions resume when Redis is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decisionKeys } from '../../shared/redis-keys.ts';
import { createBusinessCard, createPersonalCard } from '../support/cardholders.ts';
import { authorizeThrough, startTestGateway } from '../support/gateway-harness.ts';
import { jitRequest } from '../support/jit-requests.ts';
import { startPrivateRedis, waitFor } from '../../shared/dev/processes.ts';

let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
let gw: Awaited<ReturnType<typeof startTestGateway>>;

beforeAll(async () => {
  redis = await startPrivateRedis();
  gw = await startTestGateway({ REDIS_URL: redis.url, DECISION_BUDGET_MS: '50' });
});
afterAll(async () => {
  await gw?.close();
  await redis?.destroy();
});

function authorize(body: Record<string, unknown>) {
  return authorizeThrough(gw, body);
}

describe('gateway with Redis in trouble', () => {
  it('declines with system_error while Redis is down and approves again after it restarts', async () => {
    const card = await createBusinessCard(gw.sql);
    expect((await authorize(jitRequest({ ...card, amount: 1 }))).status).toBe(200);
    await redis.stop();
    const down = await authorize(jitRequest({ ...card, amount: 1 }));
    expect(down.status).toBe(402);
    expect(down.jit).toMatchObject({ memo: 'system_error', decline_reason: 'TRANSACTION_NOT_PERMITTED' });
    const ready = await gw.internal_app.inject({ method: 'GET', url: '/api/health/ready' });
    expect(ready.statusCode).toBe(503);
    await redis.start();
    await waitFor(
      async () =>
        (await gw.internal_app.inject({ method: 'GET', url: '/api/health/ready' })).statusCode === 200,
      'ready',
    );
    expect((await authorize(jitRequest({ ...card, amount: 1 }))).status).toBe(200);
  });

  it('answers timeout when Redis stalls, then voids the late approval so nothing stays held', async () => {
    const card = await createPersonalCard(gw.mongo.db(), { balance_minor: 10_000n });
    expect((await authorize(jitRequest({ ...card, amount: 1 }))).status).toBe(200);
    redis.pause();
    let stalled: Awaited<ReturnType<typeof authorize>>;
    try {
      stalled = await authorize(jitRequest({ ...card, amount: 25 }));
    } finally {
      redis.resume();
    }
    expect(stalled.status).toBe(402);
    expect(stalled.jit.memo).toBe('timeout');
    const ledger = decisionKeys(gw.layout, card.user_token, card.card_token, '').ledger;
    // The stalled call ran once Redis resumed; the void queued behind it released it.
    await waitFor(
      async () => (await gw.redis.hget(ledger, 'held')) === '100',
      'void to release the late hold',
      5_000,
    );
    expect((await authorize(jitRequest({ ...card, amount: 99 }))).status).toBe(200);
    expect(await gw.redis.hget(ledger, 'held')).toBe('10000');
  });
});
