// The SQL of a business batch (business-ledger.ts), one builder per statement. Each builder
// takes the connection or transaction to run on and returns the statement unsent, so the plan
// test (test/integration/sql-plans.test.ts) EXPLAINs exactly these statements.
// Every statement is driven by the batch's keys (unique keys, or the index of
// original_jit_token probed once per key): none joins with an OR or filters the ledger on
// `status = 'pending'` alone, so stale or missing statistics (autovacuum off, a fast-growing
// table) cannot turn one into a scan of every pending row (docs/operations.md, "Plan-proof SQL").

import type { PgTx } from '../../shared/stores/postgres.ts';
import type { TransactionStatus } from './lifecycle.ts';

/** A batch is written in one SQL transaction. */
export type LedgerTx = PgTx;

export interface SpendRow {
  card_id: string;
  period: string;
  window_start: string;
  spent_minor: bigint;
  txn_count: number;
}

export interface CategoryRow {
  card_id: string;
  mcc_group: string;
  period: string;
  window_start: string;
  spent_minor: bigint;
}

export interface HoldRow {
  group_token: string;
  card_id: string;
  card_token: string;
  user_token: string;
  currency_code: string;
  held_minor: bigint;
  /** The group's state after the batch; with `state_decided_at_ms` 0 it changed nothing. */
  state: string;
  /** When the decision that set `state` was decided (0: no state change in this batch). */
  state_decided_at_ms: number;
  created_at: Date;
}

/** A group that left `pending`, and what its pending records become. */
export interface Settlement {
  readonly group_token: string;
  readonly status: TransactionStatus;
}

type TransactionRow = Record<string, string | number | bigint | Date | null>;

/** Revision 1 rows; returns the JIT tokens whose bit 1 this statement set (their effects are new). */
export function insertFirstRevisions(sql: LedgerTx, rows: readonly TransactionRow[]) {
  return sql<{ jit_token: string }[]>`
    INSERT INTO transactions ${sql(rows as TransactionRow[])}
    ON CONFLICT (jit_token) DO UPDATE
       SET applied_revisions = transactions.applied_revisions | 1,
           limits_seen = coalesce(transactions.limits_seen, excluded.limits_seen), updated_at = now()
     WHERE (transactions.applied_revisions & 1) = 0
    RETURNING transactions.jit_token`;
}

/** Voids (revision 2): the row becomes a `timeout` decline, once (bit 2). */
export function insertVoids(sql: LedgerTx, rows: readonly TransactionRow[]) {
  return sql<{ jit_token: string; revision: number }[]>`
    INSERT INTO transactions ${sql(rows as TransactionRow[])}
    ON CONFLICT (jit_token) DO UPDATE
       SET status = excluded.status, status_code = excluded.status_code,
           decline_reason = excluded.decline_reason, memo = excluded.memo,
           approved_amount_minor = 0, held_amount_minor = 0,
           released_amount_minor = excluded.released_amount_minor,
           revision = excluded.revision, applied_revisions = transactions.applied_revisions | 2, updated_at = now()
     WHERE (transactions.applied_revisions & 2) = 0
    RETURNING transactions.jit_token, transactions.revision`;
}

export function addSpend(sql: LedgerTx, rows: readonly SpendRow[]) {
  return sql`
    INSERT INTO spending_controls ${sql(rows as SpendRow[])}
    ON CONFLICT (card_id, period, window_start) DO UPDATE
       SET spent_minor = spending_controls.spent_minor + excluded.spent_minor,
           txn_count = spending_controls.txn_count + excluded.txn_count,
           updated_at = now()`;
}

export function addCategorySpend(sql: LedgerTx, rows: readonly CategoryRow[]) {
  return sql`
    INSERT INTO category_spend ${sql(rows as CategoryRow[])}
    ON CONFLICT (card_id, mcc_group, period, window_start) DO UPDATE
       SET spent_minor = category_spend.spent_minor + excluded.spent_minor, updated_at = now()`;
}

export function addHolds(sql: LedgerTx, rows: readonly HoldRow[]) {
  return sql`
    INSERT INTO authorization_holds ${sql(rows as HoldRow[])}
    ON CONFLICT (group_token) DO UPDATE
       SET held_minor = authorization_holds.held_minor + excluded.held_minor,
           -- The newest decided state wins (a reopen after a clearing, a late clearing before it).
           state = CASE WHEN excluded.state_decided_at_ms > 0
                         AND excluded.state_decided_at_ms >= authorization_holds.state_decided_at_ms
                        THEN excluded.state ELSE authorization_holds.state END,
           state_decided_at_ms = greatest(authorization_holds.state_decided_at_ms, excluded.state_decided_at_ms),
           created_at = least(authorization_holds.created_at, excluded.created_at),
           updated_at = now()`;
}

/** The groups of the batch that have left `pending` (primary-key lookups). */
export function settledGroups(sql: LedgerTx, group_tokens: readonly string[]) {
  return sql<{ group_token: string; state: string }[]>`
    SELECT group_token, state FROM authorization_holds
     WHERE group_token = ANY(${group_tokens as string[]}::text[]) AND state <> 'pending'`;
}

/** Records that leave `pending`, each by its JIT token (unique key). */
export interface SettledRecord {
  readonly jit_token: string;
  readonly status: TransactionStatus;
}

/** Sets each record's status if it is still pending: one probe of the unique key per record. */
export function settleRecords(sql: LedgerTx, records: readonly SettledRecord[]) {
  return sql`
    UPDATE transactions t SET status = r.status, updated_at = now()
      FROM unnest(${records.map((r) => r.jit_token)}::text[],
                  ${records.map((r) => r.status)}::text[]) AS r(jit_token, status)
     WHERE t.jit_token = r.jit_token AND t.status = 'pending'`;
}

/** A settled group's authorization: the record whose JIT token is the group's. */
export function authorizationsOf(settlements: readonly Settlement[]): SettledRecord[] {
  return settlements.map((s) => ({ jit_token: s.group_token, status: s.status }));
}

/**
 * A settled group's other pending records (incrementals), which name it in original_jit_token:
 * one probe of its index per group. OFFSET 0 keeps the subquery per group: flattened into a
 * join, a table never analyzed (the planner then assumes 0.5% of the rows match an equality)
 * was hashed over a scan of every pending row (175 ms at 135,000 rows, per batch).
 */
export function pendingFollowers(sql: LedgerTx, settlements: readonly Settlement[]) {
  return sql<SettledRecord[]>`
    SELECT f.jit_token, s.status
      FROM unnest(${settlements.map((s) => s.group_token)}::text[],
                  ${settlements.map((s) => s.status)}::text[]) AS s(group_token, status)
     CROSS JOIN LATERAL (
       SELECT jit_token FROM transactions
        WHERE original_jit_token = s.group_token AND status = 'pending'
       OFFSET 0) AS f`;
}
