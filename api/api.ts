// Wires one management API: stores, cache writers, command publisher, services, the public and
// internal HTTP apps.
// main.ts runs it as a process; tests run it in-process with their own configuration.

import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { MongoClient } from 'mongodb';
import type { Connection } from 'rabbitmq-client';
import { applyDecisionBinding } from '../shared/webhooks/decision-binding.ts';
import { connectRabbit } from '../shared/broker/connection.ts';
import { closeApp } from '../shared/http/close-app.ts';
import type { ApiConfig } from '../shared/config.ts';
import type { Logger } from '../shared/logger.ts';
import { createRegistry, poolMetrics } from '../shared/metrics.ts';
import { trackStorePools } from '../shared/pool-stats.ts';
import type { KeyLayout } from '../shared/redis-keys.ts';
import { connectMongo } from '../shared/stores/mongo.ts';
import { connectPostgres, type PgSql } from '../shared/stores/postgres.ts';
import { connectRedis } from '../shared/stores/redis.ts';
import { DestinationGuard, type HostLookup } from '../shared/webhooks/destination.ts';
import { buildApiApp } from './app.ts';
import { CardCommandPublisher } from './broker/card-commands.ts';
import { WebhookCommandPublisher } from './broker/webhook-commands.ts';
import { BalanceCache } from './cache/balance-cache.ts';
import { CacheInvalidator } from './cache/invalidator.ts';
import { createServices, type ApiServices } from './services/services.ts';
import { buildInternalApp } from '../shared/http/internal-app.ts';
import { installErrorHandler } from './http/error-handler.ts';
import { healthRoutes } from './routes/health.ts';

export interface Api {
  /** The public listener's app: the management API and its docs. */
  readonly app: FastifyInstance;
  /** The internal listener's app: health, readiness, /metrics. */
  readonly internal_app: FastifyInstance;
  readonly services: ApiServices;
  readonly sql: PgSql;
  readonly mongo: MongoClient;
  readonly redis: Redis;
  readonly rabbit: Connection;
  /** Stops taking requests, finishes those in flight, runs pending cache deletes, closes all. */
  close(): Promise<void>;
}

/** Test seams; production passes none. */
export interface ApiOverrides {
  /** How webhook URL hosts are resolved (tests map names to addresses of their choosing). */
  readonly webhook_lookup?: HostLookup;
}

export async function createApi(config: ApiConfig, log: Logger, overrides: ApiOverrides = {}): Promise<Api> {
  const sql = connectPostgres({ url: config.database_url, application_name: 'afc-api' });
  const mongo = connectMongo({ uri: config.mongodb_uri, app_name: 'afc-api' });
  const redis = connectRedis({
    url: config.redis_url,
    cluster_nodes: config.redis_cluster_nodes,
    connection_name: 'afc-api',
    command_timeout_ms: 2_000,
  });
  redis.on('error', (error) => log.warn({ err: error }, 'redis error'));
  await redis.connect().catch((error: unknown) => log.error({ err: error }, 'redis not reachable at start'));
  const rabbit = connectRabbit(config, 'afc-api', log);

  const layout: KeyLayout = { prefix: config.redis_key_prefix, shards: config.redis_shards };
  const invalidator = new CacheInvalidator(redis, layout, config.cache_redelete_ms, log);
  const commands = new CardCommandPublisher(rabbit, log);
  const webhook_commands = new WebhookCommandPublisher(rabbit, config.webhooks_queue, log);
  const services = createServices({
    sql,
    db: mongo.db(),
    invalidator,
    balance_cache: new BalanceCache(redis, layout),
    commands,
    webhook_commands,
    webhook_destinations: new DestinationGuard(
      { allow_http: config.webhook_allow_http, allowed_cidrs: config.webhook_allowed_cidrs },
      overrides.webhook_lookup,
    ),
    bind_webhook_decisions: (tx) => applyDecisionBinding(tx, rabbit, config.webhooks_queue),
    log,
  });

  let shutting_down = false;
  const app = await buildApiApp({
    log,
    sql,
    redis,
    services,
    body_limit_bytes: config.body_limit_bytes,
    overload: config,
    redis_key_prefix: config.redis_key_prefix,
    rate_limit_max: config.rate_limit_max,
    rate_limit_window_ms: config.rate_limit_window_ms,
    console: {
      rabbit,
      gateway_internal_url: config.console_gateway_internal_url,
      worker_health_url: config.console_worker_health_url,
    },
  });
  const registry = createRegistry('api');
  trackStorePools(mongo, sql.options.max, poolMetrics(registry).pool_connections);
  // Health, readiness and /metrics on the internal listener: never routed from outside.
  const internal_app = await buildInternalApp({
    log,
    installErrorHandler,
    healthRoutes,
    metrics: { registry },
    health: {
      checks: {
        postgresql: () => sql`SELECT 1`,
        mongodb: () => mongo.db().command({ ping: 1 }),
        redis: () => redis.ping(),
        rabbitmq: () =>
          rabbit.exchangeDeclare({ exchange: 'afc.events', type: 'topic', durable: true, passive: true }),
      },
      readiness: { postgresql: () => sql`SELECT 1` },
      isShuttingDown: () => shutting_down,
    },
  });

  return {
    app,
    internal_app,
    services,
    sql,
    mongo,
    redis,
    rabbit,
    async close() {
      shutting_down = true;
      // Readiness already answers 503; requests are still served while load balancers notice.
      if (config.shutdown_drain_delay_ms > 0) await sleep(config.shutdown_drain_delay_ms);
      await closeApp(app);
      await invalidator.flush();
      await commands.close();
      await webhook_commands.close();
      await Promise.allSettled([rabbit.close(), sql.end({ timeout: 5 }), mongo.close()]);
      redis.disconnect();
      // Last: probes see readiness 503 and Prometheus scrapes until the very end.
      await closeApp(internal_app);
    },
  };
}
