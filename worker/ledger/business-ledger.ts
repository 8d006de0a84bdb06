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
import {
  type BusinessItem,
  type BusinessPlan,
  businessItems,
  planBusinessEffects,
  settlementsOf,
  sorted,
} from './business-plan.ts';
import {
  addCategorySpend,
  addHolds,
  addSpend,
  insertFirstRevisions,
  insertVoids,
  type LedgerTx,
  settleAuthorizations,
  settledGroups,
  settleFollowers,
} from './business-statements.ts';
import { transactionStatus } from './lifecycle.ts';
import { type RecordFormat, transactionRecord } from './transaction-record.ts';

/** Ids as UUID text (null: a decline of an unknown card), windows as the period's first day. */
const ROW_FORMAT: RecordFormat<string | null, string> = { id: (id) => id, window: periodStartDate };

function transactionRow({ event, amounts }: BusinessItem) {
  return {
    id: randomUUID(),
    ...transactionRecord(event, amounts, transactionStatus(event), ROW_FORMAT),
    applied_revisions: event.revision === 1 ? 1 : 2,
  };
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
    const items = businessItems(events);
    await timed(this.#log, `worker.business_batch_${events.length > 1 ? 'many' : 'one'}`, () =>
      this.#sql.begin(async (tx) => {
        const fresh = new Set([
          ...(await this.#recordFirstRevisions(
            tx,
            items.filter((item) => item.event.revision === 1),
          )),
          ...(await this.#recordVoids(
            tx,
            items.filter((item) => item.event.revision > 1),
          )),
        ]);
        await this.#applyEffects(tx, planBusinessEffects(items, fresh));
      }),
    );
  }

  /** Returns the keys of the events whose effects are applied by this transaction. */
  async #recordFirstRevisions(tx: LedgerTx, items: readonly BusinessItem[]): Promise<string[]> {
    if (items.length === 0) return [];
    const rows = sorted(items.map(transactionRow), (r) => r.jit_token);
    const fresh = await insertFirstRevisions(tx, rows);
    return fresh.map((r) => `${r.jit_token}:1`);
  }

  async #recordVoids(tx: LedgerTx, items: readonly BusinessItem[]): Promise<string[]> {
    if (items.length === 0) return [];
    const rows = sorted(items.map(transactionRow), (r) => r.jit_token);
    const fresh = await insertVoids(tx, rows);
    return fresh.map((r) => `${r.jit_token}:${r.revision}`);
  }

  async #applyEffects(tx: LedgerTx, plan: BusinessPlan): Promise<void> {
    if (plan.spend.length > 0) await addSpend(tx, plan.spend);
    if (plan.category.length > 0) await addCategorySpend(tx, plan.category);
    if (plan.holds.length > 0) await addHolds(tx, plan.holds);
    if (plan.groups.length === 0) return;
    // Records still pending in a group that has left `pending` (also when the settling message
    // was persisted before the authorization itself): the states first, then each kind of
    // record by its own key (one OR-join of both keys nested-looped over every pending row).
    const settlements = settlementsOf(await settledGroups(tx, plan.groups));
    if (settlements.length > 0) {
      await settleAuthorizations(tx, settlements);
      await settleFollowers(tx, settlements);
    }
  }
}
