// Business decisions (and declines of unknown cards) -> PostgreSQL, all in ONE SQL transaction
// per batch: one `transactions` row per JIT token, and each event's ledger effects (exactly what
// the decision script applied in Redis) added to `spending_controls`, `category_spend` and
// `authorization_holds`. Exactly once per JIT token and revision: the row's `applied_revisions`
// bits decide, in the same statement that writes the row, whether this event's effects are new.
//   revision 1  INSERT ... ON CONFLICT DO UPDATE (only the bit) WHERE bit 1 is unset RETURNING
//   revision 2  (void of an approval the gateway answered `timeout`) turns the row into a
//               `timeout` decline and sets bit 2, once; if it arrives first it inserts the
//               decline, and the late revision 1 still applies its own effects.
// Every effect is a delta, so messages may be persisted in any order (a reversal before its
// authorization); a counter may be below zero until the message it follows arrives.

import { randomUUID } from 'node:crypto';
import type { Logger } from '../../shared/logger.ts';
import type { DecisionEvent } from '../../shared/messages.ts';
import { periodStartDate } from '../../shared/spend-windows.ts';
import { timed, type PgSql } from '../../shared/stores/postgres.ts';
import { eventKey } from '../decisions/event-schema.ts';
import {
  addCategorySpend,
  addHolds,
  addSpend,
  type CategoryRow,
  type HoldRow,
  insertFirstRevisions,
  insertVoids,
  type LedgerTx,
  type Settlement,
  type SpendRow,
  settleAuthorizations,
  settledGroups,
  settleFollowers,
} from './business-statements.ts';
import { groupToken, holdState, recordAmounts, settledStatus, transactionStatus } from './lifecycle.ts';

function transactionRow(event: DecisionEvent) {
  const { request } = event;
  const first = event.revision === 1;
  const amounts = recordAmounts(event);
  return {
    id: randomUUID(),
    jit_token: request.jit_token,
    transaction_token: request.transaction_token,
    method: request.method,
    card_id: event.card_id,
    user_id: event.user_id,
    card_token: request.card_token,
    amount_minor: BigInt(request.amount_minor),
    approved_amount_minor: event.approved ? BigInt(event.approved_amount_minor) : 0n,
    currency_code: request.currency_code,
    merchant: request.merchant.name,
    mcc: request.merchant.mcc,
    merchant_id: request.merchant.mid,
    merchant_country: request.merchant.country_code,
    status: transactionStatus(event),
    status_code: event.status_code,
    decline_reason: event.decline_reason,
    memo: event.memo,
    revision: event.revision,
    applied_revisions: first ? 1 : 2,
    mode: request.mode,
    original_jit_token: request.original_jit_token,
    mcc_group: request.mcc_group,
    released_amount_minor: BigInt(event.released_amount_minor),
    held_amount_minor: first ? amounts.held_amount_minor : 0n,
    posted_amount_minor: first ? amounts.posted_amount_minor : 0n,
    day_window: periodStartDate('day', request.day_id),
    week_window: periodStartDate('week', request.week_id),
    month_window: periodStartDate('month', request.month_id),
    year_window: periodStartDate('year', request.year_id),
    decided_at: new Date(event.decided_at_ms),
  };
}

/** The batch's effects summed per row they change. */
class EffectTally {
  readonly spend = new Map<string, SpendRow>();
  readonly category = new Map<string, CategoryRow>();
  readonly holds = new Map<string, HoldRow>();
  /** Groups whose records may have to leave `pending`. */
  readonly groups = new Set<string>();

  add(event: DecisionEvent): void {
    const card_id = event.card_id;
    if (card_id === null) return;
    const { effects } = recordAmounts(event);
    for (const s of effects.spend) {
      const window_start = periodStartDate(s.period, s.window_id);
      const key = `${card_id}|${s.period}|${window_start}`;
      const row = this.spend.get(key) ?? {
        card_id,
        period: s.period,
        window_start,
        spent_minor: 0n,
        txn_count: 0,
      };
      row.spent_minor += s.delta_minor;
      row.txn_count += s.delta_count;
      this.spend.set(key, row);
    }
    for (const g of effects.group_spend) {
      const window_start = periodStartDate(g.period, g.window_id);
      const key = `${card_id}|${g.mcc_group}|${g.period}|${window_start}`;
      const row = this.category.get(key) ?? {
        card_id,
        mcc_group: g.mcc_group,
        period: g.period,
        window_start,
        spent_minor: 0n,
      };
      row.spent_minor += g.delta_minor;
      this.category.set(key, row);
    }
    const group_token = groupToken(event);
    const state = holdState(event);
    if (effects.hold_delta_minor !== 0n || state !== null) {
      const decided_at = new Date(event.decided_at_ms);
      const row = this.holds.get(group_token) ?? {
        group_token,
        card_id,
        card_token: event.request.card_token,
        user_token: event.request.user_token,
        currency_code: event.request.currency_code,
        held_minor: 0n,
        state: 'pending',
        created_at: decided_at,
      };
      row.held_minor += effects.hold_delta_minor;
      if (state !== null) row.state = state;
      if (decided_at < row.created_at) row.created_at = decided_at;
      this.holds.set(group_token, row);
    }
    if (state !== null || transactionStatus(event) === 'pending') this.groups.add(group_token);
  }
}

/** A fixed order keeps two workers' batches from locking the same rows in opposite orders. */
function sorted<T>(rows: Iterable<T>, key: (row: T) => string): T[] {
  return [...rows].sort((a, b) => (key(a) < key(b) ? -1 : 1));
}

export class BusinessLedger {
  readonly name = 'postgresql';
  readonly #sql: PgSql;
  readonly #log: Logger;

  constructor(sql: PgSql, log: Logger) {
    this.#sql = sql;
    this.#log = log;
  }

  /** Writes the events in one SQL transaction: all of them or none. */
  async write(events: readonly DecisionEvent[]): Promise<void> {
    await timed(this.#log, `worker.business_batch_${events.length > 1 ? 'many' : 'one'}`, () =>
      this.#sql.begin(async (tx) => {
        const fresh = new Set([
          ...(await this.#recordFirstRevisions(
            tx,
            events.filter((e) => e.revision === 1),
          )),
          ...(await this.#recordVoids(
            tx,
            events.filter((e) => e.revision > 1),
          )),
        ]);
        const tally = new EffectTally();
        // Decided order: the last state change of a group in the batch is its state.
        const applied = events
          .filter((e) => fresh.has(eventKey(e)))
          .sort((a, b) => a.decided_at_ms - b.decided_at_ms);
        for (const event of applied) tally.add(event);
        await this.#applyEffects(tx, tally);
      }),
    );
  }

  /** Returns the keys of the events whose effects are applied by this transaction. */
  async #recordFirstRevisions(tx: LedgerTx, events: readonly DecisionEvent[]): Promise<string[]> {
    if (events.length === 0) return [];
    const rows = sorted(events.map(transactionRow), (r) => r.jit_token);
    const fresh = await insertFirstRevisions(tx, rows);
    return fresh.map((r) => `${r.jit_token}:1`);
  }

  async #recordVoids(tx: LedgerTx, events: readonly DecisionEvent[]): Promise<string[]> {
    if (events.length === 0) return [];
    const rows = sorted(events.map(transactionRow), (r) => r.jit_token);
    const fresh = await insertVoids(tx, rows);
    return fresh.map((r) => `${r.jit_token}:${r.revision}`);
  }

  async #applyEffects(tx: LedgerTx, tally: EffectTally): Promise<void> {
    const spend = sorted(tally.spend.values(), (r) => r.card_id + r.period + r.window_start);
    if (spend.length > 0) await addSpend(tx, spend);
    const category = sorted(
      tally.category.values(),
      (r) => r.card_id + r.mcc_group + r.period + r.window_start,
    );
    if (category.length > 0) await addCategorySpend(tx, category);
    const holds = sorted(tally.holds.values(), (r) => r.group_token);
    if (holds.length > 0) await addHolds(tx, holds);
    if (tally.groups.size > 0) {
      // Records still pending in a group that has left `pending` (also when the settling message
      // was persisted before the authorization itself): the states first, then each kind of
      // record by its own key (one OR-join of both keys nested-looped over every pending row).
      const settlements: Settlement[] = [];
      for (const group of await settledGroups(
        tx,
        sorted(tally.groups, (g) => g),
      )) {
        const status = settledStatus(group.state);
        if (status !== null) settlements.push({ group_token: group.group_token, status });
      }
      if (settlements.length > 0) {
        await settleAuthorizations(tx, settlements);
        await settleFollowers(tx, settlements);
      }
    }
  }
}
