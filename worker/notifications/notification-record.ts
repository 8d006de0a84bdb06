// A Marqeta notification event (shared/messages.ts MarqetaNotificationEvent) -> the row stored in
// `marqeta_notifications`, checked at the door: anything else is dead-lettered (no retry can fix
// it). The raw transaction stays in `payload`; the columns are what reconciliation looks up.

import { Buffer } from 'node:buffer';
import Type from 'typebox';
import { Compile } from 'typebox/compile';
import type { MarqetaNotificationEvent } from '../../shared/messages.ts';
import { toMinor } from '../../shared/money.ts';
import { WorkerError } from '../errors.ts';

const Event = Type.Object({
  v: Type.Literal(1),
  event_token: Type.String({ minLength: 1, maxLength: 600 }),
  kind: Type.Literal('transaction'),
  received_at_ms: Type.Integer({ minimum: 0 }),
  ledger_actions: Type.Array(Type.String({ maxLength: 200 }), { maxItems: 16 }),
  payload: Type.Record(Type.String(), Type.Unknown()),
});

const check = Compile(Event);

export interface NotificationRow {
  event_token: string;
  transaction_token: string | null;
  jit_token: string | null;
  original_jit_token: string | null;
  type: string | null;
  state: string | null;
  card_token: string | null;
  amount_minor: bigint | null;
  currency_code: string | null;
  timed_out: boolean;
  standin_approved_by: string | null;
  ledger_actions: string[];
  payload: Record<string, unknown>;
  received_at: Date;
}

interface Order {
  jit_funding?: { token?: unknown; original_jit_funding_token?: unknown };
  funding?: { gateway_log?: { timed_out?: unknown } };
}

function text(value: unknown, max_length: number): string | null {
  return typeof value === 'string' && value.length > 0 ? value.slice(0, max_length) : null;
}

/** Minor units of Marqeta's decimal amount; null when absent or not representable in the currency. */
function amountMinor(amount: unknown, currency_code: string | null): bigint | null {
  if ((typeof amount !== 'number' && typeof amount !== 'string') || currency_code === null) return null;
  try {
    return toMinor(amount, currency_code);
  } catch {
    return null;
  }
}

export function parseNotificationEvent(body: unknown): MarqetaNotificationEvent {
  let value = body;
  if (Buffer.isBuffer(body) || typeof body === 'string') {
    try {
      value = JSON.parse(String(body));
    } catch {
      throw new WorkerError('WK_ERR_INVALID_MESSAGE', 'body is not JSON');
    }
  }
  if (!check.Check(value)) {
    const first = [...check.Errors(value)][0];
    throw new WorkerError(
      'WK_ERR_INVALID_MESSAGE',
      first ? `${first.instancePath || '/'} ${first.message}` : 'bad shape',
    );
  }
  return value as MarqetaNotificationEvent;
}

export function notificationRow(event: MarqetaNotificationEvent): NotificationRow {
  const txn = event.payload as Record<string, unknown> & { gpa_order?: Order; gpa_order_unload?: Order };
  const order = txn.gpa_order ?? txn.gpa_order_unload;
  const currency_code = /^[A-Z]{3}$/.test(String(txn.currency_code)) ? String(txn.currency_code) : null;
  return {
    event_token: event.event_token,
    transaction_token: text(txn.token, 255),
    jit_token: text(order?.jit_funding?.token, 255),
    original_jit_token: text(order?.jit_funding?.original_jit_funding_token, 255),
    type: text(txn.type, 100),
    state: text(txn.state, 50),
    card_token: text(txn.card_token, 255),
    amount_minor: amountMinor(txn.amount, currency_code),
    currency_code,
    timed_out: order?.funding?.gateway_log?.timed_out === true,
    standin_approved_by: text(txn.standin_approved_by, 100),
    ledger_actions: [...event.ledger_actions],
    payload: event.payload,
    received_at: new Date(event.received_at_ms),
  };
}
