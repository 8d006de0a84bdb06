// Loads every card of a set into the gateway's Redis cache with the gateway's own loader, so a
// phase that measures the steady state (capacity at SLO) starts with every card warm: a 1%
// Zipf tail never touched by the warm-up would otherwise put cache fills at p99 and measure
// PostgreSQL/FerretDB reads instead of decisions. Parts already cached are left as they are.

import type { Redis } from 'ioredis';
import { CacheLoader, SEED_CACHE_LOADER_OPTIONS } from '../../gateway/decide/cache-loader.ts';
import { loadScripts } from '../../gateway/decide/scripts.ts';
import { createLogger } from '../../shared/logger.ts';
import { decisionKeys, type KeyLayout } from '../../shared/redis-keys.ts';
import { windowIds } from '../../shared/spend-windows.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import type { Db } from 'mongodb';
import { ordinaryCard } from '../simulator/cards.ts';

const LOADS_IN_PARALLEL = 8;

export async function warmCardSet(
  stores: { readonly sql: PgSql; readonly db: Db; readonly redis: Redis },
  layout: KeyLayout,
  run_id: string,
  card_offset: number,
  card_count: number,
  time_zone: string,
): Promise<number> {
  const loader = new CacheLoader(
    stores.sql,
    stores.db,
    loadScripts(stores.redis),
    layout,
    createLogger('bench-warm-cache', 'error'),
    SEED_CACHE_LOADER_OPTIONS,
  );
  const windows = windowIds(Date.now(), time_zone);
  let next = card_offset;
  let loaded = 0;
  const lane = async () => {
    while (next < card_offset + card_count) {
      const card = ordinaryCard(run_id, next++);
      await loader.fill(decisionKeys(layout, card.user_token, card.card_token, ''), card.card_token, windows);
      loaded++;
    }
  };
  await Promise.all(Array.from({ length: LOADS_IN_PARALLEL }, lane));
  return loaded;
}
