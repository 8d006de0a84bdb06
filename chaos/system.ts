// The system one chaos run drives, started from nothing: a private Redis with AOF (or, with
// --cluster, a private 3-master, 3-replica Redis Cluster and REDIS_WAIT_REPLICAS=1), a RabbitMQ
// vhost of its own, and the gateway and the worker as supervised child processes on free
// ports with the run's Redis key prefix, on the run's private databases (chaos/stores.ts).

import type { WebhookTarget } from '../fake-marqeta/commando.ts';
import { join } from 'node:path';
import { devEnvironment, withVhost } from '../bench/runner/env.ts';
import { createVhost, deleteVhost } from '../bench/runner/broker.ts';
import { freePort, startPrivateRedis } from '../shared/dev/processes.ts';
import { type RedisCluster, startRedisCluster } from '../shared/dev/redis-cluster.ts';
import { Supervised } from './supervisor.ts';

/** Few shards: the drain check reads every outbox stream. */
export const REDIS_SHARDS = 8;

/**
 * AOF fsynced before every answer, as in compose.yaml: the suite checks that nothing answered is
 * lost, which `everysec` cannot promise (with the disk busy Redis answers writes it has not even
 * written to the file for up to 2 s; docs/failure-behaviour.md, durability).
 */
const REDIS_DURABILITY = ['--appendonly', 'yes', '--appendfsync', 'always'];
/**
 * A memory limit and the policy of compose.yaml: at the limit Redis evicts cached card parts
 * only (docs/operations.md#redis-memory). A run's state is a few MB, far below it.
 */
export const REDIS_MEMORY = ['--maxmemory', '256mb', '--maxmemory-policy', 'volatile-lru'];

export type PrivateRedis = Awaited<ReturnType<typeof startPrivateRedis>>;

/**
 * Cluster mode: nodes without persistence (a master's replica is its durability), promoted after
 * this long unreachable; every decision waits for its replica (nothing answered is lost).
 */
const CLUSTER = { masters: 3, replicas_per_master: 1, node_timeout_ms: 1_000 } as const;

export interface StoreUrls {
  readonly database_url: string;
  readonly mongodb_uri: string;
}

export interface RunSystem {
  readonly run_id: string;
  /** The private Redis; null in cluster mode. */
  readonly redis: PrivateRedis | null;
  /** The private Redis Cluster in cluster mode; null otherwise. */
  readonly cluster: RedisCluster | null;
  readonly redis_url: string;
  /** REDIS_CLUSTER_NODES in cluster mode; empty otherwise. */
  readonly redis_cluster_nodes: readonly string[];
  readonly vhost: string;
  readonly amqp_url: string;
  readonly gateway: Supervised;
  readonly worker: Supervised;
  readonly gateway_origin: string;
  readonly authorization: string;
  /** The gateway's Marqeta notification endpoint and credentials (the simulated Commando posts there). */
  readonly webhook: WebhookTarget;
  /** Stops the processes, removes the vhost and the private Redis. */
  close(): Promise<void>;
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

export async function startRunSystem(
  run_id: string,
  stores: StoreUrls,
  log_dir: string,
  origin_ms: number,
  undecided_answer: 'decline' | 'standin',
  cluster_mode: boolean,
): Promise<RunSystem> {
  const env = devEnvironment();
  const redis = cluster_mode ? null : await startPrivateRedis([...REDIS_DURABILITY, ...REDIS_MEMORY]);
  const cluster = cluster_mode ? await startRedisCluster(CLUSTER) : null;
  const redis_env: Record<string, string> = cluster
    ? {
        REDIS_URL: cluster.url,
        REDIS_CLUSTER_NODES: cluster.nodes.join(','),
        REDIS_WAIT_REPLICAS: '1',
      }
    : { REDIS_URL: redis!.url };
  const vhost = `afc-chaos-${run_id}`;
  await createVhost(vhost);
  const amqp_url = withVhost(env.RABBITMQ_URL!, vhost);
  const gateway_port = await freePort();
  const gateway_internal_port = await freePort();
  const worker_port = await freePort();
  const service_env = {
    ...env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: stores.database_url,
    MONGODB_URI: stores.mongodb_uri,
    ...redis_env,
    RABBITMQ_URL: amqp_url,
    REDIS_KEY_PREFIX: run_id,
    REDIS_SHARDS: String(REDIS_SHARDS),
  };
  const gateway = new Supervised(
    {
      name: 'gateway',
      script: 'gateway/main.ts',
      env: {
        ...service_env,
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_PORT: String(gateway_port),
        GATEWAY_INTERNAL_PORT: String(gateway_internal_port),
        // Stable across restarts: a restarted relay re-reads the entries its predecessor left pending.
        RELAY_CONSUMER_NAME: `chaos-${run_id}`,
        UNDECIDED_ANSWER: undecided_answer,
      },
      ready_url: `http://127.0.0.1:${gateway_internal_port}/api/health/ready`,
      log_path: join(log_dir, `${run_id}-gateway.log`),
    },
    origin_ms,
  );
  const worker = new Supervised(
    {
      name: 'worker',
      script: 'worker/main.ts',
      env: { ...service_env, WORKER_HEALTH_PORT: String(worker_port) },
      ready_url: `http://127.0.0.1:${worker_port}/ready`,
      log_path: join(log_dir, `${run_id}-worker.log`),
    },
    origin_ms,
  );
  const close = async () => {
    await Promise.allSettled([gateway.stop(), worker.stop()]);
    await Promise.allSettled([deleteVhost(vhost), redis?.destroy(), cluster?.destroy()]);
  };
  try {
    await Promise.all([gateway.start(), worker.start()]);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    run_id,
    redis,
    cluster,
    redis_url: redis_env.REDIS_URL!,
    redis_cluster_nodes: cluster?.nodes ?? [],
    vhost,
    amqp_url,
    gateway,
    worker,
    gateway_origin: `http://127.0.0.1:${gateway_port}`,
    authorization: basic(env.GATEWAY_BASIC_AUTH_USER!, env.GATEWAY_BASIC_AUTH_PASSWORD!),
    webhook: {
      url: `http://127.0.0.1:${gateway_port}/api/webhooks/marqeta`,
      user: env.MARQETA_WEBHOOK_USER!,
      password: env.MARQETA_WEBHOOK_PASSWORD!,
    },
    close,
  };
}
