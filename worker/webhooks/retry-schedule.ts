// When a failed webhook delivery is tried again. The afc.webhooks.retry.<n> queues hold a
// message for a fixed, growing delay (1 s, 5 s, 30 s, 2 min, 10 min); past the last one the
// last queue is reused. Each retry message also gets a per-message expiration between half
// and all of its queue's delay (jitter), so deliveries that failed together (a receiver
// outage) do not all come back at the same instant. A message behind another in the same
// queue waits at most the queue's delay (RabbitMQ expires from the head), never longer.
// Retries stop at the horizon: a retry that would start after it goes to the DLQ instead.

import { deadLetterQueueName, retryQueueName } from '../../shared/broker/topology.ts';

export type NextStep =
  | { readonly dead: false; readonly queue: string; readonly expiration_ms: number }
  | { readonly dead: true; readonly queue: string };

/**
 * @param failed_attempts attempts made so far, all failed (>= 1)
 * @param elapsed_ms time since the delivery's retry window started
 * @param random returns [0, 1)
 */
export function nextStep(
  queue: string,
  retry_delays_ms: readonly number[],
  failed_attempts: number,
  elapsed_ms: number,
  horizon_ms: number,
  random: () => number,
): NextStep {
  if (retry_delays_ms.length === 0) return { dead: true, queue: deadLetterQueueName(queue) };
  const stage = Math.min(Math.max(1, failed_attempts), retry_delays_ms.length);
  const delay_ms = retry_delays_ms[stage - 1]!;
  const expiration_ms = Math.max(1, Math.floor(delay_ms / 2 + random() * (delay_ms / 2)));
  if (elapsed_ms + expiration_ms > horizon_ms) return { dead: true, queue: deadLetterQueueName(queue) };
  return { dead: false, queue: retryQueueName(queue, stage), expiration_ms };
}
