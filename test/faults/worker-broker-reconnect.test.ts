// The broker drops the worker's connection while FerretDB is stalled (SIGSTOP) under its
// personal-card writes: the consumers subscribe again while the store is still stalled, and once
// it answers every decision is written exactly once. rabbitmq-client re-subscribes a consumer only
// after all its handlers have settled, and a handler waiting on a stalled store used to hold that
// for up to the store's socket timeout and outage wait (chaos seeds 1595255773, 552581773: no
// consumer for 90 s). Private FerretDB and RabbitMQ vhost; only the worker's own connection is closed.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { MongoClient, ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVhost, deleteVhost } from '../../bench/runner/broker.ts';
import { withVhost } from '../../bench/runner/env.ts';
import { type PrivateFerretDb, startPrivateFerretDb } from '../../chaos/services/ferretdb.ts';
import { migrateMongo } from '../../migrations/migrate.ts';
import { connectRabbit } from '../../shared/broker/connection.ts';
import { QUEUE_PERSONAL_DECISIONS } from '../../shared/broker/topology.ts';
import { createLogger } from '../../shared/logger.ts';
import { startDecisionConsumer, startPersonalDecisionConsumer } from '../../worker/decisions/consumer.ts';
import { createWorker, type Worker } from '../../worker/worker.ts';
import type { DecisionEvent } from '../../shared/messages.ts';
import { createPersonalCard } from '../support/cardholders.ts';
import { decisionEvent, publishEvents, testWorkerConfig, waitUntil } from '../support/worker-harness.ts';

const run = promisify(execFile);
const DECISIONS = 200;
/** Far below what a stalled write holds a handler (the 30 s outage wait, or a 30 s socket timeout). */
const RESUBSCRIBE_WAIT_MS_MAX = 10_000;

const vhost = `afc-test-reconnect-${randomUUID().slice(0, 8)}`;
let ferretdb: PrivateFerretDb;
let mongo: MongoClient;
let rabbit: ReturnType<typeof connectRabbit>;
let worker: Worker;

beforeAll(async () => {
  ferretdb = await startPrivateFerretDb();
  mongo = new MongoClient(ferretdb.uri('afc_reconnect'), {
    serverSelectionTimeoutMS: 5_000,
    useBigInt64: true,
  });
  await migrateMongo(mongo.db());
  await createVhost(vhost);
  const amqp_url = withVhost(process.env.RABBITMQ_URL!, vhost);
  rabbit = connectRabbit(amqp_url, 'afc-test-reconnect', createLogger('reconnect-test', 'silent'));
  const config = testWorkerConfig({ MONGODB_URI: ferretdb.uri('afc_reconnect'), RABBITMQ_URL: amqp_url });
  worker = await createWorker(config, createLogger('worker-test', process.env.LOG_LEVEL ?? 'silent'), {
    consumers: [startDecisionConsumer, startPersonalDecisionConsumer],
  });
  await waitUntil(async () => worker.consumers.every((consumer) => consumer.isReady()), 20);
});

afterAll(async () => {
  ferretdb?.resume();
  await worker?.close();
  await Promise.allSettled([rabbit?.close(), mongo?.close()]);
  await Promise.allSettled([deleteVhost(vhost), ferretdb?.destroy()]);
});

async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', ['-q', ...args], { timeout: 30_000 });
  return stdout;
}

/** Consumers the broker lists on a queue of this test's vhost. */
async function consumerCount(queue: string): Promise<number> {
  const listing = await rabbitmqctl('list_queues', '-p', vhost, '--no-table-headers', 'name', 'consumers');
  const line = listing.split('\n').find((l) => l.trim().split(/\s+/)[0] === queue);
  return Number(line?.trim().split(/\s+/)[1] ?? 0);
}

/** Closes the worker's connection (named afc-worker) in this vhost only, as a broker restart would. */
async function closeWorkerConnection(): Promise<void> {
  const listing = await rabbitmqctl(
    'list_connections',
    '--no-table-headers',
    'pid',
    'vhost',
    'client_properties',
  );
  const pids = listing
    .split('\n')
    .map((line) => line.split('\t'))
    .filter(([, line_vhost, properties]) => line_vhost === vhost && properties?.includes('"afc-worker"'))
    .map(([pid]) => pid!);
  expect(pids.length).toBeGreaterThan(0);
  for (const pid of pids) await rabbitmqctl('close_connection', pid, 'test: worker connection closed');
}

async function persisted(events: readonly DecisionEvent[]): Promise<number> {
  const ids = events.map((event) => event.request.jit_token);
  return mongo
    .db()
    .collection<{ _id: string }>('personal_transactions')
    .countDocuments({ _id: { $in: ids } });
}

describe('worker consumers when the broker drops them during a store stall', () => {
  it('subscribe again while FerretDB is stalled, then write every decision once', async () => {
    const card = await createPersonalCard(mongo.db(), { balance_minor: 10_000_000n });
    const events = Array.from({ length: DECISIONS }, (_, i) =>
      decisionEvent({ card, kind: 'personal', amount_minor: BigInt(100 + i) }),
    );
    await publishEvents(rabbit, QUEUE_PERSONAL_DECISIONS, events.slice(0, 20));
    await waitUntil(async () => (await persisted(events)) === 20);

    ferretdb.pause();
    try {
      await publishEvents(rabbit, QUEUE_PERSONAL_DECISIONS, events.slice(20));
      // Handlers now hold deliveries, their writes stalled.
      await waitUntil(async () => {
        const queue = await rabbit.queueDeclare({ queue: QUEUE_PERSONAL_DECISIONS, passive: true });
        return queue.messageCount < DECISIONS - 20;
      });
      await closeWorkerConnection();
      const closed_at_ms = Date.now();
      await waitUntil(
        async () =>
          (await consumerCount(QUEUE_PERSONAL_DECISIONS)) === 1 ||
          Date.now() - closed_at_ms > RESUBSCRIBE_WAIT_MS_MAX,
        250,
      );
      // Back before the store: FerretDB is still stopped here.
      expect(await consumerCount(QUEUE_PERSONAL_DECISIONS)).toBe(1);
    } finally {
      ferretdb.resume();
    }

    await waitUntil(async () => (await persisted(events)) === DECISIONS, 250);
    // Each authorization held exactly once on the card, whatever was redelivered.
    const stored = await mongo
      .db()
      .collection<{ _id: ObjectId; held_minor: bigint }>('personal_cards')
      .findOne({ _id: new ObjectId(card.card_id) });
    expect(stored?.held_minor).toBe(events.reduce((sum, e) => sum + BigInt(e.approved_amount_minor), 0n));
  }, 90_000);
});
