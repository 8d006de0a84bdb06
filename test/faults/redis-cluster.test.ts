// Scale-out path: the decision scripts run unchanged on a Redis Cluster. A private 3-master
// cluster is started on free ports (own temp dir, no persistence) and always torn down.
// Cardholders are spread over many hash-tag shards, and so over all three masters; the real
// Decider and CacheLoader (fill from PostgreSQL) approve, replay and decline on every one of
// them, and no call fails with CROSSSLOT.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheLoader, SEED_CACHE_LOADER_OPTIONS } from '../../gateway/decide/cache-loader.ts';
import { Decider } from '../../gateway/decide/decider.ts';
import { loadScripts } from '../../gateway/decide/scripts.ts';
import type { JitRequestBody } from '../../gateway/jit/schema.ts';
import { parseJit } from '../../gateway/jit/translate.ts';
import { DecisionStatus } from '../../shared/decision-status.ts';
import { createLogger } from '../../shared/logger.ts';
import { gatewayMetrics } from '../../shared/metrics.ts';
import { decisionKeys, type KeyLayout } from '../../shared/redis-keys.ts';
import { connectMongo } from '../../shared/stores/mongo.ts';
import { connectPostgres } from '../../shared/stores/postgres.ts';
import { type CreatedCard, createBusinessCard, uniqueToken } from '../support/cardholders.ts';
import { jitRequest } from '../support/jit-requests.ts';

const run = promisify(execFile);
const MASTERS = 3;
const CARDHOLDERS = 24;
/** Cluster bus ports are the client port + 10000: both must be free. */
const BUS_PORT_OFFSET = 10_000;
const PORT_SCAN_FROM = 7101;
const PORT_SCAN_MAX = 200;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function freeClusterPorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let port = PORT_SCAN_FROM; port < PORT_SCAN_FROM + PORT_SCAN_MAX && ports.length < count; port++) {
    if ((await portFree(port)) && (await portFree(port + BUS_PORT_OFFSET))) ports.push(port);
  }
  if (ports.length < count) throw new Error(`no ${count} free cluster ports from ${PORT_SCAN_FROM}`);
  return ports;
}

async function until(check: () => Promise<boolean>, what: string, limit_ms = 30_000): Promise<void> {
  const deadline_ms = Date.now() + limit_ms;
  while (Date.now() < deadline_ms) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const dir = mkdtempSync(join(tmpdir(), 'afc-redis-cluster-'));
const servers: ChildProcess[] = [];
let ports: number[] = [];
let cluster: Cluster;
const sql = connectPostgres({
  url: process.env.DATABASE_URL!,
  application_name: 'afc-test-cluster',
  max_connections: 4,
});
const mongo = connectMongo({ uri: process.env.MONGODB_URI!, app_name: 'afc-test-cluster' });
const layout: KeyLayout = { prefix: `c${randomUUID().slice(0, 8)}`, shards: 64 };
const log = createLogger('cluster-test', process.env.LOG_LEVEL ?? 'silent');
let decider: Decider;
/** Same scripts and cluster, a budget short enough to answer `timeout` behind a paused node. */
let impatient: Decider;
const IMPATIENT_BUDGET_MS = 100;
const PAUSE_MS = 1_000;

beforeAll(async () => {
  ports = await freeClusterPorts(MASTERS);
  for (const port of ports) {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes'];
    args.push('--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000');
    args.push('--save', '', '--appendonly', 'no', '--dir', dir);
    servers.push(spawn('redis-server', args, { stdio: 'ignore' }));
  }
  for (const port of ports) {
    await until(
      async () => (await run('redis-cli', ['-p', String(port), 'ping'])).stdout.trim() === 'PONG',
      `redis ${port}`,
    );
  }
  const nodes = ports.map((port) => `127.0.0.1:${port}`);
  await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes']);
  for (const port of ports) {
    await until(
      async () =>
        (await run('redis-cli', ['-p', String(port), 'cluster', 'info'])).stdout.includes('cluster_state:ok'),
      `cluster state ok on ${port}`,
    );
  }
  cluster = new Cluster(
    ports.map((port) => ({ host: '127.0.0.1', port })),
    { enableOfflineQueue: true, redisOptions: { connectTimeout: 2_000, maxRetriesPerRequest: 1 } },
  );
  await until(async () => (await cluster.ping()) === 'PONG', 'cluster client ready');
  // The gateway's own loader: same files, same versioned command names, on a Cluster client.
  const scripts = loadScripts(cluster as unknown as Redis);
  const loader = new CacheLoader(sql, mongo.db(), scripts, layout, log, SEED_CACHE_LOADER_OPTIONS);
  const budgets = {
    decision_budget_ms: 2_000,
    cache_fill_budget_ms: 2_000,
    idempotency_ttl_s: 3600,
    undecided_answer: 'decline' as const,
  };
  decider = new Decider(scripts, loader, layout, budgets, log, gatewayMetrics(new Registry()));
  const impatient_budgets = { ...budgets, decision_budget_ms: IMPATIENT_BUDGET_MS };
  impatient = new Decider(scripts, loader, layout, impatient_budgets, log, gatewayMetrics(new Registry()));
});

afterAll(async () => {
  cluster?.disconnect();
  for (const server of servers) server.kill('SIGKILL');
  await Promise.allSettled(servers.map((server) => new Promise((resolve) => server.once('exit', resolve))));
  rmSync(dir, { recursive: true, force: true });
  await sql.end({ timeout: 5 });
  await mongo.close();
});

/** A JIT authorization as the gateway parses it from Marqeta's request. */
function request(card: CreatedCard, amount: number, jit_token = uniqueToken('jit')) {
  return parseJit(jitRequest({ ...card, amount, jit_token }) as unknown as JitRequestBody, Date.now(), 'UTC')
    .request;
}

const AUTHORIZE = { partial_capable: false } as const;

/** The master that serves a key's slot, by its port. */
async function masterOf(key: string): Promise<number> {
  const slot = Number(await cluster.cluster('KEYSLOT', key));
  const range = (await cluster.cluster('SLOTS')).find(([from, to]) => slot >= from && slot <= to);
  const master = range?.[2];
  if (master === undefined) throw new Error(`slot ${slot} is not served`);
  return master[1];
}

describe('decision scripts on a 3-master Redis Cluster', () => {
  it('approve, replay and limit decline work for cardholders on every master, with no CROSSSLOT', async () => {
    const cards = await Promise.all(
      Array.from({ length: CARDHOLDERS }, () => createBusinessCard(sql, { daily_limit_minor: 5_000n })),
    );
    const masters = new Set<number>();
    for (const card of cards) {
      const keys = decisionKeys(layout, card.user_token, card.card_token, 'probe');
      masters.add(await masterOf(keys.ledger));
      // Every key of one decision hashes to one slot (the cardholder's shard tag).
      const slots = await Promise.all(Object.values(keys).map((key) => cluster.cluster('KEYSLOT', key)));
      expect(new Set(slots).size).toBe(1);
    }
    expect(masters.size).toBe(MASTERS);

    for (const card of cards) {
      const first = request(card, 30);
      const approved = await decider.decide(first, AUTHORIZE); // cache miss: fill script, then decide again
      expect(approved).toMatchObject({
        status_code: DecisionStatus.APPROVED,
        amount_minor: 3_000n,
        source: 'script',
      });
      const replay = await decider.decide(first, AUTHORIZE);
      expect(replay).toMatchObject({ status_code: DecisionStatus.APPROVED, replayed: true });
      const over = await decider.decide(request(card, 20.01), AUTHORIZE); // 30.00 + 20.01 > 50.00 daily
      expect(over).toMatchObject({
        status_code: DecisionStatus.LIMIT_DAILY,
        replayed: false,
        source: 'script',
      });
      const within = await decider.decide(request(card, 20), AUTHORIZE); // exactly at the limit
      expect(within).toMatchObject({ status_code: DecisionStatus.APPROVED, replayed: false });
    }
    // Each decision reached its own shard's outbox: three entries (2 approvals, 1 decline) per cardholder.
    const outboxes = new Map<string, number>();
    for (const card of cards) {
      const { outbox } = decisionKeys(layout, card.user_token, card.card_token, '');
      outboxes.set(outbox, (outboxes.get(outbox) ?? 0) + 3);
    }
    for (const [outbox, expected] of outboxes) expect(await cluster.xlen(outbox)).toBe(expected);
  });

  it('a decision answered `timeout` behind a paused master is voided on its shard: the hold is released', async () => {
    const card = await createBusinessCard(sql, { daily_limit_minor: 5_000n });
    expect((await decider.decide(request(card, 10), AUTHORIZE)).status_code).toBe(DecisionStatus.APPROVED);
    const node = new Redis({
      host: '127.0.0.1',
      port: await masterOf(decisionKeys(layout, card.user_token, card.card_token, '').ledger),
    });
    const late = request(card, 40);
    try {
      // Scripts that write wait while the node is paused: the decision misses its budget,
      // then runs (and holds), then the void the gateway queued behind it undoes the hold.
      await node.call('CLIENT', 'PAUSE', PAUSE_MS, 'WRITE');
      expect(await impatient.decide(late, AUTHORIZE)).toMatchObject({
        status_code: DecisionStatus.TIMEOUT,
        source: 'timeout',
      });
    } finally {
      node.disconnect();
    }
    const replay = await decider.decide(late, AUTHORIZE);
    expect(replay).toMatchObject({ status_code: DecisionStatus.TIMEOUT, replayed: true });
    // 10.00 spent: 40.00 fits again only because the timed-out 40.00 was released.
    expect((await decider.decide(request(card, 40), AUTHORIZE)).status_code).toBe(DecisionStatus.APPROVED);
  });
});
