// Cache miss path: loads one card, its cardholder, limits, balance and live ledger state from
// PostgreSQL (business cards) or MongoDB (personal cards) and writes the missing parts to
// Redis with the seed's TTLs. Concurrent misses on one card share a single load.

import type { Db, ObjectId } from 'mongodb';
import { maskToken, type Logger } from '../../shared/logger.ts';
import { personalCardIdByToken } from '../../shared/personal-card-tokens.ts';
import { CACHE_TTL_S, type DecisionKeys } from '../../shared/redis-keys.ts';
import { periodStartDate, type Period, type WindowIds } from '../../shared/spend-windows.ts';
import { timed, type PgSql } from '../../shared/stores/postgres.ts';
import type { DecisionScripts } from './scripts.ts';

type Fields = Record<string, string>;
type Windows = Pick<WindowIds, 'day_id' | 'week_id' | 'month_id' | 'year_id'>;

export interface CacheParts {
  readonly card: Fields;
  readonly user?: Fields;
  readonly limits?: Fields;
  readonly balance?: string;
  readonly ledger?: Fields;
}

const PERIODS: ReadonlyArray<readonly [Period, string]> = [
  ['day', 'd'],
  ['week', 'w'],
  ['month', 'm'],
  ['year', 'y'],
  ['all', 'a'],
];

function windowOf(period: Period, windows: Windows): string {
  switch (period) {
    case 'day':
      return windows.day_id;
    case 'week':
      return windows.week_id;
    case 'month':
      return windows.month_id;
    case 'year':
      return windows.year_id;
    case 'all':
      return 'all';
  }
}

/** Merchant lists are stored as ",a,b," so the script can test membership with one find. */
function list(values: readonly string[] | null | undefined): string {
  return values && values.length > 0 ? `,${values.join(',')},` : '';
}

function amount(value: bigint | number | string | null | undefined): string {
  return value === null || value === undefined ? '' : BigInt(value).toString();
}

interface Spend {
  readonly spent_minor: bigint;
  readonly txn_count: number;
}

/** The live ledger hash of a card: holds, net postings and spend in the current windows. */
function ledgerFields(
  held: bigint | number,
  posted_net: bigint | number,
  windows: Windows,
  spend: (period: Period) => Spend | undefined,
): Fields {
  const fields: Fields = { held: amount(held), pend: amount(posted_net) };
  for (const [period, p] of PERIODS) {
    const current = spend(period);
    fields[`${p}w`] = windowOf(period, windows);
    fields[`${p}s`] = amount(current?.spent_minor ?? 0n);
    fields[`${p}n`] = String(current?.txn_count ?? 0);
  }
  return fields;
}

interface Controls {
  per_transaction_limit_minor?: bigint | number | null;
  daily_limit_minor?: bigint | number | null;
  weekly_limit_minor?: bigint | number | null;
  monthly_limit_minor?: bigint | number | null;
  yearly_limit_minor?: bigint | number | null;
  lifetime_limit_minor?: bigint | number | null;
  velocity_count_max?: number | null;
  velocity_window_s?: number | null;
  /** Per MCC group (shared/mcc-groups.ts): {"dining": {"day": 5000, "month": 20000}}. */
  category_limits?: Record<string, { day?: number | string; month?: number | string }> | null;
  mcc_allow?: string[] | null;
  mcc_block?: string[] | null;
  merchant_allow?: string[] | null;
  merchant_block?: string[] | null;
  country_allow?: string[] | null;
  country_block?: string[] | null;
}

/** The limits hash the decision script reads (decide-9.lua KEYS[3]). */
function limitFields(c: Controls): Fields {
  const fields: Fields = {
    v: '2',
    per_txn: amount(c.per_transaction_limit_minor),
    d_amt: amount(c.daily_limit_minor),
    w_amt: amount(c.weekly_limit_minor),
    m_amt: amount(c.monthly_limit_minor),
    y_amt: amount(c.yearly_limit_minor),
    a_amt: amount(c.lifetime_limit_minor),
    vel_max: c.velocity_count_max ? String(c.velocity_count_max) : '',
    vel_win_s: c.velocity_window_s ? String(c.velocity_window_s) : '',
    mcc_allow: list(c.mcc_allow),
    mcc_block: list(c.mcc_block),
    mid_allow: list(c.merchant_allow),
    mid_block: list(c.merchant_block),
    cc_allow: list(c.country_allow),
    cc_block: list(c.country_block),
  };
  for (const [group, limits] of Object.entries(c.category_limits ?? {})) {
    if (limits.day !== undefined) fields[`g:${group}:d`] = amount(limits.day);
    if (limits.month !== undefined) fields[`g:${group}:m`] = amount(limits.month);
  }
  return fields;
}

interface BusinessRow extends Controls {
  card_id: string;
  status: string;
  currency_code: string;
  user_id: string;
  user_token: string;
  user_status: string;
  held: bigint;
  spend: Array<{ period: Period; spent_minor: string; txn_count: number }> | null;
  group_spend: Array<{ mcc_group: string; period: 'day' | 'month'; spent_minor: string }> | null;
}

export interface PersonalCardDoc extends Controls {
  _id: ObjectId;
  user_id: ObjectId;
  card_token: string;
  status: string;
  currency_code: string;
  /** Funds loaded through the management API. */
  balance_minor: bigint | number;
  held_minor?: bigint | number;
  /** Net postings (debits negative, refunds positive); available = balance + posted_net - held. */
  posted_net_minor?: bigint | number;
  /** Per MCC group and period (day, month): spend in the window named, maintained by the worker. */
  category_spend?: Record<
    string,
    Partial<Record<'day' | 'month', { window: string; minor: bigint | number }>>
  >;
  /** spend_<period>_window / _minor / _count, maintained by the worker. */
  [spend_field: `spend_${string}`]: string | bigint | number | undefined;
}

export interface PersonalUserDoc {
  _id: ObjectId;
  user_token: string;
  status: string;
  kyc_status: string;
}

export class CacheLoader {
  readonly #in_flight = new Map<string, Promise<void>>();
  readonly #sql: PgSql;
  readonly #mongo: Db;
  readonly #scripts: DecisionScripts;
  readonly #log: Logger;

  constructor(sql: PgSql, mongo: Db, scripts: DecisionScripts, log: Logger) {
    this.#sql = sql;
    this.#mongo = mongo;
    this.#scripts = scripts;
    this.#log = log;
  }

  /** Loads and writes the card's parts; concurrent calls for one card share one load. */
  fill(keys: DecisionKeys, card_token: string, windows: Windows): Promise<void> {
    const running = this.#in_flight.get(card_token);
    if (running) return running;
    const work = this.#load(card_token, windows)
      .then((parts) => this.#write(keys, parts))
      .finally(() => this.#in_flight.delete(card_token));
    this.#in_flight.set(card_token, work);
    return work;
  }

  async #load(card_token: string, windows: Windows): Promise<CacheParts> {
    // PostgreSQL first: it answers a miss in about a millisecond, while MongoDB (FerretDB here)
    // is the slower, busier store; asking it for every business card would double its load.
    const business = await this.#loadBusiness(card_token, windows);
    if (business) return business;
    return (await this.#loadPersonal(card_token, windows)) ?? { card: { missing: '1' } };
  }

  async #loadBusiness(card_token: string, windows: Windows): Promise<CacheParts | null> {
    const periods = PERIODS.map(([period]) => period);
    const starts = PERIODS.map(([period]) => periodStartDate(period, windowOf(period, windows)));
    const day_start = periodStartDate('day', windows.day_id);
    const month_start = periodStartDate('month', windows.month_id);
    const rows = await timed(
      this.#log,
      'gateway.load_business_card',
      () =>
        this.#sql<BusinessRow[]>`
        SELECT c.id AS card_id, c.status, c.currency_code,
               c.per_transaction_limit_minor, c.daily_limit_minor, c.weekly_limit_minor, c.monthly_limit_minor,
               c.yearly_limit_minor, c.lifetime_limit_minor, c.velocity_count_max, c.velocity_window_s,
               c.category_limits,
               u.id AS user_id, u.user_token, u.status AS user_status,
               cc.mcc_allow, cc.mcc_block, cc.merchant_allow, cc.merchant_block, cc.country_allow, cc.country_block,
               (SELECT coalesce(sum(held_minor), 0)::bigint FROM authorization_holds
                 WHERE card_id = c.id AND state = 'pending') AS held,
               (SELECT json_agg(json_build_object('period', s.period, 'spent_minor', s.spent_minor::text,
                                                  'txn_count', s.txn_count))
                  FROM spending_controls s
                  JOIN unnest(${periods}::text[], ${starts}::date[]) AS w(period, start)
                    ON w.period = s.period AND w.start = s.window_start
                 WHERE s.card_id = c.id) AS spend,
               (SELECT json_agg(json_build_object('mcc_group', s.mcc_group, 'period', s.period,
                                                  'spent_minor', s.spent_minor::text))
                  FROM category_spend s
                 WHERE s.card_id = c.id
                   AND ((s.period = 'day' AND s.window_start = ${day_start}::date)
                     OR (s.period = 'month' AND s.window_start = ${month_start}::date))) AS group_spend
          FROM cards c
          JOIN users u ON u.id = c.user_id
          LEFT JOIN card_controls cc ON cc.card_id = c.id
         WHERE c.card_token = ${card_token}`,
    );
    const row = rows[0];
    if (row === undefined) return null;
    // Business cards have no balance: postings matter only to the worker's ledger.
    const ledger = ledgerFields(row.held, 0n, windows, (period) => {
      const found = row.spend?.find((s) => s.period === period);
      return found ? { spent_minor: BigInt(found.spent_minor), txn_count: found.txn_count } : undefined;
    });
    for (const g of row.group_spend ?? []) {
      const p = g.period === 'day' ? 'd' : 'm';
      ledger[`g:${g.mcc_group}:${p}w`] = windowOf(g.period, windows);
      ledger[`g:${g.mcc_group}:${p}s`] = BigInt(g.spent_minor).toString();
    }
    return {
      card: {
        status: row.status,
        kind: 'business',
        user_token: row.user_token,
        currency: row.currency_code.trim(),
        card_id: row.card_id,
        user_id: row.user_id,
      },
      user: { status: row.user_status },
      limits: limitFields(row),
      ledger,
    };
  }

  async #loadPersonal(card_token: string, windows: Windows): Promise<CacheParts | null> {
    const card_id = await personalCardIdByToken(this.#mongo, card_token);
    if (card_id === null) return null;
    const card = await this.#mongo.collection<PersonalCardDoc>('personal_cards').findOne({ _id: card_id });
    if (card === null) return null;
    const user = await this.#mongo
      .collection<PersonalUserDoc>('personal_users')
      .findOne({ _id: card.user_id });
    if (user === null) {
      this.#log.error({ card_token: maskToken(card_token) }, 'personal card has no cardholder document');
      return null;
    }
    // A personal cardholder may spend only while active and KYC-verified.
    const user_status = user.status === 'active' && user.kyc_status === 'verified' ? 'active' : 'inactive';
    const ledger = ledgerFields(card.held_minor ?? 0, card.posted_net_minor ?? 0, windows, (period) =>
      card[`spend_${period}_window`] === windowOf(period, windows)
        ? {
            spent_minor: BigInt(card[`spend_${period}_minor`] ?? 0),
            txn_count: Number(card[`spend_${period}_count`] ?? 0),
          }
        : undefined,
    );
    for (const [group, periods] of Object.entries(card.category_spend ?? {})) {
      for (const [period, p] of [
        ['day', 'd'],
        ['month', 'm'],
      ] as const) {
        const spent = periods[period];
        if (spent?.window !== windowOf(period, windows)) continue;
        ledger[`g:${group}:${p}w`] = spent.window;
        ledger[`g:${group}:${p}s`] = BigInt(spent.minor).toString();
      }
    }
    return {
      card: {
        status: card.status,
        kind: 'personal',
        user_token: user.user_token,
        currency: card.currency_code,
        card_id: String(card._id),
        user_id: String(user._id),
      },
      user: { status: user_status },
      limits: limitFields(card),
      balance: amount(card.balance_minor),
      ledger,
    };
  }

  async #write(keys: DecisionKeys, parts: CacheParts): Promise<void> {
    await this.#scripts.fill(
      keys.user,
      keys.card,
      keys.limits,
      keys.balance,
      keys.ledger,
      JSON.stringify(parts),
      CACHE_TTL_S.user,
      CACHE_TTL_S.card,
      CACHE_TTL_S.limits,
      CACHE_TTL_S.balance,
      CACHE_TTL_S.ledger_idle,
      CACHE_TTL_S.missing_card,
    );
  }
}
