// Test side of the decision batch (shared/decision-batch.ts): a DecisionEvent written back as the
// outbox entry the Lua scripts would have written (the inverse of decisionEventOf), and
// publishing decisions as batch messages the way the relay does.
import { randomUUID } from 'node:crypto';
import type { Connection } from 'rabbitmq-client';
import {
  CONTENT_TYPE_DECISION_BATCH,
  decisionEventOf,
  decodeBatch,
  encodeBatch,
  packEntry,
} from '../../shared/decision-batch.ts';
import type { LedgerEffectsJson } from '../../shared/ledger-effects.ts';
import type { DecisionEvent } from '../../shared/messages.ts';

const PERIOD_LETTER = { day: 'd', week: 'w', month: 'm', year: 'y', all: 'a' } as const;

/** The `fx` field the decision script writes for these effects. */
export function fxOf(effects: LedgerEffectsJson): string {
  const items: string[] = [];
  if (effects.held_delta_minor !== '0') items.push(`held:${effects.held_delta_minor}`);
  if (effects.posted_delta_minor !== '0') items.push(`pend:${effects.posted_delta_minor}`);
  if (effects.hold_delta_minor !== '0') items.push(`hold:${effects.hold_delta_minor}`);
  if (effects.hold_state !== null) items.push(`hold_state:${effects.hold_state}`);
  for (const s of effects.spend)
    items.push(`spend:${PERIOD_LETTER[s.period]}:${s.window_id}:${s.delta_minor}:${s.delta_count}`);
  for (const g of effects.group_spend)
    items.push(`gspend:${g.mcc_group}:${PERIOD_LETTER[g.period]}:${g.window_id}:${g.delta_minor}`);
  return items.join(';');
}

/** The outbox entry's fields ([name, value, ...] as XREADGROUP returns them) for an event. */
export function outboxFields(event: DecisionEvent): string[] {
  return [
    'r',
    JSON.stringify(event.request),
    's',
    String(event.status_code),
    'a',
    event.approved_amount_minor,
    'k',
    event.kind,
    'ci',
    event.card_id ?? '',
    'ui',
    event.user_id ?? '',
    't',
    String(event.decided_at_ms),
    'rev',
    String(event.revision),
    'mode',
    event.request.mode,
    'av',
    event.available_minor,
    'grp',
    event.group_token,
    'fx',
    fxOf(event.effects),
    'released',
    event.released_amount_minor,
    ...(event.limits_seen === null ? [] : ['ls', event.limits_seen]),
  ];
}

/** The batch line of an event, as the relay packs it. */
export function outboxLine(event: DecisionEvent): string {
  return packEntry(event.outbox_id, outboxFields(event)).line;
}

export interface BatchMessage {
  readonly lines: readonly string[];
  readonly message_id?: string;
}

/** Publishes batch messages straight to a queue (default exchange), confirmed. */
export async function publishBatches(
  rabbit: Connection,
  queue: string,
  batches: readonly BatchMessage[],
): Promise<void> {
  const publisher = rabbit.createPublisher({ confirm: true, maxAttempts: 3 });
  try {
    await Promise.all(
      batches.map((batch) =>
        publisher.send(
          {
            exchange: '',
            routingKey: queue,
            durable: true,
            contentType: CONTENT_TYPE_DECISION_BATCH,
            messageId: batch.message_id ?? randomUUID(),
          },
          encodeBatch(batch.lines),
        ),
      ),
    );
  } finally {
    await publisher.close();
  }
}

/** The decisions a delivered batch message carries (taps bound to `decision.#`). */
export function decisionsOf(body: unknown): DecisionEvent[] {
  return decodeBatch(body as Buffer).map(decisionEventOf);
}
