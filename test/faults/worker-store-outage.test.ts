// PostgreSQL goes away in the middle of a stream: the worker waits (backoff) instead of
// spending retries, parks nothing in the DLQ, and resumes when the database is back, with
// every decision written exactly once. Uses a private PostgreSQL instance so the shared one
// is never stopped. The worker runs as a supervised child process, as in production: should it
// exit anyway (postgres.js's null-socket throw, porsager/postgres#1154, is patched: vendor/), the
// supervisor restarts it and redelivery plus idempotency must still give exactly-once rows.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migratePostgres } from '../../migrations/migrate.ts';
import { connectRabbit } from '../../shared/broker/connection.ts';
import { deadLetterQueueName } from '../../shared/broker/topology.ts';
import { createLogger } from '../../shared/logger.ts';
import { connectPostgres } from '../../shared/stores/postgres.ts';
import { createBusinessCard, type CreatedCard } from '../support/cardholders.ts';
import { freePort, NODE, ROOT } from '../../shared/dev/processes.ts';
import {
  decisionEvent,
  declareWorkQueue,
  deleteWorkQueue,
  publishEvents,
  uniqueQueue,
  waitUntil,
} from '../support/worker-harness.ts';

const PG_BIN = '/usr/lib/postgresql/15/bin';
const DECISIONS = 2_000;
const CARDS = 10;
const OUTAGE_MS = 3_000;

const data_dir = mkdtempSync(join(tmpdir(), 'afc-pg-'));
let port: number;
const queue = uniqueQueue();
const rabbit = connectRabbit(
  process.env.RABBITMQ_URL!,
  'afc-test-outage',
  createLogger('outage-test', 'silent'),
);
let sql: ReturnType<typeof connectPostgres>;
let database_url: string;

/** Runs the worker like an orchestrator would: restarted whenever it exits unasked. */
const supervisor = {
  child: null as ChildProcess | null,
  stopping: false,
  crashes: 0,
  start(): void {
    const child = spawn(NODE, ['worker/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: database_url,
        WORKER_DECISIONS_QUEUE: queue,
        WORKER_HEALTH_PORT: '0',
        LOG_LEVEL: 'fatal',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('exit', () => {
      if (this.stopping) return;
      this.crashes++;
      setTimeout(() => this.start(), 200);
    });
    this.child = child;
  },
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  },
};

/** initdb and pg_ctl refuse to run as root: run them as the postgres user. */
function pg(tool: string, ...args: string[]): void {
  execFileSync('runuser', ['-u', 'postgres', '--', join(PG_BIN, tool), ...args], { stdio: 'ignore' });
}

function startPostgres(): void {
  pg(
    'pg_ctl',
    '-D',
    data_dir,
    '-w',
    '-t',
    '30',
    '-o',
    `-p ${port} -k ${data_dir} -c listen_addresses=127.0.0.1`,
    'start',
  );
}

function stopPostgres(): void {
  pg('pg_ctl', '-D', data_dir, '-w', '-m', 'fast', 'stop');
}

beforeAll(async () => {
  port = await freePort();
  chmodSync(data_dir, 0o777);
  execFileSync('chown', ['postgres', data_dir]);
  pg('initdb', '-D', data_dir, '-A', 'trust', '-U', 'postgres', '--no-sync');
  startPostgres();
  database_url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  sql = connectPostgres({ url: database_url, application_name: 'afc-test-outage', max_connections: 2 });
  await migratePostgres(sql);
  await declareWorkQueue(rabbit, queue);
  supervisor.start();
});
afterAll(async () => {
  await supervisor.stop();
  await deleteWorkQueue(rabbit, queue);
  await Promise.allSettled([rabbit.close(), sql?.end({ timeout: 5 })]);
  try {
    stopPostgres();
  } catch {
    // Already stopped.
  }
  rmSync(data_dir, { recursive: true, force: true });
});

async function persisted(cards: readonly CreatedCard[]): Promise<number> {
  const rows = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM transactions WHERE card_id = ANY(${cards.map((c) => c.card_id)})`;
  return rows[0]!.n;
}

describe('worker during a PostgreSQL outage', () => {
  it('waits out the outage, resumes on its own, dead-letters nothing and writes each decision once', async () => {
    const cards = await Promise.all(Array.from({ length: CARDS }, () => createBusinessCard(sql)));
    const events = Array.from({ length: DECISIONS }, (_, i) =>
      decisionEvent({ card: cards[i % CARDS]!, kind: 'business', amount_minor: BigInt(100 + i) }),
    );
    const publishing = publishEvents(rabbit, queue, events, 100);
    await waitUntil(async () => (await persisted(cards)) >= DECISIONS / 10, 20);
    stopPostgres();
    try {
      await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
      await publishing;
    } finally {
      startPostgres();
    }
    await waitUntil(async () => (await persisted(cards).catch(() => 0)) === DECISIONS, 100);

    // Nothing was retried or parked: the outage spent no message's retries.
    for (const name of [deadLetterQueueName(queue), `${queue}.retry.1`]) {
      const declared = await rabbit.queueDeclare({ queue: name, passive: true }).catch(() => null);
      expect(declared?.messageCount ?? 0).toBe(0);
    }
    if (supervisor.crashes > 0)
      console.warn(
        `worker restarted ${supervisor.crashes} time(s): unexpected since vendor/ patched postgres.js`,
      );
    for (const [i, card] of cards.entries()) {
      const expected = events
        .filter((_, j) => j % CARDS === i)
        .reduce((sum, e) => sum + BigInt(e.approved_amount_minor), 0n);
      const [spend] = await sql<{ spent_minor: bigint; txn_count: number }[]>`
        SELECT spent_minor, txn_count FROM spending_controls WHERE card_id = ${card.card_id} AND period = 'day'`;
      expect(spend).toEqual({ spent_minor: expected, txn_count: DECISIONS / CARDS });
    }
  });
});
