// REDIS_WAIT_REPLICAS: a decision is answered only once its writes (hold, decision record,
// outbox entry) reached that many replicas, so a master that dies right after cannot take an
// answered decision with it. Redis replicates asynchronously; WAIT blocks the connection until
// the replicas acknowledged every write it sent before, or the timeout passes.
//
// Group commit: the decisions of one event-loop turn share one WAIT per connection (single
// node) or per shard (cluster: a WAIT pinned to the shard's master by a read of one of its keys
// in the same pipeline). Fewer replicas than asked, or an error, fails the decision: the decider
// answers it `system_error` and voids it, as for any Redis error. A cache miss wrote nothing
// and waits for nothing.

import type { Redis } from 'ioredis';
import { isCluster } from '../../shared/stores/redis.ts';
import { CACHE_MISS, type DecisionScripts } from './scripts.ts';

export class ReplicaWaitError extends Error {
  readonly code = 'GW_ERR_REPLICA_WAIT';
}

export interface ReplicaWaitOptions {
  /** Replicas that must hold a decision before it is answered; 0 turns WAIT off. */
  readonly redis_wait_replicas: number;
  /** How long one WAIT may block; within the decision budget. */
  readonly redis_wait_timeout_ms: number;
}

export function withReplicaWait(
  scripts: DecisionScripts,
  redis: Redis,
  options: ReplicaWaitOptions,
): DecisionScripts {
  const { redis_wait_replicas: replicas, redis_wait_timeout_ms: timeout_ms } = options;
  if (replicas === 0) return scripts;
  const per_shard = isCluster(redis);
  /** The WAIT of this turn per group (connection or shard), by the key that pins it. */
  let turn: Map<string, Promise<void>> | null = null;

  const waitFor = (pin_key: string): Promise<void> => {
    const group = per_shard ? pin_key : '';
    if (turn === null) {
      turn = new Map();
      // After this turn's scripts were written (auto-pipelining flushes on process.nextTick).
      setImmediate(() => {
        turn = null;
      });
    }
    let waited = turn.get(group);
    if (waited === undefined) {
      const pending = turn;
      waited = new Promise<void>((resolve, reject) => {
        setImmediate(() => {
          redis
            .pipeline()
            .exists(pin_key)
            .call('WAIT', replicas, timeout_ms)
            .exec()
            .then((replies) => {
              const [error, acked] = replies?.[1] ?? [new ReplicaWaitError('no WAIT reply'), 0];
              if (error) throw error;
              if (Number(acked) < replicas)
                throw new ReplicaWaitError(
                  `${acked} of ${replicas} replicas acknowledged in ${timeout_ms} ms`,
                );
              resolve();
            })
            .catch(reject);
        });
      });
      pending.set(group, waited);
    }
    return waited;
  };

  return {
    ...scripts,
    async decide(keys, args) {
      const reply = await scripts.decide(keys, args);
      if (reply.status !== CACHE_MISS) await waitFor(keys.outbox);
      return reply;
    },
  };
}
