// Recovery and drain: after the load, every service is up again, both processes are ready, the
// Redis outbox is empty (everything relayed and confirmed) and no message is left in the
// vhost's work or retry queues (everything persisted and acknowledged), with every queue
// running and the worker subscribed to each work queue again. Bounded: a run that
// does not drain in time is a failure, with what was left.

import type { Redis } from 'ioredis';
import { outboxKeys, type KeyLayout } from '../../shared/redis-keys.ts';
import { queueDepths, type QueueDepths } from '../services/rabbitmq.ts';

const POLL_MS = 500;
/** Both empty this many polls in a row: nothing was in the worker's hands between two polls. */
const QUIET_POLLS = 2;

export interface DrainResult {
  readonly drained: boolean;
  readonly waited_ms: number;
  readonly outbox: number;
  readonly queues: QueueDepths;
  /** The last reasons the queues were not settled, if ever (a consumer that kept dropping, say). */
  readonly last_unsettled: string[];
}

export async function outboxDepth(redis: Redis, layout: KeyLayout): Promise<number> {
  // One XLEN per stream: on a cluster the streams live on different masters.
  const lengths = await Promise.all(outboxKeys(layout).map((stream) => redis.xlen(stream)));
  return lengths.reduce((sum, length) => sum + length, 0);
}

export async function waitDrained(
  redis: Redis,
  layout: KeyLayout,
  vhost: string,
  limit_ms: number,
): Promise<DrainResult> {
  const started_ms = performance.now();
  let quiet = 0;
  let outbox = -1;
  let queues: QueueDepths = { in_flight: -1, dead_letters: {}, unsettled: [] };
  let last_unsettled: string[] = [];
  while (performance.now() - started_ms < limit_ms) {
    outbox = await outboxDepth(redis, layout).catch(() => -1);
    queues = await queueDepths(vhost).catch(() => ({ in_flight: -1, dead_letters: {}, unsettled: [] }));
    if (queues.unsettled.length > 0) last_unsettled = queues.unsettled;
    quiet = outbox === 0 && queues.in_flight === 0 && queues.unsettled.length === 0 ? quiet + 1 : 0;
    if (quiet >= QUIET_POLLS) break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return {
    drained: quiet >= QUIET_POLLS,
    waited_ms: performance.now() - started_ms,
    outbox,
    queues,
    last_unsettled,
  };
}
