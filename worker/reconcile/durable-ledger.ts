// The durable ledger of a batch of cards, in the vocabulary of the live Redis hash: for each
// field the gateway keeps (decide-10.lua KEYS[5]) the value the ledger says it should hold, read
// exactly as gateway/decide/cache-loader.ts reads it when it rebuilds the hash:
//   held           business: sum of `pending` authorization_holds; personal: held_minor
//   pend           personal: posted_net_minor (business postings are not kept live)
//   <p>s / <p>n    spend and count in the window the hash names in <p>w
//   g:<g>:<p>s     category spend in the window the hash names in g:<g>:<p>w (p in d, m)

import type { Db, ObjectId } from 'mongodb';
import { PERSONAL_CARD_TOKENS } from '../../shared/personal-card-tokens.ts';
import {
  type GroupPeriod,
  ledgerField,
  PERIODS,
  parseGroupWindowField,
} from '../../shared/redis-hash-fields.ts';
import { periodStartDate } from '../../shared/spend-windows.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import type { LiveLedger } from './live-ledger.ts';

export interface DurableLedger {
  readonly kind: 'business' | 'personal';
  /** Field -> value the live hash should hold (minor units or counts, decimal text). */
  readonly values: Readonly<Record<string, string>>;
}

/** The category windows a live hash names: [group, period, window id]. */
function groupWindows(fields: Readonly<Record<string, string>>): Array<[string, GroupPeriod, string]> {
  const windows: Array<[string, GroupPeriod, string]> = [];
  for (const [field, window] of Object.entries(fields)) {
    const named = parseGroupWindowField(field);
    if (named !== null) windows.push([named.group, named.period, window]);
  }
  return windows;
}

interface BusinessCardRow {
  card_token: string;
  card_id: string;
  held: bigint;
}

export interface SpendKey {
  readonly card_id: string;
  readonly period: string;
  readonly start: string;
}

export interface GroupKey extends SpendKey {
  readonly group: string;
}

// One builder per statement of a batch, unsent, so test/integration/sql-plans.test.ts EXPLAINs
// exactly these. Each reads by key: the pending holds of a card through the card's partial index,
// the windows through LATERAL ... LIMIT 1 probes of the primary key (one row per key anyway; a
// plain join of a batch's 2,500 keys is hashed against a scan of the whole table).

/** The batch's business cards and what each holds. */
export function businessCardsStatement(sql: PgSql, card_tokens: readonly string[]) {
  return sql<BusinessCardRow[]>`
    SELECT c.card_token, c.id AS card_id,
           (SELECT coalesce(sum(h.held_minor), 0)::bigint FROM authorization_holds h
             WHERE h.card_id = c.id AND h.state = 'pending') AS held
      FROM cards c WHERE c.card_token = ANY(${card_tokens as string[]}::text[])`;
}

export function spendStatement(sql: PgSql, keys: readonly SpendKey[]) {
  return sql<{ card_id: string; period: string; spent_minor: bigint; txn_count: number }[]>`
    SELECT w.card_id, w.period, s.spent_minor, s.txn_count
      FROM unnest(${keys.map((k) => k.card_id)}::uuid[], ${keys.map((k) => k.period)}::text[],
                  ${keys.map((k) => k.start)}::date[]) AS w(card_id, period, start)
     CROSS JOIN LATERAL (
       SELECT spent_minor, txn_count FROM spending_controls s
        WHERE s.card_id = w.card_id AND s.period = w.period AND s.window_start = w.start LIMIT 1) s`;
}

export function categorySpendStatement(sql: PgSql, keys: readonly GroupKey[]) {
  return sql<{ card_id: string; mcc_group: string; period: string; spent_minor: bigint }[]>`
    SELECT w.card_id, w.mcc_group, w.period, s.spent_minor
      FROM unnest(${keys.map((k) => k.card_id)}::uuid[], ${keys.map((k) => k.group)}::text[],
                  ${keys.map((k) => k.period)}::text[], ${keys.map((k) => k.start)}::date[])
           AS w(card_id, mcc_group, period, start)
     CROSS JOIN LATERAL (
       SELECT spent_minor FROM category_spend s
        WHERE s.card_id = w.card_id AND s.mcc_group = w.mcc_group AND s.period = w.period
          AND s.window_start = w.start LIMIT 1) s`;
}

async function businessLedgers(
  sql: PgSql,
  lives: readonly LiveLedger[],
): Promise<Map<string, DurableLedger>> {
  const tokens = lives.map((l) => l.card_token);
  const cards = await businessCardsStatement(sql, tokens);
  if (cards.length === 0) return new Map();
  const by_token = new Map(cards.map((c) => [c.card_token, c]));
  const spend_keys: SpendKey[] = [];
  const group_keys: GroupKey[] = [];
  for (const live of lives) {
    const card = by_token.get(live.card_token);
    if (card === undefined) continue;
    for (const period of PERIODS) {
      const window = live.fields[ledgerField.window(period)];
      if (window) spend_keys.push({ card_id: card.card_id, period, start: periodStartDate(period, window) });
    }
    for (const [group, period, window] of groupWindows(live.fields)) {
      group_keys.push({ card_id: card.card_id, group, period, start: periodStartDate(period, window) });
    }
  }
  const spend = await spendStatement(sql, spend_keys);
  const groups = await categorySpendStatement(sql, group_keys);
  const ledgers = new Map<string, DurableLedger>();
  for (const live of lives) {
    const card = by_token.get(live.card_token);
    if (card === undefined) continue;
    const values: Record<string, string> = { [ledgerField.held]: card.held.toString() };
    for (const period of PERIODS) {
      const row = spend.find((s) => s.card_id === card.card_id && s.period === period);
      values[ledgerField.spent(period)] = (row?.spent_minor ?? 0n).toString();
      values[ledgerField.count(period)] = String(row?.txn_count ?? 0);
    }
    for (const [group, period] of groupWindows(live.fields)) {
      const row = groups.find(
        (g) => g.card_id === card.card_id && g.mcc_group === group && g.period === period,
      );
      values[ledgerField.groupSpent(group, period)] = (row?.spent_minor ?? 0n).toString();
    }
    ledgers.set(live.card_token, { kind: 'business', values });
  }
  return ledgers;
}

type Amount = bigint | number | null | undefined;

interface PersonalCardDoc {
  _id: ObjectId;
  held_minor?: Amount;
  posted_net_minor?: Amount;
  category_spend?: Record<string, Record<string, { window: string; minor: Amount }>>;
  [spend_field: `spend_${string}`]: string | Amount;
}

async function personalLedgers(db: Db, lives: readonly LiveLedger[]): Promise<Map<string, DurableLedger>> {
  const ledgers = new Map<string, DurableLedger>();
  if (lives.length === 0) return ledgers;
  const tokens = await db
    .collection<{ _id: string; card_id: ObjectId }>(PERSONAL_CARD_TOKENS)
    .find({ _id: { $in: lives.map((l) => l.card_token) } })
    .toArray();
  if (tokens.length === 0) return ledgers;
  const cards = await db
    .collection<PersonalCardDoc>('personal_cards')
    .find({ _id: { $in: tokens.map((t) => t.card_id) } })
    .toArray();
  const card_by_id = new Map(cards.map((c) => [c._id.toHexString(), c]));
  for (const token of tokens) {
    const card = card_by_id.get(token.card_id.toHexString());
    const live = lives.find((l) => l.card_token === token._id);
    if (card === undefined || live === undefined) continue;
    const values: Record<string, string> = {
      [ledgerField.held]: BigInt(card.held_minor ?? 0).toString(),
      [ledgerField.pending]: BigInt(card.posted_net_minor ?? 0).toString(),
    };
    for (const period of PERIODS) {
      const same = card[`spend_${period}_window`] === live.fields[ledgerField.window(period)];
      values[ledgerField.spent(period)] = same ? BigInt(card[`spend_${period}_minor`] ?? 0).toString() : '0';
      values[ledgerField.count(period)] = same ? String(Number(card[`spend_${period}_count`] ?? 0)) : '0';
    }
    for (const [group, period, window] of groupWindows(live.fields)) {
      const stored = card.category_spend?.[group]?.[period];
      values[ledgerField.groupSpent(group, period)] =
        stored?.window === window ? BigInt(stored.minor ?? 0).toString() : '0';
    }
    ledgers.set(live.card_token, { kind: 'personal', values });
  }
  return ledgers;
}

/** The ledger of each card of the batch; a card in neither store is absent from the map. */
export async function durableLedgers(
  sql: PgSql,
  db: Db,
  lives: readonly LiveLedger[],
): Promise<Map<string, DurableLedger>> {
  const business = await businessLedgers(sql, lives);
  const personal = await personalLedgers(
    db,
    lives.filter((l) => !business.has(l.card_token)),
  );
  return new Map([...business, ...personal]);
}
