// Decision events as the worker accepts them (shared/messages.ts DecisionEvent, decoded from a
// decision batch by read-batch.ts), checked with a compiled TypeBox schema. Anything else is
// dead-lettered at once: retrying cannot fix it. Unknown extra fields are accepted (the gateway adds fields over time). Every ledger mode is
// booked from the event's `effects` (the changes the decision script applied in Redis).

import { LIMITS_SEEN_CHARS_MAX } from '../../shared/limits-seen.ts';
import Type from 'typebox';
import { Compile } from 'typebox/compile';
import type { DecisionEvent } from '../../shared/messages.ts';
import { WorkerError } from '../errors.ts';

const Token = Type.String({ minLength: 1, maxLength: 255 });
const Minor = Type.String({ pattern: '^\\d{1,16}$' });
const SignedMinor = Type.String({ pattern: '^-?\\d{1,16}$' });
const Text = (max_length: number) => Type.Union([Type.String({ maxLength: max_length }), Type.Null()]);
const WindowId = (digits: number) => Type.String({ pattern: `^\\d{${digits}}$` });
const Uuid = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
const ObjectIdHex = '^[0-9a-f]{24}$';
const UUID_RE = new RegExp(Uuid);
const OBJECT_ID_RE = new RegExp(ObjectIdHex);

const Request = Type.Object({
  jit_token: Token,
  method: Type.String({ minLength: 1, maxLength: 80 }),
  transaction_token: Token,
  card_token: Type.String({ minLength: 1, maxLength: 255 }),
  user_token: Type.String({ maxLength: 255 }),
  acting_user_token: Type.String({ maxLength: 255 }),
  amount_minor: Minor,
  currency_code: Type.String({ pattern: '^[A-Z]{3}$' }),
  network: Text(64),
  merchant: Type.Object({
    mid: Text(64),
    mcc: Type.Union([Type.String({ pattern: '^\\d{4}$' }), Type.Null()]),
    name: Text(255),
    country_code: Text(3),
  }),
  day_id: WindowId(8),
  month_id: WindowId(6),
  week_id: Type.String({ pattern: '^\\d{4}-W\\d{2}$' }),
  year_id: WindowId(4),
  original_jit_token: Type.Union([Token, Type.Null()]),
  mode: Type.String({ minLength: 1, maxLength: 32 }),
  mcc_group: Type.String({ maxLength: 64 }),
  received_at_ms: Type.Optional(Type.Integer({ minimum: 0 })),
});

const Period = Type.Union(['day', 'week', 'month', 'year', 'all'].map((p) => Type.Literal(p)));
const EFFECT_ITEMS_MAX = 16;

const Effects = Type.Object({
  held_delta_minor: SignedMinor,
  posted_delta_minor: SignedMinor,
  hold_delta_minor: SignedMinor,
  hold_state: Type.Union([
    Type.Literal('pending'),
    Type.Literal('cleared'),
    Type.Literal('reversed'),
    Type.Literal('released'),
    Type.Null(),
  ]),
  spend: Type.Array(
    Type.Object({
      period: Period,
      window_id: Type.String({ pattern: '^(\\d{4}|\\d{6}|\\d{8}|\\d{4}-W\\d{2}|all)$' }),
      delta_minor: SignedMinor,
      delta_count: Type.Integer({ minimum: -1, maximum: 1 }),
    }),
    { maxItems: EFFECT_ITEMS_MAX },
  ),
  group_spend: Type.Array(
    Type.Object({
      mcc_group: Type.String({ minLength: 1, maxLength: 64 }),
      period: Type.Union([Type.Literal('day'), Type.Literal('month')]),
      window_id: Type.String({ pattern: '^(\\d{6}|\\d{8})$' }),
      delta_minor: SignedMinor,
    }),
    { maxItems: EFFECT_ITEMS_MAX },
  ),
});

const Event = Type.Object({
  v: Type.Literal(1),
  request: Request,
  kind: Type.Union([Type.Literal('business'), Type.Literal('personal'), Type.Literal('unknown')]),
  card_id: Type.Union([Type.String({ pattern: `${Uuid}|${ObjectIdHex}` }), Type.Null()]),
  user_id: Type.Union([Type.String({ pattern: `${Uuid}|${ObjectIdHex}` }), Type.Null()]),
  status_code: Type.Integer({ minimum: 0, maximum: 255 }),
  approved: Type.Boolean(),
  memo: Type.String({ minLength: 1, maxLength: 64 }),
  decline_reason: Text(64),
  approved_amount_minor: Minor,
  released_amount_minor: Minor,
  available_minor: Minor,
  group_token: Type.String({ maxLength: 255 }),
  effects: Effects,
  revision: Type.Integer({ minimum: 1, maximum: 2 }),
  decided_at_ms: Type.Integer({ minimum: 0 }),
  // Absent from decisions sent as JSON by relays before batches: their decision time.
  state_order_ms: Type.Optional(Type.Integer({ minimum: 0 })),
  limits_seen: Type.Optional(Type.Union([Type.String({ maxLength: LIMITS_SEEN_CHARS_MAX }), Type.Null()])),
  outbox_id: Type.String({ maxLength: 64 }),
});

const check = Compile(Event);

function hasEffects(effects: DecisionEvent['effects']): boolean {
  return (
    [effects.held_delta_minor, effects.posted_delta_minor, effects.hold_delta_minor].some(
      (d) => BigInt(d) !== 0n,
    ) ||
    effects.hold_state !== null ||
    effects.spend.length > 0 ||
    effects.group_spend.length > 0
  );
}

/** A decoded decision (shared/decision-batch.ts decisionEventOf), checked before it is written. */
export function checkDecisionEvent(value: unknown): DecisionEvent {
  if (!check.Check(value)) {
    const first = [...check.Errors(value)][0];
    throw new WorkerError(
      'WK_ERR_INVALID_MESSAGE',
      first ? `${first.instancePath || '/'} ${first.message}` : 'bad shape',
    );
  }
  const event = value as DecisionEvent;
  if (event.state_order_ms === undefined)
    (event as { state_order_ms: number }).state_order_ms = event.decided_at_ms;
  // Cross-field rules the schema cannot say: where each kind of card lives.
  const id_format = event.kind === 'personal' ? OBJECT_ID_RE : UUID_RE;
  for (const id of [event.card_id, event.user_id]) {
    if (id !== null && !id_format.test(id)) {
      throw new WorkerError('WK_ERR_INVALID_MESSAGE', `${event.kind} event with a foreign id format`);
    }
  }
  if (event.kind !== 'unknown' && (event.card_id === null || event.user_id === null)) {
    throw new WorkerError('WK_ERR_INVALID_MESSAGE', `${event.kind} event without card_id/user_id`);
  }
  if (event.approved && event.card_id === null) {
    throw new WorkerError('WK_ERR_INVALID_MESSAGE', 'approval without a card');
  }
  // The decision script only ever orders a state later than its decision (decide-10.lua `so`).
  if (event.state_order_ms < event.decided_at_ms) {
    throw new WorkerError('WK_ERR_INVALID_MESSAGE', 'a state ordered before its decision');
  }
  // A revision 2 is the void of an approval the gateway answered `timeout` (void-<n>.lua): never an approval.
  if (event.revision > 1 && event.approved) {
    throw new WorkerError('WK_ERR_INVALID_MESSAGE', 'a void that approves');
  }
  // Effects without a card would change no ledger row: dropped unseen instead of booked.
  if (event.card_id === null && hasEffects(event.effects)) {
    throw new WorkerError('WK_ERR_INVALID_MESSAGE', 'ledger effects without a card');
  }
  return event;
}

/** The idempotency key of one event: a JIT token's revisions are distinct writes. */
export function eventKey(event: DecisionEvent): string {
  return `${event.request.jit_token}:${event.revision}`;
}

/**
 * Each event once, by its key: merged batches (group-commit.ts) may carry the same message twice
 * (a redelivery), and one upsert may not touch a row twice.
 */
export function distinctEvents(events: readonly DecisionEvent[]): DecisionEvent[] {
  return [...new Map(events.map((event) => [eventKey(event), event])).values()];
}
