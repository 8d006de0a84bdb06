// The simulated card program: N ordinary cards (business in PostgreSQL, personal in MongoDB)
// plus small pools of cards that must decline (over limit, blocked MCC, inactive) and tokens
// that exist nowhere (unknown card). Tokens derive from the run id and an index, so a pool
// of a million cards costs no memory, every run has its own tokens, and a run's rows can be
// found and removed again.

import { registerPersonalCardTokens } from '../../shared/personal-card-tokens.ts';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Db, ObjectId } from 'mongodb';
import type { PgSql } from '../../shared/stores/postgres.ts';
import { skipForeignKeyChecks } from '../runner/stores.ts';

export type CardKind = 'business' | 'personal';

export interface SimCard {
  readonly card_token: string;
  readonly user_token: string;
  readonly kind: CardKind | 'unknown';
}

export type SpecialPool = 'over_limit' | 'blocked_mcc' | 'inactive' | 'unknown';

/** Every 4th ordinary card is personal (MongoDB), the rest business (PostgreSQL). */
export const PERSONAL_EVERY = 4;
/** Cards per must-decline pool (half business, half personal). */
export const SPECIAL_POOL_SIZE = 40;
/** The over-limit cards allow at most this per transaction; their requests ask for more. */
export const OVER_LIMIT_PER_TRANSACTION_MINOR = 10_000n;
export const BLOCKED_MCC = '7995';
/** Ordinary personal cards are funded far beyond what any run can spend. */
const PERSONAL_BALANCE_MINOR = 10n ** 14n;
const COPY_CHUNK_ROWS = 2_000;
const MONGO_BATCH_DOCS = 5_000;

export interface CardProgram {
  readonly run_id: string;
  readonly company_id: string;
  /** Ordinary cards seeded: indexes 0 .. ordinary_count-1. */
  readonly ordinary_count: number;
}

export function ordinaryCard(run_id: string, index: number): SimCard {
  const kind: CardKind = index % PERSONAL_EVERY === PERSONAL_EVERY - 1 ? 'personal' : 'business';
  const letter = kind === 'personal' ? 'p' : 'b';
  return { card_token: `${run_id}${letter}c${index}`, user_token: `${run_id}${letter}u${index}`, kind };
}

export function specialCard(run_id: string, pool: SpecialPool, index: number): SimCard {
  const tag = { over_limit: 'ol', blocked_mcc: 'bm', inactive: 'in', unknown: 'uk' }[pool];
  if (pool === 'unknown')
    return {
      card_token: `${run_id}${tag}c${index}`,
      user_token: `${run_id}${tag}u${index}`,
      kind: 'unknown',
    };
  const kind: CardKind = index % 2 === 0 ? 'business' : 'personal';
  const letter = kind === 'personal' ? 'p' : 'b';
  return {
    card_token: `${run_id}${tag}${letter}c${index}`,
    user_token: `${run_id}${tag}${letter}u${index}`,
    kind,
  };
}

interface CardRow {
  readonly card: SimCard;
  readonly status: 'active' | 'suspended';
  readonly per_transaction_limit_minor: bigint | null;
  readonly mcc_block: readonly string[];
}

function* programRows(run_id: string, ordinary_count: number): Generator<CardRow> {
  for (let i = 0; i < ordinary_count; i++) {
    yield {
      card: ordinaryCard(run_id, i),
      status: 'active',
      per_transaction_limit_minor: null,
      mcc_block: [],
    };
  }
  for (let i = 0; i < SPECIAL_POOL_SIZE; i++) {
    yield {
      card: specialCard(run_id, 'over_limit', i),
      status: 'active',
      per_transaction_limit_minor: OVER_LIMIT_PER_TRANSACTION_MINOR,
      mcc_block: [],
    };
    yield {
      card: specialCard(run_id, 'blocked_mcc', i),
      status: 'active',
      per_transaction_limit_minor: null,
      mcc_block: [BLOCKED_MCC],
    };
    yield {
      card: specialCard(run_id, 'inactive', i),
      status: 'suspended',
      per_transaction_limit_minor: null,
      mcc_block: [],
    };
  }
}

/** Text format of COPY: tab-separated, \N for null, arrays as {a,b}. Our values need no escaping. */
function copyField(value: string | bigint | null): string {
  return value === null ? '\\N' : String(value);
}

async function copyRows(sql: PgSql, statement: string, lines: Iterable<string>): Promise<void> {
  function* chunks(): Generator<string> {
    let chunk = '';
    let rows = 0;
    for (const line of lines) {
      chunk += line;
      if (++rows === COPY_CHUNK_ROWS) {
        yield chunk;
        chunk = '';
        rows = 0;
      }
    }
    if (chunk !== '') yield chunk;
  }
  const writable = await sql.unsafe(statement).writable();
  await pipeline(Readable.from(chunks()), writable);
}

async function seedBusiness(sql: PgSql, program: CardProgram): Promise<number> {
  const rows = [...filterKind(programRows(program.run_id, program.ordinary_count), 'business')];
  const ids = rows.map(() => ({ user_id: randomUUID(), card_id: randomUUID() }));
  await sql`INSERT INTO companies (id, name) VALUES (${program.company_id}, ${`bench ${program.run_id}`})`;
  await copyRows(
    sql,
    'COPY users (id, company_id, user_token, email, role, status) FROM STDIN',
    rows.map(
      (row, i) =>
        `${ids[i]!.user_id}\t${program.company_id}\t${row.card.user_token}\t${row.card.user_token}@bench.test\temployee\tactive\n`,
    ),
  );
  await copyRows(
    sql,
    'COPY cards (id, user_id, card_token, status, currency_code, per_transaction_limit_minor) FROM STDIN',
    rows.map(
      (row, i) =>
        `${ids[i]!.card_id}\t${ids[i]!.user_id}\t${row.card.card_token}\t${row.status}\tUSD\t${copyField(row.per_transaction_limit_minor)}\n`,
    ),
  );
  // Cards without a controls row have no merchant rules (the gateway's loader LEFT JOINs).
  const controlled = rows.flatMap((row, i) =>
    row.mcc_block.length > 0 ? [`${ids[i]!.card_id}\t{${row.mcc_block.join(',')}}\n`] : [],
  );
  await copyRows(sql, 'COPY card_controls (card_id, mcc_block) FROM STDIN', controlled);
  return rows.length;
}

function* filterKind(rows: Iterable<CardRow>, kind: CardKind): Generator<CardRow> {
  for (const row of rows) if (row.card.kind === kind) yield row;
}

async function seedPersonal(db: Db, program: CardProgram): Promise<number> {
  const now = new Date();
  let count = 0;
  let users: Record<string, unknown>[] = [];
  let cards: Array<Record<string, unknown> & { _id: ObjectId; card_token: string }> = [];
  const flush = async () => {
    if (users.length === 0) return;
    await db.collection('personal_users').insertMany(users, { ordered: false });
    await registerPersonalCardTokens(db, cards);
    await db.collection('personal_cards').insertMany(cards, { ordered: false });
    users = [];
    cards = [];
  };
  for (const row of filterKind(programRows(program.run_id, program.ordinary_count), 'personal')) {
    const user_id = new ObjectId();
    users.push({
      _id: user_id,
      user_token: row.card.user_token,
      email: `${row.card.user_token}@bench.test`,
      status: 'active',
      kyc_status: 'verified',
      bench_run: program.run_id,
      created_at: now,
      updated_at: now,
    });
    cards.push({
      _id: new ObjectId(),
      user_id,
      card_token: row.card.card_token,
      status: row.status,
      currency_code: 'USD',
      balance_minor: PERSONAL_BALANCE_MINOR,
      held_minor: 0n,
      per_transaction_limit_minor: row.per_transaction_limit_minor,
      mcc_block: row.mcc_block,
      bench_run: program.run_id,
      created_at: now,
      updated_at: now,
    });
    count++;
    if (users.length >= MONGO_BATCH_DOCS) await flush();
  }
  await flush();
  return count;
}

export interface SeedResult {
  readonly business_cards: number;
  readonly personal_cards: number;
  readonly duration_ms: number;
}

/** Seeds the program's cards: PostgreSQL COPY for business cards, MongoDB insertMany for personal ones. */
export async function seedProgram(sql: PgSql, db: Db, program: CardProgram): Promise<SeedResult> {
  const started_ms = performance.now();
  const [business_cards, personal_cards] = await Promise.all([
    seedBusiness(sql, program),
    seedPersonal(db, program),
  ]);
  return { business_cards, personal_cards, duration_ms: performance.now() - started_ms };
}

export function newCardProgram(run_id: string, ordinary_count: number): CardProgram {
  return { run_id, company_id: randomUUID(), ordinary_count };
}

/** Removes everything a run created or caused: its cards, cardholders and their ledger rows. */
export async function removeProgram(sql: PgSql, db: Db, program: CardProgram): Promise<void> {
  const token_prefix = `${program.run_id}%`;
  const company = program.company_id;
  await sql.begin(async (tx) => {
    // Every row that references the run's cards goes in this transaction: each deleted card would
    // otherwise scan authorization_holds (indexed only for pending holds), minutes with a history.
    await skipForeignKeyChecks(tx);
    // A seeded history of a million rows takes longer to delete than the connection's statement timeout.
    await tx`SET LOCAL statement_timeout = 0`;
    await tx`DELETE FROM transactions WHERE jit_token LIKE ${token_prefix}
               OR card_id IN (SELECT c.id FROM cards c JOIN users u ON u.id = c.user_id WHERE u.company_id = ${company})`;
    await tx`DELETE FROM authorization_holds
              WHERE card_id IN (SELECT c.id FROM cards c JOIN users u ON u.id = c.user_id WHERE u.company_id = ${company})`;
    await tx`DELETE FROM spending_controls
              WHERE card_id IN (SELECT c.id FROM cards c JOIN users u ON u.id = c.user_id WHERE u.company_id = ${company})`;
    await tx`DELETE FROM category_spend
              WHERE card_id IN (SELECT c.id FROM cards c JOIN users u ON u.id = c.user_id WHERE u.company_id = ${company})`;
    await tx`DELETE FROM card_controls
              WHERE card_id IN (SELECT c.id FROM cards c JOIN users u ON u.id = c.user_id WHERE u.company_id = ${company})`;
    await tx`DELETE FROM cards WHERE user_id IN (SELECT id FROM users WHERE company_id = ${company})`;
    await tx`DELETE FROM users WHERE company_id = ${company}`;
    await tx`DELETE FROM companies WHERE id = ${company}`;
  });
  const escaped = program.run_id.replace(/[^A-Za-z0-9]/g, '');
  await db.collection('personal_transactions').deleteMany({ jit_token: { $regex: `^${escaped}` } });
  await db.collection('personal_holds').deleteMany({ card_token: { $regex: `^${escaped}` } });
  await db.collection('personal_cards').deleteMany({ bench_run: program.run_id });
  await db.collection('personal_users').deleteMany({ bench_run: program.run_id });
}
