// The pure half of a business batch (business-ledger.ts writes it): each event's effects parsed
// once, what the events whose effects are new add to `spending_controls`, `category_spend` and
// `authorization_holds` (summed per row, in lock order), which authorization groups may have to
// settle their pending records, and what those records become (lifecycle.ts settledStatus: the one
// rule, passed to the SQL as data rather than written again as a CASE).

import type { DecisionEvent } from '../../shared/messages.ts';
import { periodStartDate } from '../../shared/spend-windows.ts';
import { eventKey } from '../decisions/event-schema.ts';
import type { CategoryRow, HoldRow, Settlement, SpendRow } from './business-statements.ts';
import {
  groupToken,
  holdState,
  type RecordAmounts,
  recordAmounts,
  settledStatus,
  transactionStatus,
} from './lifecycle.ts';

/** One event of the batch with its idempotency key and amounts, its effects parsed once. */
export interface BusinessItem {
  readonly event: DecisionEvent;
  /** eventKey(event): `<jit_token>:<revision>`. */
  readonly key: string;
  readonly amounts: RecordAmounts;
}

export interface BusinessPlan {
  readonly spend: readonly SpendRow[];
  readonly category: readonly CategoryRow[];
  readonly holds: readonly HoldRow[];
  /** Groups whose records may have to leave `pending` (sorted). */
  readonly groups: readonly string[];
}

/** A fixed order keeps two workers' batches from locking the same rows in opposite orders. */
export function sorted<T>(rows: Iterable<T>, key: (row: T) => string): T[] {
  return [...rows].sort((a, b) => (key(a) < key(b) ? -1 : 1));
}

export function businessItems(events: readonly DecisionEvent[]): BusinessItem[] {
  return events.map((event) => ({ event, key: eventKey(event), amounts: recordAmounts(event) }));
}

/**
 * The rows the batch's new effects change, each summed once. `fresh` names the keys whose effects
 * this transaction applies (the others were applied by an earlier delivery). Decided order: the
 * last state change of a group in the batch is its state.
 */
export function planBusinessEffects(
  items: readonly BusinessItem[],
  fresh: ReadonlySet<string>,
): BusinessPlan {
  const spend = new Map<string, SpendRow>();
  const category = new Map<string, CategoryRow>();
  const holds = new Map<string, HoldRow>();
  const groups = new Set<string>();
  const applied = items
    .filter((item) => fresh.has(item.key))
    .sort((a, b) => a.event.state_order_ms - b.event.state_order_ms);
  for (const { event, amounts } of applied) {
    const card_id = event.card_id;
    // A declined unknown card: no row to change (event-schema.ts refuses effects without a card).
    if (card_id === null) continue;
    const { effects } = amounts;
    for (const s of effects.spend) {
      const window_start = periodStartDate(s.period, s.window_id);
      const key = `${card_id}|${s.period}|${window_start}`;
      const row = spend.get(key) ?? {
        card_id,
        period: s.period,
        window_start,
        spent_minor: 0n,
        txn_count: 0,
      };
      row.spent_minor += s.delta_minor;
      row.txn_count += s.delta_count;
      spend.set(key, row);
    }
    for (const g of effects.group_spend) {
      const window_start = periodStartDate(g.period, g.window_id);
      const key = `${card_id}|${g.mcc_group}|${g.period}|${window_start}`;
      const row = category.get(key) ?? {
        card_id,
        mcc_group: g.mcc_group,
        period: g.period,
        window_start,
        spent_minor: 0n,
      };
      row.spent_minor += g.delta_minor;
      category.set(key, row);
    }
    const group_token = groupToken(event);
    const state = holdState(event);
    if (effects.hold_delta_minor !== 0n || state !== null) {
      const decided_at = new Date(event.decided_at_ms);
      const row = holds.get(group_token) ?? {
        group_token,
        card_id,
        card_token: event.request.card_token,
        user_token: event.request.user_token,
        currency_code: event.request.currency_code,
        held_minor: 0n,
        state: 'pending',
        state_decided_at_ms: 0,
        created_at: decided_at,
      };
      row.held_minor += effects.hold_delta_minor;
      if (state !== null) {
        row.state = state;
        row.state_decided_at_ms = event.state_order_ms;
      }
      if (decided_at < row.created_at) row.created_at = decided_at;
      holds.set(group_token, row);
    }
    if (state !== null || transactionStatus(event) === 'pending') groups.add(group_token);
  }
  return {
    spend: sorted(spend.values(), (r) => r.card_id + r.period + r.window_start),
    category: sorted(category.values(), (r) => r.card_id + r.mcc_group + r.period + r.window_start),
    holds: sorted(holds.values(), (r) => r.group_token),
    groups: sorted(groups, (g) => g),
  };
}

/** What the pending records of each group that left `pending` become (one rule: settledStatus). */
export function settlementsOf(groups: ReadonlyArray<{ group_token: string; state: string }>): Settlement[] {
  const settlements: Settlement[] = [];
  for (const group of groups) {
    const status = settledStatus(group.state);
    if (status !== null) settlements.push({ group_token: group.group_token, status });
  }
  return settlements;
}
