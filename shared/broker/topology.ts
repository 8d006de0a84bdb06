// RabbitMQ topology, declared idempotently at startup by both processes (the gateway must
// not publish into an exchange with no bound queue: unroutable decisions would be dropped).
// Declarations must be identical everywhere, so this module is their only source.

import type { Connection } from 'rabbitmq-client';

export const EXCHANGE_EVENTS = 'afc.events';

export const QUEUE_DECISIONS = 'afc.decisions';

export const exchanges = [{ exchange: EXCHANGE_EVENTS, type: 'topic', durable: true }] as const;

export const queues = [
  {
    queue: QUEUE_DECISIONS,
    durable: true,
    arguments: { 'x-queue-type': 'quorum' },
  },
] as const;

export const queueBindings = [{ queue: QUEUE_DECISIONS, exchange: EXCHANGE_EVENTS, routingKey: 'decision.#' }] as const;

export async function declareTopology(rabbit: Connection): Promise<void> {
  for (const e of exchanges) await rabbit.exchangeDeclare({ ...e });
  for (const q of queues) await rabbit.queueDeclare({ ...q, arguments: { ...q.arguments } });
  for (const b of queueBindings) await rabbit.queueBind({ ...b });
}
