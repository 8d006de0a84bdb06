// The worker process under SIGTERM and SIGKILL in the middle of a stream of 10k decisions:
// afterwards every decision is exactly one row (PostgreSQL) or document (MongoDB), and the
// spend and holds add up exactly (nothing lost, nothing counted twice).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRabbit } from '../../shared/broker/connection.ts';
import { createLogger } from '../../shared/logger.ts';
import type { DecisionEvent } from '../../shared/messages.ts';
import { connectMongo } from '../../shared/stores/mongo.ts';
import { connectPostgres } from '../../shared/stores/postgres.ts';
import { createBusinessCard, createPersonalCard, type CreatedCard } from '../support/cardholders.ts';
import {
  decisionEvent,
  declareWorkQueue,
  deleteWorkQueue,
  publishEvents,
  uniqueQueue,
  waitUntil,
} from '../support/worker-harness.ts';

const DECISIONS = 10_000;
/** FerretDB (SQLite) writes far slower than PostgreSQL: a small personal share keeps the test short. */
const PERSONAL_DECISIONS = 200;
const BUSINESS_CARDS = 20;
const PERSONAL_CARDS = 5;

const log = createLogger('worker-fault-test', 'silent');
const sql = connectPostgres({
  url: process.env.DATABASE_URL!,
  application_name: 'afc-test-faults',
  max_connections: 4,
});
const mongo = connectMongo({
  uri: process.env.MONGODB_URI!,
  app_name: 'afc-test-faults',
  server_selection_timeout_ms: 10_000,
});
const rabbit = connectRabbit(process.env.RABBITMQ_URL!, 'afc-test-faults', log);
const children = new Set<ChildProcess>();
const queues: string[] = [];

beforeAll(async () => {
  await mongo.connect();
});
afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const queue of queues) await deleteWorkQueue(rabbit, queue);
  await Promise.allSettled([rabbit.close(), sql.end({ timeout: 5 }), mongo.close()]);
});

function startWorker(queue: string): ChildProcess {
  const child = spawn('node_modules/.bin/node', ['worker/main.ts'], {
    env: { ...process.env, WORKER_DECISIONS_QUEUE: queue, WORKER_HEALTH_PORT: '0', LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.add(child);
  return child;
}

interface Stream {
  readonly queue: string;
  readonly events: DecisionEvent[];
  readonly business: CreatedCard[];
  readonly personal: CreatedCard[];
}

async function newStream(): Promise<Stream> {
  const queue = uniqueQueue();
  queues.push(queue);
  await declareWorkQueue(rabbit, queue);
  const business = await Promise.all(Array.from({ length: BUSINESS_CARDS }, () => createBusinessCard(sql)));
  const personal = await Promise.all(
    Array.from({ length: PERSONAL_CARDS }, () =>
      createPersonalCard(mongo.db(), { balance_minor: 10n ** 12n }),
    ),
  );
  const events = Array.from({ length: DECISIONS }, (_, i) => {
    const is_personal = i % (DECISIONS / PERSONAL_DECISIONS) === 0;
    return decisionEvent({
      card: is_personal
        ? personal[(i / (DECISIONS / PERSONAL_DECISIONS)) % PERSONAL_CARDS]!
        : business[i % BUSINESS_CARDS]!,
      kind: is_personal ? 'personal' : 'business',
      amount_minor: BigInt(100 + (i % 900)),
      approved: i % 7 !== 0,
    });
  });
  return { queue, events, business, personal };
}

async function businessPersisted(stream: Stream): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM transactions WHERE card_id = ANY(${stream.business.map((c) => c.card_id)})`;
  return row!.n;
}

/** A full collection scan on FerretDB (no index pushdown for this filter): polled sparingly. */
async function personalPersisted(stream: Stream): Promise<number> {
  return mongo
    .db()
    .collection('personal_transactions')
    .countDocuments({ card_id: { $in: stream.personal.map((c) => new ObjectId(c.card_id)) } });
}

async function persisted(stream: Stream): Promise<number> {
  return (await businessPersisted(stream)) + (await personalPersisted(stream));
}

/** Waits until every decision of the stream is stored: PostgreSQL polled often, FerretDB once a second. */
async function allPersisted(stream: Stream): Promise<void> {
  await waitUntil(async () => (await businessPersisted(stream)) >= DECISIONS - PERSONAL_DECISIONS, 250);
  await waitUntil(async () => (await personalPersisted(stream)) >= PERSONAL_DECISIONS, 1_000);
}

/** Every decision exactly once, and spend/holds equal to the approvals' sum. */
async function expectExactLedger(stream: Stream): Promise<void> {
  expect(await persisted(stream)).toBe(DECISIONS);
  const approvals = stream.events.filter((e) => e.approved);
  const expected_spend = (card_id: string) =>
    approvals
      .filter((e) => e.card_id === card_id)
      .reduce((sum, e) => sum + BigInt(e.approved_amount_minor), 0n);
  const expected_count = (card_id: string) => approvals.filter((e) => e.card_id === card_id).length;
  for (const card of stream.business) {
    const rows = await sql<{ spent_minor: bigint; txn_count: number }[]>`
      SELECT spent_minor, txn_count FROM spending_controls WHERE card_id = ${card.card_id} AND period = 'month'`;
    expect(rows).toEqual([
      { spent_minor: expected_spend(card.card_id), txn_count: expected_count(card.card_id) },
    ]);
  }
  for (const card of stream.personal) {
    const doc = await mongo
      .db()
      .collection('personal_cards')
      .findOne({ _id: new ObjectId(card.card_id) });
    expect(doc?.held_minor).toBe(expected_spend(card.card_id));
    expect(doc?.spend_month_minor ?? 0n).toBe(expected_spend(card.card_id));
  }
}

async function interruptMidStream(signal: 'SIGTERM' | 'SIGKILL') {
  const stream = await newStream();
  const first = startWorker(stream.queue);
  const exited = once(first, 'exit');
  const publishing = publishEvents(rabbit, stream.queue, stream.events);
  await waitUntil(async () => (await businessPersisted(stream)) >= DECISIONS / 5, 50);
  first.kill(signal);
  const [code, by_signal] = await exited;
  await publishing;
  const at_stop = await persisted(stream);

  const second = startWorker(stream.queue);
  await allPersisted(stream);
  const second_exited = once(second, 'exit');
  second.kill('SIGTERM');
  expect(await second_exited).toEqual([0, null]);
  return { stream, code, by_signal, at_stop };
}

describe('worker process under signals', () => {
  it('SIGTERM mid-stream drains gracefully (exit 0); after a restart rows == decisions, spend exact', async () => {
    const { stream, code, by_signal, at_stop } = await interruptMidStream('SIGTERM');
    expect([code, by_signal]).toEqual([0, null]);
    expect(at_stop).toBeLessThanOrEqual(DECISIONS);
    await expectExactLedger(stream);
  });

  it('SIGKILL mid-stream loses nothing and double-counts nothing after a restart', async () => {
    const { stream, by_signal } = await interruptMidStream('SIGKILL');
    expect(by_signal).toBe('SIGKILL');
    await expectExactLedger(stream);
  });
});
