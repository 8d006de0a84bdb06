// Personal cards (MongoDB `personal_cards`, cardholder from `personal_users`). Limits and
// merchant rules live on the card document, as the gateway's cache loader reads them.

import { personalCardIdByToken, registerPersonalCardTokens } from '../../shared/personal-card-tokens.ts';
import { ObjectId, type Db } from 'mongodb';
import { withDocumentLock } from '../../shared/stores/document-lock.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import type { CardFilter, CardRecord, CardState, CardStore, NewCard } from '../services/card-model.ts';
import type { CardStatus } from '../services/card-status.ts';

type Amount = bigint | number | null | undefined;

export interface PersonalCardDocument {
  _id: ObjectId;
  user_id: ObjectId;
  card_token: string;
  status: CardStatus;
  currency_code: string;
  card_product_token?: string | null;
  balance_minor: bigint | number;
  held_minor?: bigint | number;
  /** Bumped with every balance change made by the API (see api/cache/balance-set-2.lua). */
  balance_version?: bigint | number;
  /** Load ids already applied, newest last, bounded: makes a retried load a no-op. */
  applied_loads?: ObjectId[];
  per_transaction_limit_minor?: Amount;
  daily_limit_minor?: Amount;
  monthly_limit_minor?: Amount;
  weekly_limit_minor?: Amount;
  yearly_limit_minor?: Amount;
  lifetime_limit_minor?: Amount;
  velocity_count_max?: number | null;
  velocity_window_s?: number | null;
  mcc_allow?: string[];
  mcc_block?: string[];
  merchant_allow?: string[];
  merchant_block?: string[];
  country_allow?: string[];
  country_block?: string[];
  version?: number;
  created_at: Date;
  updated_at: Date;
}

function amount(value: Amount): bigint | null {
  return value === null || value === undefined ? null : BigInt(value);
}

function stateFields(state: Omit<CardState, 'status'>) {
  const { limits: l, controls: k } = state;
  return {
    per_transaction_limit_minor: l.per_transaction_limit_minor,
    daily_limit_minor: l.daily_limit_minor,
    monthly_limit_minor: l.monthly_limit_minor,
    weekly_limit_minor: l.weekly_limit_minor,
    yearly_limit_minor: l.yearly_limit_minor,
    lifetime_limit_minor: l.lifetime_limit_minor,
    velocity_count_max: l.velocity_count_max,
    velocity_window_s: l.velocity_window_s,
    mcc_allow: [...k.mcc_allow],
    mcc_block: [...k.mcc_block],
    merchant_allow: [...k.merchant_allow],
    merchant_block: [...k.merchant_block],
    country_allow: [...k.country_allow],
    country_block: [...k.country_block],
  };
}

export function objectIdOrNull(id: string): ObjectId | null {
  return /^[0-9a-f]{24}$/.test(id) ? new ObjectId(id) : null;
}

export class PersonalCardStore implements CardStore {
  readonly kind = 'personal' as const;
  readonly #sql: PgSql;
  readonly #db: Db;

  constructor(sql: PgSql, db: Db) {
    this.#sql = sql;
    this.#db = db;
  }

  get collection() {
    return this.#db.collection<PersonalCardDocument>('personal_cards');
  }

  async #records(docs: PersonalCardDocument[]): Promise<CardRecord[]> {
    const user_ids = [...new Set(docs.map((d) => String(d.user_id)))].map((id) => new ObjectId(id));
    const users = await this.#db
      .collection<{ _id: ObjectId; user_token: string }>('personal_users')
      .find({ _id: { $in: user_ids } }, { projection: { user_token: 1 } })
      .toArray();
    const tokens = new Map(users.map((u) => [String(u._id), u.user_token]));
    return docs.map((doc) => ({
      id: String(doc._id),
      kind: 'personal',
      card_token: doc.card_token,
      user_id: String(doc.user_id),
      user_token: tokens.get(String(doc.user_id)) ?? '',
      company_id: null,
      status: doc.status,
      currency_code: doc.currency_code,
      card_product_token: doc.card_product_token ?? null,
      limits: {
        per_transaction_limit_minor: amount(doc.per_transaction_limit_minor),
        daily_limit_minor: amount(doc.daily_limit_minor),
        monthly_limit_minor: amount(doc.monthly_limit_minor),
        weekly_limit_minor: amount(doc.weekly_limit_minor),
        yearly_limit_minor: amount(doc.yearly_limit_minor),
        lifetime_limit_minor: amount(doc.lifetime_limit_minor),
        velocity_count_max: doc.velocity_count_max ?? null,
        velocity_window_s: doc.velocity_window_s ?? null,
      },
      controls: {
        mcc_allow: doc.mcc_allow ?? [],
        mcc_block: doc.mcc_block ?? [],
        merchant_allow: doc.merchant_allow ?? [],
        merchant_block: doc.merchant_block ?? [],
        country_allow: doc.country_allow ?? [],
        country_block: doc.country_block ?? [],
      },
      // Documents written before the API existed have no version: they are at version 1.
      version: doc.version ?? 1,
      created_at: doc.created_at,
      updated_at: doc.updated_at,
      cursor_at: doc.created_at.toISOString(),
    }));
  }

  async #one(doc: PersonalCardDocument | null): Promise<CardRecord | null> {
    return doc === null ? null : ((await this.#records([doc]))[0] ?? null);
  }

  async insert(card: NewCard): Promise<CardRecord> {
    const now = new Date();
    const doc: PersonalCardDocument = {
      _id: new ObjectId(),
      user_id: new ObjectId(card.user_id),
      card_token: card.card_token,
      status: card.status,
      currency_code: card.currency_code,
      card_product_token: card.card_product_token,
      balance_minor: 0n,
      held_minor: 0n,
      balance_version: 0n,
      applied_loads: [],
      ...stateFields(card),
      version: 1,
      created_at: now,
      updated_at: now,
    };
    // The token first: it is unique, and the gateway finds personal cards through it.
    await registerPersonalCardTokens(this.#db, [doc]);
    await this.collection.insertOne(doc);
    return (await this.#one(doc))!;
  }

  async get(id: string): Promise<CardRecord | null> {
    const _id = objectIdOrNull(id);
    return _id === null ? null : this.#one(await this.collection.findOne({ _id }));
  }

  async getDocument(id: string): Promise<PersonalCardDocument | null> {
    const _id = objectIdOrNull(id);
    return _id === null ? null : this.collection.findOne({ _id });
  }

  async findByToken(card_token: string): Promise<CardRecord | null> {
    const _id = await personalCardIdByToken(this.#db, card_token);
    return _id === null ? null : this.#one(await this.collection.findOne({ _id }));
  }

  async list(
    filter: CardFilter,
    after: { at: string; id: string } | undefined,
    limit: number,
  ): Promise<CardRecord[]> {
    const query: Record<string, unknown> = {};
    if (filter.user_id !== undefined)
      query.user_id = objectIdOrNull(filter.user_id) ?? new ObjectId('0'.repeat(24));
    if (filter.status !== undefined) query.status = filter.status;
    if (after !== undefined) {
      const at = new Date(after.at);
      query.$or = [{ created_at: { $lt: at } }, { created_at: at, _id: { $lt: objectIdOrNull(after.id) } }];
    }
    const docs = await this.collection
      .find(query)
      .sort({ created_at: -1, _id: -1 })
      .limit(limit + 1)
      .toArray();
    return this.#records(docs);
  }

  async update(id: string, expected_version: number, state: CardState): Promise<CardRecord | null> {
    const _id = objectIdOrNull(id);
    if (_id === null) return null;
    const version_filter =
      expected_version === 1
        ? { $or: [{ version: 1 }, { version: { $exists: false } }] }
        : { version: expected_version };
    // Under the document lock: a concurrent balance load must not be overwritten.
    const doc = await withDocumentLock(this.#sql, 'personal_cards', id, () =>
      this.collection.findOneAndUpdate(
        { _id, ...version_filter },
        {
          $set: {
            status: state.status,
            ...stateFields(state),
            version: expected_version + 1,
            updated_at: new Date(),
          },
        },
        { returnDocument: 'after' },
      ),
    );
    return this.#one(doc);
  }
}
