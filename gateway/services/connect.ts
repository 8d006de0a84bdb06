// First of the gateway's services (gateway.ts registers them in order): the connections to the four
// stores, the metrics registry, and the internal listener that reports on them (health, readiness,
// /metrics). Registered first, so its onClose hook runs last: connections close once nothing uses
// them any more, and probes and scrapes answer (readiness 503) until the very end.

import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import type { MongoClient } from 'mongodb';
import type { Connection } from 'rabbitmq-client';
import { connectRabbit } from '../../shared/broker/connection.ts';
import { QUEUE_DECISIONS } from '../../shared/broker/topology.ts';
import type { GatewayConfig } from '../../shared/config.ts';
import { DependencyMonitor } from '../../shared/health-monitor.ts';
import { closeApp } from '../../shared/http/close-app.ts';
import { buildInternalApp } from '../../shared/http/internal-app.ts';
import type { Logger } from '../../shared/logger.ts';
import { createRegistry, gatewayMetrics, poolMetrics } from '../../shared/metrics.ts';
import { trackStorePools } from '../../shared/pool-stats.ts';
import { type KeyLayout, outboxKeys } from '../../shared/redis-keys.ts';
import { shutdownStep } from '../../shared/shutdown-step.ts';
import { connectMongo } from '../../shared/stores/mongo.ts';
import { connectPostgres, type PgSql } from '../../shared/stores/postgres.ts';
import { connectRedis } from '../../shared/stores/redis.ts';
import { RedisMemoryWatch, refuseMoneyEvictingRedis } from '../decide/redis-memory.ts';
import { installErrorHandler } from '../http/error-handler.ts';
import { undecidedReport } from '../http/undecided-answer.ts';
import { healthRoutes } from '../routes/health.ts';
import { sampleOutboxDepth, sampleRedisPool } from '../routes/metrics.ts';

/** A scrape waits at most this long for the sampled gauges (outbox depth). */
const METRICS_SAMPLE_TIMEOUT_MS = 1_000;
/** A cold FerretDB connection can take longer than the fill budget: opened before the first miss, within this. */
const STORES_WARM_MS_MAX = 2_000;

export interface GatewayStores {
  readonly sql: PgSql;
  readonly mongo: MongoClient;
  /** The hot path's connection (auto-pipelined, a 1 s backstop per command). */
  readonly redis: Redis;
  /** The relay blocks on its reads, so it has a connection of its own. */
  readonly relay_redis: Redis;
  readonly rabbit: Connection;
  readonly layout: KeyLayout;
  /** The outbox streams of `layout`. */
  readonly streams: readonly string[];
  readonly metrics: ReturnType<typeof gatewayMetrics>;
  /** Health, readiness and /metrics: never routed from outside. */
  readonly internal_app: FastifyInstance;
}

export interface ServiceOptions {
  readonly config: GatewayConfig;
  readonly log: Logger;
}

export const STORES = 'gateway_stores';

async function connect(services: FastifyInstance, { config, log }: ServiceOptions): Promise<void> {
  const sql = connectPostgres({ url: config.database_url, application_name: 'afc-gateway' });
  const mongo = connectMongo({ uri: config.mongodb_uri, app_name: 'afc-gateway' });
  // Hot path connection: a 1 s backstop per command; the decision budget is enforced above it.
  const redis = connectRedis({
    url: config.redis_url,
    cluster_nodes: config.redis_cluster_nodes,
    connection_name: 'afc-gateway',
    command_timeout_ms: 1_000,
    auto_pipelining: true,
  });
  const relay_redis = connectRedis({
    url: config.redis_url,
    cluster_nodes: config.redis_cluster_nodes,
    connection_name: 'afc-gateway-relay',
  });
  const rabbit = connectRabbit(config, 'afc-gateway', log);
  for (const client of [redis, relay_redis])
    client.on('error', (error) => log.warn({ err: error }, 'redis error'));
  // Not fatal: requests are declined `system_error` until Redis answers, and ioredis reconnects.
  await redis.connect().catch((error: unknown) => log.error({ err: error }, 'redis not reachable at start'));
  await relay_redis.connect().catch(() => {});
  // A Redis whose maxmemory-policy could evict money state (allkeys-*) is refused outright.
  await refuseMoneyEvictingRedis(redis, log).catch(async (error: unknown) => {
    redis.disconnect();
    relay_redis.disconnect();
    await Promise.allSettled([rabbit.close(), sql.end({ timeout: 5 }), mongo.close()]);
    throw error;
  });
  // Open the database pools before the first cache miss needs them. Bounded, and not fatal: misses retry later.
  await Promise.race([
    Promise.allSettled([mongo.connect(), sql`SELECT 1`]),
    new Promise((resolve) => setTimeout(resolve, STORES_WARM_MS_MAX).unref()),
  ]);

  const registry = createRegistry('gateway');
  const metrics = gatewayMetrics(registry);
  const pools = poolMetrics(registry);
  trackStorePools(mongo, sql.options.max, pools.pool_connections);
  const layout: KeyLayout = { prefix: config.redis_key_prefix, shards: config.redis_shards };
  const streams = outboxKeys(layout);

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
  // Evictions, memory use and a risky policy: /metrics and readiness warnings.
  const redis_memory = new RedisMemoryWatch(redis, metrics, log);
  await redis_memory.start();

  let shutting_down = false;
  const internal_app = await buildInternalApp({
    log,
    installErrorHandler,
    healthRoutes,
    health: {
      checks,
      readiness: { redis: checks.redis },
      reported: () => optional_dependencies.snapshot(),
      isShuttingDown: () => shutting_down,
      warnings: () => {
        const warning = redis_memory.warning();
        return warning === null ? [] : [`redis: ${warning}`];
      },
      undecided: () => undecidedReport(config.undecided_answer, metrics),
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

  const stores: GatewayStores = {
    sql,
    mongo,
    redis,
    relay_redis,
    rabbit,
    layout,
    streams,
    metrics,
    internal_app,
  };
  services.decorate(STORES, stores);
  // Before every onClose hook: readiness answers 503 from the first moment of the shutdown.
  services.addHook('preClose', async () => {
    shutting_down = true;
    optional_dependencies.stop();
    redis_memory.stop();
  });
  services.addHook('onClose', async () => {
    await shutdownStep(log, 'connections', () =>
      Promise.allSettled([rabbit.close(), sql.end({ timeout: 5 }), mongo.close()]),
    );
    redis.disconnect();
    relay_redis.disconnect();
    // Last: probes see readiness 503 and Prometheus scrapes until the very end.
    await shutdownStep(log, 'internal_http', () => closeApp(internal_app));
  });
}

export const connectStores = fp(connect, { name: 'gateway-connect' });
