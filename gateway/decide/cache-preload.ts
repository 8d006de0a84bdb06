// Start-up preload: a starting gateway loads the cached parts of the recently active cards, so
// their first decisions after a cold cache (Redis restarted from its AOF, or every gateway down
// past the TTLs) do not wait on the stores. "Recently active" is read from the live ledger
// hashes, whose `t` field is the unix ms of their last change (decide-10.lua): found with SCAN,
// bounded in cards and time, loaded a few at a time. Runs before the gateway listens; never fatal.

import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.ts';
import { ledgerField } from '../../shared/redis-hash-fields.ts';
import { scanKeys } from '../../shared/stores/redis.ts';
import { windowIds } from '../../shared/spend-windows.ts';
import type { CacheLoader } from './cache-loader.ts';

export interface PreloadOptions {
  readonly key_prefix: string;
  /** Cards whose ledger was touched within this many seconds (0: no preload). */
  readonly active_s: number;
  readonly cards_max: number;
  readonly budget_ms: number;
  readonly program_time_zone: string;
}

export interface PreloadResult {
  readonly active: number;
  readonly loaded: number;
  readonly failed: number;
  readonly elapsed_ms: number;
}

const SCAN_COUNT = 1_000;
const LOADS_IN_PARALLEL = 8;
const LEDGER_MARKER = ':ledger:';

export async function preloadActiveCards(
  redis: Redis,
  loader: CacheLoader,
  options: PreloadOptions,
  log: Logger,
): Promise<PreloadResult> {
  const started_ms = performance.now();
  const deadline_ms = started_ms + options.budget_ms;
  const result = { active: 0, loaded: 0, failed: 0 };
  if (options.active_s === 0 || options.cards_max === 0 || options.budget_ms === 0) {
    return { ...result, elapsed_ms: 0 };
  }
  const active_since_ms = Date.now() - options.active_s * 1000;
  const windows = windowIds(Date.now(), options.program_time_zone);
  const due: Array<{ card_key: string; card_token: string }> = [];
  const pattern = `${options.key_prefix}:{*}${LEDGER_MARKER}*`;
  for await (const { node, keys } of scanKeys(redis, pattern, SCAN_COUNT)) {
    const pipeline = node.pipeline();
    const cards = keys.map((ledger_key) => {
      const at = ledger_key.indexOf(LEDGER_MARKER);
      // The card hash shares the ledger's hash tag: same prefix, `:card:` instead of `:ledger:`.
      const card_token = ledger_key.slice(at + LEDGER_MARKER.length);
      const card_key = `${ledger_key.slice(0, at)}:card:${card_token}`;
      pipeline.hget(ledger_key, ledgerField.changed_ms);
      pipeline.exists(card_key);
      return { card_key, card_token };
    });
    const replies = (await pipeline.exec()) ?? [];
    cards.forEach((card, i) => {
      const changed_ms = Number(replies[2 * i]?.[1] ?? 0);
      const cached = Number(replies[2 * i + 1]?.[1] ?? 0) === 1;
      if (changed_ms < active_since_ms) return;
      result.active++;
      if (!cached && due.length < options.cards_max) due.push(card);
    });
    if (due.length >= options.cards_max || performance.now() >= deadline_ms) break;
  }

  let next_index = 0;
  const lane = async () => {
    while (next_index < due.length && performance.now() < deadline_ms) {
      const card = due[next_index++]!;
      try {
        if (await loader.preload(card.card_key, card.card_token, windows)) result.loaded++;
      } catch (error) {
        result.failed++;
        log.debug({ err: error }, 'preload of a card failed');
      }
    }
  };
  await Promise.all(Array.from({ length: LOADS_IN_PARALLEL }, lane));
  const elapsed_ms = Math.round(performance.now() - started_ms);
  log.info({ ...result, elapsed_ms }, 'preloaded recently active cards');
  return { ...result, elapsed_ms };
}
