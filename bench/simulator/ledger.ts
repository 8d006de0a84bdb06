// After the load: does the ledger match what the gateway answered? Every JIT token answered
// (approved or declined) must be persisted exactly once by the worker, in PostgreSQL
// `transactions` (business cards, unknown cards) or MongoDB `personal_transactions`
// (personal cards), with the same status and amount. Waits, within a bound, for the worker
// to drain; replays are not expected as rows of their own.

import type { Db } from 'mongodb';
import type { PgSql } from '../../shared/stores/postgres.ts';
import { bookingExplanation, unpersistedExplanation } from './explanations.ts';
import type { AnswerListener } from './load.ts';

const VERIFY_BATCH = 5_000;
const POLL_MS = 500;
const PROGRESS_EVERY_MS = 5_000;
/** Stop waiting early when the worker's backlog has not shrunk for this long. */
const STALL_MAX_MS = 20_000;
const SETTLE_POLL_MS = 1_000;
const SETTLE_POLLS = 3;
const MISMATCH_EXAMPLES_MAX = 10;

interface Expected {
  readonly cls: string;
  /** What the answer said: 'approved' or the decline memo. */
  readonly outcome: string;
  readonly approved: boolean;
  /**
   * The amount an approval books: known for purchases only (their answer echoes it). A reversal
   * books what it released (nothing once the hold is gone), a balance inquiry nothing, so for
   * lifecycle messages only approved/declined is compared.
   */
  readonly amount_minor: bigint | null;
}

/** Request classes whose approval books the amount asked for. */
const PURCHASE_CLASSES: ReadonlySet<string> = new Set(['authorization', 'incremental']);

export interface LedgerReport {
  readonly expected: number;
  readonly persisted: number;
  readonly missing: number;
  readonly in_both_stores: number;
  /** Rows that differ from the answer with no explanation (explanations.ts). */
  readonly mismatched: number;
  /** Rows that differ from the answer harmlessly, by reason. */
  readonly explained: Record<string, number>;
  readonly examples: string[];
  readonly drained: boolean;
  readonly waited_ms: number;
  /** Messages in the decision dead-letter queues after the wait (set by the runner). */
  readonly dead_letters?: number;
  /** Decision -> row written (PostgreSQL rows: created_at - decided_at). */
  readonly persist_latency_ms: { p50: number; p99: number; max: number } | null;
}

interface PersistedRow {
  readonly jit_token: string;
  readonly status: string;
  readonly approved_amount_minor: bigint | number | null;
}

export class LedgerExpectations {
  readonly #expected = new Map<string, Expected>();
  readonly #run_prefix: string;

  constructor(run_prefix: string) {
    this.#run_prefix = run_prefix;
  }

  get size(): number {
    return this.#expected.size;
  }

  /** Records what a first (non-replayed) answer decided. */
  readonly listener: AnswerListener = (request, status_code, outcome) => {
    if (request.expect.kind === 'replay' || (status_code !== 200 && status_code !== 402)) return;
    this.#expected.set(request.jit_token, {
      cls: request.cls,
      outcome,
      approved: status_code === 200,
      amount_minor: PURCHASE_CLASSES.has(request.cls) ? request.amount_minor : null,
    });
  };

  async #persistedCount(sql: PgSql, db: Db): Promise<number> {
    const [pg] = await sql<{ count: bigint }[]>`SELECT count(*)::bigint AS count FROM transactions
                                               WHERE jit_token LIKE ${`${this.#run_prefix}%`}`;
    const mongo = await db
      .collection('personal_transactions')
      .countDocuments({ jit_token: { $regex: `^${this.#run_prefix}` } });
    return Number(pg?.count ?? 0n) + mongo;
  }

  /**
   * Waits (at most `wait_max_ms`, less when the worker stalls) until the worker's backlog is drained
   * and the in-flight messages are written, then compares row by row. The backlog is polled instead
   * of the collections: a count on FerretDB scans, and would slow the worker it waits for.
   */
  async verify(
    sql: PgSql,
    db: Db,
    wait_max_ms: number,
    progress: (line: string) => void,
    backlog: () => Promise<number>,
  ): Promise<LedgerReport> {
    const started_ms = performance.now();
    const elapsed_ms = () => performance.now() - started_ms;
    let depth = await backlog();
    let last_progress_ms = started_ms;
    let last_report_ms = started_ms;
    while (depth > 0 && elapsed_ms() < wait_max_ms && performance.now() - last_progress_ms < STALL_MAX_MS) {
      if (performance.now() - last_report_ms > PROGRESS_EVERY_MS) {
        progress(`  ledger: ${depth} decisions waiting for the worker`);
        last_report_ms = performance.now();
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      const now_depth = await backlog();
      if (now_depth < depth) last_progress_ms = performance.now();
      depth = now_depth;
    }
    // Delivered but not yet acknowledged: wait until the count stops moving.
    let persisted = await this.#persistedCount(sql, db);
    let unchanged_polls = 0;
    while (persisted < this.#expected.size && unchanged_polls < SETTLE_POLLS && elapsed_ms() < wait_max_ms) {
      await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
      const now_persisted = await this.#persistedCount(sql, db);
      unchanged_polls = now_persisted === persisted ? unchanged_polls + 1 : 0;
      persisted = now_persisted;
    }
    const waited_ms = performance.now() - started_ms;
    let missing = 0;
    let in_both_stores = 0;
    let mismatched = 0;
    const explained: Record<string, number> = {};
    const examples: string[] = [];
    const tokens = [...this.#expected.keys()];
    for (let i = 0; i < tokens.length; i += VERIFY_BATCH) {
      const batch = tokens.slice(i, i + VERIFY_BATCH);
      const pg_rows = await sql<
        PersistedRow[]
      >`SELECT jit_token, status, approved_amount_minor FROM transactions
                                                WHERE jit_token = ANY(${batch})`;
      // By `_id` (the JIT token): FerretDB answers that from its primary key; any other filter is a
      // scan of the whole collection, and the chaos suite reads them the same way.
      const mongo_rows = await db
        .collection<PersistedRow & { _id: string }>('personal_transactions')
        .find({ _id: { $in: batch } }, { projection: { jit_token: 1, status: 1, approved_amount_minor: 1 } })
        .toArray();
      const found = new Map<string, PersistedRow>();
      for (const row of [...pg_rows, ...mongo_rows]) {
        if (found.has(row.jit_token)) in_both_stores++;
        found.set(row.jit_token, row);
      }
      for (const token of batch) {
        const expected = this.#expected.get(token)!;
        const row = found.get(token);
        if (row === undefined) {
          const explanation = unpersistedExplanation(expected.outcome);
          if (explanation !== null) {
            explained[explanation] = (explained[explanation] ?? 0) + 1;
            continue;
          }
          missing++;
          if (missing <= MISMATCH_EXAMPLES_MAX / 2)
            examples.push(`${token}: ${expected.cls} answered ${expected.outcome}, not persisted`);
          continue;
        }
        const approved = row.status !== 'declined';
        const amount_minor = BigInt(row.approved_amount_minor ?? 0);
        const expected_amount = expected.approved ? expected.amount_minor : 0n;
        if (
          approved !== expected.approved ||
          (expected_amount !== null && amount_minor !== expected_amount)
        ) {
          const explanation =
            approved && !expected.approved ? bookingExplanation(expected.cls, expected.outcome) : null;
          if (explanation !== null) {
            explained[explanation] = (explained[explanation] ?? 0) + 1;
            continue;
          }
          mismatched++;
          if (mismatched <= MISMATCH_EXAMPLES_MAX / 2) {
            examples.push(
              `${token}: answered ${expected.approved ? 'approved' : 'declined'} ${expected_amount}, ledger ${row.status} ${amount_minor}`,
            );
          }
        }
      }
    }
    const [latency] = await sql<{ p50: number | null; p99: number | null; max: number | null }[]>`
      SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
             percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99,
             max(ms) AS max
        FROM (SELECT extract(epoch FROM created_at - decided_at) * 1000 AS ms FROM transactions
               WHERE jit_token LIKE ${`${this.#run_prefix}%`}) AS persisted`;
    return {
      expected: this.#expected.size,
      persisted,
      missing,
      in_both_stores,
      mismatched,
      explained,
      examples,
      drained: persisted >= this.#expected.size,
      waited_ms,
      persist_latency_ms:
        latency?.p50 != null
          ? { p50: Number(latency.p50), p99: Number(latency.p99), max: Number(latency.max) }
          : null,
    };
  }
}
