// End to end: gateway (relay on) -> RabbitMQ -> worker -> PostgreSQL / MongoDB, and the
// worker's idempotency on duplicates, redeliveries and revision-2 voids.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionEvent } from '../../shared/messages.ts';
import {
  createBusinessCard,
  createPersonalCard,
  type CreatedCard,
  uniqueToken,
} from '../support/cardholders.ts';
import { startTestGateway } from '../support/gateway-harness.ts';
import { basicAuth, jitRequest } from '../support/jit-requests.ts';
import {
  decisionEvent,
  deleteWorkQueue,
  processedCount,
  publishEvents,
  startTestWorker,
  uniqueQueue,
  waitUntil,
} from '../support/worker-harness.ts';

type TestGateway = Awaited<ReturnType<typeof startTestGateway>>;
type TestWorker = Awaited<ReturnType<typeof startTestWorker>>;

let gw: TestGateway;
let shared_worker: TestWorker;
let isolated: TestWorker;
const isolated_queue = uniqueQueue();

beforeAll(async () => {
  gw = await startTestGateway({}, { relay_enabled: true });
  // Consumes the real afc.decisions (with whatever other tests publish: all valid events).
  shared_worker = await startTestWorker();
  // A queue of its own, so "every message handled" can be counted exactly.
  isolated = await startTestWorker({ WORKER_DECISIONS_QUEUE: isolated_queue });
});
afterAll(async () => {
  await Promise.allSettled([gw?.close(), shared_worker?.close()]);
  if (isolated) {
    await deleteWorkQueue(isolated.rabbit, isolated_queue);
    await isolated.close();
  }
});

async function authorize(body: Record<string, unknown>) {
  const response = await gw.app.inject({
    method: 'POST',
    url: '/api/transactions/authorize',
    headers: { authorization: basicAuth(), 'content-type': 'application/json' },
    payload: body,
  });
  return response.statusCode;
}

function jitTokenOf(body: Record<string, unknown>): string {
  return (body.gpa_order as { jit_funding: { token: string } }).jit_funding.token;
}

async function businessRows(jit_tokens: readonly string[]) {
  return shared_worker.sql<
    { jit_token: string; status: string; memo: string; revision: number; approved_amount_minor: bigint }[]
  >`
    SELECT jit_token, status, memo, revision, approved_amount_minor FROM transactions WHERE jit_token = ANY(${jit_tokens})`;
}

async function spend(card: CreatedCard) {
  const rows = await shared_worker.sql<{ period: string; spent_minor: bigint; txn_count: number }[]>`
    SELECT period, spent_minor, txn_count FROM spending_controls
     WHERE card_id = ${card.card_id} AND period IN ('day', 'month') ORDER BY period`;
  return Object.fromEntries(
    rows.map((r) => [r.period, { spent_minor: r.spent_minor, txn_count: r.txn_count }]),
  );
}

function personalDocs(jit_tokens: readonly string[]) {
  return shared_worker.mongo
    .db()
    .collection('personal_transactions')
    .find({ jit_token: { $in: [...jit_tokens] } })
    .toArray();
}

async function personalCard(card: CreatedCard) {
  return shared_worker.mongo.db().collection('personal_cards').findOne({ card_token: card.card_token });
}

/** Publishes to the isolated queue and waits until the worker has committed all of them. */
async function deliver(events: readonly DecisionEvent[]) {
  const before = await processedCount(isolated, isolated_queue);
  await publishEvents(isolated.rabbit, isolated_queue, events);
  await waitUntil(async () => (await processedCount(isolated, isolated_queue)) >= before + events.length);
}

describe('worker: decisions from the gateway become durable records', () => {
  it('persists exactly one row per approved and declined decision, in the store of the card type', async () => {
    const business = await createBusinessCard(gw.sql, { daily_limit_minor: 5_000n });
    const personal = await createPersonalCard(gw.mongo.db(), { balance_minor: 10_000n });
    const b_ok = jitRequest({ ...business, amount: 42.75 });
    const b_no = jitRequest({ ...business, amount: 20 });
    const p_ok = jitRequest({ ...personal, amount: 60 });
    const p_no = jitRequest({ ...personal, amount: 50 });
    const unknown = jitRequest({
      card_token: uniqueToken('nocard'),
      user_token: uniqueToken('nouser'),
      amount: 5,
    });
    expect(await authorize(b_ok)).toBe(200);
    expect(await authorize(b_no)).toBe(402);
    expect(await authorize(p_ok)).toBe(200);
    expect(await authorize(p_no)).toBe(402);
    expect(await authorize(unknown)).toBe(402);

    const pg_tokens = [b_ok, b_no, unknown].map(jitTokenOf);
    const mongo_tokens = [p_ok, p_no].map(jitTokenOf);
    await waitUntil(
      async () =>
        (await businessRows(pg_tokens)).length === 3 && (await personalDocs(mongo_tokens)).length === 2,
    );

    const rows = new Map((await businessRows(pg_tokens)).map((r) => [r.jit_token, r]));
    expect(rows.get(jitTokenOf(b_ok))).toMatchObject({
      status: 'pending',
      memo: 'approved',
      approved_amount_minor: 4275n,
    });
    expect(rows.get(jitTokenOf(b_no))).toMatchObject({ status: 'declined', memo: 'limit_exceeded' });
    expect(rows.get(jitTokenOf(unknown))).toMatchObject({ status: 'declined', memo: 'card_not_found' });
    expect(await spend(business)).toEqual({
      day: { spent_minor: 4275n, txn_count: 1 },
      month: { spent_minor: 4275n, txn_count: 1 },
    });

    const docs = new Map((await personalDocs(mongo_tokens)).map((d) => [d.jit_token, d]));
    expect(docs.get(jitTokenOf(p_ok))).toMatchObject({ status: 'pending', approved_amount_minor: 6000n });
    expect(docs.get(jitTokenOf(p_no))).toMatchObject({ status: 'declined', memo: 'insufficient_balance' });
    expect(await personalCard(personal)).toMatchObject({
      held_minor: 6000n,
      spend_day_minor: 6000n,
      spend_month_minor: 6000n,
    });
    // Each personal transaction's sort key is registered (the API lists from it) with the document's created_at.
    const keys = await shared_worker.sql<{ transaction_id: string; card_id: string; created_at: Date }[]>`
      SELECT transaction_id, card_id, created_at FROM personal_transaction_keys WHERE transaction_id IN ${shared_worker.sql(mongo_tokens)}`;
    expect(new Map(keys.map((k) => [k.transaction_id, [k.card_id, k.created_at]]))).toEqual(
      new Map([...docs.values()].map((d) => [d._id, [String(d.card_id), d.created_at]])),
    );
    // No personal decision ever lands in PostgreSQL, nor a business one in MongoDB.
    expect(await businessRows(mongo_tokens)).toEqual([]);
    expect(await personalDocs(pg_tokens)).toEqual([]);
  });

  it('a duplicated or redelivered event never writes twice nor counts spend twice', async () => {
    const business = await createBusinessCard(gw.sql);
    const personal = await createPersonalCard(gw.mongo.db(), { balance_minor: 10_000n });
    const b = decisionEvent({ card: business, kind: 'business', amount_minor: 1_234n });
    const p = decisionEvent({ card: personal, kind: 'personal', amount_minor: 777n });
    await deliver([b, b, p, p]);
    await deliver([b, p]); // a redelivery long after the first commit

    expect(await businessRows([b.request.jit_token])).toHaveLength(1);
    expect(await spend(business)).toEqual({
      day: { spent_minor: 1_234n, txn_count: 1 },
      month: { spent_minor: 1_234n, txn_count: 1 },
    });
    expect(await personalDocs([p.request.jit_token])).toHaveLength(1);
    expect(await personalCard(personal)).toMatchObject({ held_minor: 777n, spend_day_minor: 777n });
  });

  it('a revision-2 void turns the approval into a timeout decline and takes its spend back, once', async () => {
    const business = await createBusinessCard(gw.sql);
    const personal = await createPersonalCard(gw.mongo.db(), { balance_minor: 10_000n });
    const b1 = decisionEvent({ card: business, kind: 'business', amount_minor: 900n });
    const p1 = decisionEvent({ card: personal, kind: 'personal', amount_minor: 300n });
    await deliver([b1, p1]);
    const b2 = decisionEvent({
      card: business,
      kind: 'business',
      amount_minor: 900n,
      jit_token: b1.request.jit_token,
      revision: 2,
    });
    const p2 = decisionEvent({
      card: personal,
      kind: 'personal',
      amount_minor: 300n,
      jit_token: p1.request.jit_token,
      revision: 2,
    });
    await deliver([b2, p2, b2, p2]);
    await deliver([b1, p1]); // a stale redelivery of revision 1 changes nothing

    expect(await businessRows([b1.request.jit_token])).toEqual([
      {
        jit_token: b1.request.jit_token,
        status: 'declined',
        memo: 'timeout',
        revision: 2,
        approved_amount_minor: 0n,
      },
    ]);
    expect(await spend(business)).toEqual({
      day: { spent_minor: 0n, txn_count: 0 },
      month: { spent_minor: 0n, txn_count: 0 },
    });
    expect(await personalDocs([p1.request.jit_token])).toMatchObject([
      { status: 'declined', memo: 'timeout', revision: 2 },
    ]);
    expect(await personalCard(personal)).toMatchObject({ held_minor: 0n, spend_day_minor: 0n });
  });

  it('a void that overtakes its approval leaves a timeout decline and no spend', async () => {
    const business = await createBusinessCard(gw.sql);
    const personal = await createPersonalCard(gw.mongo.db(), { balance_minor: 10_000n });
    const b1 = decisionEvent({ card: business, kind: 'business', amount_minor: 450n });
    const p1 = decisionEvent({ card: personal, kind: 'personal', amount_minor: 150n });
    const b2 = decisionEvent({
      card: business,
      kind: 'business',
      amount_minor: 450n,
      jit_token: b1.request.jit_token,
      revision: 2,
    });
    const p2 = decisionEvent({
      card: personal,
      kind: 'personal',
      amount_minor: 150n,
      jit_token: p1.request.jit_token,
      revision: 2,
    });
    await deliver([b2, p2]);
    await deliver([b1, p1]);

    expect(await businessRows([b1.request.jit_token])).toMatchObject([
      { status: 'declined', memo: 'timeout', revision: 2 },
    ]);
    // Both revisions' effects applied, in arrival order: they cancel out.
    expect(await spend(business)).toEqual({
      day: { spent_minor: 0n, txn_count: 0 },
      month: { spent_minor: 0n, txn_count: 0 },
    });
    expect(await personalDocs([p1.request.jit_token])).toMatchObject([{ status: 'declined', revision: 2 }]);
    const card = await personalCard(personal);
    expect(card?.held_minor ?? 0n).toBe(0n);
    expect(card?.spend_day_minor ?? 0n).toBe(0n);
  });
});
