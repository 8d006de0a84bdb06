// Redis client for the hot path: one connection, commands fail at once while disconnected
// (no offline queue: a queued decision would outlive its budget), reconnects with capped backoff.

import { Redis } from 'ioredis';

export interface RedisOptions {
  readonly url: string;
  readonly connection_name: string;
  /** Per-command timeout; the gateway sets it to its decision budget. */
  readonly command_timeout_ms?: number;
}

export function connectRedis(options: RedisOptions): Redis {
  return new Redis(options.url, {
    connectionName: options.connection_name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.command_timeout_ms,
    connectTimeout: 2_000,
    lazyConnect: true,
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 6), 2_000),
  });
}
