// RabbitMQ topology, declared idempotently at startup by both processes (the gateway must
// not publish into an exchange with no bound queue: unroutable decisions would be dropped).
// Declarations must be identical everywhere, so this module is their only source.
//
// Work queues are quorum queues. Each has a retry path and a dead-letter queue:
//   <queue>.retry.<n>  classic durable queue with a fixed message TTL; on expiry RabbitMQ
//                      dead-letters the message back to <queue> through the default exchange
//   <queue>.dlq        quorum queue holding what failed every attempt, with its reason
// A consumer that fails a message republishes it (confirmed) to the next retry queue with
// header x-attempt, or to the DLQ when the attempts are used up, then acks the original.

import type { Connection } from 'rabbitmq-client';

export const EXCHANGE_EVENTS = 'afc.events';

/**
 * Decisions on business cards (ledger in PostgreSQL) and on personal cards (MongoDB), one queue per
 * store: each drains at its own store's pace, so a slow document store never holds back the
 * relational ledger (one shared queue drained at about four times the personal write rate).
 */
export const QUEUE_DECISIONS = 'afc.decisions';
export const QUEUE_PERSONAL_DECISIONS = 'afc.decisions.personal';
export const QUEUE_WEBHOOKS = 'afc.webhooks';
/** Commands for the Marqeta API (card issuance), routed by `command.#`. */
export const QUEUE_MARQETA = 'afc.marqeta';
/** Marqeta notifications received on our webhook, stored by the worker for reconciliation. */
export const QUEUE_NOTIFICATIONS = 'afc.notifications';

/** Delays of the retry path of each work queue, in order (3 retries for decisions). */
export const RETRY_DELAYS_MS: Readonly<Record<string, readonly number[]>> = Object.freeze({
  [QUEUE_DECISIONS]: [100, 200, 400],
  [QUEUE_PERSONAL_DECISIONS]: [100, 200, 400],
  [QUEUE_WEBHOOKS]: [1_000, 5_000, 30_000, 120_000, 600_000],
  [QUEUE_MARQETA]: [1_000, 5_000, 30_000],
  [QUEUE_NOTIFICATIONS]: [100, 200, 400],
});

export const HEADER_ATTEMPT = 'x-attempt';
export const HEADER_LAST_ERROR = 'x-last-error';
export const HEADER_FAILED_AT = 'x-failed-at';
/** Where a message was first routed (retries arrive through the default exchange). */
export const HEADER_ORIGINAL_ROUTING_KEY = 'x-original-routing-key';

export function retryQueueName(queue: string, attempt: number): string {
  return `${queue}.retry.${attempt}`;
}

export function deadLetterQueueName(queue: string): string {
  return `${queue}.dlq`;
}

export const exchanges = [{ exchange: EXCHANGE_EVENTS, type: 'topic', durable: true }] as const;

export const WORK_QUEUES = [
  QUEUE_DECISIONS,
  QUEUE_PERSONAL_DECISIONS,
  QUEUE_WEBHOOKS,
  QUEUE_MARQETA,
  QUEUE_NOTIFICATIONS,
] as const;

export interface QueueDeclaration {
  readonly queue: string;
  readonly durable: true;
  readonly arguments: Readonly<Record<string, string | number>>;
}

/** A work queue, its DLQ and its retry queues (also used by tests with short delays). */
export function workQueueDeclarations(queue: string, retry_delays_ms: readonly number[]): QueueDeclaration[] {
  return [
    { queue, durable: true, arguments: { 'x-queue-type': 'quorum' } },
    { queue: deadLetterQueueName(queue), durable: true, arguments: { 'x-queue-type': 'quorum' } },
    ...retry_delays_ms.map((delay_ms, i) => ({
      queue: retryQueueName(queue, i + 1),
      durable: true as const,
      arguments: {
        'x-queue-type': 'classic',
        'x-message-ttl': delay_ms,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': queue,
      },
    })),
  ];
}

export const queues: readonly QueueDeclaration[] = WORK_QUEUES.flatMap((queue) =>
  workQueueDeclarations(queue, RETRY_DELAYS_MS[queue] ?? []),
);

export const queueBindings = [
  // Routing keys are decision.<card kind>.<approved|declined> (messages.ts decisionRoutingKey); a
  // decision on an unknown card is recorded with the business ledger (PostgreSQL).
  { queue: QUEUE_DECISIONS, exchange: EXCHANGE_EVENTS, routingKey: 'decision.business.#' },
  { queue: QUEUE_DECISIONS, exchange: EXCHANGE_EVENTS, routingKey: 'decision.unknown.#' },
  { queue: QUEUE_PERSONAL_DECISIONS, exchange: EXCHANGE_EVENTS, routingKey: 'decision.personal.#' },
  // Program webhooks: card lifecycle events; decisions (`decision.#`) only while an active endpoint
  // wants them (shared/webhooks/decision-binding.ts).
  { queue: QUEUE_WEBHOOKS, exchange: EXCHANGE_EVENTS, routingKey: 'card.#' },
  { queue: QUEUE_MARQETA, exchange: EXCHANGE_EVENTS, routingKey: 'command.#' },
  { queue: QUEUE_NOTIFICATIONS, exchange: EXCHANGE_EVENTS, routingKey: 'notification.#' },
] as const;

/**
 * Bindings of earlier versions, removed at startup: afc.decisions used to take every decision, and a
 * binding stays on the broker until unbound (personal decisions would then be written twice; harmless,
 * as writes are idempotent, but wasted). Unbinding one that is not there is not an error.
 */
export const obsoleteBindings = [
  { queue: QUEUE_DECISIONS, exchange: EXCHANGE_EVENTS, routingKey: 'decision.#' },
] as const;

export async function unbindObsolete(rabbit: Connection): Promise<void> {
  for (const b of obsoleteBindings) await rabbit.queueUnbind({ ...b });
}

export async function declareTopology(rabbit: Connection): Promise<void> {
  for (const e of exchanges) await rabbit.exchangeDeclare({ ...e });
  for (const q of queues) await rabbit.queueDeclare({ ...q, arguments: { ...q.arguments } });
  for (const b of queueBindings) await rabbit.queueBind({ ...b });
  await unbindObsolete(rabbit);
}
