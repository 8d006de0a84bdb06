// The durable ledger of a batch of cards, in the vocabulary of the live Redis hash: for each
// field the gateway keeps (decide-9.lua KEYS[5]) the value the ledger says it should hold, read
// exactly as gateway/decide/cache-loader.ts reads it when it rebuilds the hash:
//   held           business: sum of `pending` authorization_holds; personal: held_minor
//   pend           personal: posted_net_minor (business postings are not kept live)
//   <p>s / <p>n    spend and count in the window the hash names in <p>w
//   g:<g>:<p>s     category spend in the window the hash names in g:<g>:<p>w (p in d, m)

import type { Db, ObjectId } from 'mongodb';
import { PERSONAL_CARD_TOKENS } from '../../shared/personal-card-tokens.ts';
import { type Period, periodStartDate } from '../../shared/spend-windows.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import type { LiveLedger } from './live-ledger.ts';

export const LIVE_PERIODS: ReadonlyArray<readonly [Period, string]> = [
  ['day', 'd'],
  ['week', 'w'],
  ['month', 'm'],
  ['year', 'y'],
  ['all', 'a'],
];

const GROUP_FIELD = /^g:(.+):([dm])w$/;

export interface DurableLedger {
  readonly kind: 'business' | 'personal';
  /** Field -> value the live hash should hold (minor units or counts, decimal text). */
  readonly values: Readonly<Record<string, string>>;
}

/** The category windows a live hash names: [group, 'day' | 'month', p, window id]. */
export function groupWindows(
  fields: Readonly<Record<string, string>>,
): Array<[string, 'day' | 'month', string, string]> {
  const windows: Array<[string, 'day' | 'month', string, string]> = [];
  for (const [field, window] of Object.entries(fields)) {
    const match = GROUP_FIELD.exec(field);
    if (match) windows.push([match[1]!, match[2] === 'd' ? 'day' : 'month', match[2]!, window]);
  }
  return windows;
}

interface BusinessCardRow {
  card_token: string;
  card_id: string;
  held: bigint;
}

async function businessLedgers(
  sql: PgSql,
  lives: readonly LiveLedger[],
): Promise<Map<string, DurableLedger>> {
  const tokens = lives.map((l) => l.card_token);
  const cards = await sql<BusinessCardRow[]>`
    SELECT c.card_token, c.id AS card_id,
           (SELECT coalesce(sum(h.held_minor), 0)::bigint FROM authorization_holds h
             WHERE h.card_id = c.id AND h.state = 'pending') AS held
      FROM cards c WHERE c.card_token = ANY(${tokens}::text[])`;
  if (cards.length === 0) return new Map();
  const by_token = new Map(cards.map((c) => [c.card_token, c]));
  const spend_keys: { card_id: string; period: string; start: string }[] = [];
  const group_keys: { card_id: string; group: string; period: string; start: string }[] = [];
  for (const live of lives) {
    const card = by_token.get(live.card_token);
    if (card === undefined) continue;
    for (const [period, p] of LIVE_PERIODS) {
      const window = live.fields[`${p}w`];
      if (window) spend_keys.push({ card_id: card.card_id, period, start: periodStartDate(period, window) });
    }
    for (const [group, period, , window] of groupWindows(live.fields)) {
      group_keys.push({ card_id: card.card_id, group, period, start: periodStartDate(period, window) });
    }
  }
  const spend = await sql<{ card_id: string; period: string; spent_minor: bigint; txn_count: number }[]>`
    SELECT s.card_id, s.period, s.spent_minor, s.txn_count
      FROM spending_controls s
      JOIN unnest(${spend_keys.map((k) => k.card_id)}::uuid[], ${spend_keys.map((k) => k.period)}::text[],
                  ${spend_keys.map((k) => k.start)}::date[]) AS w(card_id, period, start)
        ON s.card_id = w.card_id AND s.period = w.period AND s.window_start = w.start`;
  const groups = await sql<{ card_id: string; mcc_group: string; period: string; spent_minor: bigint }[]>`
    SELECT s.card_id, s.mcc_group, s.period, s.spent_minor
      FROM category_spend s
      JOIN unnest(${group_keys.map((k) => k.card_id)}::uuid[], ${group_keys.map((k) => k.group)}::text[],
                  ${group_keys.map((k) => k.period)}::text[], ${group_keys.map((k) => k.start)}::date[])
           AS w(card_id, mcc_group, period, start)
        ON s.card_id = w.card_id AND s.mcc_group = w.mcc_group AND s.period = w.period AND s.window_start = w.start`;
  const ledgers = new Map<string, DurableLedger>();
  for (const live of lives) {
    const card = by_token.get(live.card_token);
    if (card === undefined) continue;
    const values: Record<string, string> = { held: card.held.toString() };
    for (const [period, p] of LIVE_PERIODS) {
      const row = spend.find((s) => s.card_id === card.card_id && s.period === period);
      values[`${p}s`] = (row?.spent_minor ?? 0n).toString();
      values[`${p}n`] = String(row?.txn_count ?? 0);
    }
    for (const [group, period, p] of groupWindows(live.fields)) {
      const row = groups.find(
        (g) => g.card_id === card.card_id && g.mcc_group === group && g.period === period,
      );
      values[`g:${group}:${p}s`] = (row?.spent_minor ?? 0n).toString();
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
      held: BigInt(card.held_minor ?? 0).toString(),
      pend: BigInt(card.posted_net_minor ?? 0).toString(),
    };
    for (const [period, p] of LIVE_PERIODS) {
      const same = card[`spend_${period}_window`] === live.fields[`${p}w`];
      values[`${p}s`] = same ? BigInt(card[`spend_${period}_minor`] ?? 0).toString() : '0';
      values[`${p}n`] = same ? String(Number(card[`spend_${period}_count`] ?? 0)) : '0';
    }
    for (const [group, period, p, window] of groupWindows(live.fields)) {
      const stored = card.category_spend?.[group]?.[period];
      values[`g:${group}:${p}s`] = stored?.window === window ? BigInt(stored.minor ?? 0).toString() : '0';
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
