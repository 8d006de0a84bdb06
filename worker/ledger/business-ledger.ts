// Business decisions (and declines of unknown cards) -> PostgreSQL: one `transactions` row per
// JIT token and, for approvals, the card's day and month `spending_controls` rows, all in ONE
// SQL transaction per batch. Idempotent on the JIT token:
//   revision 1  INSERT ... ON CONFLICT (jit_token) DO NOTHING; spend is added only for rows
//               this statement inserted, so a redelivered or duplicated event adds nothing.
//   revision 2  (void of an approval the gateway answered `timeout`) turns the row into a
//               `timeout` decline and takes its spend back, once: the `revision` column guards.
//               If it arrives first, it inserts the decline itself and the late revision 1
//               then conflicts and adds nothing.

import { randomUUID } from 'node:crypto';
import type { TransactionSql } from 'postgres';
import type { Logger } from '../../shared/logger.ts';
import type { DecisionEvent } from '../../shared/messages.ts';
import { windowStartDate } from '../../shared/spend-windows.ts';
import { timed, type PgSql } from '../../shared/stores/postgres.ts';
import { WorkerError } from '../errors.ts';

type Tx = TransactionSql<{ bigint: bigint }>;

interface SpendDelta {
  card_id: string;
  period: 'day' | 'month';
  window_start: string;
  spent_minor: bigint;
  txn_count: number;
}

interface PriorRow {
  status: string;
  revision: number;
  card_id: string | null;
  approved_amount_minor: bigint;
  day_window: string;
  month_window: string;
}

function transactionRow(event: DecisionEvent) {
  const { request } = event;
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
    status: event.approved ? 'pending' : 'declined',
    status_code: event.status_code,
    decline_reason: event.decline_reason,
    memo: event.memo,
    revision: event.revision,
    day_window: windowStartDate(request.day_id),
    month_window: windowStartDate(request.month_id),
    decided_at: new Date(event.decided_at_ms),
  };
}

/** Adds `amount_minor` (negative to take back) to a card's day and month windows. */
function addSpend(
  deltas: Map<string, SpendDelta>,
  card_id: string,
  windows: [day: string, month: string],
  amount_minor: bigint,
  count: number,
) {
  for (const [period, window_start] of [
    ['day', windows[0]],
    ['month', windows[1]],
  ] as const) {
    const key = `${card_id}|${period}|${window_start}`;
    const delta = deltas.get(key) ?? { card_id, period, window_start, spent_minor: 0n, txn_count: 0 };
    delta.spent_minor += amount_minor;
    delta.txn_count += count;
    deltas.set(key, delta);
  }
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
        const deltas = new Map<string, SpendDelta>();
        await this.#insertFirstRevisions(tx, events, deltas);
        for (const event of events) if (event.revision > 1) await this.#applyVoid(tx, event, deltas);
        await this.#applySpend(tx, deltas);
      }),
    );
  }

  async #insertFirstRevisions(tx: Tx, events: readonly DecisionEvent[], deltas: Map<string, SpendDelta>) {
    const firsts = events.filter((e) => e.revision === 1);
    if (firsts.length === 0) return;
    // A fixed order keeps two workers' batches from locking the same keys in opposite orders.
    const rows = firsts.map(transactionRow).sort((a, b) => (a.jit_token < b.jit_token ? -1 : 1));
    const inserted = await tx<{ jit_token: string }[]>`
      INSERT INTO transactions ${tx(rows)}
      ON CONFLICT (jit_token) DO NOTHING
      RETURNING jit_token`;
    const fresh = new Set(inserted.map((r) => r.jit_token));
    for (const row of rows) {
      if (!fresh.has(row.jit_token) || row.status !== 'pending' || row.card_id === null) continue;
      addSpend(deltas, row.card_id, [row.day_window, row.month_window], row.approved_amount_minor, 1);
    }
  }

  async #applyVoid(tx: Tx, event: DecisionEvent, deltas: Map<string, SpendDelta>) {
    const jit_token = event.request.jit_token;
    const [prior] = await tx<PriorRow[]>`
      SELECT status, revision, card_id, approved_amount_minor, day_window::text, month_window::text
        FROM transactions WHERE jit_token = ${jit_token} FOR UPDATE`;
    if (prior === undefined) {
      const inserted = await tx`
        INSERT INTO transactions ${tx([transactionRow(event)])} ON CONFLICT (jit_token) DO NOTHING RETURNING 1`;
      // Revision 1 committed between our read and insert: read again on the retry path.
      if (inserted.length === 0) throw new WorkerError('WK_ERR_REVISION_RACE', jit_token);
      return;
    }
    if (prior.revision >= event.revision) return;
    await tx`
      UPDATE transactions
         SET status = 'declined', status_code = ${event.status_code}, decline_reason = ${event.decline_reason},
             memo = ${event.memo}, approved_amount_minor = 0, revision = ${event.revision}, updated_at = now()
       WHERE jit_token = ${jit_token}`;
    if (prior.status === 'pending' && prior.card_id !== null) {
      addSpend(
        deltas,
        prior.card_id,
        [prior.day_window, prior.month_window],
        -prior.approved_amount_minor,
        -1,
      );
    }
  }

  async #applySpend(tx: Tx, deltas: Map<string, SpendDelta>) {
    // A fixed order keeps two workers' batches from locking the same rows in opposite orders.
    const rows = [...deltas.values()].sort((a, b) =>
      a.card_id + a.period + a.window_start < b.card_id + b.period + b.window_start ? -1 : 1,
    );
    const added = rows.filter(
      (d) => d.spent_minor >= 0n && d.txn_count >= 0 && (d.spent_minor > 0n || d.txn_count > 0),
    );
    if (added.length > 0) {
      await tx`
        INSERT INTO spending_controls ${tx(added, 'card_id', 'period', 'window_start', 'spent_minor', 'txn_count')}
        ON CONFLICT (card_id, period, window_start) DO UPDATE
           SET spent_minor = spending_controls.spent_minor + excluded.spent_minor,
               txn_count = spending_controls.txn_count + excluded.txn_count,
               updated_at = now()`;
    }
    // Taking spend back (voids, rare) is an UPDATE: PostgreSQL checks `spent_minor >= 0` on
    // the proposed row of an INSERT even when it ends in ON CONFLICT DO UPDATE.
    for (const d of rows.filter((r) => r.spent_minor < 0n || r.txn_count < 0)) {
      const updated = await tx`
        UPDATE spending_controls
           SET spent_minor = spent_minor + ${d.spent_minor}, txn_count = txn_count + ${d.txn_count}, updated_at = now()
         WHERE card_id = ${d.card_id} AND period = ${d.period} AND window_start = ${d.window_start}`;
      if (updated.count === 0)
        this.#log.error({ card_id: d.card_id, period: d.period }, 'void found no spend row to take back');
    }
  }
}
