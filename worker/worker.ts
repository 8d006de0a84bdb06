// Wires one worker: store pools, the RabbitMQ connection, its consumers and the health server.
// main.ts runs it as a process; tests run it in-process with their own configuration.
// Every connection reconnects by itself (rabbitmq-client, postgres.js, the MongoDB driver):
// consumers resume when RabbitMQ is back, and writes wait out a store outage (decision-ledger.ts).

import type { Redis } from 'ioredis';
import type { MongoClient } from 'mongodb';
import type { Registry } from 'prom-client';
import type { Connection } from 'rabbitmq-client';
import { connectRabbit } from '../shared/broker/connection.ts';
import type { WorkerConfig } from '../shared/config.ts';
import type { Logger } from '../shared/logger.ts';
import { createRegistry, poolMetrics, workerMetrics } from '../shared/metrics.ts';
import { trackStorePools } from '../shared/pool-stats.ts';
import { connectMongo } from '../shared/stores/mongo.ts';
import { connectPostgres, type PgSql } from '../shared/stores/postgres.ts';
import { connectRedis } from '../shared/stores/redis.ts';
import type { ConsumerHandle, ConsumerStarter } from './consumer-handle.ts';
import { WORKER_CONSUMERS } from './consumers.ts';
import { DependencyMonitor } from '../shared/health-monitor.ts';
import { startHealthServer } from './http/health-server.ts';
import { StandingDifferences } from './reconcile/standing-differences.ts';

/** Personal-card writers holding or awaiting a document lock at once (a pool apart from the main 20). */
const DOCUMENT_LOCK_CONNECTIONS_MAX = 10;

export interface Worker {
  readonly sql: PgSql;
  readonly document_lock_sql: PgSql;
  readonly mongo: MongoClient;
  readonly rabbit: Connection;
  readonly consumers: readonly ConsumerHandle[];
  readonly registry: Registry;
  /** Port of the health server (useful when configured as 0). */
  readonly health_port: number;
  /** Stops consuming, finishes or requeues in-flight messages, closes every connection. */
  close(): Promise<void>;
}

export interface WorkerRuntime {
  /** Which consumers to run; all of WORKER_CONSUMERS by default. */
  readonly consumers?: readonly ConsumerStarter[];
}

export async function createWorker(
  config: WorkerConfig,
  log: Logger,
  runtime: WorkerRuntime = {},
): Promise<Worker> {
  const sql = connectPostgres({ url: config.database_url, application_name: 'afc-worker' });
  const document_lock_sql = connectPostgres({
    url: config.database_url,
    application_name: 'afc-worker-document-locks',
    max_connections: DOCUMENT_LOCK_CONNECTIONS_MAX,
  });
  const mongo = connectMongo({ uri: config.mongodb_uri, app_name: 'afc-worker' });
  const rabbit = connectRabbit(config, 'afc-worker', log);
  const registry = createRegistry('worker');
  const metrics = workerMetrics(registry);
  trackStorePools(mongo, sql.options.max, poolMetrics(registry).pool_connections);

  const deps = { config, log, rabbit, sql, document_lock_sql, mongo, metrics };
  const consumers = (runtime.consumers ?? WORKER_CONSUMERS).map((start) => start(deps));
  let closing = false;
  const checks = {
    postgresql: () => sql`SELECT 1`,
    mongodb: () => mongo.db().command({ ping: 1 }),
    rabbitmq: () => rabbit.queueDeclare({ queue: config.decisions_queue, passive: true }),
  };
  // Readiness reflects the stores the consumers write to (RabbitMQ shows in the consumers' state).
  const stores = new DependencyMonitor({ postgresql: checks.postgresql, mongodb: checks.mongodb });
  await stores.start();
  // Only the console's reconciliation reads Redis: connected on its first request.
  let redis: Redis | undefined;
  const standing = new StandingDifferences({
    redis: async () => {
      if (redis === undefined) {
        redis = connectRedis({
          url: config.redis_url,
          cluster_nodes: config.redis_cluster_nodes,
          connection_name: 'afc-worker-reconcile',
        });
        await redis.connect();
      }
      return redis;
    },
    sql,
    db: mongo.db(),
    key_prefix: config.redis_key_prefix,
  });
  const health = await startHealthServer({
    host: '0.0.0.0',
    port: config.health_port,
    checks,
    readiness: () => {
      const consuming = Object.fromEntries(consumers.map((c) => [c.name, c.isReady()]));
      const store_checks = stores.snapshot();
      const ready =
        !closing &&
        Object.values(consuming).every(Boolean) &&
        Object.values(store_checks).every((c) => c.status === 'up');
      return { ready, consuming, checks: store_checks };
    },
    registry,
    log,
    reconcile: () => standing.report(),
  });
  log.info({ health_port: health.port, consumers: consumers.map((c) => c.name) }, 'worker started');

  return {
    sql,
    document_lock_sql,
    mongo,
    rabbit,
    consumers,
    registry,
    health_port: health.port,
    async close() {
      closing = true;
      stores.stop();
      const stopped = await Promise.allSettled(consumers.map((c) => c.close()));
      stopped.forEach((result, i) => {
        if (result.status === 'rejected')
          log.error({ err: result.reason, consumer: consumers[i]!.name }, 'consumer close failed');
      });
      health.server.closeAllConnections();
      await new Promise((resolve) => health.server.close(resolve));
      await Promise.allSettled([
        rabbit.close(),
        sql.end({ timeout: 5 }),
        document_lock_sql.end({ timeout: 5 }),
        mongo.close(),
      ]);
      redis?.disconnect();
    },
  };
}
