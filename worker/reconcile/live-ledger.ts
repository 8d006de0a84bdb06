// The live ledger hashes in Redis (`<prefix>:{<shard>}:ledger:<card token>`, see decide-10.lua
// KEYS[5]), found with SCAN in bounded batches: never KEYS, which blocks Redis.

import type { Redis } from 'ioredis';
import { scanKeys } from '../../shared/stores/redis.ts';

/** Keys per SCAN call (a hint to Redis) and hashes read per pipeline. */
export const SCAN_BATCH = 500;

export interface LiveLedger {
  readonly key: string;
  readonly card_token: string;
  readonly fields: Readonly<Record<string, string>>;
}

/** SCAN pattern of the ledger hashes: every shard, one card or all. */
function pattern(key_prefix: string, card_token: string | null): string {
  const escaped = card_token === null ? '*' : card_token.replaceAll(/[*?[\]\\]/g, (c) => `\\${c}`);
  return `${key_prefix}:{*}:ledger:${escaped}`;
}

/** Yields the ledger hashes batch by batch (a key SCAN returns twice is read once). */
export async function* liveLedgers(
  redis: Redis,
  key_prefix: string,
  card_token: string | null,
): AsyncGenerator<LiveLedger[]> {
  const seen = new Set<string>();
  const marker = ':ledger:';
  // On a Redis Cluster each master is scanned in turn, and a batch is read from the node that holds it.
  for await (const { node, keys } of scanKeys(redis, pattern(key_prefix, card_token), SCAN_BATCH)) {
    const fresh = keys.filter((key) => !seen.has(key));
    for (const key of fresh) seen.add(key);
    if (fresh.length === 0) continue;
    const pipeline = node.pipeline();
    for (const key of fresh) pipeline.hgetall(key);
    const replies = (await pipeline.exec()) ?? [];
    const batch: LiveLedger[] = [];
    fresh.forEach((key, i) => {
      const [error, fields] = replies[i] ?? [null, {}];
      if (error) throw error;
      const record = fields as Record<string, string>;
      // Expired between SCAN and HGETALL: nothing live to compare.
      if (Object.keys(record).length === 0) return;
      batch.push({ key, card_token: key.slice(key.indexOf(marker) + marker.length), fields: record });
    });
    if (batch.length > 0) yield batch;
  }
}
