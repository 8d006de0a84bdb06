// Refresh-ahead and the start-up preload: a card used within its TTL never waits on a store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CachePartsJson } from '../../gateway/decide/scripts.ts';
import { CACHE_TTL_S, decisionKeys, scaledCacheTtls } from '../../shared/redis-keys.ts';
import { createBusinessCard } from '../support/cardholders.ts';
import { startTestGateway } from '../support/gateway-harness.ts';
import { basicAuth, jitRequest } from '../support/jit-requests.ts';
import { scriptHarness } from '../support/script-harness.ts';

type TestGateway = Awaited<ReturnType<typeof startTestGateway>>;
let gw: TestGateway;
let harness: Awaited<ReturnType<typeof scriptHarness>>;

// limits 300 s * 0.01 = 3 s, due for refresh after half of it.
const TTL_SCALE = 0.01;

beforeAll(async () => {
  gw = await startTestGateway({ CACHE_TTL_SCALE: String(TTL_SCALE), CACHE_REFRESH_AHEAD_PERCENT: '50' });
  harness = await scriptHarness();
});
afterAll(async () => {
  await gw.close();
  await harness.close();
});

async function authorize(gateway: TestGateway, body: Record<string, unknown>) {
  const response = await gateway.app.inject({
    method: 'POST',
    url: '/api/transactions/authorize',
    headers: { authorization: basicAuth(), 'content-type': 'application/json' },
    payload: body,
  });
  return { status: response.statusCode, body: response.json() };
}

async function until<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeout_ms = 10_000,
): Promise<T> {
  const deadline_ms = Date.now() + timeout_ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline_ms) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('refresh-ahead', () => {
  it('a card read in the last part of its TTL is reloaded in the background before it expires', async () => {
    const card = await createBusinessCard(gw.sql, { daily_limit_minor: 10_000n });
    const keys = decisionKeys(gw.layout, card.user_token, card.card_token, '');
    expect((await authorize(gw, jitRequest({ ...card, amount: 1 }))).status).toBe(200);
    const filled_refresh_ms = Number(await gw.redis.hget(keys.limits, 'rf'));
    expect(filled_refresh_ms).toBeGreaterThan(Date.now());
    // Changed in the store without an invalidation: only a reload can show it.
    await gw.sql`UPDATE cards SET daily_limit_minor = 500 WHERE card_token = ${card.card_token}`;
    await until(
      async () => Date.now(),
      (now_ms) => now_ms > filled_refresh_ms,
    );
    expect((await authorize(gw, jitRequest({ ...card, amount: 1 }))).status).toBe(200);
    const refreshed = await until(
      () => gw.redis.hmget(keys.limits, 'd_amt', 'rf'),
      ([limit]) => limit === '500',
    );
    expect(refreshed[0]).toBe('500');
    expect(Number(refreshed[1])).toBeGreaterThan(filled_refresh_ms);
    // The TTL restarted: the refreshed part outlives the one the fill wrote.
    expect(await gw.redis.pttl(keys.limits)).toBeGreaterThan(CACHE_TTL_S.limits * TTL_SCALE * 1000 * 0.5);
    // The next decision reads the new limit from Redis: 2 + 4 > 5.00.
    const over = await authorize(gw, jitRequest({ ...card, amount: 4 }));
    expect(over.status).toBe(402);
    expect(over.body.jit_funding.memo).toBe('limit_exceeded');
  });
});

describe('fill-6.lua in refresh mode', () => {
  const ttls = scaledCacheTtls(60 / CACHE_TTL_S.user);
  async function refresh(card_token: string, parts: CachePartsJson) {
    return harness.scripts.refresh(
      decisionKeys(harness.layout, `u-${card_token}`, card_token, ''),
      parts,
      ttls,
    );
  }

  it('never writes back a part that an invalidation deleted', async () => {
    const keys = await harness.seedCard('u-inv', 'inv');
    await harness.redis.del(keys.limits);
    const written = await refresh('inv', {
      card: { status: 'active', kind: 'business' },
      user: { status: 'active' },
      limits: { v: '2', per_txn: '1' },
    });
    expect(written).toBe(2);
    expect(await harness.redis.exists(keys.limits)).toBe(0);
  });

  it('replaces a present hash whole, so a removed limit goes too', async () => {
    const keys = await harness.seedCard('u-whole', 'whole', { limits: { 'g:dining:d': '100' } });
    await refresh('whole', { card: { status: 'active' }, limits: { v: '2', per_txn: '7' } });
    expect(await harness.redis.hgetall(keys.limits)).toEqual({ v: '2', per_txn: '7' });
  });

  it('keeps a newer balance the management API wrote', async () => {
    const keys = await harness.seedCard('u-bal', 'bal', { kind: 'personal', balance_minor: 100n });
    await harness.redis.set(keys.balance, '900');
    await harness.redis.set(`${keys.balance}:v`, '5');
    await refresh('bal', { card: { status: 'active' }, balance: '400', balance_version: 4 });
    expect(await harness.redis.get(keys.balance)).toBe('900');
    await refresh('bal', { card: { status: 'active' }, balance: '950', balance_version: 5 });
    expect(await harness.redis.get(keys.balance)).toBe('950');
  });

  it('does not refresh a card the stores no longer know', async () => {
    const keys = await harness.seedCard('u-gone', 'gone');
    expect(await refresh('gone', { card: { missing: '1' } })).toBe(0);
    expect(await harness.redis.hget(keys.card, 'status')).toBe('active');
  });
});

describe('start-up preload', () => {
  it('a starting gateway loads the cached parts of recently active cards', async () => {
    const card = await createBusinessCard(gw.sql, { daily_limit_minor: 10_000n });
    expect((await authorize(gw, jitRequest({ ...card, amount: 1 }))).status).toBe(200);
    const keys = decisionKeys(gw.layout, card.user_token, card.card_token, '');
    // A cold cache: the cached parts are gone, the live ledger (money state) is not.
    await gw.redis.del(keys.user, keys.card, keys.limits);
    expect(await gw.redis.exists(keys.ledger)).toBe(1);
    const starting = await startTestGateway({ REDIS_KEY_PREFIX: gw.config.redis_key_prefix });
    try {
      expect(await starting.redis.exists(keys.card, keys.user, keys.limits)).toBe(3);
    } finally {
      await starting.close();
    }
  });
});
