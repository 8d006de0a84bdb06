import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBusinessCard, createPersonalCard, uniqueToken } from '../support/cardholders.ts';
import { decisionKeys } from '../../shared/redis-keys.ts';
import { startTestGateway } from '../support/gateway-harness.ts';
import { basicAuth, jitRequest } from '../support/jit-requests.ts';

type TestGateway = Awaited<ReturnType<typeof startTestGateway>>;
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw.close();
});

async function authorize(body: Record<string, unknown>, authorization = basicAuth()) {
  const response = await gw.app.inject({
    method: 'POST',
    url: '/api/transactions/authorize',
    headers: { authorization, 'content-type': 'application/json' },
    payload: body,
  });
  return { status: response.statusCode, body: response.json() };
}

describe('POST /api/transactions/authorize', () => {
  it('approves a business card within its limits and echoes the JIT fields', async () => {
    const card = await createBusinessCard(gw.sql, { daily_limit_minor: 10_000n });
    const body = jitRequest({ ...card, amount: 42.75 });
    const { status, body: answer } = await authorize(body);
    expect(status).toBe(200);
    const jit = (body.gpa_order as { jit_funding: Record<string, unknown> }).jit_funding;
    expect(answer.jit_funding).toMatchObject({
      token: jit.token,
      method: 'pgfs.authorization',
      user_token: card.user_token,
      acting_user_token: card.user_token,
      amount: 42.75,
      memo: 'approved',
    });
    expect(answer.jit_funding.decline_reason).toBeUndefined();
  });

  it('declines over the daily limit with AMOUNT_LIMIT_EXCEEDED / limit_exceeded', async () => {
    const card = await createBusinessCard(gw.sql, { daily_limit_minor: 5_000n });
    expect((await authorize(jitRequest({ ...card, amount: 30 }))).status).toBe(200);
    const second = await authorize(jitRequest({ ...card, amount: 20.01 }));
    expect(second.status).toBe(402);
    expect(second.body.jit_funding).toMatchObject({
      decline_reason: 'AMOUNT_LIMIT_EXCEEDED',
      memo: 'limit_exceeded',
    });
    expect((await authorize(jitRequest({ ...card, amount: 20 }))).status).toBe(200);
  });

  it('a replayed JIT token gets the first answer and makes no second hold', async () => {
    const card = await createPersonalCard(gw.mongo.db(), { balance_minor: 10_000n });
    const body = jitRequest({ ...card, amount: 60 });
    const first = await authorize(body);
    const replay = await authorize(body);
    expect(first.status).toBe(200);
    expect(replay).toEqual(first);
    // 40.00 left: a new 50.00 purchase must decline, proving the replay held nothing.
    const next = await authorize(jitRequest({ ...card, amount: 50 }));
    expect(next.status).toBe(402);
    expect(next.body.jit_funding).toMatchObject({
      decline_reason: 'INSUFFICIENT_FUNDS',
      memo: 'insufficient_balance',
    });
  });

  it('rejects wrong Basic credentials with 401 and the error shape', async () => {
    const card = await createBusinessCard(gw.sql);
    const { status, body } = await authorize(
      jitRequest({ ...card, amount: 1 }),
      basicAuth('marqeta', 'wrong-password-xxxxxxxxxx'),
    );
    expect(status).toBe(401);
    expect(body.error.code).toBe('GW_ERR_UNAUTHORIZED');
  });

  it('answers 400 with field errors for a malformed body', async () => {
    const { status, body } = await authorize({ token: 'x', currency_code: 'usd' });
    expect(status).toBe(400);
    expect(body.error.code).toBe('GW_ERR_BAD_REQUEST');
    expect(body.error.fields.length).toBeGreaterThan(0);
  });

  it('declines an unreadable amount (402 INVALID_AMOUNT, recorded), never a 400 Marqeta would stand in for', async () => {
    const card = await createBusinessCard(gw.sql, { daily_limit_minor: 10n ** 12n });
    const amounts: unknown[] = [-5, 0.001, '0.001', 'abc', 1e20, '1e3', '', null, true, { value: 1 }, [1]];
    for (const amount of amounts) {
      const body = jitRequest({ ...card, amount: 1 });
      const jit = (body.gpa_order as { jit_funding: Record<string, unknown> }).jit_funding;
      jit.amount = amount;
      const { status, body: answer } = await authorize(body);
      const context = JSON.stringify(amount);
      expect(status, context).toBe(402);
      expect(answer.jit_funding, context).toEqual({
        token: jit.token,
        method: 'pgfs.authorization',
        user_token: card.user_token,
        acting_user_token: card.user_token,
        amount: 0,
        decline_reason: 'INVALID_AMOUNT',
        memo: 'invalid_amount',
        tags: 'afc_status:INVALID_AMOUNT',
      });
      // Recorded by the decision script like any decline (and so relayed to the ledger).
      const keys = decisionKeys(gw.layout, card.user_token, card.card_token, jit.token as string);
      expect(await gw.redis.hget(keys.decision, 's'), context).toBe('11');
      expect((await authorize(body)).body, `${context} replayed`).toEqual(answer);
    }
    const missing = jitRequest({ ...card, amount: 1 });
    delete (missing.gpa_order as { jit_funding: Record<string, unknown> }).jit_funding.amount;
    expect((await authorize(missing)).body.jit_funding.decline_reason).toBe('INVALID_AMOUNT');
  });

  it('still answers 400 to a body that is not a JIT message (no gpa_order, unreadable token)', async () => {
    const card = await createBusinessCard(gw.sql, { daily_limit_minor: 10n ** 12n });
    const no_order = jitRequest({ ...card, amount: 'abc' });
    delete no_order.gpa_order;
    expect((await authorize(no_order)).status).toBe(400);
    const bad_token = jitRequest({ ...card, amount: 'abc' });
    (bad_token.gpa_order as { jit_funding: Record<string, unknown> }).jit_funding.token = 'not a token!';
    expect((await authorize(bad_token)).status).toBe(400);
  });

  it('declines an unknown card as INVALID_CARD', async () => {
    const { status, body } = await authorize(
      jitRequest({ card_token: uniqueToken('nocard'), user_token: uniqueToken('nouser'), amount: 5 }),
    );
    expect(status).toBe(402);
    expect(body.jit_funding).toMatchObject({ decline_reason: 'INVALID_CARD', memo: 'card_not_found' });
  });
});
