// Seed property 4: an update through the management API reaches the gateway's cache at once,
// without disturbing holds in flight. Each test warms the gateway cache with an
// authorization first, so the update must really remove or replace cached state.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decisionKeys } from '../../shared/redis-keys.ts';
import { uniqueToken } from '../support/cardholders.ts';
import { apiKey, bearer, callApi, startTestApi, type Method, type TestApi } from '../support/api-harness.ts';
import { startTestGateway } from '../support/gateway-harness.ts';
import { basicAuth, jitRequest } from '../support/jit-requests.ts';

type TestGateway = Awaited<ReturnType<typeof startTestGateway>>;
let gw: TestGateway;
let api: TestApi;
let admin: Record<string, string>;
const propagation_ms: number[] = [];

beforeAll(async () => {
  gw = await startTestGateway();
  // Same cache as the gateway.
  api = await startTestApi({
    REDIS_KEY_PREFIX: gw.config.redis_key_prefix,
    REDIS_SHARDS: String(gw.config.redis_shards),
  });
  admin = bearer(await apiKey(api, null, ['admin']));
});
afterAll(async () => {
  if (propagation_ms.length > 0) {
    console.info(
      `update -> next authorization sees it: ${propagation_ms.map((ms) => ms.toFixed(1)).join(', ')} ms`,
    );
  }
  await api?.close();
  await gw?.close();
});

function call(
  method: Method,
  url: string,
  payload?: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  return callApi(api, method, url, { ...admin, ...headers }, payload);
}

async function authorize(
  card: { card_token: string; user_token: string },
  amount: number,
  extra: { mcc?: string } = {},
) {
  const response = await gw.app.inject({
    method: 'POST',
    url: '/api/transactions/authorize',
    headers: { authorization: basicAuth(), 'content-type': 'application/json' },
    payload: jitRequest({ ...card, amount, ...extra }),
  });
  return { status: response.statusCode, memo: response.json().jit_funding?.memo as string };
}

/** Runs the update, then authorizes at once; records how long until the decision reflected it. */
async function updateThenAuthorize<T>(
  update: () => Promise<T>,
  authorize_next: () => Promise<{ status: number; memo: string }>,
) {
  const started_ms = performance.now();
  const updated = await update();
  const decision = await authorize_next();
  propagation_ms.push(performance.now() - started_ms);
  return { updated, decision };
}

async function activeBusinessCard(body: Record<string, unknown> = {}) {
  const company = await call('POST', '/api/companies', { name: `Cache Co ${randomUUID().slice(0, 6)}` });
  const user = await call('POST', `/api/companies/${company.body.id}/users`, {
    email: `${uniqueToken('c')}@example.test`,
    role: 'employee',
  });
  const card = await call('POST', '/api/cards', {
    kind: 'business',
    user_id: user.body.id,
    currency_code: 'USD',
    ...body,
  });
  await api.sql`UPDATE cards SET status = 'active' WHERE id = ${card.body.id}`;
  return {
    id: card.body.id as string,
    user_id: user.body.id as string,
    card_token: card.body.card_token as string,
    user_token: user.body.user_token as string,
  };
}

async function activePersonalCard(balance_minor: number) {
  const user = await call('POST', '/api/personal-users', {
    email: `${uniqueToken('pc')}@example.test`,
    kyc_status: 'verified',
  });
  const card = await call('POST', '/api/cards', {
    kind: 'personal',
    user_id: user.body.id,
    currency_code: 'USD',
  });
  await api.mongo
    .db()
    .collection('personal_cards')
    .updateOne({ card_token: card.body.card_token }, { $set: { status: 'active' } });
  const ref = {
    id: card.body.id as string,
    user_id: user.body.id as string,
    card_token: card.body.card_token as string,
    user_token: user.body.user_token as string,
  };
  if (balance_minor > 0) {
    await call(
      'POST',
      `/api/cards/${ref.id}/balance/loads`,
      { amount_minor: balance_minor, currency_code: 'USD' },
      { 'idempotency-key': uniqueToken('seed') },
    );
  }
  return ref;
}

function keysOf(card: { card_token: string; user_token: string }) {
  return decisionKeys(
    { prefix: gw.config.redis_key_prefix, shards: gw.config.redis_shards },
    card.user_token,
    card.card_token,
    '',
  );
}

describe('cache consistency between the management API and the gateway', () => {
  it('a suspended card is declined on the very next authorization, and approved again once reactivated', async () => {
    const card = await activeBusinessCard();
    expect((await authorize(card, 10)).status).toBe(200);
    const { decision } = await updateThenAuthorize(
      () => call('POST', `/api/cards/${card.id}/status`, { action: 'suspend' }),
      () => authorize(card, 10),
    );
    expect(decision).toEqual({ status: 402, memo: 'card_inactive' });
    const again = await updateThenAuthorize(
      () => call('POST', `/api/cards/${card.id}/status`, { action: 'activate' }),
      () => authorize(card, 10),
    );
    expect(again.decision.status).toBe(200);
  });

  it('a lowered daily limit and a new MCC block apply to the next authorization', async () => {
    const card = await activeBusinessCard({ limits: { daily_limit_minor: '100000' } });
    expect((await authorize(card, 20, { mcc: '5411' })).status).toBe(200);
    const limited = await updateThenAuthorize(
      () => call('PATCH', `/api/cards/${card.id}`, { limits: { daily_limit_minor: '2500' } }),
      () => authorize(card, 10, { mcc: '5411' }),
    );
    // 20.00 already spent today: 10.00 more is over 25.00.
    expect(limited.decision).toEqual({ status: 402, memo: 'limit_exceeded' });
    const blocked = await updateThenAuthorize(
      () =>
        call('PATCH', `/api/cards/${card.id}`, {
          limits: { daily_limit_minor: null },
          controls: { mcc_block: ['7995'] },
        }),
      () => authorize(card, 10, { mcc: '7995' }),
    );
    expect(blocked.decision).toEqual({ status: 402, memo: 'merchant_restricted' });
    expect((await authorize(card, 10, { mcc: '5411' })).status).toBe(200);
  });

  it('a limits update keeps the holds in flight: the ledger key is never touched', async () => {
    const card = await activeBusinessCard({ limits: { daily_limit_minor: '10000' } });
    expect((await authorize(card, 60)).status).toBe(200);
    const ledger_before = await gw.redis.hgetall(keysOf(card).ledger);
    expect(ledger_before.held).toBe('6000');
    await call('PATCH', `/api/cards/${card.id}`, { limits: { per_transaction_limit_minor: '5000' } });
    expect(await gw.redis.hgetall(keysOf(card).ledger)).toEqual(ledger_before);
    expect(await gw.redis.exists(keysOf(card).limits)).toBe(0);
    // The 60.00 hold still counts: 50.00 more passes the new per-transaction limit but not the day.
    expect(await authorize(card, 50)).toEqual({ status: 402, memo: 'limit_exceeded' });
    expect((await authorize(card, 40)).status).toBe(200);
  });

  it('a suspended business cardholder is declined on the next authorization', async () => {
    const card = await activeBusinessCard();
    expect((await authorize(card, 5)).status).toBe(200);
    const { decision } = await updateThenAuthorize(
      () => call('PATCH', `/api/users/${card.user_id}`, { status: 'suspended' }),
      () => authorize(card, 5),
    );
    expect(decision).toEqual({ status: 402, memo: 'cardholder_inactive' });
  });

  it('a personal cardholder whose KYC is revoked is declined on the next authorization', async () => {
    const card = await activePersonalCard(5_000);
    expect((await authorize(card, 5)).status).toBe(200);
    const { decision } = await updateThenAuthorize(
      () => call('PATCH', `/api/personal-users/${card.user_id}`, { kyc_status: 'rejected' }),
      () => authorize(card, 5),
    );
    expect(decision).toEqual({ status: 402, memo: 'cardholder_inactive' });
  });

  it('a balance load is available to the next authorization while an earlier hold stays held', async () => {
    const card = await activePersonalCard(3_000);
    expect((await authorize(card, 25)).status).toBe(200);
    expect(await authorize(card, 10)).toEqual({ status: 402, memo: 'insufficient_balance' });
    const { updated, decision } = await updateThenAuthorize(
      () =>
        call(
          'POST',
          `/api/cards/${card.id}/balance/loads`,
          { amount_minor: '1000', currency_code: 'USD' },
          { 'idempotency-key': uniqueToken('load') },
        ),
      () => authorize(card, 10),
    );
    expect(updated.status).toBe(201);
    // 30.00 + 10.00 posted, 25.00 held: 10.00 fits, and then 5.00 is left.
    expect(updated.body.balance).toMatchObject({
      posted_minor: '4000',
      held_minor: '2500',
      available_minor: '1500',
      held_source: 'live',
    });
    expect(decision.status).toBe(200);
    expect(await authorize(card, 5.01)).toEqual({ status: 402, memo: 'insufficient_balance' });
    expect(await gw.redis.get(keysOf(card).balance)).toBe('4000');
  });
});
