// The worker's ledger through the whole transaction lifecycle, on the real services: the gateway
// decides (and applies the effects in Redis), the relay publishes, the worker applies the same
// effects to PostgreSQL (business) or MongoDB (personal). After the worker drains, the
// reconciliation reports no difference between Redis and the ledger, whatever the arrival order.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { packEntry } from '../../shared/decision-batch.ts';
import { createLogger } from '../../shared/logger.ts';
import { decisionKeys, outboxKeys } from '../../shared/redis-keys.ts';
import { startDecisionConsumer, startPersonalDecisionConsumer } from '../../worker/decisions/consumer.ts';
import { startNotificationConsumer } from '../../worker/notifications/consumer.ts';
import { deleteLedgerHashes } from '../../worker/reconcile/rebuild.ts';
import { differenceCount, reconcile } from '../../worker/reconcile/reconcile.ts';
import { createWorker } from '../../worker/worker.ts';
import {
  createBusinessCard,
  createPersonalCard,
  type CreatedCard,
  uniqueToken,
} from '../support/cardholders.ts';
import { publishBatches } from '../support/decision-batches.ts';
import { startTestGateway } from '../support/gateway-harness.ts';
import { basicAuth, type JitOptions, jitRequest } from '../support/jit-requests.ts';
import {
  declareWorkQueue,
  deleteWorkQueue,
  processedCount,
  startTestWorker,
  testWorkerConfig,
  uniqueQueue,
  waitUntil,
} from '../support/worker-harness.ts';

type TestGateway = Awaited<ReturnType<typeof startTestGateway>>;

let gw: TestGateway;
let quiet: TestGateway;
let worker: Awaited<ReturnType<typeof createWorker>>;
let isolated: Awaited<ReturnType<typeof startTestWorker>>;
const isolated_queue = uniqueQueue();

beforeAll(async () => {
  gw = await startTestGateway({}, { relay_enabled: true, hold_expiry_enabled: false });
  // No relay: its outbox entries are published by the test, in the order it chooses.
  quiet = await startTestGateway();
  worker = await createWorker(
    testWorkerConfig(),
    createLogger('worker-test', process.env.LOG_LEVEL ?? 'silent'),
    {
      consumers: [startDecisionConsumer, startPersonalDecisionConsumer, startNotificationConsumer],
    },
  );
  isolated = await startTestWorker({ WORKER_DECISIONS_QUEUE: isolated_queue });
  await declareWorkQueue(isolated.rabbit, isolated_queue);
}, 60_000);
afterAll(async () => {
  await Promise.allSettled([gw?.close(), quiet?.close(), worker?.close()]);
  if (isolated) {
    await deleteWorkQueue(isolated.rabbit, isolated_queue);
    await isolated.close();
  }
});

async function send(target: TestGateway, options: JitOptions) {
  const response = await target.app.inject({
    method: 'POST',
    url: '/api/transactions/authorize',
    headers: { authorization: basicAuth() },
    payload: jitRequest(options),
  });
  expect([200, 402]).toContain(response.statusCode);
  return response.statusCode;
}

/** Every JIT token has its record in the ledger (the worker drained them). */
async function persisted(tokens: readonly string[]): Promise<boolean> {
  const unique = [...new Set(tokens)];
  const [row] = await gw.sql<{ count: number }[]>`
    SELECT count(*)::int AS count FROM transactions WHERE jit_token = ANY(${unique}::text[])`;
  const count = row?.count ?? 0;
  const docs = await gw.mongo
    .db()
    .collection('personal_transactions')
    .countDocuments({ _id: { $in: unique } } as never);
  return count + docs === unique.length;
}

async function reconciled(target: TestGateway) {
  return reconcile(
    {
      redis: target.redis,
      sql: target.sql,
      db: target.mongo.db(),
      key_prefix: target.config.redis_key_prefix,
    },
    { card_token: null, scope: 'checked_cards' },
  );
}

/** The lifecycle of two authorizations on one card; returns the JIT tokens sent. */
async function lifecycle(
  target: TestGateway,
  card: CreatedCard,
): Promise<{ tokens: string[]; a: string; b: string }> {
  const t = () => uniqueToken('jit');
  const a = t();
  const b = t();
  const steps: JitOptions[] = [
    { ...card, jit_token: a, amount: 50 },
    { ...card, jit_token: t(), amount: 10, method: 'pgfs.authorization.incremental', original_jit_token: a },
    { ...card, jit_token: t(), amount: 20, method: 'pgfs.authorization.reversal', original_jit_token: a },
    { ...card, jit_token: t(), amount: 35, method: 'pgfs.authorization.clearing', original_jit_token: a },
    { ...card, jit_token: t(), amount: 12, method: 'pgfs.auth_plus_capture' },
    { ...card, jit_token: t(), amount: 5, method: 'pgfs.refund' },
    { ...card, jit_token: t(), amount: 7, method: 'pgfs.refund.authorization' },
    { ...card, jit_token: t(), amount: 0, method: 'pgfs.balanceinquiry' },
    { ...card, jit_token: t(), amount: 0, method: 'pgfs.authorization.account_verification' },
    { ...card, jit_token: b, amount: 30 },
    { ...card, jit_token: t(), amount: 30, method: 'pgfs.authorization.reversal', original_jit_token: b },
  ];
  for (const step of steps) {
    await send(target, step);
    // A Marqeta retry of the same message is a replay: never a second ledger change.
    await send(target, step);
  }
  return { tokens: steps.map((s) => s.jit_token!), a, b };
}

/** The quiet gateway's outbox entries of these JIT tokens, packed as the relay would (earlier tests' stay there). */
async function quietOutboxLines(tokens: readonly string[]): Promise<Map<string, string>> {
  const lines = new Map<string, string>();
  const wanted = new Set(tokens);
  for (const key of outboxKeys({
    prefix: quiet.config.redis_key_prefix,
    shards: quiet.config.redis_shards,
  })) {
    for (const [id, fields] of await quiet.redis.xrange(key, '-', '+')) {
      const request = JSON.parse(fields[fields.indexOf('r') + 1]!) as { jit_token: string };
      if (wanted.has(request.jit_token)) lines.set(request.jit_token, packEntry(id, fields).line);
    }
  }
  expect(lines.size).toBe(wanted.size);
  return lines;
}

/** One message at a time to the isolated worker: each its own ledger write. */
async function persistOneByOne(lines: readonly string[]): Promise<void> {
  for (const line of lines) {
    const before = await processedCount(isolated, isolated_queue);
    await publishBatches(isolated.rabbit, isolated_queue, [{ lines: [line] }]);
    await waitUntil(async () => (await processedCount(isolated, isolated_queue)) >= before + 1);
  }
}

async function businessStatuses(tokens: readonly string[]) {
  const rows = await gw.sql<
    { jit_token: string; status: string; mode: string; posted_amount_minor: bigint }[]
  >`
    SELECT jit_token, status, mode, posted_amount_minor FROM transactions WHERE jit_token = ANY(${tokens}::text[])`;
  return tokens.map((token) => rows.find((r) => r.jit_token === token));
}

describe('worker ledger: the transaction lifecycle', () => {
  it('books every method once: records, holds, postings and spend, business and personal', async () => {
    const business = await createBusinessCard(gw.sql, { daily_limit_minor: 100_000n });
    const personal = await createPersonalCard(gw.mongo.db(), { balance_minor: 100_000n });
    const b = await lifecycle(gw, business);
    const p = await lifecycle(gw, personal);
    await waitUntil(() => persisted([...b.tokens, ...p.tokens]));

    const rows = await businessStatuses(b.tokens);
    expect(rows.map((r) => r?.status)).toEqual([
      'completed', // authorization, cleared
      'completed', // incremental of the same authorization
      'recorded', // partial reversal
      'posted', // clearing
      'posted', // auth_plus_capture
      'posted', // refund
      'recorded', // refund authorization
      'recorded', // balance inquiry
      'recorded', // account verification
      'reversed', // authorization fully reversed
      'recorded',
    ]);
    expect(rows[3]?.posted_amount_minor).toBe(3_500n);
    expect(rows[5]?.posted_amount_minor).toBe(-500n);
    // A purchase's trace keeps the limits and spend its rules saw; a lifecycle message has none.
    const [auth_row, reversal_row] = await gw.sql<{ limits_seen: string | null }[]>`
      SELECT limits_seen FROM transactions WHERE jit_token IN (${b.a}, ${b.tokens[2]!}) ORDER BY jit_token = ${b.a} DESC`;
    expect(auth_row?.limits_seen).toBe('d:0/100000');
    expect(reversal_row?.limits_seen).toBeNull();
    const personal_auth = await gw.mongo
      .db()
      .collection('personal_transactions')
      .findOne({ _id: p.a } as never, { projection: { limits_seen: 1 } });
    expect(personal_auth?.limits_seen).toMatch(/bal:100000$/);
    const holds = await gw.sql<{ group_token: string; state: string; held_minor: bigint }[]>`
      SELECT group_token, state, held_minor FROM authorization_holds WHERE card_id = ${business.card_id} ORDER BY state`;
    expect(holds.map((h) => [h.group_token, h.state, h.held_minor])).toEqual([
      [b.a, 'cleared', 0n],
      [b.b, 'reversed', 0n],
    ]);
    // 50 + 10 - 20, cleared at 35; 12 captured; 30 reversed in full. Refunds do not restore limits.
    const [day] = await gw.sql<{ spent_minor: bigint; txn_count: number }[]>`
      SELECT spent_minor, txn_count FROM spending_controls WHERE card_id = ${business.card_id} AND period = 'day'`;
    expect(day).toEqual({ spent_minor: 4_700n, txn_count: 4 });
    const [dining] = await gw.sql<{ spent_minor: bigint }[]>`
      SELECT spent_minor FROM category_spend WHERE card_id = ${business.card_id} AND mcc_group = 'dining' AND period = 'day'`;
    // The fixture's merchant is a restaurant (MCC 5812): every purchase counts in `dining`.
    expect(dining?.spent_minor).toBe(4_700n);

    const card = await gw.mongo
      .db()
      .collection('personal_cards')
      .findOne({ card_token: personal.card_token });
    expect(card).toMatchObject({
      held_minor: 0n,
      posted_net_minor: -4_200n,
      spend_day_minor: 4_700n,
      spend_day_count: 4,
    });
    const personal_holds = await gw.mongo
      .db()
      .collection('personal_holds')
      .find({ _id: { $in: [p.a, p.b] } } as never)
      .toArray();
    expect(Object.fromEntries(personal_holds.map((h) => [String(h._id), [h.state, h.held_minor]]))).toEqual({
      [p.a]: ['cleared', 0n],
      [p.b]: ['reversed', 0n],
    });
    const docs = await gw.mongo
      .db()
      .collection('personal_transactions')
      .find({ _id: { $in: [p.a, p.b] } } as never)
      .toArray();
    expect(Object.fromEntries(docs.map((d) => [String(d._id), d.status]))).toEqual({
      [p.a]: 'completed',
      [p.b]: 'reversed',
    });

    const report = await reconciled(gw);
    expect(report.differences).toEqual([]);
    expect(report.notifications).toEqual([]);
  });

  it('ends in the same state whatever the arrival order, and redeliveries never apply twice', async () => {
    const business = await createBusinessCard(quiet.sql, { daily_limit_minor: 100_000n });
    const personal = await createPersonalCard(quiet.mongo.db(), { balance_minor: 100_000n });
    const b = await lifecycle(quiet, business);
    const p = await lifecycle(quiet, personal);
    // The outbox entries as the relay packs them.
    const lines: string[] = [];
    for (const key of outboxKeys({
      prefix: quiet.config.redis_key_prefix,
      shards: quiet.config.redis_shards,
    })) {
      for (const [id, fields] of await quiet.redis.xrange(key, '-', '+'))
        lines.push(packEntry(id, fields).line);
    }
    expect(lines).toHaveLength(b.tokens.length + p.tokens.length);
    // Settlements before the authorizations they settle, each decision twice, one message each.
    const reversed = [...lines].reverse();
    await publishBatches(
      isolated.rabbit,
      isolated_queue,
      [...reversed, ...reversed].map((line) => ({ lines: [line] })),
    );
    await waitUntil(async () => (await processedCount(isolated, isolated_queue)) >= reversed.length * 2);
    expect(await persisted([...b.tokens, ...p.tokens])).toBe(true);
    const first = await reconciled(quiet);
    expect(first.differences).toEqual([]);

    const before = await processedCount(isolated, isolated_queue);
    // A late redelivery of everything, in one batch message.
    await publishBatches(isolated.rabbit, isolated_queue, [{ lines }]);
    await waitUntil(async () => (await processedCount(isolated, isolated_queue)) >= before + 1);
    expect((await reconciled(quiet)).differences).toEqual([]);
    expect((await businessStatuses([b.a, b.b])).map((r) => r?.status)).toEqual(['completed', 'reversed']);
  });

  it('a stand-in on a cleared authorization reopens its group in the ledger as in Redis, in any arrival order', async () => {
    const t = () => uniqueToken('jit');
    const groups: Array<{ business: boolean; auth: string; tokens: string[] }> = [];
    for (const business of [true, false, true, false]) {
      const card = business
        ? await createBusinessCard(quiet.sql, { daily_limit_minor: 100_000n })
        : await createPersonalCard(quiet.mongo.db(), { balance_minor: 100_000n });
      const auth = t();
      const steps: JitOptions[] = [
        { ...card, jit_token: auth, amount: 50 },
        {
          ...card,
          jit_token: t(),
          amount: 35,
          method: 'pgfs.authorization.clearing',
          original_jit_token: auth,
        },
        {
          ...card,
          jit_token: t(),
          amount: 20,
          method: 'pgfs.authorization.standin',
          original_jit_token: auth,
        },
      ];
      // All in one millisecond (the clock stands still): the decision script orders a group's
      // states strictly, so the ledger keeps the state applied last in any arrival order.
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
      try {
        for (const step of steps) expect(await send(quiet, step)).toBe(200);
      } finally {
        vi.useRealTimers();
      }
      groups.push({ business, auth, tokens: steps.map((s) => s.jit_token!) });
    }
    const lines = await quietOutboxLines(groups.flatMap((g) => g.tokens));
    // The first two cards' messages in decided order, the last two's reversed: the reopen first.
    const ordered = groups.flatMap((g, i) => {
      const mine = g.tokens.map((token) => lines.get(token)!);
      return i < 2 ? mine : mine.reverse();
    });
    await persistOneByOne(ordered);
    for (const g of groups) {
      const hold = g.business
        ? (
            await quiet.sql<{ held_minor: bigint; state: string }[]>`
                SELECT held_minor, state FROM authorization_holds WHERE group_token = ${g.auth}`
          )[0]
        : await quiet.mongo
            .db()
            .collection('personal_holds')
            .findOne({ _id: g.auth } as never, { projection: { _id: 0, held_minor: 1, state: 1 } });
      expect(hold).toEqual({ held_minor: 2_000n, state: 'pending' });
    }
    expect((await reconciled(quiet)).differences).toEqual([]);
  });

  it('chaos seed 1223073766 reproduced: a release Redis forgot after relaying it is booked twice, and reconcile sees it', async () => {
    // Redis answered a reversal and the relay delivered it, then Redis lost that write (a SIGKILL
    // with everysec postponing the AOF write behind a slow fsync): Redis holds the amount again,
    // the ledger has released it. A clearing of the group then releases it once more: the ledger's
    // hold ends at minus the amount. appendfsync always keeps Redis from forgetting an answered write
    // (test/faults/redis-durability.test.ts); reconcile reports what a lost write leaves behind.
    const card = await createBusinessCard(quiet.sql, { daily_limit_minor: 100_000n });
    const auth = uniqueToken('jit');
    const reversal = uniqueToken('jit');
    const clearing = uniqueToken('jit');
    expect(await send(quiet, { ...card, jit_token: auth, amount: 32.96 })).toBe(200);
    const keys = decisionKeys(quiet.layout, card.user_token, card.card_token, reversal, auth);
    const before = {
      ledger: await quiet.redis.dumpBuffer(keys.ledger),
      auth: await quiet.redis.dumpBuffer(keys.auth),
    };
    const reversal_request = { ...card, jit_token: reversal, amount: 32.96, original_jit_token: auth };
    expect(await send(quiet, { ...reversal_request, method: 'pgfs.authorization.reversal' })).toBe(200);
    await persistOneByOne([...(await quietOutboxLines([auth, reversal])).values()]);
    // The lost write: the card's ledger and the group as they were before the reversal.
    const restored = await quiet.redis
      .multi()
      .restore(keys.ledger, 0, before.ledger!, 'REPLACE')
      .restore(keys.auth, 0, before.auth!, 'REPLACE')
      .del(keys.decision)
      .exec();
    expect(restored?.map(([error]) => error)).toEqual([null, null, null]);
    const clearing_request = { ...card, jit_token: clearing, amount: 32.96, original_jit_token: auth };
    expect(await send(quiet, { ...clearing_request, method: 'pgfs.authorization.clearing' })).toBe(200);
    await persistOneByOne([...(await quietOutboxLines([clearing])).values()]);
    const [hold] = await quiet.sql<{ held_minor: bigint }[]>`
      SELECT held_minor FROM authorization_holds WHERE group_token = ${auth}`;
    expect(hold?.held_minor).toBe(-3_296n);
    const report = await reconcile(
      { redis: quiet.redis, sql: quiet.sql, db: quiet.mongo.db(), key_prefix: quiet.config.redis_key_prefix },
      { card_token: card.card_token, scope: 'checked_cards' },
    );
    expect(report.differences).toContainEqual(
      expect.objectContaining({ field: `authorization_holds ${auth} (negative)`, ledger: '-3296' }),
    );
    // Not left behind: every later ledger-wide reconciliation of this database would list it.
    await quiet.sql`DELETE FROM authorization_holds WHERE group_token = ${auth}`;
  });

  it('property: random interleavings keep Redis == ledger, holds = what is held, nothing negative', async () => {
    const Op = fc.oneof(
      fc.record({
        kind: fc.constant('auth' as const),
        card: fc.nat(2),
        amount: fc.integer({ min: 1, max: 5_000 }),
      }),
      fc.record({
        kind: fc.constantFrom('incremental' as const, 'reversal' as const, 'clearing' as const),
        card: fc.nat(2),
        of: fc.nat(),
        amount: fc.integer({ min: 1, max: 5_000 }),
      }),
      fc.record({
        kind: fc.constant('refund' as const),
        card: fc.nat(2),
        amount: fc.integer({ min: 1, max: 2_000 }),
      }),
      fc.record({ kind: fc.constant('duplicate' as const), of: fc.nat() }),
    );
    const METHOD = {
      incremental: 'pgfs.authorization.incremental',
      reversal: 'pgfs.authorization.reversal',
      clearing: 'pgfs.authorization.clearing',
    } as const;
    await fc.assert(
      fc.asyncProperty(fc.array(Op, { minLength: 5, maxLength: 25 }), async (ops) => {
        const cards = [
          await createPersonalCard(gw.mongo.db(), { balance_minor: 20_000n }),
          await createPersonalCard(gw.mongo.db(), { balance_minor: 5_000n }),
          await createBusinessCard(gw.sql, { daily_limit_minor: 30_000n }),
        ];
        // The test's model of each authorization group (an incremental on a settled group reopens it).
        const auths: Array<{
          card: CreatedCard;
          token: string;
          held: number;
          opened: boolean;
        }> = [];
        const sent: JitOptions[] = [];
        for (const op of ops) {
          let request: JitOptions;
          let group: (typeof auths)[number] | undefined;
          if (op.kind === 'duplicate') {
            if (sent.length === 0) continue;
            request = sent[op.of % sent.length]!;
          } else if (op.kind === 'auth' || op.kind === 'refund' || auths.length === 0) {
            const card = cards[op.card]!;
            request = {
              ...card,
              jit_token: uniqueToken('jit'),
              amount: op.amount / 100,
              method: op.kind === 'refund' ? 'pgfs.refund' : 'pgfs.authorization',
            };
            if (op.kind !== 'refund') {
              group = { card, token: request.jit_token!, held: 0, opened: false };
              auths.push(group);
            }
          } else {
            group = auths[op.of % auths.length]!;
            request = {
              ...group.card,
              jit_token: uniqueToken('jit'),
              amount: op.amount / 100,
              method: METHOD[op.kind],
              original_jit_token: group.token,
            };
          }
          const status = await send(gw, request);
          sent.push(request);
          if (group === undefined || op.kind === 'duplicate') continue;
          if ((op.kind === 'auth' || op.kind === 'incremental') && status === 200) {
            group.held += op.amount;
            group.opened = true;
          } else if (op.kind === 'reversal' && group.held > 0) {
            group.held -= Math.min(op.amount, group.held);
          } else if (op.kind === 'clearing' && group.opened) {
            group.held = 0;
          }
        }
        await waitUntil(() => persisted(sent.map((s) => s.jit_token!)));
        const report = await reconciled(gw);
        expect(report.differences).toEqual([]);
        expect(differenceCount(report)).toBe(0);
        for (const card of cards.slice(0, 2)) {
          const doc = await gw.mongo
            .db()
            .collection('personal_cards')
            .findOne({ card_token: card.card_token });
          const groups = auths.filter((a) => a.card === card).map((a) => a.token);
          const holds = await gw.mongo
            .db()
            .collection('personal_holds')
            .find({ _id: { $in: groups } } as never)
            .toArray();
          const active = holds
            .filter((h) => h.state === 'pending')
            .reduce((sum, h) => sum + BigInt(h.held_minor), 0n);
          // available = balance + postings - active holds, as the gateway computes it.
          const live = await gw.redis.hgetall(
            decisionKeys(gw.layout, card.user_token, card.card_token, '').ledger,
          );
          expect(BigInt(doc!.held_minor)).toBe(active);
          expect(BigInt(live.held ?? '0')).toBe(active);
          expect(
            BigInt(doc!.balance_minor) + BigInt(doc!.posted_net_minor ?? 0) - BigInt(doc!.held_minor),
          ).toBe(BigInt(doc!.balance_minor) + BigInt(live.pend ?? '0') - BigInt(live.held ?? '0'));
          expect(active >= 0n && BigInt(doc!.spend_day_minor ?? 0) >= 0n).toBe(true);
        }
        // Rebuilt from the ledger (the hashes deleted, refilled by the next decision): still equal.
        for (const card of cards) {
          await deleteLedgerHashes(gw.redis, gw.config.redis_key_prefix, card.card_token);
          await send(gw, { ...card, amount: 0, method: 'pgfs.balanceinquiry' });
        }
        expect((await reconciled(gw)).differences).toEqual([]);
      }),
      { numRuns: 4 },
    );
  }, 120_000);
});

describe('worker ledger: Marqeta notifications', () => {
  const webhookAuth = () => basicAuth(process.env.MARQETA_WEBHOOK_USER, process.env.MARQETA_WEBHOOK_PASSWORD);

  function notification(card: CreatedCard, jit_token: string, extra: Record<string, unknown>) {
    return {
      token: uniqueToken('txn'),
      type: 'authorization',
      state: 'PENDING',
      card_token: card.card_token,
      user_token: card.user_token,
      amount: 25,
      currency_code: 'USD',
      subnetwork: 'GATEWAY_JIT',
      gpa_order: {
        jit_funding: {
          token: jit_token,
          method: 'pgfs.authorization',
          user_token: card.user_token,
          amount: 25,
        },
        funding: { gateway_log: { timed_out: false } },
      },
      ...extra,
    };
  }

  async function post(body: unknown) {
    const response = await gw.app.inject({
      method: 'POST',
      url: '/api/webhooks/marqeta',
      headers: { authorization: webhookAuth(), 'content-type': 'application/json' },
      payload: JSON.stringify({ transactions: [body] }),
    });
    expect(response.statusCode).toBe(200);
  }

  async function stored(transaction_token: string) {
    return gw.sql<
      { event_token: string; timed_out: boolean; standin_approved_by: string | null; amount_minor: bigint }[]
    >`
      SELECT event_token, timed_out, standin_approved_by, amount_minor FROM marqeta_notifications
       WHERE transaction_token = ${transaction_token}`;
  }

  it('a timed-out approval is released once and the notification stored once', async () => {
    const card = await createPersonalCard(gw.mongo.db(), { balance_minor: 10_000n });
    const jit_token = uniqueToken('jit');
    await send(gw, { ...card, jit_token, amount: 25 });
    const body = notification(card, jit_token, {
      state: 'DECLINED',
      gpa_order: {
        jit_funding: {
          token: jit_token,
          method: 'pgfs.authorization',
          user_token: card.user_token,
          amount: 25,
        },
        funding: { gateway_log: { timed_out: true } },
      },
    });
    await post(body);
    await post(body);
    await waitUntil(
      async () =>
        (await stored(body.token)).length === 1 && (await persisted([jit_token, `timed_out:${jit_token}`])),
    );
    expect(await stored(body.token)).toMatchObject([{ timed_out: true, amount_minor: 2_500n }]);
    const hold = await gw.mongo
      .db()
      .collection('personal_holds')
      .findOne({ _id: jit_token } as never);
    expect(hold).toMatchObject({ state: 'released', held_minor: 0n });
    const doc = await gw.mongo
      .db()
      .collection('personal_transactions')
      .findOne({ _id: jit_token } as never);
    expect(doc?.status).toBe('reversed');
    const saved = await gw.mongo.db().collection('personal_cards').findOne({ card_token: card.card_token });
    expect(saved).toMatchObject({ held_minor: 0n, spend_day_minor: 0n });
    expect(differenceCount(await reconciled(gw))).toBe(0);
  });

  it('a stand-in approval is booked once (hold and spend) and the notification stored once', async () => {
    const card = await createBusinessCard(gw.sql);
    const jit_token = uniqueToken('jit');
    const body = notification(card, jit_token, {
      standin_approved_by: 'COMMANDO_AUTO',
      subnetwork: 'MANAGED_JIT',
    });
    await post(body);
    await post(body);
    await waitUntil(
      async () => (await stored(body.token)).length === 1 && (await persisted([`standin:${jit_token}`])),
    );
    expect(await stored(body.token)).toMatchObject([{ standin_approved_by: 'COMMANDO_AUTO' }]);
    const [row] = await gw.sql<{ status: string; mode: string; held_amount_minor: bigint }[]>`
      SELECT status, mode, held_amount_minor FROM transactions WHERE jit_token = ${`standin:${jit_token}`}`;
    expect(row).toEqual({ status: 'pending', mode: 'force_auth', held_amount_minor: 2_500n });
    const holds = await gw.sql<{ held_minor: bigint; state: string }[]>`
      SELECT held_minor, state FROM authorization_holds WHERE card_id = ${card.card_id}`;
    expect(holds).toEqual([{ held_minor: 2_500n, state: 'pending' }]);
    const [day] = await gw.sql<{ spent_minor: bigint; txn_count: number }[]>`
      SELECT spent_minor, txn_count FROM spending_controls WHERE card_id = ${card.card_id} AND period = 'day'`;
    expect(day).toEqual({ spent_minor: 2_500n, txn_count: 1 });
    expect(differenceCount(await reconciled(gw))).toBe(0);
  });
});
