// What Marqeta's stand-in (Commando Mode) approvals cost: per card and per program (currency),
// the stand-ins the gateway booked from notifications and the spend they added beyond the card's
// amount limits or balance at booking time (a stand-in rule does not know our limits). Read from
// the stored notifications' ledger actions (shared/standin-action.ts), each stand-in JIT token
// counted once however many notifications repeat it; keyset batches of NOTIFICATION_BATCH.

import { parseStandinAction } from '../../shared/standin-action.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import { NOTIFICATION_BATCH } from './notification-checks.ts';

export interface StandinCost {
  readonly standins: number;
  readonly booked_minor: bigint;
  readonly over_limit_minor: bigint;
}

export interface CardStandinCost extends StandinCost {
  readonly card_token: string;
  readonly currency_code: string;
}

export interface StandinReport {
  /** Cards with at least one stand-in booked, most over the limits first. */
  readonly cards: readonly CardStandinCost[];
  /** The whole program, per currency. */
  readonly program: ReadonlyMap<string, StandinCost>;
}

interface Row {
  event_token: string;
  jit_token: string;
  card_token: string;
  currency_code: string;
  ledger_actions: string[];
}

export function standinNotificationsStatement(
  sql: PgSql,
  after: string,
  card_tokens: readonly string[] | null,
) {
  return sql<Row[]>`
    SELECT event_token, jit_token, card_token, currency_code, ledger_actions
      FROM marqeta_notifications
     WHERE event_token > ${after}
       AND jit_token IS NOT NULL AND card_token IS NOT NULL AND currency_code IS NOT NULL
       AND EXISTS (SELECT 1 FROM unnest(ledger_actions) a WHERE a LIKE 'book_standin:%')
       ${card_tokens === null ? sql`` : sql`AND card_token = ANY(${card_tokens as string[]}::text[])`}
     ORDER BY event_token LIMIT ${NOTIFICATION_BATCH}`;
}

function add(total: StandinCost | undefined, booked_minor: bigint, over_limit_minor: bigint): StandinCost {
  return {
    standins: (total?.standins ?? 0) + 1,
    booked_minor: (total?.booked_minor ?? 0n) + booked_minor,
    over_limit_minor: (total?.over_limit_minor ?? 0n) + over_limit_minor,
  };
}

/** card_tokens: only these cards; null: the whole program. */
export async function standinReport(
  sql: PgSql,
  card_tokens: readonly string[] | null,
): Promise<StandinReport> {
  const seen = new Set<string>();
  const cards = new Map<string, CardStandinCost>();
  const program = new Map<string, StandinCost>();
  let after = '';
  for (;;) {
    const rows = await standinNotificationsStatement(sql, after, card_tokens);
    if (rows.length === 0) break;
    after = rows.at(-1)!.event_token;
    for (const row of rows) {
      if (seen.has(row.jit_token)) continue;
      const action = row.ledger_actions.map(parseStandinAction).find((a) => a !== null);
      if (action === undefined || action === null) continue;
      seen.add(row.jit_token);
      const key = `${row.card_token}\u0000${row.currency_code}`;
      const card = add(cards.get(key), action.booked_minor, action.over_limit_minor);
      cards.set(key, { card_token: row.card_token, currency_code: row.currency_code, ...card });
      program.set(
        row.currency_code,
        add(program.get(row.currency_code), action.booked_minor, action.over_limit_minor),
      );
    }
  }
  const sorted = [...cards.values()].sort((a, b) =>
    a.over_limit_minor === b.over_limit_minor ? 0 : a.over_limit_minor > b.over_limit_minor ? -1 : 1,
  );
  return { cards: sorted, program };
}
