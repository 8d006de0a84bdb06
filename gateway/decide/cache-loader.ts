// Cache miss path: loads one card, its cardholder, limits, balance and live ledger state from
// PostgreSQL (business cards) or MongoDB (personal cards) and writes the missing parts to
// Redis with the seed's TTLs. Concurrent misses on one card share a single load.

import type { Db, ObjectId } from 'mongodb';
import type { PgSql } from '../../shared/stores/postgres.ts';
import type { Logger } from '../../shared/logger.ts';
import { CACHE_TTL_S, type DecisionKeys } from '../../shared/redis-keys.ts';
import { timed } from '../../shared/stores/postgres.ts';
import { windowStartDate, type WindowIds } from '../../shared/spend-windows.ts';
import type { DecisionScripts } from './scripts.ts';

type Fields = Record<string, string>;

export interface CacheParts {
  readonly card: Fields;
  readonly user?: Fields;
  readonly limits?: Fields;
  readonly balance?: string;
  readonly ledger?: Fields;
}

/** Merchant lists are stored as ",a,b," so the script can test membership with one find. */
function list(values: readonly string[] | null | undefined): string {
  return values && values.length > 0 ? `,${values.join(',')},` : '';
}

function amount(value: bigint | number | null | undefined): string {
  return value === null || value === undefined ? '' : BigInt(value).toString();
}

function spentIn(window_id: string, stored_window: string | null | undefined, spent: bigint | number | null | undefined) {
  return stored_window === window_id ? amount(spent ?? 0) : '0';
}

interface BusinessRow {
  card_id: string;
  status: string;
  currency_code: string;
  per_transaction_limit_minor: bigint | null;
  daily_limit_minor: bigint | null;
  monthly_limit_minor: bigint | null;
  user_id: string;
  user_token: string;
  user_status: string;
  mcc_allow: string[] | null;
  mcc_block: string[] | null;
  merchant_allow: string[] | null;
  merchant_block: string[] | null;
  day_spent: bigint | null;
  month_spent: bigint | null;
  held: bigint;
}

export interface PersonalCardDoc {
  _id: ObjectId;
  user_id: ObjectId;
  card_token: string;
  status: string;
  currency_code: string;
  balance_minor: bigint | number;
  held_minor?: bigint | number;
  per_transaction_limit_minor?: bigint | number | null;
  daily_limit_minor?: bigint | number | null;
  monthly_limit_minor?: bigint | number | null;
  mcc_allow?: string[];
  mcc_block?: string[];
  merchant_allow?: string[];
  merchant_block?: string[];
  spend_day_window?: string;
  spend_day_minor?: bigint | number;
  spend_month_window?: string;
  spend_month_minor?: bigint | number;
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
  fill(keys: DecisionKeys, card_token: string, windows: WindowIds): Promise<void> {
    const running = this.#in_flight.get(card_token);
    if (running) return running;
    const work = this.#load(card_token, windows)
      .then((parts) => this.#write(keys, parts))
      .finally(() => this.#in_flight.delete(card_token));
    this.#in_flight.set(card_token, work);
    return work;
  }

  async #load(card_token: string, windows: WindowIds): Promise<CacheParts> {
    const business = await this.#loadBusiness(card_token, windows);
    if (business) return business;
    const personal = await this.#loadPersonal(card_token, windows);
    if (personal) return personal;
    return { card: { missing: '1' } };
  }

  async #loadBusiness(card_token: string, windows: WindowIds): Promise<CacheParts | null> {
    const day = windowStartDate(windows.day_id);
    const month = windowStartDate(windows.month_id);
    const rows = await timed(this.#log, 'gateway.load_business_card', () =>
      this.#sql<BusinessRow[]>`
        SELECT c.id AS card_id, c.status, c.currency_code,
               c.per_transaction_limit_minor, c.daily_limit_minor, c.monthly_limit_minor,
               u.id AS user_id, u.user_token, u.status AS user_status,
               cc.mcc_allow, cc.mcc_block, cc.merchant_allow, cc.merchant_block,
               (SELECT spent_minor FROM spending_controls
                 WHERE card_id = c.id AND period = 'day' AND window_start = ${day}) AS day_spent,
               (SELECT spent_minor FROM spending_controls
                 WHERE card_id = c.id AND period = 'month' AND window_start = ${month}) AS month_spent,
               (SELECT coalesce(sum(approved_amount_minor), 0)::bigint FROM transactions
                 WHERE card_id = c.id AND status = 'pending') AS held
          FROM cards c
          JOIN users u ON u.id = c.user_id
          LEFT JOIN card_controls cc ON cc.card_id = c.id
         WHERE c.card_token = ${card_token}`,
    );
    const row = rows[0];
    if (row === undefined) return null;
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
      limits: {
        v: '1',
        per_txn: amount(row.per_transaction_limit_minor),
        daily: amount(row.daily_limit_minor),
        monthly: amount(row.monthly_limit_minor),
        mcc_allow: list(row.mcc_allow),
        mcc_block: list(row.mcc_block),
        mid_allow: list(row.merchant_allow),
        mid_block: list(row.merchant_block),
      },
      ledger: {
        held: amount(row.held),
        dw: windows.day_id,
        ds: amount(row.day_spent ?? 0n),
        mw: windows.month_id,
        ms: amount(row.month_spent ?? 0n),
      },
    };
  }

  async #loadPersonal(card_token: string, windows: WindowIds): Promise<CacheParts | null> {
    const card = await this.#mongo.collection<PersonalCardDoc>('personal_cards').findOne({ card_token });
    if (card === null) return null;
    const user = await this.#mongo.collection<PersonalUserDoc>('personal_users').findOne({ _id: card.user_id });
    if (user === null) {
      this.#log.error({ card_token }, 'personal card has no cardholder document');
      return null;
    }
    // A personal cardholder may spend only while active and KYC-verified.
    const user_status = user.status === 'active' && user.kyc_status === 'verified' ? 'active' : 'inactive';
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
      limits: {
        v: '1',
        per_txn: amount(card.per_transaction_limit_minor),
        daily: amount(card.daily_limit_minor),
        monthly: amount(card.monthly_limit_minor),
        mcc_allow: list(card.mcc_allow),
        mcc_block: list(card.mcc_block),
        mid_allow: list(card.merchant_allow),
        mid_block: list(card.merchant_block),
      },
      balance: amount(card.balance_minor),
      ledger: {
        held: amount(card.held_minor ?? 0),
        dw: windows.day_id,
        ds: spentIn(windows.day_id, card.spend_day_window, card.spend_day_minor),
        mw: windows.month_id,
        ms: spentIn(windows.month_id, card.spend_month_window, card.spend_month_minor),
      },
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
