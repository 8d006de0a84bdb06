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
import { distinctEvents } from '../decisions/event-schema.ts';
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
  authorizationsOf,
  pendingFollowers,
  settledGroups,
  settleRecords,
} from './business-statements.ts';
import { GroupCommit } from './group-commit.ts';
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

/**
 * Decisions written together at most (the batches waiting while a write runs, group-commit.ts).
 * A `transactions` row has 34 columns: 34,000 parameters in the insert, within PostgreSQL's 65,535.
 */
const MERGED_EVENTS_MAX = 1_000;

export class BusinessLedger {
  readonly name = 'postgresql';
  readonly #sql: PgSql;
  readonly #log: Logger;
  /**
   * One write at a time, the batches that arrive meanwhile merged into the next. Concurrent
   * batches share rows (a busy card's counters, a group's hold, a replayed JIT token) and each
   * held its row locks while it waited for another's: in a drain of 11,000 decisions, 128 batch
   * transactions at once spent 0.8-1.2 s each in lock waits, behind the one that held the rows.
   */
  readonly #group = new GroupCommit<DecisionEvent>((events) => this.#writeBatch(events), MERGED_EVENTS_MAX);

  constructor(sql: PgSql, log: Logger) {
    this.#sql = sql;
    this.#log = log;
  }

  /** Writes the events in one SQL transaction (perhaps with other callers' batches): all or none. */
  write(events: readonly DecisionEvent[]): Promise<void> {
    return this.#group.write(events);
  }

  async #writeBatch(merged: readonly DecisionEvent[]): Promise<void> {
    const events = distinctEvents(merged);
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

  /**
   * The card counters last: every batch of a busy card updates the same few `spending_controls`
   * and `category_spend` rows and holds their locks until commit, so the batches of other
   * worker replicas queue on them; taken last, not over the holds and settlements too. Every
   * batch takes the tables in the same order, each table's rows sorted: no lock cycle.
   */
  async #applyEffects(tx: LedgerTx, plan: BusinessPlan): Promise<void> {
    if (plan.holds.length > 0) await addHolds(tx, plan.holds);
    if (plan.groups.length > 0) {
      // Records still pending in a group that has left `pending` (also when the settling message
      // was persisted before the authorization itself): the states first, then the records by
      // their unique keys (one OR-join of both keys nested-looped over every pending row).
      const settlements = settlementsOf(await settledGroups(tx, plan.groups));
      if (settlements.length > 0) {
        const followers = await pendingFollowers(tx, settlements);
        await settleRecords(tx, [...authorizationsOf(settlements), ...followers]);
      }
    }
    if (plan.category.length > 0) await addCategorySpend(tx, plan.category);
    if (plan.spend.length > 0) await addSpend(tx, plan.spend);
  }
}
