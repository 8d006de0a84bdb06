// Redis holds and counters == the durable ledger: the reconciliation (`npm run reconcile`,
// worker/reconcile/) over every live ledger hash of the run's Redis key prefix, once every
// decision is drained. Each difference it reports is a failure of the run.

import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import type { PgSql } from '../../shared/stores/postgres.ts';
import { reconcile } from '../../worker/reconcile/reconcile.ts';
import type { Findings } from './findings.ts';

/** Returns how many cards the reconciliation checked. */
export async function checkCounters(
  redis: Redis,
  sql: PgSql,
  db: Db,
  key_prefix: string,
  findings: Findings,
): Promise<number> {
  const report = await reconcile(
    { redis, sql, db, key_prefix },
    { card_token: null, scope: 'checked_cards' },
  );
  for (const d of report.differences) {
    findings.fail(
      `reconcile: Redis != ledger (${d.field.split(' ')[0]})`,
      `${d.card_token} ${d.field}: redis=${d.redis ?? '-'} ledger=${d.ledger ?? '-'}`,
    );
  }
  for (const n of report.notifications) {
    findings.fail(
      'reconcile: notification not reflected in the ledger',
      `${n.event_token} ${n.card_token}: ${n.problem}`,
    );
  }
  return report.cards_checked;
}
