// The durable ledger against the Marqeta notifications stored by the worker:
//   - a notification saying the transaction ended (CLEARED, COMPLETION, DECLINED, or our answer
//     timed out) whose authorization group still holds money in `pending`;
//   - a stand-in approval the gateway booked (ledger action `book_standin`) with no booking
//     record (`standin:<jit token>`) in either store.
// Read in keyset batches of NOTIFICATION_BATCH, optionally for some cards only.

import type { Db } from 'mongodb';
import { findByIds } from '../../shared/stores/find-by-ids.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';

export const NOTIFICATION_BATCH = 500;

const ENDED_STATES = ['CLEARED', 'COMPLETION', 'DECLINED'];

export interface NotificationFinding {
  readonly event_token: string;
  readonly card_token: string | null;
  readonly problem: string;
}

interface NotificationRow {
  event_token: string;
  card_token: string | null;
  group_token: string | null;
  jit_token: string | null;
  state: string | null;
  timed_out: boolean;
  standin: boolean;
  booked_standin: boolean;
}

interface HeldGroup {
  readonly state: string;
  readonly held_minor: bigint;
}

// Each statement's builder returns it unsent (test/integration/sql-plans.test.ts EXPLAINs them).

export function heldGroupsStatement(sql: PgSql, groups: readonly string[]) {
  return sql<{ group_token: string; state: string; held_minor: bigint }[]>`
    SELECT group_token, state, held_minor FROM authorization_holds WHERE group_token = ANY(${groups as string[]}::text[])`;
}

export function bookedTokensStatement(sql: PgSql, tokens: readonly string[]) {
  return sql<{ jit_token: string }[]>`
    SELECT jit_token FROM transactions WHERE jit_token = ANY(${tokens as string[]}::text[])`;
}

/** The next keyset batch of notifications after `after`, of some cards or all. */
export function notificationsStatement(sql: PgSql, after: string, card_tokens: readonly string[] | null) {
  return sql<NotificationRow[]>`
    SELECT event_token, card_token, coalesce(original_jit_token, jit_token) AS group_token, jit_token, state,
           timed_out,
           (standin_approved_by IS NOT NULL OR payload->>'subnetwork' = 'MANAGED_JIT') AS standin,
           EXISTS (SELECT 1 FROM unnest(ledger_actions) a WHERE a LIKE 'book_standin:%') AS booked_standin
      FROM marqeta_notifications
     WHERE event_token > ${after}
       ${card_tokens === null ? sql`` : sql`AND card_token = ANY(${card_tokens as string[]}::text[])`}
     ORDER BY event_token LIMIT ${NOTIFICATION_BATCH}`;
}

async function heldGroups(sql: PgSql, db: Db, groups: readonly string[]): Promise<Map<string, HeldGroup>> {
  const found = new Map<string, HeldGroup>();
  if (groups.length === 0) return found;
  for (const row of await heldGroupsStatement(sql, groups)) {
    found.set(row.group_token, { state: row.state, held_minor: row.held_minor });
  }
  const rest = groups.filter((g) => !found.has(g));
  if (rest.length > 0) {
    const personal = await findByIds(
      db.collection<{ _id: string; state: string; held_minor: bigint | number }>('personal_holds'),
      rest,
      { state: 1, held_minor: 1 },
    );
    for (const hold of personal)
      found.set(hold._id, { state: hold.state, held_minor: BigInt(hold.held_minor ?? 0) });
  }
  return found;
}

async function bookedTokens(sql: PgSql, db: Db, tokens: readonly string[]): Promise<Set<string>> {
  if (tokens.length === 0) return new Set();
  const booked = new Set((await bookedTokensStatement(sql, tokens)).map((r) => r.jit_token));
  const rest = tokens.filter((t) => !booked.has(t));
  if (rest.length > 0) {
    const docs = await findByIds(db.collection<{ _id: string }>('personal_transactions'), rest, { _id: 1 });
    for (const doc of docs) booked.add(doc._id);
  }
  return booked;
}

/** card_tokens: only these cards' notifications; null: all of them. */
export async function checkNotifications(
  sql: PgSql,
  db: Db,
  card_tokens: readonly string[] | null,
): Promise<NotificationFinding[]> {
  const findings: NotificationFinding[] = [];
  let after = '';
  for (;;) {
    const rows = await notificationsStatement(sql, after, card_tokens);
    if (rows.length === 0) return findings;
    after = rows.at(-1)!.event_token;
    const ended = rows.filter(
      (r) =>
        r.group_token !== null &&
        (r.timed_out || (ENDED_STATES.includes(r.state ?? '') && !(r.standin && r.state === 'DECLINED'))),
    );
    const groups = await heldGroups(sql, db, [...new Set(ended.map((r) => r.group_token!))]);
    for (const row of ended) {
      const group = groups.get(row.group_token!);
      if (group?.state === 'pending' && group.held_minor > 0n) {
        findings.push({
          event_token: row.event_token,
          card_token: row.card_token,
          problem: `${row.timed_out ? 'timed out' : row.state} at Marqeta, still held here: ${group.held_minor}`,
        });
      }
    }
    const standins = rows.filter((r) => r.booked_standin && r.jit_token !== null);
    const booked = await bookedTokens(
      sql,
      db,
      standins.map((r) => `standin:${r.jit_token}`),
    );
    for (const row of standins) {
      if (!booked.has(`standin:${row.jit_token}`)) {
        findings.push({
          event_token: row.event_token,
          card_token: row.card_token,
          problem: 'stand-in approval not booked',
        });
      }
    }
  }
}
