// Whether the webhook queue takes decision events: the binding `decision.#` of afc.webhooks to
// afc.events exists only while an active endpoint's filter matches a decision event type.
// Bound for good, it made RabbitMQ route every decision batch into a queue no endpoint wanted,
// and the worker decode and drop it: at 300 decisions/s, ~250 us of RabbitMQ's CPU and ~160 us
// of the worker's per decision. Card lifecycle events (`card.#`, a few a day) stay bound.
//
// Who binds: the management API in the transaction that creates, changes or deletes an endpoint
// (before it answers: an endpoint sees the decisions made after its creation), and every worker
// at start and every few seconds (a broker that lost its bindings, an endpoint changed by hand).
// Both read the endpoints and apply the result under one advisory lock, so a worker that read
// the table before an endpoint's creation cannot unbind after the API bound.

import type { Connection } from 'rabbitmq-client';
import { EXCHANGE_EVENTS, QUEUE_WEBHOOKS } from '../broker/topology.ts';
import type { CardKind } from '../messages.ts';
import type { PgTx } from '../stores/postgres.ts';
import { endpointWants } from './event-types.ts';

export const DECISIONS_ROUTING_PATTERN = 'decision.#';

/** Every routing key a decision batch is published with (messages.ts decisionRoutingKey). */
const CARD_KINDS: readonly CardKind[] = ['business', 'personal', 'unknown'];
export const DECISION_EVENT_TYPES: readonly string[] = CARD_KINDS.flatMap((kind) => [
  `decision.${kind}.approved`,
  `decision.${kind}.declined`,
]);

/** Explicit bound: active endpoints a program may have; the worker delivers to the oldest this many. */
export const ACTIVE_ENDPOINTS_MAX = 1_000;
/** Transaction-scoped advisory lock key of the binding (a stable 64-bit constant). */
const BINDING_LOCK_KEY = 'afc:webhooks:decision-binding';

/** Whether any endpoint filter (an array of topic patterns; empty: every event) matches a decision. */
export function wantsDecisionEvents(filters: ReadonlyArray<readonly string[]>): boolean {
  return filters.some((event_types) =>
    DECISION_EVENT_TYPES.some((event_type) => endpointWants(event_types, event_type)),
  );
}

/**
 * Only afc.webhooks is bound to the events exchange: a webhook queue of another name (a test's)
 * takes what is published to it directly, as it takes no `card.#` either.
 */
export function takesDecisionBinding(queue: string): boolean {
  return queue === QUEUE_WEBHOOKS;
}

/**
 * Binds or unbinds `decision.#` for `queue` as the active endpoints (as `tx` sees them) want, under
 * the binding's advisory lock, held until `tx` ends. Returns whether the queue is bound.
 */
export async function applyDecisionBinding(tx: PgTx, rabbit: Connection, queue: string): Promise<boolean> {
  if (!takesDecisionBinding(queue)) return false;
  await tx`SELECT pg_advisory_xact_lock(hashtextextended(${BINDING_LOCK_KEY}, 0))`;
  const rows = await tx<Array<{ event_types: string[] }>>`
    SELECT event_types FROM webhook_endpoints WHERE active ORDER BY created_at LIMIT ${ACTIVE_ENDPOINTS_MAX}`;
  const wanted = wantsDecisionEvents(rows.map((row) => row.event_types));
  const binding = { queue, exchange: EXCHANGE_EVENTS, routingKey: DECISIONS_ROUTING_PATTERN };
  if (wanted) await rabbit.queueBind(binding);
  else await rabbit.queueUnbind(binding);
  return wanted;
}
