// A decision event's transaction record, as both ledgers store it: a `transactions` row in
// PostgreSQL (business-ledger.ts) and a `personal_transactions` document in MongoDB
// (personal-transaction-docs.ts) carry the same fields, mapped here once. Each store converts
// ids (UUID text, ObjectId) and spend windows (period start date, window id) its own way and
// adds its own keys (the row's id and applied-revision bits; the document's `_id` and group).

import type { DecisionEvent } from '../../shared/messages.ts';
import type { Period } from '../../shared/spend-windows.ts';
import type { RecordAmounts, TransactionStatus } from './lifecycle.ts';

/** How a store writes ids and spend windows. */
export interface RecordFormat<Id, Window> {
  /** A card or user id (null: a decline of an unknown card). */
  readonly id: (id: string | null) => Id;
  readonly window: (period: Exclude<Period, 'all'>, window_id: string) => Window;
}

/**
 * The record of the event, in `status` (its own, or its group's once the group settled);
 * `amounts` are recordAmounts(event), parsed once by the caller.
 */
export function transactionRecord<Id, Window>(
  event: DecisionEvent,
  amounts: Pick<RecordAmounts, 'held_amount_minor' | 'posted_amount_minor'>,
  status: TransactionStatus,
  format: RecordFormat<Id, Window>,
) {
  const { request } = event;
  const first = event.revision === 1;
  return {
    jit_token: request.jit_token,
    transaction_token: request.transaction_token,
    method: request.method,
    card_id: format.id(event.card_id),
    user_id: format.id(event.user_id),
    card_token: request.card_token,
    amount_minor: BigInt(request.amount_minor),
    approved_amount_minor: event.approved ? BigInt(event.approved_amount_minor) : 0n,
    currency_code: request.currency_code,
    merchant: request.merchant.name,
    mcc: request.merchant.mcc,
    merchant_id: request.merchant.mid,
    merchant_country: request.merchant.country_code,
    status,
    status_code: event.status_code,
    decline_reason: event.decline_reason,
    memo: event.memo,
    revision: event.revision,
    mode: request.mode,
    original_jit_token: request.original_jit_token,
    mcc_group: request.mcc_group,
    released_amount_minor: BigInt(event.released_amount_minor),
    // A later revision (a void) holds and posts nothing of its own.
    held_amount_minor: first ? amounts.held_amount_minor : 0n,
    posted_amount_minor: first ? amounts.posted_amount_minor : 0n,
    day_window: format.window('day', request.day_id),
    week_window: format.window('week', request.week_id),
    month_window: format.window('month', request.month_id),
    year_window: format.window('year', request.year_id),
    decided_at: new Date(event.decided_at_ms),
    // Events from before the field existed carry none.
    limits_seen: event.limits_seen ?? null,
  };
}
