// Invariants under concurrency, through the HTTP endpoint: whatever the interleaving,
// approvals never exceed a balance or a limit, and replayed tokens never double-count.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decisionKeys } from '../../shared/redis-keys.ts';
import {
  createBusinessCard,
  createPersonalCard,
  uniqueToken,
  type CreatedCard,
} from '../support/cardholders.ts';
import { authorizeThrough, startTestGateway } from '../support/gateway-harness.ts';
import { jitRequest } from '../support/jit-requests.ts';

let gw: Awaited<ReturnType<typeof startTestGateway>>;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw.close();
});

function authorize(body: Record<string, unknown>) {
  return authorizeThrough(gw, body);
}

async function held(card: CreatedCard): Promise<bigint> {
  const ledger = decisionKeys(gw.layout, card.user_token, card.card_token, '').ledger;
  return BigInt((await gw.redis.hget(ledger, 'held')) ?? '0');
}

const amountsCents = fc.array(fc.integer({ min: 1, max: 5_000 }), { minLength: 1, maxLength: 40 });

describe('authorization invariants under concurrency', () => {
  it('concurrent authorizations on one personal card never approve more than its balance', async () => {
    await fc.assert(
      fc.asyncProperty(amountsCents, fc.integer({ min: 0, max: 50_000 }), async (amounts, balance) => {
        const card = await createPersonalCard(gw.mongo.db(), { balance_minor: BigInt(balance) });
        const answers = await Promise.all(
          amounts.map((cents) => authorize(jitRequest({ ...card, amount: cents / 100 }))),
        );
        const approved = answers.filter((a) => a.status === 200);
        const approved_minor = approved.reduce(
          (sum, a) => sum + BigInt(Math.round(Number(a.jit.amount) * 100)),
          0n,
        );
        expect(approved_minor).toBeLessThanOrEqual(BigInt(balance));
        expect(await held(card)).toBe(approved_minor);
        for (const a of answers.filter((x) => x.status === 402))
          expect(a.jit.memo).toBe('insufficient_balance');
      }),
      { numRuns: 12 },
    );
  });

  it('concurrent authorizations on one business card never approve more than its daily limit', async () => {
    await fc.assert(
      fc.asyncProperty(amountsCents, fc.integer({ min: 0, max: 50_000 }), async (amounts, daily_limit) => {
        const card = await createBusinessCard(gw.sql, { daily_limit_minor: BigInt(daily_limit) });
        const answers = await Promise.all(
          amounts.map((cents) => authorize(jitRequest({ ...card, amount: cents / 100 }))),
        );
        const approved_minor = answers
          .filter((a) => a.status === 200)
          .reduce((sum, a) => sum + BigInt(Math.round(Number(a.jit.amount) * 100)), 0n);
        expect(approved_minor).toBeLessThanOrEqual(BigInt(daily_limit));
        expect(await held(card)).toBe(approved_minor);
      }),
      { numRuns: 12 },
    );
  });

  it('replayed JIT tokens, even concurrent, get the first answer and never double-count', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 1, max: 3_000 })), {
          minLength: 1,
          maxLength: 40,
        }),
        async (requests) => {
          const card = await createPersonalCard(gw.mongo.db(), { balance_minor: 10_000n });
          const tokens = Array.from({ length: 10 }, () => uniqueToken('jit'));
          // The first amount seen for a token is its amount: a replay repeats the same message.
          const amount_of = new Map<number, number>();
          for (const [slot, cents] of requests) if (!amount_of.has(slot)) amount_of.set(slot, cents);
          const answers = await Promise.all(
            requests.map(([slot]) =>
              authorize(
                jitRequest({ ...card, amount: amount_of.get(slot)! / 100, jit_token: tokens[slot] }),
              ).then((a) => ({ slot, ...a })),
            ),
          );
          const by_token = new Map<number, { status: number; memo: unknown }>();
          for (const a of answers) {
            const first = by_token.get(a.slot);
            if (first) expect({ status: a.status, memo: a.jit.memo }).toEqual(first);
            else by_token.set(a.slot, { status: a.status, memo: a.jit.memo });
          }
          const approved_minor = [...by_token.entries()]
            .filter(([, a]) => a.status === 200)
            .reduce((sum, [slot]) => sum + BigInt(amount_of.get(slot)!), 0n);
          expect(await held(card)).toBe(approved_minor);
        },
      ),
      { numRuns: 12 },
    );
  });
});
