// Sort keys of personal transactions in PostgreSQL (`personal_transaction_keys`,
// migrations/postgres/0014). FerretDB reads only `_id` equality from an index and scans
// `personal_transactions` for any other filter or sort (explain: "SCAN"), so a listing scanned
// the whole collection, growing with it. The worker registers each transaction's key here
// before it writes the document; the API pages through the keys (index range scans) and reads
// each document by `_id`.

import type { PgSql } from './stores/postgres.ts';

export interface PersonalTransactionKey {
  /** The document's `_id`: the JIT token (24-hex ObjectId text for documents of old builds). */
  readonly transaction_id: string;
  readonly card_id: string;
  readonly user_id: string;
  readonly created_at: Date;
}

export interface PersonalTransactionKeyFilter {
  readonly card_id?: string;
  readonly user_id?: string;
  /** created_at bounds: from inclusive, to exclusive. */
  readonly from?: Date;
  readonly to?: Date;
}

/** An id's registration: its first created_at, and whether this call registered it. */
export interface RegisteredKey {
  readonly created_at: Date;
  /**
   * Registered by this call: no earlier write of this id reached its store (the worker
   * registers a key before any write of it), so there is no document to read.
   */
  readonly fresh: boolean;
}

/**
 * Registers keys (the first registration of an id wins) and returns each id's stored
 * created_at, which the document takes too: a retried batch keeps the first time.
 */
export async function registerPersonalTransactionKeys(
  sql: PgSql,
  keys: readonly PersonalTransactionKey[],
): Promise<Map<string, RegisteredKey>> {
  const unique = [...new Map(keys.map((k) => [k.transaction_id, k])).values()];
  if (unique.length === 0) return new Map();
  const ids = unique.map((k) => k.transaction_id);
  // One statement: the second SELECT sees the table as it was before the INSERT, so together
  // they return every id once, fresh or already registered.
  const rows = await sql<{ transaction_id: string; created_at: Date; fresh: boolean }[]>`
    WITH fresh AS (
      INSERT INTO personal_transaction_keys (transaction_id, card_id, user_id, created_at)
      SELECT * FROM unnest(${ids}::text[], ${unique.map((k) => k.card_id)}::text[],
                           ${unique.map((k) => k.user_id)}::text[],
                           ${unique.map((k) => k.created_at.toISOString())}::timestamptz[])
      ON CONFLICT (transaction_id) DO NOTHING
      RETURNING transaction_id, created_at)
    SELECT transaction_id, created_at, true AS fresh FROM fresh
    UNION ALL
    SELECT transaction_id, created_at, false AS fresh
      FROM personal_transaction_keys WHERE transaction_id = ANY(${ids}::text[])`;
  return new Map(rows.map((r) => [r.transaction_id, { created_at: r.created_at, fresh: r.fresh }]));
}

/** Keys newest first by (created_at, transaction_id), after the cursor: limit + 1 rows. */
export async function listPersonalTransactionKeys(
  sql: PgSql,
  filter: PersonalTransactionKeyFilter,
  after: { at: string; id: string } | undefined,
  limit: number,
): Promise<Array<{ transaction_id: string; cursor_at: string }>> {
  return sql<{ transaction_id: string; cursor_at: string }[]>`
    SELECT transaction_id, created_at::text AS cursor_at
      FROM personal_transaction_keys
     WHERE true
       ${filter.card_id === undefined ? sql`` : sql`AND card_id = ${filter.card_id}`}
       ${filter.user_id === undefined ? sql`` : sql`AND user_id = ${filter.user_id}`}
       ${filter.from === undefined ? sql`` : sql`AND created_at >= ${filter.from}`}
       ${filter.to === undefined ? sql`` : sql`AND created_at < ${filter.to}`}
       ${after === undefined ? sql`` : sql`AND (created_at, transaction_id) < (${after.at}::timestamptz, ${after.id})`}
     ORDER BY created_at DESC, transaction_id DESC LIMIT ${limit + 1}`;
}
