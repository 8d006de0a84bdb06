// Redis client for the hot path: one connection, commands fail at once while disconnected
// (no offline queue: a queued decision would outlive its budget), reconnects with capped backoff.

import { Redis } from 'ioredis';

export interface RedisOptions {
  readonly url: string;
  readonly connection_name: string;
  /** Per-command timeout; the gateway sets it to its decision budget. */
  readonly command_timeout_ms?: number;
  /**
   * Commands issued in one event-loop turn leave in one socket write (ioredis auto-pipelining).
   * On the hot path this turns a write(2) per decision into one per turn: the gateway's largest
   * CPU cost under load was writing each EVALSHA to the socket on its own. Order on the
   * connection is kept, so a void still runs after the decision it undoes.
   */
  readonly auto_pipelining?: boolean;
}

export function connectRedis(options: RedisOptions): Redis {
  return new Redis(options.url, {
    connectionName: options.connection_name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.command_timeout_ms,
    enableAutoPipelining: options.auto_pipelining ?? false,
    connectTimeout: 2_000,
    lazyConnect: true,
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 6), 2_000),
  });
}
