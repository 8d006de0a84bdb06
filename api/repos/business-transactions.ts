// Business transactions (PostgreSQL `transactions`, written by the worker).

import type { PgSql } from '../../shared/stores/postgres.ts';
import type { TransactionFilter, TransactionRecord } from '../services/transaction-model.ts';

interface Row {
  id: string;
  jit_token: string;
  transaction_token: string;
  method: string;
  card_id: string | null;
  user_id: string | null;
  company_id: string | null;
  card_token: string;
  amount_minor: bigint;
  approved_amount_minor: bigint;
  currency_code: string;
  merchant: string | null;
  mcc: string | null;
  merchant_id: string | null;
  merchant_country: string | null;
  status: string;
  status_code: number;
  decline_reason: string | null;
  memo: string;
  limits_seen: string | null;
  revision: number;
  decided_at: Date;
  created_at: Date;
  updated_at: Date;
  cursor_at: string;
}

function record(row: Row): TransactionRecord {
  return {
    id: row.id,
    kind: 'business',
    jit_token: row.jit_token,
    transaction_token: row.transaction_token,
    method: row.method,
    card_id: row.card_id,
    user_id: row.user_id,
    company_id: row.company_id,
    card_token: row.card_token,
    amount_minor: row.amount_minor,
    approved_amount_minor: row.approved_amount_minor,
    currency_code: row.currency_code.trim(),
    merchant: {
      name: row.merchant,
      mcc: row.mcc,
      merchant_id: row.merchant_id,
      country: row.merchant_country,
    },
    status: row.status,
    status_code: row.status_code,
    decline_reason: row.decline_reason,
    memo: row.memo,
    limits_seen: row.limits_seen,
    revision: row.revision,
    decided_at: row.decided_at,
    created_at: row.created_at,
    updated_at: row.updated_at,
    cursor_at: row.cursor_at,
  };
}

export function businessTransactionStatement(sql: PgSql, id: string) {
  return sql<Row[]>`
    SELECT t.*, u.company_id, t.created_at::text AS cursor_at
      FROM transactions t LEFT JOIN users u ON u.id = t.user_id
     WHERE t.id = ${id}`;
}

export async function getBusinessTransaction(sql: PgSql, id: string): Promise<TransactionRecord | null> {
  const [row] = await businessTransactionStatement(sql, id);
  return row ? record(row) : null;
}

/** One page's statement, unsent (test/integration/sql-plans.test.ts EXPLAINs it). */
export function businessTransactionsStatement(
  sql: PgSql,
  filter: TransactionFilter,
  after: { at: string; id: string } | undefined,
  limit: number,
) {
  return sql<Row[]>`
    SELECT t.*, u.company_id, t.created_at::text AS cursor_at
      FROM transactions t LEFT JOIN users u ON u.id = t.user_id
     WHERE true
       ${filter.card_id === undefined ? sql`` : sql`AND t.card_id = ${filter.card_id}`}
       ${filter.user_id === undefined ? sql`` : sql`AND t.user_id = ${filter.user_id}`}
       ${filter.company_id === undefined ? sql`` : sql`AND u.company_id = ${filter.company_id}`}
       ${filter.from === undefined ? sql`` : sql`AND t.created_at >= ${filter.from}`}
       ${filter.to === undefined ? sql`` : sql`AND t.created_at < ${filter.to}`}
       ${after === undefined ? sql`` : sql`AND (t.created_at, t.id) < (${after.at}::timestamptz, ${after.id}::uuid)`}
     ORDER BY t.created_at DESC, t.id DESC LIMIT ${limit + 1}`;
}

export async function listBusinessTransactions(
  sql: PgSql,
  filter: TransactionFilter,
  after: { at: string; id: string } | undefined,
  limit: number,
): Promise<TransactionRecord[]> {
  return (await businessTransactionsStatement(sql, filter, after, limit)).map(record);
}
