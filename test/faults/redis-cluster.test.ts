// Scale-out path: the decision scripts run unchanged on a Redis Cluster. A private 3-master
// cluster is started on free ports (own temp dir, no persistence) and always torn down.
// Cardholders are spread over many hash-tag shards, and so over all three masters; the real
// Decider and CacheLoader (fill from PostgreSQL) approve, replay and decline on every one of
// them, and no call fails with CROSSSLOT. The outbox relay reads each shard stream on its master:
// at once the streams this gateway's scripts wrote, on a sweep the ones other gateways wrote.
import { randomUUID } from 'node:crypto';
import { type Cluster, Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheLoader, SEED_CACHE_LOADER_OPTIONS } from '../../gateway/decide/cache-loader.ts';
import { Decider } from '../../gateway/decide/decider.ts';
import { type DecisionScripts, loadScripts } from '../../gateway/decide/scripts.ts';
import { OutboxWrites, withOutboxWrites } from '../../gateway/outbox/outbox-writes.ts';
import { OutboxRelay, RELAY_DEFAULTS } from '../../gateway/outbox/relay.ts';
import { createVhost, deleteVhost } from '../../bench/runner/broker.ts';
import { withVhost } from '../../bench/runner/env.ts';
import { declareTopology, QUEUE_DECISIONS } from '../../shared/broker/topology.ts';
import { decisionEventOf, decodeBatch } from '../../shared/decision-batch.ts';
import type { JitRequestBody } from '../../gateway/jit/schema.ts';
import { parseJit } from '../../gateway/jit/translate.ts';
import { DecisionStatus } from '../../shared/decision-status.ts';
import { createLogger } from '../../shared/logger.ts';
import { gatewayMetrics } from '../../shared/metrics.ts';
import { decisionKeys, type KeyLayout, outboxKeys } from '../../shared/redis-keys.ts';
import { connectMongo } from '../../shared/stores/mongo.ts';
import { connectPostgres } from '../../shared/stores/postgres.ts';
import { connectRedis } from '../../shared/stores/redis.ts';
import { type RedisCluster, startRedisCluster } from '../../shared/dev/redis-cluster.ts';
import { type CreatedCard, createBusinessCard, uniqueToken } from '../support/cardholders.ts';
import { jitRequest } from '../support/jit-requests.ts';

const MASTERS = 3;
const CARDHOLDERS = 24;

let servers: RedisCluster;
/** The processes' own client factory, in cluster mode. */
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
let scripts: DecisionScripts;
let budgets: ConstructorParameters<typeof Decider>[3];
const vhost = `afc-cluster-relay-${randomUUID().slice(0, 8)}`;
let rabbit: Connection;

// A cluster start can take minutes on a loaded 2-core machine.
beforeAll(async () => {
  servers = await startRedisCluster({ masters: MASTERS, replicas_per_master: 0, node_timeout_ms: 2_000 });
  const client = connectRedis({
    url: servers.url,
    cluster_nodes: servers.nodes,
    connection_name: 'afc-test-cluster',
  });
  await client.connect();
  cluster = client as unknown as Cluster;
  // The gateway's own loader: same files, same versioned command names, on a Cluster client.
  scripts = loadScripts(client);
  const loader = new CacheLoader(sql, mongo.db(), scripts, layout, log, SEED_CACHE_LOADER_OPTIONS);
  budgets = {
    decision_budget_ms: 2_000,
    cache_fill_budget_ms: 2_000,
    idempotency_ttl_s: 3600,
    undecided_answer: 'decline' as const,
  };
  decider = new Decider(scripts, loader, layout, budgets, log, gatewayMetrics(new Registry()));
  const impatient_budgets = { ...budgets, decision_budget_ms: IMPATIENT_BUDGET_MS };
  impatient = new Decider(scripts, loader, layout, impatient_budgets, log, gatewayMetrics(new Registry()));
  await createVhost(vhost);
  rabbit = new Connection(withVhost(process.env.RABBITMQ_URL!, vhost));
  rabbit.on('error', () => {});
  await declareTopology(rabbit);
}, 240_000);

afterAll(async () => {
  await rabbit?.close();
  await deleteVhost(vhost).catch(() => {});
  cluster?.disconnect();
  await servers?.destroy();
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

describe('the outbox relay on a 3-master Redis Cluster', () => {
  /** A gateway's relay: its own cluster connection, the gateway's record of writes (or none). */
  async function startRelay(writes: OutboxWrites | null, sweep_ms: number) {
    const relay_redis = connectRedis({
      url: servers.url,
      cluster_nodes: servers.nodes,
      connection_name: 'afc-test-cluster-relay',
    });
    await relay_redis.connect();
    const relay = new OutboxRelay(
      relay_redis,
      rabbit,
      {
        streams: outboxKeys(layout),
        consumer_name: `relay-${randomUUID().slice(0, 8)}`,
        batch_max: 512,
        message_decisions_max: 256,
        message_bytes_max: 256 * 1024,
        claim_idle_ms: 60_000,
        linger_ms: 2,
        ...RELAY_DEFAULTS,
        sweep_ms,
      },
      log,
      gatewayMetrics(new Registry()),
      writes,
    );
    relay.start();
    let stopped: Promise<void> | null = null;
    return {
      stop(): Promise<void> {
        stopped ??= relay.stop().finally(() => relay_redis.disconnect());
        return stopped;
      },
    };
  }

  /** JIT tokens relayed to the decisions queue so far, collected from its batches. */
  const relayed = new Set<string>();
  async function collectRelayed(): Promise<void> {
    const channel = await rabbit.acquire();
    try {
      for (;;) {
        const message = await channel.basicGet({ queue: QUEUE_DECISIONS, noAck: true });
        if (message === undefined) return;
        for (const entry of decodeBatch(message.body as Buffer))
          relayed.add(decisionEventOf(entry).request.jit_token);
      }
    } finally {
      await channel.close();
    }
  }
  async function waitRelayed(tokens: readonly string[]): Promise<void> {
    for (;;) {
      await collectRelayed();
      if (tokens.every((token) => relayed.has(token))) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** One approval per cardholder through `decide_with`, spread over every master; their JIT tokens. */
  async function approveAll(cards: readonly CreatedCard[], decide_with: Decider): Promise<string[]> {
    const tokens: string[] = [];
    for (const card of cards) {
      const jit = request(card, 1);
      expect((await decide_with.decide(jit, AUTHORIZE)).status_code).toBe(DecisionStatus.APPROVED);
      tokens.push(jit.jit_token);
    }
    return tokens;
  }

  it('relays what this gateway wrote when written, and what others wrote on a sweep', async () => {
    const cards = await Promise.all(Array.from({ length: CARDHOLDERS }, () => createBusinessCard(sql)));
    const metrics = () => gatewayMetrics(new Registry());
    const writes = new OutboxWrites();
    const loader = new CacheLoader(sql, mongo.db(), scripts, layout, log, SEED_CACHE_LOADER_OPTIONS);
    const this_gateway = new Decider(
      withOutboxWrites(scripts, writes),
      loader,
      layout,
      budgets,
      log,
      metrics(),
    );
    // No sweep within the test: after its first (at start), this relay reads only what it is told of.
    const relay = await startRelay(writes, 3_600_000);
    try {
      // Round one may be read by the start's sweep; once it is relayed, that sweep is behind us.
      await waitRelayed(await approveAll(cards, this_gateway));
      await waitRelayed(await approveAll(cards, this_gateway));
      // Written by another gateway (no record here): left for a sweep.
      const others = await approveAll(cards, decider);
      await relay.stop();
      const sweeping = await startRelay(new OutboxWrites(), 500);
      try {
        await waitRelayed(others);
      } finally {
        await sweeping.stop();
      }
    } finally {
      await relay.stop();
    }
    for (const stream of outboxKeys(layout)) expect(await cluster.xlen(stream)).toBe(0);
  });
});
