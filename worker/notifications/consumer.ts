// Consumer of `afc.notifications`: each Marqeta notification the gateway received (and already
// applied to the live ledger) is stored once in `marqeta_notifications` (event token unique,
// ON CONFLICT DO NOTHING) for reconciliation (worker/reconcile). An undecodable message goes
// straight to the DLQ, a failed write to the retry path, and a message hit by a store outage
// back to the queue after a short pause, without spending a retry.

import { setTimeout as sleep } from 'node:timers/promises';
import { type AsyncMessage, ConsumerStatus } from 'rabbitmq-client';
import {
  exchanges,
  QUEUE_NOTIFICATIONS,
  queueBindings,
  RETRY_DELAYS_MS,
  workQueueDeclarations,
} from '../../shared/broker/topology.ts';
import { maskToken } from '../../shared/logger.ts';
import { RetryPath } from '../broker/retry-path.ts';
import type { ConsumerHandle, WorkerDeps } from '../consumer-handle.ts';
import { failureReason, WorkerError } from '../errors.ts';
import { isTransientStoreError } from '../ledger/transient.ts';
import { notificationRow, parseNotificationEvent } from './notification-record.ts';

const NOTIFICATION_RETRY_DELAYS_MS = RETRY_DELAYS_MS[QUEUE_NOTIFICATIONS]!;
const CONCURRENCY = 4;
/** Pause before requeueing a message the store could not take (an outage must not spin). */
const OUTAGE_PAUSE_MS = 1_000;

export function startNotificationConsumer(deps: WorkerDeps): ConsumerHandle {
  const { log, rabbit, metrics, sql } = deps;
  const queue = QUEUE_NOTIFICATIONS;
  const labels = { queue };
  const retry = new RetryPath(rabbit, queue, NOTIFICATION_RETRY_DELAYS_MS);

  async function handle(message: AsyncMessage): Promise<ConsumerStatus> {
    let row: ReturnType<typeof notificationRow>;
    try {
      row = notificationRow(parseNotificationEvent(message.body));
    } catch (error) {
      await retry.fail(message, error, error instanceof WorkerError);
      metrics.dead_letters.inc(labels);
      log.error(
        { message_id: message.messageId, reason: failureReason(error) },
        'undecodable notification dead-lettered',
      );
      return ConsumerStatus.ACK;
    }
    try {
      await sql`
        INSERT INTO marqeta_notifications
          (event_token, transaction_token, jit_token, original_jit_token, type, state, card_token, amount_minor,
           currency_code, timed_out, standin_approved_by, ledger_actions, payload, received_at)
        VALUES (${row.event_token}, ${row.transaction_token}, ${row.jit_token}, ${row.original_jit_token},
                ${row.type}, ${row.state}, ${row.card_token}, ${row.amount_minor}, ${row.currency_code},
                ${row.timed_out}, ${row.standin_approved_by}, ${row.ledger_actions}::text[],
                ${sql.json(row.payload as Parameters<typeof sql.json>[0])}, ${row.received_at})
        ON CONFLICT (event_token) DO NOTHING`;
      metrics.processed.inc(labels);
      return ConsumerStatus.ACK;
    } catch (error) {
      if (isTransientStoreError(error)) {
        log.warn({ reason: failureReason(error) }, 'notification store unavailable; requeued');
        await sleep(OUTAGE_PAUSE_MS);
        return ConsumerStatus.REQUEUE;
      }
      const hop = await retry.fail(message, error);
      (hop.dead ? metrics.dead_letters : metrics.retries).inc(labels);
      log.warn(
        {
          event_token: row.event_token,
          card_token: row.card_token === null ? null : maskToken(row.card_token),
          attempt: hop.attempt,
          to: hop.queue,
          reason: failureReason(error),
        },
        hop.dead ? 'notification dead-lettered' : 'notification sent to retry',
      );
      return ConsumerStatus.ACK;
    }
  }

  const [declaration] = workQueueDeclarations(queue, NOTIFICATION_RETRY_DELAYS_MS);
  let consuming = false;
  const consumer = rabbit.createConsumer(
    {
      queue,
      queueOptions: { ...declaration!, arguments: { ...declaration!.arguments } },
      exchanges: exchanges.map((e) => ({ ...e })),
      queueBindings: queueBindings.filter((b) => b.queue === queue).map((b) => ({ ...b })),
      qos: { prefetchCount: CONCURRENCY * 2 },
      concurrency: CONCURRENCY,
      requeue: true,
    },
    handle,
  );
  consumer.on('ready', () => {
    consuming = true;
  });
  consumer.on('error', (error) => log.error({ err: error, queue }, 'notification consumer error'));

  return {
    name: 'notifications',
    isReady: () => consuming && rabbit.ready,
    async close() {
      consuming = false;
      await consumer.close();
      await retry.close();
    },
  };
}
