// Graceful shutdown of the worker under load (seed property 10): SIGTERM while it works
// through a backlog of decisions; readiness never says ready again after the signal, the
// process exits 0 within 30 s, and nothing in flight is lost: a second worker on the same
// queue finishes the backlog and every decision is persisted exactly once.
import { randomUUID } from 'node:crypto';
import { Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVhost, deleteVhost } from '../../bench/runner/broker.ts';
import { withVhost } from '../../bench/runner/env.ts';
import { deadLetterQueueName } from '../../shared/broker/topology.ts';
import { connectPostgres } from '../../shared/stores/postgres.ts';
import { createBusinessCard } from '../support/cardholders.ts';
import { type Child, freePort, startNode, waitFor } from '../../shared/dev/processes.ts';
import { decisionEvent, publishEvents } from '../support/worker-harness.ts';

const EVENTS = 3_000;
const EXIT_DEADLINE_MS = 30_000;

// A vhost of its own: the worker's other consumers (webhooks, Marqeta, notifications) then see
// only this test's (empty) queues.
const vhost = `afc-wshutdown-${randomUUID().slice(0, 8)}`;
const amqp_url = withVhost(process.env.RABBITMQ_URL!, vhost);
const queue = `afc.decisions.s${randomUUID().slice(0, 8)}`;
const sql = connectPostgres({ url: process.env.DATABASE_URL!, application_name: 'afc-test' });
let rabbit: Connection;

beforeAll(async () => {
  await createVhost(vhost);
  rabbit = new Connection(amqp_url);
});
afterAll(async () => {
  await rabbit?.close();
  await sql.end();
  await deleteVhost(vhost);
});

async function startWorker(health_port: number): Promise<Child> {
  const child = startNode('worker/main.ts', {
    RABBITMQ_URL: amqp_url,
    WORKER_DECISIONS_QUEUE: queue,
    WORKER_HEALTH_PORT: String(health_port),
    // Small batches: many are in flight when the signal comes.
    WORKER_PREFETCH: '64',
    WORKER_BATCH_MAX: '8',
    // Info: the test waits for the "shutting down" line before it samples readiness.
    LOG_LEVEL: 'info',
  });
  await waitFor(
    async () => (await fetch(`http://127.0.0.1:${health_port}/ready`)).ok,
    'worker ready',
    30_000,
  );
  return child;
}

async function persisted(jit_tokens: readonly string[]): Promise<number> {
  const [row] = await sql<
    { n: number }[]
  >`SELECT count(*)::int AS n FROM transactions WHERE jit_token = ANY(${jit_tokens})`;
  return row!.n;
}

describe('worker SIGTERM under load', () => {
  it('exits 0 within 30 s, readiness stays 503 after the signal, and nothing in flight is lost', async () => {
    const card = await createBusinessCard(sql);
    const events = Array.from({ length: EVENTS }, () =>
      decisionEvent({ card, kind: 'business', amount_minor: 100n }),
    );
    const tokens = events.map((event) => event.request.jit_token);
    const port = await freePort();
    const first = await startWorker(port);
    let second: Child | undefined;
    try {
      await publishEvents(rabbit, queue, events);
      await waitFor(async () => (await persisted(tokens)) > 0, 'the first writes', 30_000);

      const exited = Promise.race([
        first.exited,
        new Promise<'deadline'>((resolve) => setTimeout(() => resolve('deadline'), EXIT_DEADLINE_MS)),
      ]);
      first.process.kill('SIGTERM');
      // Signal delivery is asynchronous: a probe answered before the handler ran may say 200.
      await waitFor(
        async () => first.output().includes('shutting down') || first.process.exitCode !== null,
        'SIGTERM handled',
        EXIT_DEADLINE_MS,
        1,
      );
      const statuses = new Set<number>();
      while (first.process.exitCode === null && first.process.signalCode === null) {
        statuses.add(
          await fetch(`http://127.0.0.1:${port}/ready`).then(
            (r) => r.status,
            () => 0,
          ),
        );
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(await exited).toBe(0);
      // After the signal readiness is 503 until the health server closes (0: refused).
      expect([...statuses].filter((status) => status !== 503 && status !== 0)).toEqual([]);
      const after_first = await persisted(tokens);
      expect(after_first).toBeLessThan(EVENTS);

      second = await startWorker(port);
      await waitFor(
        async () => (await persisted(tokens)) === EVENTS,
        'the second worker to finish the backlog',
        60_000,
      );
      const [duplicates] = await sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM (SELECT jit_token FROM transactions WHERE jit_token = ANY(${tokens}) GROUP BY jit_token HAVING count(*) > 1) d`;
      expect(duplicates!.n).toBe(0);
      // Spend counted once per decision: none applied twice across the two workers.
      const [spend] = await sql<{ txn_count: number; spent_minor: bigint }[]>`
        SELECT txn_count, spent_minor FROM spending_controls WHERE card_id = ${card.card_id} AND period = 'day'`;
      expect(spend).toMatchObject({ txn_count: EVENTS, spent_minor: BigInt(EVENTS) * 100n });
      const dlq = await rabbit
        .queueDeclare({ queue: deadLetterQueueName(queue), passive: true })
        .catch(() => ({ messageCount: 0 }));
      expect(dlq.messageCount).toBe(0);
    } finally {
      for (const child of [first, second]) {
        if (child && child.process.exitCode === null && child.process.signalCode === null)
          child.process.kill('SIGKILL');
        await child?.exited;
      }
    }
  });
});
