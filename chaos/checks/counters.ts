// Redis holds and counters == the durable ledger: the reconciliation (`npm run reconcile`,
// worker/reconcile/) over every live ledger hash of the run's Redis key prefix, once every
// decision is drained. Each difference it reports is a failure of the run.

import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import type { PgSql } from '../../shared/stores/postgres.ts';
import { reconcile } from '../../worker/reconcile/reconcile.ts';
import type { Findings } from './findings.ts';

/**
 * A business card's authorization groups that left `pending` but still hold money: an
 * incremental approved after its authorization was fully reversed holds in the settled group
 * (decide-9.lua does not reopen it). Redis and `authorization_holds` agree on it; only the
 * reconciliation's source (pending groups, as the cache fill rebuilds) leaves it out.
 */
async function settledGroupsHolding(sql: PgSql, card_token: string) {
  return await sql<{ group_token: string; state: string; held_minor: bigint }[]>`
    SELECT group_token, state, held_minor FROM authorization_holds
     WHERE card_token = ${card_token} AND state <> 'pending' AND held_minor <> 0`;
}

/** Returns how many cards the reconciliation checked. */
export async function checkCounters(
  redis: Redis,
  sql: PgSql,
  db: Db,
  key_prefix: string,
  findings: Findings,
): Promise<number> {
  const report = await reconcile({ redis, sql, db, key_prefix }, { card_token: null, scope: 'checked_cards' });
  for (const d of report.differences) {
    const example = `${d.card_token} ${d.field}: redis=${d.redis ?? '-'} ledger=${d.ledger ?? '-'}`;
    if (d.field === 'held' && d.redis !== null && d.ledger !== null) {
      const settled = await settledGroupsHolding(sql, d.card_token);
      const settled_minor = settled.reduce((sum, g) => sum + BigInt(g.held_minor), 0n);
      if (settled.length > 0 && BigInt(d.redis) - BigInt(d.ledger) === settled_minor) {
        const groups = settled.map((g) => `${g.group_token} ${g.state} ${g.held_minor}`).join(', ');
        findings.explain('held in a settled group (incremental after a full reversal): not in the rebuild source', `${example}; ${groups}`);
        continue;
      }
    }
    findings.fail(`reconcile: Redis != ledger (${d.field.split(' ')[0]})`, example);
  }
  for (const n of report.notifications) {
    findings.fail('reconcile: notification not reflected in the ledger', `${n.event_token} ${n.card_token}: ${n.problem}`);
  }
  return report.cards_checked;
}
