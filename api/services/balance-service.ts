// Personal card balances: read (posted, held, available) and idempotent loads.
//
// FerretDB has no multi-document transactions, so a load is three single-document steps,
// each safe to repeat (the card update under the card's document lock: FerretDB loses
// concurrent updates of one document, see shared/stores/document-lock.ts): (1) record the load under its unique (card, Idempotency-Key);
// (2) $inc the card's balance, guarded by the card's bounded list of applied load ids;
// (3) mark the load applied. A retry with the same key resumes where a crash stopped.
// Then the committed balance goes to the gateway cache (versioned, see balance-set-2.lua).

import { ObjectId, type Db } from 'mongodb';
import { ApiError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import { withDocumentLock } from '../../shared/stores/document-lock.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import { AMOUNT_MINOR_MAX } from '../../shared/money.ts';
import type { Principal } from '../auth/api-keys.ts';
import type { BalanceCache } from '../cache/balance-cache.ts';
import { objectIdOrNull, type PersonalCardDocument } from '../repos/personal-cards.ts';
import type { CardService } from './card-service.ts';
import type { CardRecord } from './card-model.ts';

/** Applied load ids kept per card: a load retried after this many newer loads is not guarded. */
export const APPLIED_LOADS_KEPT = 200;

interface LoadDocument {
  _id: ObjectId;
  card_id: ObjectId;
  idempotency_key: string;
  amount_minor: bigint;
  currency_code: string;
  state: 'pending' | 'applied';
  created_at: Date;
  applied_at?: Date;
}

export interface BalanceView {
  readonly card_id: string;
  readonly currency_code: string;
  readonly posted_minor: bigint;
  readonly held_minor: bigint;
  readonly available_minor: bigint;
  readonly held_source: 'live' | 'stored';
}

export interface LoadResult {
  readonly load: LoadDocument;
  readonly balance: BalanceView;
  /** True when this Idempotency-Key had already been applied: nothing changed now. */
  readonly replayed: boolean;
}

const LOADABLE = new Set(['pending', 'active', 'suspended']);

export class BalanceService {
  readonly #sql: PgSql;
  readonly #db: Db;
  readonly #cards: CardService;
  readonly #cache: BalanceCache;
  readonly #log: Logger;

  constructor(sql: PgSql, db: Db, cards: CardService, cache: BalanceCache, log: Logger) {
    this.#sql = sql;
    this.#db = db;
    this.#cards = cards;
    this.#cache = cache;
    this.#log = log;
  }

  get #loads() {
    return this.#db.collection<LoadDocument>('personal_balance_loads');
  }

  get #cardDocs() {
    return this.#db.collection<PersonalCardDocument>('personal_cards');
  }

  async read(principal: Principal, card_id: string): Promise<BalanceView> {
    const card = await this.#personalCard(principal, card_id);
    return this.#view(card, await this.#document(card));
  }

  async load(
    principal: Principal,
    card_id: string,
    idempotency_key: string,
    amount: string | number,
    currency_code: string,
  ): Promise<LoadResult> {
    const card = await this.#personalCard(principal, card_id);
    const amount_minor = BigInt(amount);
    if (amount_minor <= 0n || amount_minor > AMOUNT_MINOR_MAX) {
      throw new ApiError('API_ERR_BAD_REQUEST', undefined, [
        { path: 'body/amount_minor', message: 'must be above 0 and within the maximum' },
      ]);
    }
    if (currency_code !== card.currency_code) {
      throw new ApiError('API_ERR_BAD_REQUEST', undefined, [
        { path: 'body/currency_code', message: `must be the card currency ${card.currency_code}` },
      ]);
    }
    if (!LOADABLE.has(card.status))
      throw new ApiError('API_ERR_INVALID_TRANSITION', `A ${card.status} card cannot be loaded.`);

    const load = await this.#record(card, idempotency_key, amount_minor, currency_code);
    const replayed = load.state === 'applied';
    const _id = new ObjectId(card.id);
    if (!replayed) {
      await withDocumentLock(this.#sql, 'personal_cards', card.id, () =>
        this.#cardDocs.updateOne(
          { _id, applied_loads: { $ne: load._id } },
          {
            $inc: { balance_minor: amount_minor, balance_version: 1n },
            $push: { applied_loads: { $each: [load._id], $slice: -APPLIED_LOADS_KEPT } },
            $set: { updated_at: new Date() },
          },
        ),
      );
      await this.#loads.updateOne({ _id: load._id }, { $set: { state: 'applied', applied_at: new Date() } });
    }
    const doc = await this.#document(card);
    // Also on a replay: the first attempt may have stopped before reaching the cache.
    await this.#cache
      .write(card, BigInt(doc.balance_minor), Number(doc.balance_version ?? 0))
      .catch((error: unknown) =>
        this.#log.error({ err: error, card_id: card.id }, 'balance cache write failed'),
      );
    return { load: { ...load, state: 'applied' }, balance: await this.#view(card, doc), replayed };
  }

  /** The load record of this key: a new one, or the earlier one if it asked the same. */
  async #record(
    card: CardRecord,
    idempotency_key: string,
    amount_minor: bigint,
    currency_code: string,
  ): Promise<LoadDocument> {
    const fresh: LoadDocument = {
      _id: new ObjectId(),
      card_id: new ObjectId(card.id),
      idempotency_key,
      amount_minor,
      currency_code,
      state: 'pending',
      created_at: new Date(),
    };
    try {
      await this.#loads.insertOne(fresh);
      return fresh;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 11000) throw error;
    }
    const earlier = await this.#loads.findOne({ card_id: fresh.card_id, idempotency_key });
    if (earlier === null) throw new ApiError('API_ERR_UNAVAILABLE');
    if (BigInt(earlier.amount_minor) !== amount_minor || earlier.currency_code !== currency_code) {
      throw new ApiError('API_ERR_IDEMPOTENCY_KEY_REUSED');
    }
    return { ...earlier, amount_minor: BigInt(earlier.amount_minor) };
  }

  async #personalCard(principal: Principal, card_id: string): Promise<CardRecord> {
    if (objectIdOrNull(card_id) === null) {
      throw new ApiError(
        'API_ERR_BAD_REQUEST',
        'Business cards have no balance: they are funded just in time.',
      );
    }
    return this.#cards.get(principal, card_id);
  }

  async #document(card: CardRecord): Promise<PersonalCardDocument> {
    const doc = await this.#cardDocs.findOne({ _id: new ObjectId(card.id) });
    if (doc === null) throw new ApiError('API_ERR_NOT_FOUND', 'No such card.');
    return doc;
  }

  async #view(card: CardRecord, doc: PersonalCardDocument): Promise<BalanceView> {
    const posted_minor = BigInt(doc.balance_minor);
    const live = await this.#cache.liveHeld(card).catch(() => null);
    const held_minor = live ?? BigInt(doc.held_minor ?? 0);
    return {
      card_id: card.id,
      currency_code: card.currency_code,
      posted_minor,
      held_minor,
      available_minor: posted_minor - held_minor,
      held_source: live === null ? 'stored' : 'live',
    };
  }
}
