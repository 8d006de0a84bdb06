// Cache invalidation after a database commit (seed property 4). Deletes only the cached
// parts the update changed (card, limits, user); the live ledger key, which holds the holds
// in flight, is not even expressible here. A second delete after `redelete_ms` removes the
// old state a gateway fill may still write: one that read the database before our commit
// writes only absent keys, so it can land right after the first delete.

import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.ts';
import { decisionKeys, type KeyLayout } from '../../shared/redis-keys.ts';

export type CachedPart = 'card' | 'limits' | 'user';

const DELETE_ATTEMPTS_MAX = 3;
const DELETE_BACKOFF_MS = 25;

export interface CardCacheRef {
  readonly user_token: string;
  readonly card_token: string;
}

export class CacheInvalidator {
  readonly #redis: Redis;
  readonly #layout: KeyLayout;
  readonly #redelete_ms: number;
  readonly #log: Logger;
  readonly #pending = new Map<NodeJS.Timeout, string[]>();

  constructor(redis: Redis, layout: KeyLayout, redelete_ms: number, log: Logger) {
    this.#redis = redis;
    this.#layout = layout;
    this.#redelete_ms = redelete_ms;
    this.#log = log;
  }

  get layout(): KeyLayout {
    return this.#layout;
  }

  keysOf(ref: CardCacheRef, parts: readonly CachedPart[]): string[] {
    const keys = decisionKeys(this.#layout, ref.user_token, ref.card_token, '');
    return parts.map((part) => keys[part]);
  }

  /** Deletes the parts of these cards now and once more after the re-delete delay. */
  async invalidate(refs: readonly CardCacheRef[], parts: readonly CachedPart[]): Promise<void> {
    const keys = [...new Set(refs.flatMap((ref) => this.keysOf(ref, parts)))];
    if (keys.length === 0) return;
    await this.#delete(keys);
    if (this.#redelete_ms > 0) {
      const timer = setTimeout(() => {
        this.#pending.delete(timer);
        void this.#delete(keys);
      }, this.#redelete_ms);
      timer.unref();
      this.#pending.set(timer, keys);
    }
  }

  /** Runs the scheduled second deletes now (shutdown). */
  async flush(): Promise<void> {
    const batches = [...this.#pending.entries()];
    this.#pending.clear();
    for (const [timer] of batches) clearTimeout(timer);
    await Promise.all(batches.map(([, keys]) => this.#delete(keys)));
  }

  async #delete(keys: string[]): Promise<void> {
    for (let attempt = 1; attempt <= DELETE_ATTEMPTS_MAX; attempt++) {
      try {
        // One DEL per key: the keys of several cards live in different hash slots (Redis Cluster).
        await Promise.all(keys.map((key) => this.#redis.del(key)));
        return;
      } catch (error) {
        if (attempt === DELETE_ATTEMPTS_MAX) {
          // The commit stands; the cache TTLs (at most 3600 s) bound how long it stays stale.
          this.#log.error({ err: error, keys: keys.length }, 'cache invalidation failed');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, DELETE_BACKOFF_MS * 2 ** (attempt - 1)));
      }
    }
  }
}
