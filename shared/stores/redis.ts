// The one Redis client factory of every process: a single node (the default) or a Redis Cluster,
// chosen by configuration alone (REDIS_CLUSTER_NODES). Either way commands fail at once while
// their node is unreachable (no offline queue: a queued decision would outlive its budget), and
// connections come back with capped backoff.
//
// A Cluster client is handed out through the `Redis` command interface: every command the
// processes send names its keys, and all the keys of one command share a hash tag, so ioredis
// routes it to the master of that slot. What differs is node-wide work (SCAN, multi-key
// pipelines): that goes through `masterNodes()`, one direct connection per master.

import { Cluster, type ClusterOptions, Redis, type RedisOptions as IoRedisOptions } from 'ioredis';

export interface RedisOptions {
  /** Single node: the server. Cluster: credentials and TLS (redis:/rediss:) for every node. */
  readonly url: string;
  /** Seed nodes (`host:port`) of a Redis Cluster; empty for a single node. */
  readonly cluster_nodes?: readonly string[];
  readonly connection_name: string;
  /** Per-command timeout; the gateway sets it to its decision budget. */
  readonly command_timeout_ms?: number;
  /**
   * Commands issued in one event-loop turn leave in one socket write (ioredis auto-pipelining).
   * On the hot path this turns a write(2) per decision into one per turn: the gateway's largest
   * CPU cost under load was writing each EVALSHA to the socket on its own. Order on the
   * connection is kept, so a void still runs after the decision it undoes. Single node only:
   * on a cluster, ioredis 6.0.0's auto-pipelining throws an uncaught TypeError (autoPipelining.js,
   * a redirected pipeline's results shorter than its callbacks) during a slot migration, which
   * took both gateways of the cluster fault test down; there every command is written alone.
   */
  readonly auto_pipelining?: boolean;
}

/**
 * Cluster behaviour during a failover or a reshard. A failed master's commands fail at once
 * ("Connection is closed", CLUSTERDOWN): the gateway answers them `system_error` and voids them,
 * rather than waiting out a promotion (cluster-node-timeout, seconds) past its decision budget.
 * MOVED and ASK are followed at once; TRYAGAIN (a multi-key script whose keys are split between
 * two nodes mid-migration) is retried after a short pause, all within maxRedirections.
 */
export const CLUSTER_BEHAVIOUR = Object.freeze({
  max_redirections: 6,
  try_again_delay_ms: 20,
  /** The slot map is re-read this often, so a promoted replica is found without a MOVED. */
  slots_refresh_interval_ms: 1_000,
  slots_refresh_timeout_ms: 1_000,
});

const CONNECT_TIMEOUT_MS = 2_000;
const RECONNECT_DELAY_MS_MAX = 2_000;

/** A seed node, `host:port` (validated with the configuration, REDIS_CLUSTER_NODES). */
function seedNode(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(':');
  return { host: text.slice(0, at), port: Number(text.slice(at + 1)) };
}

function reconnectDelay(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 6), RECONNECT_DELAY_MS_MAX);
}

export function connectRedis(options: RedisOptions): Redis {
  const node_options: IoRedisOptions = {
    connectionName: options.connection_name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.command_timeout_ms,
    connectTimeout: CONNECT_TIMEOUT_MS,
    lazyConnect: true,
    retryStrategy: reconnectDelay,
  };
  const seeds = options.cluster_nodes ?? [];
  if (seeds.length === 0) {
    return new Redis(options.url, {
      ...node_options,
      enableAutoPipelining: options.auto_pipelining ?? false,
    });
  }
  const url = new URL(options.url);
  const cluster_options: ClusterOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    // No cluster ready check: ioredis 6.0.0 runs it (CLUSTER INFO on a random master) after the
    // slot map, and a failed one reconnects without ever settling connect()'s promise, so a
    // process awaiting it hangs before it listens (a gateway never became ready). It failed
    // whenever that master's connection was still opening ("Connection is closed": no offline
    // queue). A slot whose master is down answers CLUSTERDOWN per command instead.
    enableReadyCheck: false,
    enableAutoPipelining: false,
    maxRedirections: CLUSTER_BEHAVIOUR.max_redirections,
    retryDelayOnMoved: 0,
    retryDelayOnTryAgain: CLUSTER_BEHAVIOUR.try_again_delay_ms,
    retryDelayOnClusterDown: 0,
    retryDelayOnFailover: 0,
    slotsRefreshInterval: CLUSTER_BEHAVIOUR.slots_refresh_interval_ms,
    slotsRefreshTimeout: CLUSTER_BEHAVIOUR.slots_refresh_timeout_ms,
    clusterRetryStrategy: reconnectDelay,
    redisOptions: {
      ...node_options,
      username: url.username === '' ? undefined : decodeURIComponent(url.username),
      password: url.password === '' ? undefined : decodeURIComponent(url.password),
      tls: url.protocol === 'rediss:' ? {} : undefined,
    },
  };
  // Typed as the `Redis` command interface on purpose (see the header): the callers' commands
  // are the same on both, and node-wide work asks masterNodes() for the nodes.
  const cluster = new Cluster(seeds.map(seedNode), cluster_options);
  // Node connections are lazy, and a command meeting one still connecting fails at once (no
  // offline queue): open each as soon as the slot map names it, so it is ready when used.
  cluster.on('+node', (node: Redis) => {
    if (node.status === 'wait') node.connect().catch(() => {});
  });
  return cluster as unknown as Redis;
}

/** True when the client is a Redis Cluster client (connectRedis with cluster nodes). */
export function isCluster(redis: Redis): boolean {
  return (redis as unknown) instanceof Cluster;
}

/**
 * The connections to walk for node-wide work (SCAN, a pipeline of keys from one SCAN batch):
 * the client itself on a single node, each master's own connection on a cluster.
 */
export function masterNodes(redis: Redis): Redis[] {
  return isCluster(redis) ? (redis as unknown as Cluster).nodes('master') : [redis];
}

/** SCAN over every master (never KEYS, which blocks Redis): batches of keys with the node that holds them. */
export async function* scanKeys(
  redis: Redis,
  pattern: string,
  count: number,
): AsyncGenerator<{ node: Redis; keys: string[] }> {
  for (const node of masterNodes(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = next;
      if (keys.length > 0) yield { node, keys };
    } while (cursor !== '0');
  }
}
