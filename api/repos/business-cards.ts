// Business cards (PostgreSQL `cards` + `card_controls`, cardholder from `users`).

import { randomUUID } from 'node:crypto';
import type { Fragment } from 'postgres';
import type { PgSql } from '../../shared/stores/postgres.ts';
import type { CardFilter, CardRecord, CardState, CardStore, NewCard } from '../services/card-model.ts';
import type { CardStatus } from '../services/card-status.ts';

interface Row {
  id: string;
  card_token: string;
  user_id: string;
  user_token: string;
  company_id: string;
  status: CardStatus;
  currency_code: string;
  card_product_token: string | null;
  per_transaction_limit_minor: bigint | null;
  daily_limit_minor: bigint | null;
  monthly_limit_minor: bigint | null;
  weekly_limit_minor: bigint | null;
  yearly_limit_minor: bigint | null;
  lifetime_limit_minor: bigint | null;
  velocity_count_max: number | null;
  velocity_window_s: number | null;
  mcc_allow: string[] | null;
  mcc_block: string[] | null;
  merchant_allow: string[] | null;
  merchant_block: string[] | null;
  country_allow: string[] | null;
  country_block: string[] | null;
  version: number;
  created_at: Date;
  updated_at: Date;
  cursor_at: string;
}

function record(row: Row): CardRecord {
  return {
    id: row.id,
    kind: 'business',
    card_token: row.card_token,
    user_id: row.user_id,
    user_token: row.user_token,
    company_id: row.company_id,
    status: row.status,
    currency_code: row.currency_code.trim(),
    card_product_token: row.card_product_token,
    limits: {
      per_transaction_limit_minor: row.per_transaction_limit_minor,
      daily_limit_minor: row.daily_limit_minor,
      monthly_limit_minor: row.monthly_limit_minor,
      weekly_limit_minor: row.weekly_limit_minor,
      yearly_limit_minor: row.yearly_limit_minor,
      lifetime_limit_minor: row.lifetime_limit_minor,
      velocity_count_max: row.velocity_count_max,
      velocity_window_s: row.velocity_window_s,
    },
    controls: {
      mcc_allow: row.mcc_allow ?? [],
      mcc_block: row.mcc_block ?? [],
      merchant_allow: row.merchant_allow ?? [],
      merchant_block: row.merchant_block ?? [],
      country_allow: row.country_allow ?? [],
      country_block: row.country_block ?? [],
    },
    version: row.version,
    created_at: row.created_at,
    updated_at: row.updated_at,
    cursor_at: row.cursor_at,
  };
}

export class BusinessCardStore implements CardStore {
  readonly kind = 'business' as const;
  readonly #sql: PgSql;

  constructor(sql: PgSql) {
    this.#sql = sql;
  }

  #select(where: Fragment, tail: Fragment = this.#sql``) {
    const sql = this.#sql;
    return sql<Row[]>`
      SELECT c.id, c.card_token, c.user_id, u.user_token, u.company_id, c.status, c.currency_code,
             c.card_product_token, c.per_transaction_limit_minor, c.daily_limit_minor, c.monthly_limit_minor,
             c.weekly_limit_minor, c.yearly_limit_minor, c.lifetime_limit_minor,
             c.velocity_count_max, c.velocity_window_s,
             cc.mcc_allow, cc.mcc_block, cc.merchant_allow, cc.merchant_block, cc.country_allow, cc.country_block,
             c.version, c.created_at, c.updated_at, c.created_at::text AS cursor_at
        FROM cards c
        JOIN users u ON u.id = c.user_id
        LEFT JOIN card_controls cc ON cc.card_id = c.id
       WHERE ${where} ${tail}`;
  }

  async insert(card: NewCard): Promise<CardRecord> {
    const id = randomUUID();
    const { limits: l, controls: k } = card;
    await this.#sql.begin(async (tx) => {
      await tx`
        INSERT INTO cards (id, user_id, card_token, status, currency_code, card_product_token,
                           per_transaction_limit_minor, daily_limit_minor, monthly_limit_minor,
                           weekly_limit_minor, yearly_limit_minor, lifetime_limit_minor,
                           velocity_count_max, velocity_window_s)
        VALUES (${id}, ${card.user_id}, ${card.card_token}, ${card.status}, ${card.currency_code},
                ${card.card_product_token}, ${l.per_transaction_limit_minor}, ${l.daily_limit_minor},
                ${l.monthly_limit_minor}, ${l.weekly_limit_minor}, ${l.yearly_limit_minor},
                ${l.lifetime_limit_minor}, ${l.velocity_count_max}, ${l.velocity_window_s})`;
      await tx`
        INSERT INTO card_controls (card_id, mcc_allow, mcc_block, merchant_allow, merchant_block,
                                   country_allow, country_block)
        VALUES (${id}, ${[...k.mcc_allow]}, ${[...k.mcc_block]}, ${[...k.merchant_allow]},
                ${[...k.merchant_block]}, ${[...k.country_allow]}, ${[...k.country_block]})`;
    });
    return (await this.get(id))!;
  }

  async get(id: string): Promise<CardRecord | null> {
    const [row] = await this.#select(this.#sql`c.id = ${id}`);
    return row ? record(row) : null;
  }

  async findByToken(card_token: string): Promise<CardRecord | null> {
    const [row] = await this.#select(this.#sql`c.card_token = ${card_token}`);
    return row ? record(row) : null;
  }

  async list(
    filter: CardFilter,
    after: { at: string; id: string } | undefined,
    limit: number,
  ): Promise<CardRecord[]> {
    const sql = this.#sql;
    const rows = await this.#select(
      sql`true
        ${filter.company_id === undefined ? sql`` : sql`AND u.company_id = ${filter.company_id}`}
        ${filter.user_id === undefined ? sql`` : sql`AND c.user_id = ${filter.user_id}`}
        ${filter.status === undefined ? sql`` : sql`AND c.status = ${filter.status}`}
        ${after === undefined ? sql`` : sql`AND (c.created_at, c.id) < (${after.at}::timestamptz, ${after.id}::uuid)`}`,
      sql`ORDER BY c.created_at DESC, c.id DESC LIMIT ${limit + 1}`,
    );
    return rows.map(record);
  }

  async update(id: string, expected_version: number, state: CardState): Promise<CardRecord | null> {
    const { limits: l, controls: k } = state;
    const updated = await this.#sql.begin(async (tx) => {
      const rows = await tx`
        UPDATE cards SET status = ${state.status},
               per_transaction_limit_minor = ${l.per_transaction_limit_minor},
               daily_limit_minor = ${l.daily_limit_minor}, monthly_limit_minor = ${l.monthly_limit_minor},
               weekly_limit_minor = ${l.weekly_limit_minor}, yearly_limit_minor = ${l.yearly_limit_minor},
               lifetime_limit_minor = ${l.lifetime_limit_minor}, velocity_count_max = ${l.velocity_count_max},
               velocity_window_s = ${l.velocity_window_s}, version = version + 1, updated_at = now()
         WHERE id = ${id} AND version = ${expected_version}
        RETURNING id`;
      if (rows.length === 0) return false;
      await tx`
        INSERT INTO card_controls (card_id, mcc_allow, mcc_block, merchant_allow, merchant_block,
                                   country_allow, country_block)
        VALUES (${id}, ${[...k.mcc_allow]}, ${[...k.mcc_block]}, ${[...k.merchant_allow]},
                ${[...k.merchant_block]}, ${[...k.country_allow]}, ${[...k.country_block]})
        ON CONFLICT (card_id) DO UPDATE SET
          mcc_allow = EXCLUDED.mcc_allow, mcc_block = EXCLUDED.mcc_block,
          merchant_allow = EXCLUDED.merchant_allow, merchant_block = EXCLUDED.merchant_block,
          country_allow = EXCLUDED.country_allow, country_block = EXCLUDED.country_block, updated_at = now()`;
      return true;
    });
    return updated ? this.get(id) : null;
  }
}
