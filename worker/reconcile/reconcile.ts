// Reconciliation: every card with a live ledger hash in Redis against the durable ledger
// (compare.ts), the durable ledger against itself (no counter or hold below zero) and against
// the Marqeta notifications received (notification-checks.ts), and what Marqeta's stand-in
// approvals added beyond the cards' limits (standin-over-limit.ts). Read-only; the CLI
// (worker/cli/reconcile.ts) prints the report and may then rebuild (rebuild.ts).

import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import { ledgerField } from '../../shared/redis-hash-fields.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import { compareCard, type Difference } from './compare.ts';
import { durableLedgers } from './durable-ledger.ts';
import { liveLedgers } from './live-ledger.ts';
import { checkNotifications, type NotificationFinding } from './notification-checks.ts';
import { type StandinReport, standinReport } from './standin-over-limit.ts';

/** Negative ledger rows reported at most (each is a bug to look at, not a list to page through). */
const NEGATIVE_ROWS_MAX = 1_000;

export interface ReconcileDeps {
  readonly redis: Redis;
  readonly sql: PgSql;
  readonly db: Db;
  readonly key_prefix: string;
}

export interface ReconcileOptions {
  /** One card only; null: every card. */
  readonly card_token: string | null;
  /** Ledger-wide checks (negative rows, notifications) for every card, or only the cards checked. */
  readonly scope: 'all' | 'checked_cards';
}

export interface ReconcileReport {
  readonly cards_checked: number;
  readonly differences: readonly Difference[];
  readonly notifications: readonly NotificationFinding[];
  /** Stand-in approvals booked and their spend beyond limits: a cost report, not a difference. */
  readonly standins: StandinReport;
}

export function differenceCount(report: ReconcileReport): number {
  return report.differences.length + report.notifications.length;
}

async function negativeBusinessRows(
  sql: PgSql,
  card_tokens: readonly string[] | null,
): Promise<Difference[]> {
  const scope = card_tokens === null ? sql`` : sql`AND c.card_token = ANY(${card_tokens}::text[])`;
  const rows = await sql<{ card_token: string; field: string; value: bigint }[]>`
    SELECT c.card_token, 'spending_controls ' || s.period || ' ' || s.window_start AS field,
           least(s.spent_minor, s.txn_count)::bigint AS value
      FROM spending_controls s JOIN cards c ON c.id = s.card_id
     WHERE (s.spent_minor < 0 OR s.txn_count < 0) ${scope}
    UNION ALL
    SELECT c.card_token, 'category_spend ' || s.mcc_group || ' ' || s.period || ' ' || s.window_start, s.spent_minor
      FROM category_spend s JOIN cards c ON c.id = s.card_id
     WHERE s.spent_minor < 0 ${scope}
    UNION ALL
    SELECT c.card_token, 'authorization_holds ' || h.group_token, h.held_minor
      FROM authorization_holds h JOIN cards c ON c.id = h.card_id
     WHERE h.held_minor < 0 ${scope}
     LIMIT ${NEGATIVE_ROWS_MAX}`;
  return rows.map((r) => ({
    card_token: r.card_token,
    field: `${r.field} (negative)`,
    redis: null,
    ledger: r.value.toString(),
  }));
}

export async function reconcile(deps: ReconcileDeps, options: ReconcileOptions): Promise<ReconcileReport> {
  const differences: Difference[] = [];
  const checked: string[] = [];
  for await (const batch of liveLedgers(deps.redis, deps.key_prefix, options.card_token)) {
    const durable = await durableLedgers(deps.sql, deps.db, batch);
    for (const live of batch) {
      checked.push(live.card_token);
      const ledger = durable.get(live.card_token);
      differences.push(...compareCard(live.card_token, live.fields, ledger));
      // Personal documents have no constraint: "never negative" is checked here (postings are signed).
      for (const [field, value] of Object.entries(ledger?.values ?? {})) {
        if (field !== ledgerField.pending && BigInt(value) < 0n)
          differences.push({
            card_token: live.card_token,
            field: `${field} (negative)`,
            redis: null,
            ledger: value,
          });
      }
    }
  }
  const scope =
    options.card_token !== null ? [options.card_token] : options.scope === 'checked_cards' ? checked : null;
  const negative = scope !== null && scope.length === 0 ? [] : await negativeBusinessRows(deps.sql, scope);
  const notifications =
    scope !== null && scope.length === 0 ? [] : await checkNotifications(deps.sql, deps.db, scope);
  const standins =
    scope !== null && scope.length === 0
      ? { cards: [], program: new Map() }
      : await standinReport(deps.sql, scope);
  return {
    cards_checked: checked.length,
    differences: [...differences, ...negative],
    notifications,
    standins,
  };
}
