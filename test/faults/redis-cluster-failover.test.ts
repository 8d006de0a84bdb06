// The whole system on a Redis Cluster of its own: 3 masters with a replica each (short
// cluster-node-timeout), two gateways and two workers (child processes, REDIS_CLUSTER_NODES) in
// a RabbitMQ vhost of their own, under steady authorization load on both gateways.
//  - A master is SIGKILLed: its replica is promoted, decisions on its slots resume, every
//    answer was a 200 or a 402 (a fail-safe decline during the failover, never a hang or a
//    5xx), and Redis equals the ledger. Gateway a runs with REDIS_WAIT_REPLICAS=1: every
//    approval it answered is persisted exactly once. Gateway b runs without: so is every one of
//    its approvals except those the dead master took with it before replicating (asynchronous
//    replication: answered within REPLICATION_LAG_MS before the kill, on its slots;
//    docs/failure-behaviour.md).
//  - A few slots are migrated live (IMPORTING/MIGRATING, MIGRATE) under load: nothing lost.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createVhost, deleteVhost } from '../../bench/runner/broker.ts';
import { withVhost } from '../../bench/runner/env.ts';
import { type Child, freePort, startNode, waitFor } from '../../shared/dev/processes.ts';
import { type RedisCluster, startRedisCluster } from '../../shared/dev/redis-cluster.ts';
import { decisionKeys, type KeyLayout } from '../../shared/redis-keys.ts';
import { connectMongo } from '../../shared/stores/mongo.ts';
import { connectPostgres } from '../../shared/stores/postgres.ts';
import { connectRedis } from '../../shared/stores/redis.ts';
import { reconcile } from '../../worker/reconcile/reconcile.ts';
import { type CreatedCard, createBusinessCard } from '../support/cardholders.ts';
import { TEST_GATEWAY_ENV } from '../support/gateway-harness.ts';
import { basicAuth, jitRequest } from '../support/jit-requests.ts';

const CARDS = 24;
const LANES = 6;
/** Upper bound of the replication lag on this machine: only decisions this young may be lost. */
const REPLICATION_LAG_MS = 1_000;
const FAIL_SAFE = new Set(['system_error', 'timeout']);
const SETTLE_MS = 30_000;
/** AFC_CLUSTER_FAILOVER=0 skips it (six redis-server processes and four of ours). */
const ENABLED = process.env.AFC_CLUSTER_FAILOVER !== '0';
/** Four processes starting at once: about 20 s on a quiet machine, far more under others' load. */
const READY_MS_MAX = 150_000;
/** Gateway a waits for a replica after each decision; within the test's 2 s decision budget. */
const WAIT_REPLICAS_GATEWAY = 0;
const WAIT_TIMEOUT_MS = 200;
const TEST_TIMEOUT_MS = 180_000;

const run_id = randomUUID().slice(0, 8);
const layout: KeyLayout = { prefix: `rc${run_id}`, shards: 16 };
const vhost = `afc-cluster-${run_id}`;
const sql = connectPostgres({
  url: process.env.DATABASE_URL!,
  application_name: 'afc-test-cluster-failover',
});
const mongo = connectMongo({ uri: process.env.MONGODB_URI!, app_name: 'afc-test-cluster-failover' });
let servers: RedisCluster;
let redis: Redis;
const children: Child[] = [];
const gateway_ports: number[] = [];
let cards: CreatedCard[] = [];

interface Answer {
  readonly token: string;
  readonly card: CreatedCard;
  readonly status: number;
  readonly memo: string | null;
  readonly at_ms: number;
  /** Index of the gateway that answered (WAIT_REPLICAS_GATEWAY waits for a replica). */
  readonly gateway: number;
}

beforeAll(async () => {
  if (!ENABLED) return;
  servers = await startRedisCluster({ masters: 3, replicas_per_master: 1, node_timeout_ms: 1_000 });
  redis = connectRedis({
    url: servers.url,
    cluster_nodes: servers.nodes,
    connection_name: 'afc-test-failover',
  });
  await redis.connect();
  await createVhost(vhost);
  const env = {
    REDIS_URL: servers.url,
    REDIS_CLUSTER_NODES: servers.nodes.join(','),
    RABBITMQ_URL: withVhost(process.env.RABBITMQ_URL!, vhost),
    REDIS_KEY_PREFIX: layout.prefix,
    REDIS_SHARDS: String(layout.shards),
    OUTBOX_CLAIM_IDLE_MS: '1000',
    LOG_LEVEL: process.env.CHILD_LOG_LEVEL ?? 'warn',
  };
  const ready: Array<Promise<void>> = [];
  for (const [index, name] of ['a', 'b'].entries()) {
    const port = await freePort();
    const internal_port = await freePort();
    gateway_ports.push(port);
    const gateway = startNode('gateway/main.ts', {
      ...env,
      ...TEST_GATEWAY_ENV,
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_PORT: String(port),
      GATEWAY_INTERNAL_PORT: String(internal_port),
      RELAY_CONSUMER_NAME: `relay-${name}`,
      ...(index === WAIT_REPLICAS_GATEWAY
        ? { REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: String(WAIT_TIMEOUT_MS) }
        : {}),
    });
    const health_port = await freePort();
    const worker = startNode('worker/main.ts', { ...env, WORKER_HEALTH_PORT: String(health_port) });
    children.push(gateway, worker);
    ready.push(
      waitFor(
        async () => (await fetch(`http://127.0.0.1:${internal_port}/api/health/ready`)).ok,
        `gateway ${name} ready`,
        READY_MS_MAX,
      ),
      waitFor(
        async () => (await fetch(`http://127.0.0.1:${health_port}/ready`)).ok,
        `worker ${name} ready`,
        READY_MS_MAX,
      ),
    );
  }
  await Promise.all(ready).catch((error) => {
    console.error(tails());
    throw error;
  });
  cards = await Promise.all(Array.from({ length: CARDS }, () => createBusinessCard(sql)));
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  if (!ENABLED) return;
  for (const child of children) child.process.kill('SIGKILL');
  await Promise.allSettled(children.map((child) => child.exited));
  redis?.disconnect();
  await servers?.destroy();
  await deleteVhost(vhost).catch(() => {});
  await sql.end({ timeout: 5 });
  await mongo.close();
});

/** The load of the running test, stopped after it whatever happens. */
let running_load: Load | null = null;
afterEach(async () => {
  await running_load?.stop();
  running_load = null;
});

/** Authorizations on every card through both gateways, LANES at a time, until stopped. */
interface Load {
  readonly answers: Answer[];
  /** Stops sending, waits for the answers in flight, returns them all. */
  stop(): Promise<Answer[]>;
}

function startLoad(): Load {
  const answers: Answer[] = [];
  let running = true;
  let sent = 0;
  const lane = async () => {
    while (running) {
      const n = sent++;
      const card = cards[n % cards.length]!;
      const gateway = n % gateway_ports.length;
      const body = jitRequest({ ...card, amount: 1 });
      const token = (body.gpa_order as { jit_funding: { token: string } }).jit_funding.token;
      let status = 0;
      let memo: string | null = null;
      try {
        const response = await fetch(
          `http://127.0.0.1:${gateway_ports[gateway]}/api/transactions/authorize`,
          {
            method: 'POST',
            headers: { authorization: basicAuth(), 'content-type': 'application/json' },
            body: JSON.stringify(body),
            // Far past any budget: an answer this late is a hang.
            signal: AbortSignal.timeout(10_000),
          },
        );
        status = response.status;
        memo = ((await response.json()) as { jit_funding?: { memo?: string } }).jit_funding?.memo ?? null;
      } catch {
        // status 0: no answer (a hang or a refused connection) fails the test below.
      }
      answers.push({ token, card, status, memo, at_ms: Date.now(), gateway });
    }
  };
  const lanes = Array.from({ length: LANES }, lane);
  running_load = {
    answers,
    async stop() {
      running = false;
      await Promise.all(lanes);
      return answers;
    },
  };
  return running_load;
}

/** Answers counted by HTTP status and memo, for a failure message. */
function outcomes(answers: readonly Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { status, memo } of answers)
    counts[`${status} ${memo}`] = (counts[`${status} ${memo}`] ?? 0) + 1;
  return counts;
}

/** The end of each child's output, for a failure message. */
function tails(): string[] {
  return children.map(
    (child) => `exit ${child.process.exitCode ?? child.process.signalCode}: ${child.output().slice(-1500)}`,
  );
}

async function slotOf(card: CreatedCard): Promise<number> {
  const { ledger } = decisionKeys(layout, card.user_token, card.card_token, '');
  return Number(await redis.call('CLUSTER', 'KEYSLOT', ledger));
}

/** Ledger rows per token: the status persisted, and how many rows carry it. */
async function persisted(tokens: readonly string[]) {
  const rows = await sql<{ jit_token: string; status: string; n: number }[]>`
    SELECT jit_token, min(status) AS status, count(*)::int AS n
      FROM transactions WHERE jit_token = ANY(${tokens}) GROUP BY jit_token`;
  return new Map(rows.map((row) => [row.jit_token, row]));
}

/** Answers are 200 or a fail-safe 402; every approval is persisted once (but `may_miss`). */
async function expectPersisted(answers: readonly Answer[], may_miss: (answer: Answer) => boolean) {
  const unexpected = answers.filter(
    (a) => a.status !== 200 && !(a.status === 402 && FAIL_SAFE.has(a.memo ?? '')),
  );
  expect(unexpected.map((a) => `${a.status} ${a.memo}`)).toEqual([]);
  const approved = answers.filter((a) => a.status === 200);
  expect(approved.length).toBeGreaterThan(0);
  const tokens = approved.map((a) => a.token);
  // Settled: every approval persisted, or what is missing stays missing (lost with a master).
  let rows = await persisted(tokens);
  await waitFor(
    async () => {
      rows = await persisted(tokens);
      return approved.every((a) => rows.has(a.token) || may_miss(a));
    },
    'approvals persisted',
    SETTLE_MS,
  );
  const missing = approved.filter((a) => !rows.has(a.token));
  expect(missing.filter((a) => !may_miss(a)).map((a) => a.token)).toEqual([]);
  for (const token of tokens) {
    const row = rows.get(token);
    if (row === undefined) continue;
    expect(row).toMatchObject({ n: 1 });
    expect(row.status).not.toBe('declined');
  }
  return { approved: approved.length, missing: missing.length };
}

async function expectRedisEqualsLedger(): Promise<void> {
  let differences: unknown[] = [];
  await waitFor(
    async () => {
      const report = await reconcile(
        { redis, sql, db: mongo.db(), key_prefix: layout.prefix },
        { card_token: null, scope: 'checked_cards' },
      );
      differences = [...report.differences, ...report.notifications];
      return report.cards_checked > 0 && differences.length === 0;
    },
    'redis equal to the ledger',
    SETTLE_MS,
    500,
  ).catch(() => {});
  expect(differences).toEqual([]);
}

describe.runIf(ENABLED)('the system on a 3-master, 3-replica Redis Cluster', () => {
  it(
    'a SIGKILLed master: replica promoted, decisions resume, answered approvals persisted once, Redis equals the ledger',
    async () => {
      const victim_card = cards[0]!;
      const slot = await slotOf(victim_card);
      const master_port = await servers.masterOfSlot(slot);
      const topology = await servers.topology();
      const master_id = topology.find((node) => node.port === master_port)!.id;
      const replica = topology.find((node) => node.master_id === master_id)!;
      const on_master = new Set<string>();
      for (const card of cards)
        if ((await servers.masterOfSlot(await slotOf(card))) === master_port) on_master.add(card.card_token);

      const load = startLoad();
      await waitFor(async () => load.answers.filter((a) => a.status === 200).length >= 200, 'load warmed up');
      const killed_ms = Date.now();
      await servers.kill(master_port);
      await waitFor(
        async () =>
          (await servers.topology()).some((node) => node.port === replica.port && node.role === 'master'),
        'replica promoted',
      );
      await servers.waitHealthy();
      const promoted_ms = Date.now();
      expect(await servers.masterOfSlot(slot)).toBe(replica.port);
      // Decisions resume on the failed master's slots.
      await waitFor(
        async () =>
          load.answers.filter(
            (a) => a.at_ms > promoted_ms && a.status === 200 && on_master.has(a.card.card_token),
          ).length >= 20,
        'decisions resumed on the promoted replica',
      );
      const answers = await load.stop();
      const failsafe = answers.filter((a) => a.status === 402).length;
      const { missing } = await expectPersisted(
        answers,
        (a) =>
          a.gateway !== WAIT_REPLICAS_GATEWAY &&
          on_master.has(a.card.card_token) &&
          a.at_ms >= killed_ms - REPLICATION_LAG_MS &&
          a.at_ms <= killed_ms,
      );
      const waited = answers.filter((a) => a.gateway === WAIT_REPLICAS_GATEWAY && a.status === 200).length;
      console.info(
        `failover: ${answers.length} answers, ${failsafe} fail-safe 402, ${waited} approvals behind WAIT (none lost), ` +
          `${missing} approvals lost with the master (without WAIT), ` +
          `promotion after ${promoted_ms - killed_ms} ms`,
      );
      await expectRedisEqualsLedger();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a live migration of a few slots under load loses nothing',
    async () => {
      const masters = (await servers.topology()).filter((node) => node.role === 'master' && !node.failed);
      const slots = [...new Set(await Promise.all(cards.slice(0, 6).map(slotOf)))];
      const load = startLoad();
      await waitFor(async () => load.answers.filter((a) => a.status === 200).length >= 100, 'load warmed up');
      let moved = 0;
      for (const slot of slots) {
        const from = await servers.masterOfSlot(slot);
        const to = masters.find((node) => node.port !== from)!.port;
        moved += await servers.migrateSlots([slot], from, to);
      }
      const migrated_ms = Date.now();
      await waitFor(
        async () => load.answers.filter((a) => a.at_ms > migrated_ms && a.status === 200).length >= 100,
        'decisions after the migration',
      ).catch((error) => {
        console.error(outcomes(load.answers.filter((answer) => answer.at_ms > migrated_ms)), tails());
        throw error;
      });
      const answers = await load.stop();
      expect(moved).toBeGreaterThan(0);
      await expectPersisted(answers, () => false);
      await expectRedisEqualsLedger();
    },
    TEST_TIMEOUT_MS,
  );
});
