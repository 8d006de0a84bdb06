// Rebuilding Redis from the ledger: delete the live ledger hashes so the gateway refills each
// card from the ledger on its next decision (gateway/decide/cache-loader.ts). Never the outbox
// streams nor the decision records. Safe only when every decision already made is in the ledger:
// the outbox streams are empty and the decision queues (with their retry queues) are drained.

import type { Redis } from 'ioredis';
import type { Connection } from 'rabbitmq-client';
import {
  QUEUE_DECISIONS,
  QUEUE_PERSONAL_DECISIONS,
  RETRY_DELAYS_MS,
  retryQueueName,
} from '../../shared/broker/topology.ts';
import { type KeyLayout, outboxKeys } from '../../shared/redis-keys.ts';
import { liveLedgers } from './live-ledger.ts';

/** Why a rebuild now would lose decisions (empty: safe). */
export async function rebuildBlockers(
  redis: Redis,
  rabbit: Connection,
  layout: KeyLayout,
): Promise<string[]> {
  const blockers: string[] = [];
  for (const key of outboxKeys(layout)) {
    const length = await redis.xlen(key);
    if (length > 0) blockers.push(`outbox ${key} holds ${length} entries not yet relayed`);
  }
  for (const work_queue of [QUEUE_DECISIONS, QUEUE_PERSONAL_DECISIONS]) {
    const delays = RETRY_DELAYS_MS[work_queue] ?? [];
    for (const queue of [work_queue, ...delays.map((_, i) => retryQueueName(work_queue, i + 1))]) {
      const { messageCount } = await rabbit.queueDeclare({ queue, passive: true });
      if (messageCount > 0)
        blockers.push(`queue ${queue} holds ${messageCount} decision messages not yet persisted`);
    }
  }
  return blockers;
}

/** Deletes the live ledger hashes (one card's, or all); returns how many were deleted. */
export async function deleteLedgerHashes(
  redis: Redis,
  key_prefix: string,
  card_token: string | null,
): Promise<number> {
  let deleted = 0;
  for await (const batch of liveLedgers(redis, key_prefix, card_token)) {
    // One key per call: the keys of a batch live in different hash slots (Redis Cluster).
    for (const live of batch) deleted += await redis.del(live.key);
  }
  return deleted;
}
