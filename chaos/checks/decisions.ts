// Every answered decision persisted exactly once, as answered; nothing persisted as approved
// that was answered otherwise. Compares the journal (what Marqeta was told) with the ledger
// rows: PostgreSQL `transactions` (business and unknown cards) and MongoDB
// `personal_transactions` (personal cards, looked up by `_id`: FerretDB scans other filters).

import type { Db } from 'mongodb';
import {
  BOOKED_CLASSES,
  bookingExplanation,
  NO_MONEY_CLASSES,
  unpersistedExplanation,
} from '../../bench/simulator/explanations.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import type { Answer, Journal, JournalEntry } from '../journal.ts';
import type { Findings } from './findings.ts';

const LOOKUP_BATCH = 1_000;
/** Classes whose approval carries the requested amount (partial approval is off). */
const AMOUNT_CLASSES: ReadonlySet<string> = new Set(['authorization', 'incremental']);
interface Row {
  readonly jit_token: string;
  readonly status: string;
  readonly approved_amount_minor: bigint | number | null;
}

export interface DecisionCounts {
  readonly sent: number;
  readonly answered: number;
  readonly approved: number;
  readonly persisted: number;
}

async function persistedRows(sql: PgSql, db: Db, tokens: readonly string[]) {
  const business = new Map<string, Row>();
  const personal = new Map<string, Row>();
  for (let i = 0; i < tokens.length; i += LOOKUP_BATCH) {
    const batch = tokens.slice(i, i + LOOKUP_BATCH);
    const [pg_rows, mongo_rows] = await Promise.all([
      sql<
        Row[]
      >`SELECT jit_token, status, approved_amount_minor FROM transactions WHERE jit_token = ANY(${batch})`,
      db
        .collection<Row & { _id: string }>('personal_transactions')
        .find({ _id: { $in: batch } }, { projection: { jit_token: 1, status: 1, approved_amount_minor: 1 } })
        .toArray(),
    ]);
    for (const row of pg_rows) business.set(row.jit_token, row);
    for (const row of mongo_rows) personal.set(row._id, row);
  }
  return { business, personal };
}

/**
 * The answer the ledger must agree with: the first, unless that was a `system_error` that never
 * reached Redis (nothing recorded, so a replay was decided afresh): then the last.
 */
function binding(entry: JournalEntry): Answer | null {
  if (entry.first?.outcome === 'system_error' && entry.replays > 0) return entry.last;
  return entry.first;
}

export async function checkDecisions(
  sql: PgSql,
  db: Db,
  journal: Journal,
  findings: Findings,
  undecided_answer: 'decline' | 'standin',
): Promise<DecisionCounts> {
  const tokens = [...journal.entries.keys()];
  const { business, personal } = await persistedRows(sql, db, tokens);
  let answered = 0;
  let approved = 0;
  for (const [token, entry] of journal.entries) {
    const row = business.get(token) ?? personal.get(token);
    if (business.has(token) && personal.has(token)) findings.fail('persisted in both ledgers', token);
    const answer = binding(entry);
    const persisted_approved = row !== undefined && row.status !== 'declined';
    const cls = entry.request.cls;
    if (entry.undecided && entry.first === null && persisted_approved) {
      // The stand-in answer left the decision to Marqeta: the void records the token declined,
      // except what reports the network's doing (booked anyway, as after a fail-safe decline).
      if (BOOKED_CLASSES.has(cls) || NO_MONEY_CLASSES.has(cls))
        findings.explain(`${cls} answered the stand-in 503, booked as the network reported it`, token);
      else
        findings.fail(
          'answered the stand-in 503 but approved by us',
          `${cls} ${token}: ledger ${row.status}`,
        );
      continue;
    }
    if (entry.shed && entry.first === null && row !== undefined) {
      // In standin mode Commando decides a shed request too; booking its stand-in first
      // supersedes the token (void-5.lua leaves a declined tombstone, so a late decide replays it).
      if (undecided_answer === 'standin' && row.status === 'declined')
        findings.explain('shed with 503, left to the stand-in: the token superseded (declined)', token);
      else findings.fail('shed with 503 but decided', `${cls} ${token}: ledger ${row.status}`);
      continue;
    }
    if (answer === null) {
      // Marqeta got no answer and declines on its own; its notification releases the hold.
      if (persisted_approved)
        findings.explain(
          'unanswered (gateway killed mid-request) but approved in the ledger',
          `${cls} ${token}`,
        );
      continue;
    }
    answered++;
    if (answer.outcome === 'approved') {
      approved++;
      if (row === undefined) findings.fail('answered approved, not persisted', `${cls} ${token}`);
      else if (!persisted_approved) findings.fail('answered approved, persisted declined', `${cls} ${token}`);
      else if (
        AMOUNT_CLASSES.has(cls) &&
        BigInt(row.approved_amount_minor ?? 0) !== entry.request.amount_minor
      ) {
        findings.fail(
          'approved amount differs',
          `${cls} ${token}: answered ${entry.request.amount_minor}, ledger ${row.approved_amount_minor}`,
        );
      }
      continue;
    }
    const explanation = persisted_approved ? bookingExplanation(cls, answer.outcome) : null;
    if (explanation !== null) {
      findings.explain(explanation, token);
    } else if (persisted_approved) {
      findings.fail('answered declined, persisted approved', `${cls} ${token}: answered ${answer.outcome}`);
    } else if (row === undefined && unpersistedExplanation(answer.outcome) === null) {
      // A fail-safe decline answered while Redis was unreachable (the call, or the void after a
      // timeout, never reached it) was never recorded: nothing was held, nothing to persist.
      findings.fail('answered declined, not persisted', `${cls} ${token}: answered ${answer.outcome}`);
    }
  }
  return { sent: journal.entries.size, answered, approved, persisted: business.size + personal.size };
}
