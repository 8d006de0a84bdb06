// PostgreSQL killed outright (SIGKILL to the postmaster and every backend) while the worker
// process writes business decisions, twice: the process keeps running, waits each
// outage out and writes every decision exactly once, parking nothing. postgres.js 3.4.9 used to
// end it here: a transaction's own ROLLBACK after the lost connection was written to a null
// socket from a setImmediate callback, an uncaught TypeError (porsager/postgres#1154, #1208), and
// a connection's array-types fetch rejected with nobody listening when the server died meanwhile.
// A private PostgreSQL and a private RabbitMQ vhost: nothing shared is stopped or consumed.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVhost, deleteVhost } from '../../bench/runner/broker.ts';
import { withVhost } from '../../bench/runner/env.ts';
import { type PrivatePostgres, startPrivatePostgres } from '../../chaos/services/postgres.ts';
import { migratePostgres } from '../../migrations/migrate.ts';
import { connectRabbit } from '../../shared/broker/connection.ts';
import { deadLetterQueueName, QUEUE_DECISIONS, retryQueueName } from '../../shared/broker/topology.ts';
import { createLogger } from '../../shared/logger.ts';
import { connectPostgres, type PgSql } from '../../shared/stores/postgres.ts';
import { type Child, startNode } from '../../shared/dev/processes.ts';
import { createBusinessCard, type CreatedCard } from '../support/cardholders.ts';
import { decisionEvent, declareWorkQueue, publishEvents, waitUntil } from '../support/worker-harness.ts';

const CARDS = 10;
const DECISIONS_PER_KILL = 200;
const KILLS = 2;
const DOWN_MS = 500;

const vhost = `afc-test-pgkill-${randomUUID().slice(0, 8)}`;
let postgres: PrivatePostgres;
let sql: PgSql;
let rabbit: ReturnType<typeof connectRabbit>;
let worker: Child;

beforeAll(async () => {
  postgres = await startPrivatePostgres();
  await createVhost(vhost);
  const amqp_url = withVhost(process.env.RABBITMQ_URL!, vhost);
  sql = connectPostgres({ url: postgres.url, application_name: 'afc-test-pgkill', max_connections: 2 });
  await migratePostgres(sql);
  rabbit = connectRabbit(amqp_url, 'afc-test-pgkill', createLogger('pgkill-test', 'silent'));
  await declareWorkQueue(rabbit, QUEUE_DECISIONS);
  worker = startNode('worker/main.ts', {
    DATABASE_URL: postgres.url,
    RABBITMQ_URL: amqp_url,
    WORKER_HEALTH_PORT: '0',
    LOG_LEVEL: 'warn',
  });
});

afterAll(async () => {
  if (worker !== undefined && worker.process.exitCode === null && worker.process.signalCode === null) {
    worker.process.kill('SIGTERM');
    await worker.exited;
  }
  await Promise.allSettled([rabbit?.close(), sql?.end({ timeout: 1 })]);
  await Promise.allSettled([deleteVhost(vhost), postgres?.destroy()]);
});

/** Fails the test at once if the worker process has ended (it must outlive every kill). */
function assertWorkerRunning(): void {
  expect(worker.process.exitCode, worker.output()).toBeNull();
  expect(worker.process.signalCode).toBeNull();
}

async function persisted(cards: readonly CreatedCard[]): Promise<number> {
  const rows = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM transactions WHERE card_id = ANY(${cards.map((c) => c.card_id)})`;
  return rows[0]!.n;
}

describe('worker when PostgreSQL is killed under its writes', () => {
  // Both driver faults are patched (vendor/): the TypeError of #1154/#1208, and the unhandled
  // rejection of the array-types fetch when the server dies during a connection's startup.
  it('keeps running, resumes after each kill and writes every decision once', async () => {
    const cards = await Promise.all(Array.from({ length: CARDS }, () => createBusinessCard(sql)));
    const events = Array.from({ length: DECISIONS_PER_KILL * KILLS }, (_, i) =>
      decisionEvent({ card: cards[i % CARDS]!, kind: 'business', amount_minor: BigInt(100 + i) }),
    );
    for (let kill = 0; kill < KILLS; kill++) {
      const batch = events.slice(kill * DECISIONS_PER_KILL, (kill + 1) * DECISIONS_PER_KILL);
      const before = await persisted(cards);
      const publishing = publishEvents(rabbit, QUEUE_DECISIONS, batch, 50);
      // Killed mid-stream: some of this batch written, the rest in flight or still queued.
      await waitUntil(async () => (await persisted(cards)) > before, 20);
      await postgres.kill();
      await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
      await postgres.start();
      await publishing;
      await waitUntil(async () => {
        assertWorkerRunning();
        return (await persisted(cards).catch(() => 0)) === before + batch.length;
      }, 100);
    }

    assertWorkerRunning();
    // The outages spent no message's retries and parked nothing.
    for (const name of [deadLetterQueueName(QUEUE_DECISIONS), retryQueueName(QUEUE_DECISIONS, 1)]) {
      const declared = await rabbit.queueDeclare({ queue: name, passive: true }).catch(() => null);
      expect(declared?.messageCount ?? 0).toBe(0);
    }
    for (const [i, card] of cards.entries()) {
      const expected = events
        .filter((_, j) => j % CARDS === i)
        .reduce((sum, e) => sum + BigInt(e.approved_amount_minor), 0n);
      const [spend] = await sql<{ spent_minor: bigint; txn_count: number }[]>`
        SELECT spent_minor, txn_count FROM spending_controls WHERE card_id = ${card.card_id} AND period = 'day'`;
      expect(spend).toEqual({ spent_minor: expected, txn_count: events.length / CARDS });
    }
  }, 90_000);
});
