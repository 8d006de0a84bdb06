// Cache miss path: loads one card, its cardholder, limits, balance and live ledger state from
// PostgreSQL (business cards) or MongoDB (personal cards) and writes the missing parts to
// Redis with the seed's TTLs. Concurrent misses on one card share a single load.
// Refresh-ahead: each cached hash carries `rf` (the card also `brf` for the balance), the time
// after which a read should refresh it; the decision script reports due parts and the decider
// calls `refresh`, which reloads the card in the background (single-flight per card, bounded
// concurrency, never on the answer's path) and rewrites the parts still present.

import type { Db, ObjectId } from 'mongodb';
import { maskToken, type Logger } from '../../shared/logger.ts';
import { personalCardIdByToken } from '../../shared/personal-card-tokens.ts';
import type { GatewayConfig } from '../../shared/config.ts';
import {
  type CacheTtls,
  type DecisionKeys,
  decisionKeys,
  type KeyLayout,
  scaledCacheTtls,
} from '../../shared/redis-keys.ts';
import {
  GROUP_PERIODS,
  ledgerField,
  limitsField,
  PERIODS,
  type GroupPeriod,
} from '../../shared/redis-hash-fields.ts';
import { periodStartDate, type Period, type WindowIds } from '../../shared/spend-windows.ts';
import { timed, type PgSql } from '../../shared/stores/postgres.ts';
import type { CachePartsJson, DecisionScripts } from './scripts.ts';

type Fields = Record<string, string>;
type Windows = Pick<WindowIds, 'day_id' | 'week_id' | 'month_id' | 'year_id'>;

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
  const fields: Fields = { [ledgerField.held]: amount(held), [ledgerField.pending]: amount(posted_net) };
  for (const period of PERIODS) {
    const current = spend(period);
    fields[ledgerField.window(period)] = windowOf(period, windows);
    fields[ledgerField.spent(period)] = amount(current?.spent_minor ?? 0n);
    fields[ledgerField.count(period)] = String(current?.txn_count ?? 0);
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

/** The limits hash the decision script reads (decide-10.lua KEYS[3]). */
function limitFields(c: Controls): Fields {
  const fields: Fields = {
    [limitsField.version]: '2',
    [limitsField.per_transaction]: amount(c.per_transaction_limit_minor),
    [limitsField.amount('day')]: amount(c.daily_limit_minor),
    [limitsField.amount('week')]: amount(c.weekly_limit_minor),
    [limitsField.amount('month')]: amount(c.monthly_limit_minor),
    [limitsField.amount('year')]: amount(c.yearly_limit_minor),
    [limitsField.amount('all')]: amount(c.lifetime_limit_minor),
    [limitsField.velocity_count_max]: c.velocity_count_max ? String(c.velocity_count_max) : '',
    [limitsField.velocity_window_s]: c.velocity_window_s ? String(c.velocity_window_s) : '',
    [limitsField.mcc_allow]: list(c.mcc_allow),
    [limitsField.mcc_block]: list(c.mcc_block),
    [limitsField.merchant_allow]: list(c.merchant_allow),
    [limitsField.merchant_block]: list(c.merchant_block),
    [limitsField.country_allow]: list(c.country_allow),
    [limitsField.country_block]: list(c.country_block),
  };
  for (const [group, limits] of Object.entries(c.category_limits ?? {})) {
    for (const period of GROUP_PERIODS) {
      const limit = limits[period];
      if (limit !== undefined) fields[limitsField.groupAmount(group, period)] = amount(limit);
    }
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
  group_spend: Array<{ mcc_group: string; period: GroupPeriod; spent_minor: string }> | null;
}

export interface PersonalCardDoc extends Controls {
  _id: ObjectId;
  user_id: ObjectId;
  card_token: string;
  status: string;
  currency_code: string;
  /** Funds loaded through the management API. */
  balance_minor: bigint | number;
  balance_version?: bigint | number;
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

export interface CacheLoaderOptions {
  readonly ttls: CacheTtls;
  /** A part is due for refresh in this last share of its TTL (percent). */
  readonly refresh_ahead_percent: number;
  readonly refresh_concurrency_max: number;
  /** A refresh slower than this is not written (an invalidation may have passed it). */
  readonly refresh_budget_ms: number;
}

/** The loader's settings from the gateway's configuration. */
export function cacheLoaderOptions(
  config: Pick<
    GatewayConfig,
    | 'cache_ttl_scale'
    | 'cache_refresh_ahead_percent'
    | 'cache_refresh_concurrency_max'
    | 'cache_fill_budget_ms'
  >,
): CacheLoaderOptions {
  return {
    ttls: scaledCacheTtls(config.cache_ttl_scale),
    refresh_ahead_percent: config.cache_refresh_ahead_percent,
    refresh_concurrency_max: config.cache_refresh_concurrency_max,
    refresh_budget_ms: config.cache_fill_budget_ms,
  };
}

/** The seed's TTLs and the gateway's defaults, for tools that load cards without a gateway. */
export const SEED_CACHE_LOADER_OPTIONS: CacheLoaderOptions = cacheLoaderOptions({
  cache_ttl_scale: 1,
  cache_refresh_ahead_percent: 50,
  cache_refresh_concurrency_max: 8,
  cache_fill_budget_ms: 500,
});

/** A card whose refresh failed is not tried again before this. */
const REFRESH_RETRY_MS = 5_000;
/** Failed refreshes remembered at most (a store outage with many hot cards). */
const REFRESH_FAILURES_MAX = 10_000;

export class CacheLoader {
  readonly #in_flight = new Map<string, Promise<void>>();
  readonly #refreshing = new Set<string>();
  readonly #refresh_failed_until_ms = new Map<string, number>();
  readonly #sql: PgSql;
  readonly #mongo: Db;
  readonly #scripts: DecisionScripts;
  readonly #log: Logger;
  readonly #options: CacheLoaderOptions;
  readonly #layout: KeyLayout;

  constructor(
    sql: PgSql,
    mongo: Db,
    scripts: DecisionScripts,
    layout: KeyLayout,
    log: Logger,
    options: CacheLoaderOptions,
  ) {
    if (options.refresh_ahead_percent <= 0 || options.refresh_ahead_percent >= 100) {
      throw new RangeError('refresh_ahead_percent must be within (0, 100)');
    }
    this.#sql = sql;
    this.#mongo = mongo;
    this.#scripts = scripts;
    this.#layout = layout;
    this.#log = log;
    this.#options = options;
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

  /**
   * Loads a card known only by its token (the start-up preload): its keys come from the
   * cardholder the store names. Returns false when the card is in neither store, or when its
   * cardholder's keys are not the ones `card_key` lives with (the ledger hash was found there).
   */
  async preload(card_key: string, card_token: string, windows: Windows): Promise<boolean> {
    const parts = await this.#load(card_token, windows);
    const user_token = parts.card.user_token;
    if (parts.card.missing || user_token === undefined) return false;
    const keys = decisionKeys(this.#layout, user_token, card_token, '');
    if (keys.card !== card_key) return false;
    await this.#write(keys, parts);
    return true;
  }

  /**
   * Refreshes a card's cached parts in the background. Returns at once; at most one refresh per
   * card and `refresh_concurrency_max` in all run at a time; a due card past that bound (or
   * after a failed refresh, for REFRESH_RETRY_MS) is refreshed by a later read.
   */
  refresh(keys: DecisionKeys, card_token: string, windows: Windows): void {
    const now_ms = Date.now();
    if (
      this.#refreshing.has(card_token) ||
      this.#in_flight.has(card_token) ||
      (this.#refresh_failed_until_ms.get(card_token) ?? 0) > now_ms ||
      this.#refreshing.size >= this.#options.refresh_concurrency_max
    ) {
      return;
    }
    this.#refreshing.add(card_token);
    const started_ms = performance.now();
    this.#load(card_token, windows)
      .then(async (parts) => {
        // Too slow: an invalidation may have passed it; the part expires or refreshes later.
        if (performance.now() - started_ms > this.#options.refresh_budget_ms) return;
        await this.#rewrite(keys, parts);
        this.#refresh_failed_until_ms.delete(card_token);
      })
      .catch((error: unknown) => {
        if (this.#refresh_failed_until_ms.size >= REFRESH_FAILURES_MAX) this.#refresh_failed_until_ms.clear();
        this.#refresh_failed_until_ms.set(card_token, Date.now() + REFRESH_RETRY_MS);
        this.#log.warn({ err: error, card_token: maskToken(card_token) }, 'cache refresh failed');
      })
      .finally(() => this.#refreshing.delete(card_token));
  }

  async #load(card_token: string, windows: Windows): Promise<CachePartsJson> {
    // PostgreSQL first: it answers a miss in about a millisecond, while MongoDB (FerretDB here)
    // is the slower, busier store; asking it for every business card would double its load.
    const business = await this.#loadBusiness(card_token, windows);
    if (business) return business;
    return (await this.#loadPersonal(card_token, windows)) ?? { card: { missing: '1' } };
  }

  async #loadBusiness(card_token: string, windows: Windows): Promise<CachePartsJson | null> {
    const periods = [...PERIODS];
    const starts = PERIODS.map((period) => periodStartDate(period, windowOf(period, windows)));
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
      ledger[ledgerField.groupWindow(g.mcc_group, g.period)] = windowOf(g.period, windows);
      ledger[ledgerField.groupSpent(g.mcc_group, g.period)] = BigInt(g.spent_minor).toString();
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

  async #loadPersonal(card_token: string, windows: Windows): Promise<CachePartsJson | null> {
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
      for (const period of GROUP_PERIODS) {
        const spent = periods[period];
        if (spent?.window !== windowOf(period, windows)) continue;
        ledger[ledgerField.groupWindow(group, period)] = spent.window;
        ledger[ledgerField.groupSpent(group, period)] = BigInt(spent.minor).toString();
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
      balance_version: Number(card.balance_version ?? 0),
      ledger,
    };
  }

  /** When each cached part should be refreshed: the last `refresh_ahead_percent` of its TTL. */
  #withRefreshTimes(parts: CachePartsJson): CachePartsJson {
    const { ttls, refresh_ahead_percent } = this.#options;
    const now_ms = Date.now();
    const at = (ttl_s: number) => String(now_ms + Math.floor(ttl_s * 10 * (100 - refresh_ahead_percent)));
    if (parts.card.missing) return parts;
    return {
      ...parts,
      card: {
        ...parts.card,
        rf: at(ttls.card),
        ...(parts.balance === undefined ? {} : { brf: at(ttls.balance) }),
      },
      ...(parts.user ? { user: { ...parts.user, rf: at(ttls.user) } } : {}),
      ...(parts.limits ? { limits: { ...parts.limits, [limitsField.refresh_at_ms]: at(ttls.limits) } } : {}),
    };
  }

  async #write(keys: DecisionKeys, parts: CachePartsJson): Promise<void> {
    await this.#scripts.fill(keys, this.#withRefreshTimes(parts), this.#options.ttls);
  }

  async #rewrite(keys: DecisionKeys, parts: CachePartsJson): Promise<void> {
    const { ledger: _live_ledger_never_refreshed, ...cached } = this.#withRefreshTimes(parts);
    await this.#scripts.refresh(keys, cached, this.#options.ttls);
  }
}
