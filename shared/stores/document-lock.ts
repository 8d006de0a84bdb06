// Serializes writers of one MongoDB document across processes with a PostgreSQL advisory
// lock. Needed because FerretDB (this deployment's MongoDB) applies an update as read,
// modify, write back the whole document: two concurrent updates of one document, even $inc
// on different fields or a filtered compare-and-set, can silently lose one of them
// (measured: 10 concurrent $inc of one field left +8; 10 version-guarded updates, 3 "won",
// +2 stayed). Every writer of a document must take its lock; the lock is released when the
// callback's transaction ends, also when the process dies.

import type { PgSql } from './postgres.ts';

/** A writer waits at most this long for the lock, then fails (the caller retries or answers 503). */
export const DOCUMENT_LOCK_TIMEOUT_MS = 5_000;

export async function withDocumentLock<T>(
  sql: PgSql,
  collection: string,
  id: string,
  work: () => Promise<T>,
): Promise<T> {
  return withDocumentLocks(sql, collection, [id], work);
}

/**
 * The locks of several documents at once, in one statement, for a writer of all of them (the
 * worker's personal batch). Taken in one order for every caller (by lock key), so writers of
 * overlapping sets never deadlock.
 */
export async function withDocumentLocks<T>(
  sql: PgSql,
  collection: string,
  ids: readonly string[],
  work: () => Promise<T>,
): Promise<T> {
  return sql.begin(async (tx) => {
    await tx`SELECT set_config('lock_timeout', ${`${DOCUMENT_LOCK_TIMEOUT_MS}ms`}, true)`;
    // OFFSET 0 keeps the ordered subquery apart, so the locks are taken in its order.
    await tx`
      SELECT pg_advisory_xact_lock(k)
        FROM (SELECT DISTINCT hashtextextended(${`${collection}:`} || id, 0) AS k
                FROM unnest(${ids as string[]}::text[]) AS id ORDER BY k OFFSET 0) AS keys`;
    return work();
  }) as Promise<T>;
}
