// A ledger with a past: N prior transactions on the run's ordinary business cards, half still
// pending (authorization holds in `authorization_holds`, held), half cleared, decided over the last
// days (inside the hold expiry, so no job expires them meanwhile). One set-based statement
// (generate_series), no row-by-row inserts, no per-row foreign-key checks (the rows reference the
// run's own cards by construction); no ANALYZE afterwards: the planner keeps whatever
// statistics it had, as a fast-growing production table would (autovacuum is off here).
// Cleaned up with the run's cards (removeProgram deletes by card).

import type { PgSql } from '../../shared/stores/postgres.ts';
import { skipForeignKeyChecks } from './stores.ts';

/** Spread of decided_at: the last three days (HOLD_EXPIRY_DAYS is 7 by default). */
const SPREAD_S = 3 * 24 * 3600;

export interface SeededHistory {
  readonly rows: number;
  readonly pending: number;
  readonly duration_ms: number;
}

export async function seedHistory(
  sql: PgSql,
  company_id: string,
  run_id: string,
  rows: number,
): Promise<SeededHistory> {
  const started_ms = performance.now();
  // Tokens outside the run's own prefix, so the ledger check never counts them as answers.
  const prefix = `hist-${run_id}-`;
  const [seeded] = await sql.begin(async (tx) => {
    // A million rows take longer than the connection's statement timeout on a busy machine.
    await tx`SET LOCAL statement_timeout = 0`;
    await skipForeignKeyChecks(tx);
    return tx<{ rows: bigint; pending: bigint }[]>`
    WITH c AS (
      SELECT c.id AS card_id, c.card_token, u.id AS user_id, u.user_token,
             (row_number() OVER (ORDER BY c.card_token) - 1)::int AS n
        FROM cards c JOIN users u ON u.id = c.user_id
       WHERE u.company_id = ${company_id} AND c.status = 'active' AND c.per_transaction_limit_minor IS NULL
    ), g AS (
      SELECT gs AS i, gs % 2 = 0 AS pending, 100 + (gs * 7919) % 19900 AS amount_minor,
             now() - ((gs * 104729) % ${SPREAD_S}) * interval '1 second' AS decided_at
        FROM generate_series(0::bigint, ${rows - 1}::bigint) AS gs
    ), t AS (
      INSERT INTO transactions (id, jit_token, transaction_token, method, card_id, user_id, card_token,
                                amount_minor, approved_amount_minor, currency_code, mcc, merchant_id,
                                status, status_code, memo, day_window, month_window, decided_at,
                                held_amount_minor, posted_amount_minor)
      SELECT gen_random_uuid(), ${prefix} || g.i, ${prefix} || 't' || g.i, 'pgfs.authorization',
             c.card_id, c.user_id, c.card_token, g.amount_minor, g.amount_minor, 'USD', '5411',
             'm' || lpad((g.i % 1000)::text, 12, '0'),
             CASE WHEN g.pending THEN 'pending' ELSE 'completed' END, 0, 'approved',
             g.decided_at::date, date_trunc('month', g.decided_at)::date, g.decided_at,
             CASE WHEN g.pending THEN g.amount_minor ELSE 0 END,
             CASE WHEN g.pending THEN 0 ELSE g.amount_minor END
        FROM g JOIN c ON c.n = g.i % (SELECT count(*) FROM c)
      RETURNING jit_token, card_id, card_token, user_id, status, amount_minor, decided_at
    ), h AS (
      INSERT INTO authorization_holds (group_token, card_id, card_token, user_token, currency_code,
                                       held_minor, state, created_at)
      SELECT t.jit_token, t.card_id, t.card_token, u.user_token, 'USD',
             CASE WHEN t.status = 'pending' THEN t.amount_minor ELSE 0 END,
             CASE WHEN t.status = 'pending' THEN 'pending' ELSE 'cleared' END, t.decided_at
        FROM t JOIN users u ON u.id = t.user_id
      RETURNING state
    )
    SELECT count(*)::bigint AS rows, count(*) FILTER (WHERE state = 'pending')::bigint AS pending FROM h`;
  });
  // A history a ledger grew over months was written back and its rows' hint bits set long ago:
  // read the rows once and checkpoint, so the drain after the seed does not pay for the seed's
  // write-back. Neither step refreshes the planner's statistics (no VACUUM, no ANALYZE). It did
  // not close the gap between the two drains (bench/FINDINGS.md, 2026-12-05 evening).
  await sql.begin(async (tx) => {
    await tx`SET LOCAL statement_timeout = 0`;
    await tx`SELECT count(*) FROM transactions`;
    await tx`SELECT count(*) FROM authorization_holds`;
  });
  await sql`CHECKPOINT`;
  return {
    rows: Number(seeded?.rows ?? 0n),
    pending: Number(seeded?.pending ?? 0n),
    duration_ms: performance.now() - started_ms,
  };
}
