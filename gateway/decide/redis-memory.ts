// Redis memory policy: what Redis may evict when it reaches `maxmemory`. The decision scripts
// give a TTL to the cached parts only (shared/redis-keys.ts), so a `volatile-*` policy can evict
// cache and nothing else, and `noeviction` evicts nothing. An `allkeys-*` policy would evict live
// ledger hashes, idempotency records and outbox entries: the gateway refuses to start on one.
//
//   policy         maxmemory  verdict
//   allkeys-*      any        refused at start (GW_ERR_REDIS_EVICTS_MONEY); at run time an error
//                             log, a readiness warning and afc_redis_eviction_safe 0 (page)
//   volatile-*     > 0        ok: cache evicted under pressure, refilled on the next use
//   volatile-*     0          warning: no limit, Redis grows until the host runs out of memory
//   noeviction     > 0        warning: a full Redis refuses writes, every decision a system_error
//   noeviction     0          warning: both of the above (the shared dev Redis: never refused)
//
// Read with INFO, which managed Redis services allow where CONFIG GET is renamed or disabled;
// on Redis Cluster every master is read (the worst one counts).

import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.ts';
import type { gatewayMetrics } from '../../shared/metrics.ts';

export class RedisEvictsMoneyError extends Error {
  readonly code = 'GW_ERR_REDIS_EVICTS_MONEY';
}

export interface RedisMemoryState {
  /** maxmemory-policy of the worst node. */
  readonly policy: string;
  /** The smallest maxmemory of the nodes, bytes; 0 = no limit. */
  readonly maxmemory_bytes: number;
  readonly used_bytes: number;
  /** evicted_keys summed over the nodes since each started. */
  readonly evicted_keys: number;
  /** Could this policy evict money state (keys without a TTL)? */
  readonly evicts_money: boolean;
  /** What an operator must know, or null when Redis is configured as documented. */
  readonly warning: string | null;
}

type RedisMemoryMetrics = Pick<
  ReturnType<typeof gatewayMetrics>,
  'redis_evicted_keys' | 'redis_memory_used' | 'redis_memory_max' | 'redis_eviction_safe'
>;

const SAFE_POLICIES = new Set([
  'volatile-lru',
  'volatile-lfu',
  'volatile-ttl',
  'volatile-random',
  'noeviction',
]);
const DOCS = 'docs/operations.md#redis-memory';

function field(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

function nodesOf(redis: Redis | Cluster): Array<Redis> {
  return 'nodes' in redis && typeof redis.nodes === 'function' ? redis.nodes('master') : [redis as Redis];
}

/** The verdict on a policy and a limit (the table above). */
export function memoryWarning(policy: string, maxmemory_bytes: number): string | null {
  if (!SAFE_POLICIES.has(policy))
    return `maxmemory-policy ${policy} may evict money state (ledger hashes, idempotency records, outbox entries): set volatile-lru (${DOCS})`;
  if (policy === 'noeviction')
    return `maxmemory-policy noeviction: cached cards are never evicted, and a full Redis refuses writes (every decision a system_error); set maxmemory and volatile-lru (${DOCS})`;
  if (maxmemory_bytes === 0)
    return `maxmemory is 0 (no limit): Redis grows until the host runs out of memory; set maxmemory (${DOCS})`;
  return null;
}

/** Reads the memory policy, limit, use and evictions of every master. */
export async function readRedisMemory(redis: Redis | Cluster): Promise<RedisMemoryState> {
  const nodes = await Promise.all(
    nodesOf(redis).map(async (node) => {
      const [memory, stats] = await Promise.all([node.info('memory'), node.info('stats')]);
      return {
        policy: field(memory, 'maxmemory_policy') ?? 'unknown',
        maxmemory_bytes: Number(field(memory, 'maxmemory') ?? 0),
        used_bytes: Number(field(memory, 'used_memory') ?? 0),
        evicted_keys: Number(field(stats, 'evicted_keys') ?? 0),
      };
    }),
  );
  const unsafe = nodes.find((node) => !SAFE_POLICIES.has(node.policy));
  const warned = nodes.find((node) => memoryWarning(node.policy, node.maxmemory_bytes) !== null);
  const worst = unsafe ?? warned ?? nodes[0]!;
  return {
    policy: worst.policy,
    maxmemory_bytes: Math.min(...nodes.map((node) => node.maxmemory_bytes)),
    used_bytes: nodes.reduce((sum, node) => sum + node.used_bytes, 0),
    evicted_keys: nodes.reduce((sum, node) => sum + node.evicted_keys, 0),
    evicts_money: unsafe !== undefined,
    warning: memoryWarning(worst.policy, worst.maxmemory_bytes),
  };
}

/**
 * At start: throws RedisEvictsMoneyError when Redis could evict money state; logs the warning
 * of a policy that is merely risky. A Redis that does not answer is not checked here (the
 * gateway starts without it); RedisMemoryWatch reports on it once it answers.
 */
export async function refuseMoneyEvictingRedis(redis: Redis | Cluster, log: Logger): Promise<void> {
  let state: RedisMemoryState;
  try {
    state = await readRedisMemory(redis);
  } catch (error) {
    log.warn({ err: error }, 'redis memory policy not checked at start: redis did not answer');
    return;
  }
  if (state.evicts_money) throw new RedisEvictsMoneyError(`refusing to start: ${state.warning}`);
  if (state.warning !== null)
    log.warn({ policy: state.policy, maxmemory_bytes: state.maxmemory_bytes }, state.warning);
}

/** How often the watch reads Redis (two INFO calls per master). */
export const REDIS_MEMORY_SAMPLE_MS = 5_000;

/**
 * Samples Redis memory in the background for /metrics and readiness (which read the latest
 * sample from memory); logs once per change of verdict.
 */
export class RedisMemoryWatch {
  readonly #redis: Redis | Cluster;
  readonly #metrics: RedisMemoryMetrics;
  readonly #log: Logger;
  #evicted_keys_seen: number | null = null;
  #warning: string | null = null;
  #timer: NodeJS.Timeout | undefined;
  #sampling = false;

  constructor(redis: Redis | Cluster, metrics: RedisMemoryMetrics, log: Logger) {
    this.#redis = redis;
    this.#metrics = metrics;
    this.#log = log;
  }

  /** Samples now and every interval_ms; a Redis that does not answer is skipped (readiness reports it). */
  async start(interval_ms = REDIS_MEMORY_SAMPLE_MS): Promise<void> {
    this.#timer = setInterval(() => void this.#poll(), interval_ms);
    this.#timer.unref();
    await this.#poll();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #poll(): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    await this.sample()
      .catch(() => {})
      .finally(() => {
        this.#sampling = false;
      });
  }

  /** The latest warning (null when Redis is configured as documented or not sampled yet). */
  warning(): string | null {
    return this.#warning;
  }

  async sample(): Promise<RedisMemoryState> {
    const state = await readRedisMemory(this.#redis);
    // evicted_keys restarts at 0 with Redis: count what is new since the last sample.
    const seen = this.#evicted_keys_seen;
    if (seen !== null) {
      const evicted = state.evicted_keys >= seen ? state.evicted_keys - seen : state.evicted_keys;
      if (evicted > 0) this.#metrics.redis_evicted_keys.inc(evicted);
    }
    this.#evicted_keys_seen = state.evicted_keys;
    this.#metrics.redis_memory_used.set(state.used_bytes);
    this.#metrics.redis_memory_max.set(state.maxmemory_bytes);
    this.#metrics.redis_eviction_safe.set(state.evicts_money ? 0 : 1);
    if (state.warning !== this.#warning && state.warning !== null) {
      const details = { policy: state.policy, maxmemory_bytes: state.maxmemory_bytes };
      if (state.evicts_money) this.#log.error(details, state.warning);
      else this.#log.warn(details, state.warning);
    }
    this.#warning = state.warning;
    return state;
  }
}
