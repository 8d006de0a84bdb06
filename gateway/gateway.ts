// Wires one gateway: stores, decision scripts, the public and internal HTTP apps and the outbox relay. main.ts runs it as
// a process; tests run it in-process with their own configuration.

import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { MongoClient } from 'mongodb';
import type { Connection } from 'rabbitmq-client';
import { connectRabbit } from '../shared/broker/connection.ts';
import { closeApp } from '../shared/http/close-app.ts';
import { DependencyMonitor } from '../shared/health-monitor.ts';
import {
  EXCHANGE_EVENTS,
  QUEUE_DECISIONS,
  exchanges,
  queueBindings,
  queues,
} from '../shared/broker/topology.ts';
import { MARQETA_NOTIFICATION_ROUTING_KEY } from '../shared/messages.ts';
import type { GatewayConfig } from '../shared/config.ts';
import type { Logger } from '../shared/logger.ts';
import { createRegistry, gatewayMetrics, poolMetrics } from '../shared/metrics.ts';
import { trackStorePools } from '../shared/pool-stats.ts';
import { outboxKeys, type KeyLayout } from '../shared/redis-keys.ts';
import { connectMongo } from '../shared/stores/mongo.ts';
import { connectPostgres, type PgSql } from '../shared/stores/postgres.ts';
import { connectRedis } from '../shared/stores/redis.ts';
import { buildGatewayApp } from './app.ts';
import { CacheLoader, cacheLoaderOptions } from './decide/cache-loader.ts';
import { preloadActiveCards } from './decide/cache-preload.ts';
import { Decider } from './decide/decider.ts';
import { loadScripts } from './decide/scripts.ts';
import { HoldExpiry } from './jobs/hold-expiry.ts';
import { OutboxRelay, RELAY_DEFAULTS } from './outbox/relay.ts';
import { sampleOutboxDepth, sampleRedisPool } from './routes/metrics.ts';
import { buildInternalApp } from '../shared/http/internal-app.ts';
import { installErrorHandler } from './http/error-handler.ts';
import { healthRoutes } from './routes/health.ts';

/** A scrape waits at most this long for the sampled gauges (outbox depth). */
const METRICS_SAMPLE_TIMEOUT_MS = 1_000;
/**
 * On shutdown the relay gets this long to publish what is left in the outbox; anything still
 * there afterwards (RabbitMQ down) stays in Redis for the next relay. Within the 30 s deadline.
 */
const OUTBOX_DRAIN_MS_MAX = 10_000;
const OUTBOX_DRAIN_POLL_MS = 50;

/** Waits until the outbox streams are empty (every entry confirmed by RabbitMQ) or the bound passes. */
async function drainOutbox(redis: Redis, streams: readonly string[], log: Logger): Promise<void> {
  const until_ms = Date.now() + OUTBOX_DRAIN_MS_MAX;
  let left = -1;
  while (Date.now() < until_ms) {
    left = (await Promise.all(streams.map((stream) => redis.xlen(stream)))).reduce((sum, n) => sum + n, 0);
    if (left === 0) return;
    await sleep(OUTBOX_DRAIN_POLL_MS);
  }
  log.warn({ outbox_entries: left }, 'outbox not drained before shutdown; the next relay publishes the rest');
}

export interface Gateway {
  /** The public listener's app: only what Marqeta calls. */
  readonly app: FastifyInstance;
  /** The internal listener's app: health, readiness, /metrics. */
  readonly internal_app: FastifyInstance;
  readonly relay: OutboxRelay;
  readonly hold_expiry: HoldExpiry;
  readonly redis: Redis;
  readonly sql: PgSql;
  readonly mongo: MongoClient;
  readonly rabbit: Connection;
  readonly layout: KeyLayout;
  /** Stops taking requests, finishes those in flight, relays what is in hand, closes everything. */
  close(): Promise<void>;
}

export interface GatewayRuntime {
  readonly relay_consumer_name?: string;
  /** Overrides OUTBOX_RELAY_ENABLED (tests that inspect the outbox itself start without the relay). */
  readonly relay_enabled?: boolean;
  /** Tests drive hold expiry themselves. */
  readonly hold_expiry_enabled?: boolean;
}

export async function createGateway(
  config: GatewayConfig,
  log: Logger,
  runtime: GatewayRuntime = {},
): Promise<Gateway> {
  const sql = connectPostgres({ url: config.database_url, application_name: 'afc-gateway' });
  const mongo = connectMongo({ uri: config.mongodb_uri, app_name: 'afc-gateway' });
  // Hot path connection: a 1 s backstop per command; the decision budget is enforced above it.
  const redis = connectRedis({
    url: config.redis_url,
    connection_name: 'afc-gateway',
    command_timeout_ms: 1_000,
    auto_pipelining: true,
  });
  // The relay blocks on its reads, so it gets a connection of its own.
  const relay_redis = connectRedis({ url: config.redis_url, connection_name: 'afc-gateway-relay' });
  const rabbit = connectRabbit(config.rabbitmq_url, 'afc-gateway', log);
  for (const client of [redis, relay_redis])
    client.on('error', (error) => log.warn({ err: error }, 'redis error'));
  // Not fatal: requests are declined `system_error` until Redis answers, and ioredis reconnects.
  await redis.connect().catch((error: unknown) => log.error({ err: error }, 'redis not reachable at start'));
  await relay_redis.connect().catch(() => {});
  // Open the database pools before the first cache miss needs them (a cold FerretDB connection
  // can take longer than the fill budget). Bounded, and not fatal: misses retry later.
  await Promise.race([
    Promise.allSettled([mongo.connect(), sql`SELECT 1`]),
    new Promise((resolve) => setTimeout(resolve, 2_000).unref()),
  ]);

  const registry = createRegistry('gateway');
  const metrics = gatewayMetrics(registry);
  const pools = poolMetrics(registry);
  trackStorePools(mongo, sql.options.max, pools.pool_connections);

  const scripts = loadScripts(redis);
  const layout: KeyLayout = { prefix: config.redis_key_prefix, shards: config.redis_shards };
  const streams = outboxKeys(layout);
  const loader = new CacheLoader(sql, mongo.db(), scripts, layout, log, cacheLoaderOptions(config));
  const decider = new Decider(scripts, loader, layout, config, log, metrics);

  // Notifications are not the JIT hot path: each is confirmed by the broker before the 200.
  const notifications = rabbit.createPublisher({
    confirm: true,
    maxAttempts: 2,
    exchanges: exchanges.map((e) => ({ ...e })),
    queues: queues.map((q) => ({ ...q, arguments: { ...q.arguments } })),
    queueBindings: queueBindings.map((b) => ({ ...b })),
  });

  const checks = {
    postgresql: () => sql`SELECT 1`,
    mongodb: () => mongo.db().command({ ping: 1 }),
    redis: () => redis.ping(),
    rabbitmq: () => rabbit.queueDeclare({ queue: QUEUE_DECISIONS, passive: true }),
    // No Marqeta API check: the gateway never calls it (the worker does), and its network policy
    // allows the four stores only.
  };
  // What the gateway decides without (cache fills, outbox drain): reported by readiness, never gating it.
  // RabbitMQ as the connection's state: the relay declares its topology only once it runs.
  const optional_dependencies = new DependencyMonitor({
    postgresql: checks.postgresql,
    mongodb: checks.mongodb,
    rabbitmq: async () => {
      if (!rabbit.ready) throw new Error('not connected');
    },
  });
  await optional_dependencies.start();

  let shutting_down = false;
  const app = await buildGatewayApp({
    log,
    decider,
    basic_auth_user: config.basic_auth_user,
    basic_auth_password: config.basic_auth_password,
    basic_auth_password_next: config.basic_auth_password_next,
    program_time_zone: config.program_time_zone,
    partial_approval_enabled: config.partial_approval_enabled,
    body_limit_bytes: config.body_limit_bytes,
    overload: config,
    marqeta_webhooks: {
      redis,
      key_prefix: config.redis_key_prefix,
      publish: (event) =>
        notifications.send(
          {
            exchange: EXCHANGE_EVENTS,
            routingKey: MARQETA_NOTIFICATION_ROUTING_KEY,
            durable: true,
            contentType: 'application/json',
            messageId: event.event_token,
          },
          event,
        ),
      user: config.webhook_user,
      password: config.webhook_password,
      password_next: config.webhook_password_next,
      hmac_secret: config.webhook_hmac_secret,
      signature_header: config.webhook_signature_header,
      hmac_algorithm: config.webhook_hmac_algorithm,
    },
  });
  // Health, readiness and /metrics on the internal listener: never routed from outside.
  const internal_app = await buildInternalApp({
    log,
    installErrorHandler,
    healthRoutes,
    health: {
      checks,
      readiness: { redis: checks.redis },
      reported: () => optional_dependencies.snapshot(),
      isShuttingDown: () => shutting_down,
    },
    metrics: {
      registry,
      sample_timeout_ms: METRICS_SAMPLE_TIMEOUT_MS,
      sample: () => {
        sampleRedisPool([redis, relay_redis], pools.pool_connections);
        return sampleOutboxDepth(redis, streams, metrics.outbox_depth);
      },
    },
  });

  const relay = new OutboxRelay(
    relay_redis,
    rabbit,
    {
      streams,
      consumer_name: runtime.relay_consumer_name ?? hostname(),
      batch_max: config.outbox_batch_max,
      message_decisions_max: config.relay_batch_max,
      message_bytes_max: config.relay_batch_bytes_max,
      claim_idle_ms: config.outbox_claim_idle_ms,
      ...RELAY_DEFAULTS,
    },
    log,
    metrics,
  );
  // Before the gateway listens: the recently active cards' first decisions need no store.
  await preloadActiveCards(
    redis,
    loader,
    {
      key_prefix: config.redis_key_prefix,
      active_s: config.cache_preload_active_s,
      cards_max: config.cache_preload_cards_max,
      budget_ms: config.cache_preload_budget_ms,
      program_time_zone: config.program_time_zone,
    },
    log,
  ).catch((error: unknown) => log.warn({ err: error }, 'cache preload failed; cards load on first use'));

  const relay_enabled = runtime.relay_enabled ?? config.outbox_relay_enabled;
  if (relay_enabled) relay.start();

  const hold_expiry = new HoldExpiry(
    sql,
    mongo.db(),
    redis,
    decider,
    {
      hold_expiry_days: config.hold_expiry_days,
      scan_interval_ms: config.hold_expiry_scan_interval_ms,
      batch_max: 500,
      lock_key: `${config.redis_key_prefix}:lock:hold-expiry`,
      program_time_zone: config.program_time_zone,
    },
    log,
  );
  if (runtime.hold_expiry_enabled ?? true) hold_expiry.start();

  return {
    app,
    internal_app,
    relay,
    hold_expiry,
    redis,
    sql,
    mongo,
    rabbit,
    layout,
    async close() {
      shutting_down = true;
      optional_dependencies.stop();
      // Each step is logged with its duration, so a slow shutdown names the step that held it.
      const step = async (name: string, run: () => Promise<unknown>) => {
        const started_ms = Date.now();
        await run();
        log.info({ step: name, elapsed_ms: Date.now() - started_ms }, 'shutdown step done');
      };
      // Readiness already answers 503; requests are still served while load balancers notice.
      await step('drain_delay', () => sleep(config.shutdown_drain_delay_ms));
      await step('http', () => closeApp(app));
      await step('hold_expiry', () => hold_expiry.stop());
      // No decision is made any more: publish the ones answered (best effort, bounded).
      if (relay_enabled) {
        await step('outbox', () =>
          drainOutbox(redis, streams, log).catch((error: unknown) =>
            log.warn({ err: error }, 'outbox drain check failed'),
          ),
        );
      }
      await step('relay', () => relay.stop());
      await step('notifications', () => notifications.close());
      await step('connections', () =>
        Promise.allSettled([rabbit.close(), sql.end({ timeout: 5 }), mongo.close()]),
      );
      redis.disconnect();
      relay_redis.disconnect();
      // Last: probes see readiness 503 and Prometheus scrapes until the very end.
      await step('internal_http', () => closeApp(internal_app));
    },
  };
}
