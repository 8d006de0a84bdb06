// Uncleared authorizations release their hold after HOLD_EXPIRY_DAYS, exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decisionKeys } from '../../shared/redis-keys.ts';
import { createBusinessCard, createPersonalCard } from '../support/cardholders.ts';
import { startTestGateway } from '../support/gateway-harness.ts';
import { basicAuth, jitRequest } from '../support/jit-requests.ts';

let gw: Awaited<ReturnType<typeof startTestGateway>>;
beforeAll(async () => {
  gw = await startTestGateway({ HOLD_EXPIRY_DAYS: '7' });
});
afterAll(async () => {
  await gw.close();
});

async function authorize(body: Record<string, unknown>) {
  const response = await gw.app.inject({
    method: 'POST',
    url: '/api/transactions/authorize',
    headers: { authorization: basicAuth() },
    payload: body,
  });
  return response.json().jit_funding as { token: string };
}

describe('hold expiry', () => {
  it('releases a business hold older than the expiry period once, and leaves a fresh one alone', async () => {
    const card = await createBusinessCard(gw.sql, { daily_limit_minor: 100_000n });
    const old = await authorize(jitRequest({ ...card, amount: 30 }));
    const fresh = await authorize(jitRequest({ ...card, amount: 5 }));
    const day_ms = 86_400_000;
    // What the worker persists for these two authorizations.
    for (const [token, held, age_days] of [
      [old.token, 3000n, 8],
      [fresh.token, 500n, 1],
    ] as const) {
      await gw.sql`
        INSERT INTO authorization_holds (group_token, card_id, card_token, user_token, currency_code, held_minor, created_at)
        VALUES (${token}, ${card.card_id}, ${card.card_token}, ${card.user_token}, 'USD', ${held},
                ${new Date(Date.now() - age_days * day_ms)})`;
    }
    const ledger = decisionKeys(gw.layout, card.user_token, card.card_token, '').ledger;
    expect(await gw.redis.hget(ledger, 'held')).toBe('3500');
    expect(await gw.hold_expiry.scan()).toBeGreaterThanOrEqual(1);
    expect(await gw.redis.hget(ledger, 'held')).toBe('500');
    // Still `pending` in the table until the worker persists the release: a rescan changes nothing.
    await gw.hold_expiry.scan();
    expect(await gw.redis.hget(ledger, 'held')).toBe('500');
  });

  it('releases an expired personal hold and gives the balance back', async () => {
    const card = await createPersonalCard(gw.mongo.db(), { balance_minor: 5_000n });
    const auth = await authorize(jitRequest({ ...card, amount: 40 }));
    await gw.mongo
      .db()
      .collection('personal_holds')
      .insertOne({
        _id: auth.token as never,
        card_token: card.card_token,
        user_token: card.user_token,
        currency_code: 'USD',
        held_minor: 4000n,
        state: 'pending',
        created_at: new Date(Date.now() - 30 * 86_400_000),
      });
    await gw.hold_expiry.scan();
    const ledger = decisionKeys(gw.layout, card.user_token, card.card_token, '').ledger;
    expect(await gw.redis.hget(ledger, 'held')).toBe('0');
  });
});
