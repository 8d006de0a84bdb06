import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BalanceCache } from '../../api/cache/balance-cache.ts';
import { decisionKeys } from '../../shared/redis-keys.ts';
import { uniqueToken } from '../support/cardholders.ts';
import { apiKey, bearer, callApi, startTestApi, type Method, type TestApi } from '../support/api-harness.ts';

let api: TestApi;
let admin: Record<string, string>;

beforeAll(async () => {
  api = await startTestApi();
  admin = bearer(await apiKey(api, null, ['admin']));
});
afterAll(async () => {
  await api.close();
});

function call(
  method: Method,
  url: string,
  payload?: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  return callApi(api, method, url, { ...admin, ...headers }, payload);
}

async function personalCard(currency_code = 'USD') {
  const user = await call('POST', '/api/personal-users', {
    email: `${uniqueToken('b')}@example.test`,
    kyc_status: 'verified',
  });
  const card = await call('POST', '/api/cards', { kind: 'personal', user_id: user.body.id, currency_code });
  return card.body as { id: string; card_token: string; user_token: string };
}

function load(card_id: string, key: string, amount_minor: string | number, currency_code = 'USD') {
  return call(
    'POST',
    `/api/cards/${card_id}/balance/loads`,
    { amount_minor, currency_code },
    { 'idempotency-key': key },
  );
}

describe('personal card balance', () => {
  it('a load credits the posted balance once; the same Idempotency-Key replays it with 200', async () => {
    const card = await personalCard();
    const key = uniqueToken('k');
    const first = await load(card.id, key, '2550');
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      card_id: card.id,
      idempotency_key: key,
      amount_minor: '2550',
      currency_code: 'USD',
      balance: { posted_minor: '2550', held_minor: '0', available_minor: '2550', held_source: 'stored' },
    });
    const replay = await load(card.id, key, 2550);
    expect(replay.status).toBe(200);
    expect(replay.body.load_id).toBe(first.body.load_id);
    expect(replay.body.balance.posted_minor).toBe('2550');
    const read = await call('GET', `/api/cards/${card.id}/balance`);
    expect(read.body).toEqual({
      card_id: card.id,
      currency_code: 'USD',
      posted_minor: '2550',
      held_minor: '0',
      available_minor: '2550',
      held_source: 'stored',
    });
  });

  it('refuses an Idempotency-Key reused for a different amount (409)', async () => {
    const card = await personalCard();
    const key = uniqueToken('k');
    await load(card.id, key, '100');
    const reused = await load(card.id, key, '200');
    expect(reused.status).toBe(409);
    expect(reused.body.error.code).toBe('API_ERR_IDEMPOTENCY_KEY_REUSED');
  });

  it('concurrent loads with distinct keys all count, and duplicates of one key count once', async () => {
    const card = await personalCard();
    const dup = uniqueToken('dup');
    const answers = await Promise.all([
      ...Array.from({ length: 6 }, () => load(card.id, uniqueToken('c'), '100')),
      ...Array.from({ length: 4 }, () => load(card.id, dup, '1000')),
    ]);
    expect(answers.every((a) => a.status === 200 || a.status === 201)).toBe(true);
    const read = await call('GET', `/api/cards/${card.id}/balance`);
    expect(read.body.posted_minor).toBe('1600');
  });

  it('validates loads: header, amount, currency, card kind and closed cards', async () => {
    const card = await personalCard();
    const missing = await call('POST', `/api/cards/${card.id}/balance/loads`, {
      amount_minor: '1',
      currency_code: 'USD',
    });
    expect(missing.status).toBe(400);
    expect(missing.body.error.fields).toEqual([
      { path: 'headers/idempotency-key', message: expect.any(String) },
    ]);
    expect((await load(card.id, uniqueToken('k'), '0')).status).toBe(400);
    expect((await load(card.id, uniqueToken('k'), '1.5')).status).toBe(400);
    const currency = await load(card.id, uniqueToken('k'), '100', 'EUR');
    expect(currency.status).toBe(400);
    expect(currency.body.error.fields[0].path).toBe('body/currency_code');
    await call('POST', `/api/cards/${card.id}/status`, { action: 'close' });
    const closed = await load(card.id, uniqueToken('k'), '100');
    expect(closed.status).toBe(409);
    const company = await call('POST', '/api/companies', { name: 'Balance Co' });
    const user = await call('POST', `/api/companies/${company.body.id}/users`, {
      email: `${uniqueToken('bb')}@example.test`,
      role: 'x',
    });
    const business = await call('POST', '/api/cards', {
      kind: 'business',
      user_id: user.body.id,
      currency_code: 'USD',
    });
    expect((await call('GET', `/api/cards/${business.body.id}/balance`)).status).toBe(400);
  });
});

describe('balance-set-2.lua (versioned cache write)', () => {
  const ref = () => ({ user_token: uniqueToken('u'), card_token: uniqueToken('c') });

  it('a gateway fill that read the balance before the load cannot overwrite the new balance', async () => {
    const cache = new BalanceCache(api.redis, { prefix: api.config.redis_key_prefix, shards: 4 });
    const card = ref();
    const key = decisionKeys(
      { prefix: api.config.redis_key_prefix, shards: 4 },
      card.user_token,
      card.card_token,
      '',
    ).balance;
    expect(await cache.write(card, 1500n, 3)).toBe(true);
    // The gateway's fill writes only absent keys (SET NX).
    expect(await api.redis.set(key, '500', 'EX', 600, 'NX')).toBeNull();
    expect(await api.redis.get(key)).toBe('1500');
  });

  it('an older version never replaces a newer one; a newer one replaces a fill', async () => {
    const cache = new BalanceCache(api.redis, { prefix: api.config.redis_key_prefix, shards: 4 });
    const card = ref();
    const key = decisionKeys(
      { prefix: api.config.redis_key_prefix, shards: 4 },
      card.user_token,
      card.card_token,
      '',
    ).balance;
    await api.redis.set(key, '700', 'EX', 600);
    expect(await cache.write(card, 900n, 2)).toBe(true);
    expect(await cache.write(card, 800n, 1)).toBe(false);
    expect(await api.redis.get(key)).toBe('900');
    expect(await cache.write(card, 1200n, 5)).toBe(true);
    expect(await api.redis.get(key)).toBe('1200');
  });
});
