// Personal decisions -> MongoDB (FerretDB): the card document's held amount and spend windows
// (one compare-and-set update per card and batch, see personal-card-effects.ts), then one
// `personal_transactions` document per JIT token (`_id` = JIT token, plus the unique index).
// No multi-document transaction anywhere: each write is a single-document atomic update,
// safe to repeat. Every lookup is by `_id`: FerretDB (SQLite) scans for any other filter.

import { type Collection, type Db, type Filter, MongoBulkWriteError, ObjectId } from 'mongodb';
import type { Logger } from '../../shared/logger.ts';
import type { DecisionEvent } from '../../shared/messages.ts';
import { WorkerError } from '../errors.ts';
import { type CardEffectInput, type CardLedgerState, cardUpdate } from './personal-card-effects.ts';

/** Compare-and-set attempts on one card before the batch fails (another replica keeps writing it). */
const CARD_CAS_ATTEMPTS_MAX = 8;
const CARD_CAS_JITTER_MS_MAX = 20;

const CARD_LEDGER_FIELDS = {
  _id: 1,
  ledger_seq: 1,
  applied_tokens: 1,
  spend_day_window: 1,
  spend_month_window: 1,
};

interface CardDoc extends Partial<CardLedgerState> {
  _id: ObjectId;
  ledger_seq?: number;
}

interface TransactionDoc {
  _id: string;
  jit_token: string;
  revision: number;
  [field: string]: unknown;
}

function transactionFields(event: DecisionEvent) {
  const { request } = event;
  return {
    jit_token: request.jit_token,
    transaction_token: request.transaction_token,
    method: request.method,
    card_id: new ObjectId(event.card_id!),
    user_id: new ObjectId(event.user_id!),
    card_token: request.card_token,
    amount_minor: BigInt(request.amount_minor),
    approved_amount_minor: event.approved ? BigInt(event.approved_amount_minor) : 0n,
    currency_code: request.currency_code,
    merchant: request.merchant.name,
    mcc: request.merchant.mcc,
    merchant_id: request.merchant.mid,
    merchant_country: request.merchant.country_code,
    status: event.approved ? 'pending' : 'declined',
    status_code: event.status_code,
    decline_reason: event.decline_reason,
    memo: event.memo,
    revision: event.revision,
    day_window: request.day_id,
    month_window: request.month_id,
    decided_at: new Date(event.decided_at_ms),
  };
}

const DUPLICATE_KEY = 11000;

function isOnlyDuplicates(error: unknown): boolean {
  if (!(error instanceof MongoBulkWriteError)) return false;
  const errors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
  return errors.length > 0 && errors.every((e) => e.code === DUPLICATE_KEY);
}

function cardEffect(event: DecisionEvent, recorded_revision: number): CardEffectInput {
  return {
    jit_token: event.request.jit_token,
    revision: event.revision,
    approved: event.approved,
    amount_minor: BigInt(event.revision === 1 ? event.approved_amount_minor : event.released_amount_minor),
    day_id: event.request.day_id,
    month_id: event.request.month_id,
    recorded_revision,
  };
}

export class PersonalLedger {
  readonly name = 'mongodb';
  readonly #cards: Collection<CardDoc>;
  readonly #transactions: Collection<TransactionDoc>;
  readonly #log: Logger;
  /** One card update at a time per card in this process: batches of one replica never collide. */
  readonly #card_queues = new Map<string, Promise<void>>();

  constructor(db: Db, log: Logger) {
    this.#cards = db.collection<CardDoc>('personal_cards');
    this.#transactions = db.collection<TransactionDoc>('personal_transactions');
    this.#log = log;
  }

  async write(events: readonly DecisionEvent[]): Promise<void> {
    const recorded = await this.#recordedVoidedRevisions(events);
    const by_card = new Map<string, CardEffectInput[]>();
    for (const event of events) {
      // A decline holds nothing; a void always follows an approval.
      if (event.revision === 1 && !event.approved) continue;
      const effects = by_card.get(event.card_id!) ?? [];
      effects.push(cardEffect(event, recorded.get(event.request.jit_token) ?? 0));
      by_card.set(event.card_id!, effects);
    }
    // One read for all the batch's cards; a card that changed meanwhile is re-read on its CAS miss.
    const read = await this.#cards
      .find(
        { _id: { $in: [...by_card.keys()].map((id) => new ObjectId(id)) } },
        { projection: CARD_LEDGER_FIELDS },
      )
      .toArray();
    const cards = new Map(read.map((card) => [card._id.toHexString(), card]));
    await Promise.all(
      [...by_card].map(([card_id, effects]) =>
        this.#serialized(card_id, effects, cards.get(card_id) ?? null),
      ),
    );
    await this.#recordTransactions(events);
  }

  /**
   * Revision of the stored document of each voided token: tells a void whether revision 1 was
   * applied even when its token has left the card's list. Revision 1 needs no lookup: the
   * card's last APPLIED_TOKENS_MAX tokens cover its redeliveries.
   */
  async #recordedVoidedRevisions(events: readonly DecisionEvent[]): Promise<Map<string, number>> {
    const tokens = [...new Set(events.filter((e) => e.revision > 1).map((e) => e.request.jit_token))];
    const docs = await Promise.all(
      tokens.map((_id) => this.#transactions.findOne({ _id }, { projection: { _id: 1, revision: 1 } })),
    );
    return new Map(docs.filter((d) => d !== null).map((d) => [d._id, Number(d.revision)]));
  }

  async #recordTransactions(events: readonly DecisionEvent[]): Promise<void> {
    const now = new Date();
    // Revision 1 only ever creates its document: a later revision may already be stored.
    const firsts = events.filter((e) => e.revision === 1);
    if (firsts.length > 0) {
      const docs = firsts.map((e) => ({
        _id: e.request.jit_token,
        ...transactionFields(e),
        created_at: now,
        updated_at: now,
      }));
      try {
        await this.#transactions.insertMany(docs, { ordered: false });
      } catch (error) {
        if (!isOnlyDuplicates(error)) throw error;
      }
    }
    for (const event of events.filter((e) => e.revision > 1)) {
      const { status, status_code, decline_reason, memo, approved_amount_minor, revision, ...rest } =
        transactionFields(event);
      await this.#transactions.updateOne(
        { _id: event.request.jit_token },
        {
          $set: {
            status,
            status_code,
            decline_reason,
            memo,
            approved_amount_minor,
            revision,
            updated_at: now,
          },
          $setOnInsert: { ...rest, created_at: now },
        },
        { upsert: true },
      );
    }
  }

  #serialized(card_id: string, effects: readonly CardEffectInput[], read: CardDoc | null): Promise<void> {
    const previous = this.#card_queues.get(card_id) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => this.#applyToCard(card_id, effects, read));
    const settled = next.catch(() => {});
    this.#card_queues.set(card_id, settled);
    void settled.then(() => {
      if (this.#card_queues.get(card_id) === settled) this.#card_queues.delete(card_id);
    });
    return next;
  }

  async #applyToCard(
    card_id: string,
    effects: readonly CardEffectInput[],
    read: CardDoc | null,
  ): Promise<void> {
    const _id = new ObjectId(card_id);
    for (let attempt = 1; attempt <= CARD_CAS_ATTEMPTS_MAX; attempt++) {
      const card =
        attempt === 1 ? read : await this.#cards.findOne({ _id }, { projection: CARD_LEDGER_FIELDS });
      if (card === null) throw new WorkerError('WK_ERR_CARD_NOT_FOUND', card_id);
      const update = cardUpdate(
        {
          applied_tokens: card.applied_tokens ?? [],
          spend_day_window: card.spend_day_window ?? null,
          spend_month_window: card.spend_month_window ?? null,
        },
        effects,
      );
      if (!update.changed) return;
      const $inc: Record<string, bigint | number> = { held_minor: update.held_delta_minor, ledger_seq: 1 };
      const $set: Record<string, unknown> = { applied_tokens: update.applied_tokens, updated_at: new Date() };
      for (const [period, change] of [
        ['day', update.day],
        ['month', update.month],
      ] as const) {
        if (change.mode === 'set') {
          $set[`spend_${period}_window`] = change.window;
          $set[`spend_${period}_minor`] = change.spent_minor;
        } else if (change.delta_minor !== 0n) {
          $inc[`spend_${period}_minor`] = change.delta_minor;
        }
      }
      // Compare-and-set: only the ledger state we computed from. Amounts are $inc so a
      // writer that adjusts held_minor without bumping ledger_seq still loses nothing.
      // `ledger_seq: null` also matches a card never written by a worker (no field yet).
      const seen: Filter<CardDoc> = { _id, ledger_seq: (card.ledger_seq ?? null) as number };
      const result = await this.#cards.updateOne(seen, { $inc, $set });
      if (result.matchedCount === 1) return;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * CARD_CAS_JITTER_MS_MAX * attempt));
    }
    this.#log.warn({ card_id, attempts: CARD_CAS_ATTEMPTS_MAX }, 'personal card ledger contended');
    throw new WorkerError('WK_ERR_CARD_CONTENDED', card_id);
  }
}
