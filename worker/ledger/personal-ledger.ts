// Personal decisions -> MongoDB (FerretDB): the card document's held amount and spend windows
// (one compare-and-set update per card and batch, see personal-card-effects.ts), then one
// `personal_transactions` document per JIT token (unique index, upserts). No multi-document
// transaction anywhere: each write is a single-document atomic update, safe to repeat.

import { type AnyBulkWriteOperation, type Collection, type Db, type Filter, ObjectId } from 'mongodb';
import type { Logger } from '../../shared/logger.ts';
import { maskToken } from '../../shared/logger.ts';
import type { DecisionEvent } from '../../shared/messages.ts';
import { WorkerError } from '../errors.ts';
import { type CardEffectInput, type CardLedgerState, cardUpdate } from './personal-card-effects.ts';

/** Compare-and-set attempts on one card before the batch fails (another replica keeps writing it). */
const CARD_CAS_ATTEMPTS_MAX = 8;
const CARD_CAS_JITTER_MS_MAX = 20;

interface CardDoc extends Partial<CardLedgerState> {
  _id: ObjectId;
  ledger_seq?: number;
}

interface TransactionDoc {
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

function transactionWrite(event: DecisionEvent, now: Date): AnyBulkWriteOperation<TransactionDoc> {
  const fields = transactionFields(event);
  if (event.revision === 1) {
    // A later revision may already be stored: revision 1 only ever creates the document.
    return {
      updateOne: {
        filter: { jit_token: fields.jit_token },
        update: { $setOnInsert: { ...fields, created_at: now, updated_at: now } },
        upsert: true,
      },
    };
  }
  const { status, status_code, decline_reason, memo, approved_amount_minor, revision, ...rest } = fields;
  return {
    updateOne: {
      filter: { jit_token: fields.jit_token },
      update: {
        $set: { status, status_code, decline_reason, memo, approved_amount_minor, revision, updated_at: now },
        $setOnInsert: { ...rest, created_at: now },
      },
      upsert: true,
    },
  };
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
    const recorded = await this.#recordedRevisions(events);
    const by_card = new Map<string, CardEffectInput[]>();
    for (const event of events) {
      // A decline holds nothing; a void always follows an approval.
      if (event.revision === 1 && !event.approved) continue;
      const effects = by_card.get(event.request.card_token) ?? [];
      effects.push(cardEffect(event, recorded.get(event.request.jit_token) ?? 0));
      by_card.set(event.request.card_token, effects);
    }
    await Promise.all([...by_card].map(([card_token, effects]) => this.#serialized(card_token, effects)));
    const now = new Date();
    await this.#transactions.bulkWrite(
      events.map((event) => transactionWrite(event, now)),
      { ordered: false },
    );
  }

  async #recordedRevisions(events: readonly DecisionEvent[]): Promise<Map<string, number>> {
    const tokens = [...new Set(events.map((e) => e.request.jit_token))];
    const docs = await this.#transactions
      .find({ jit_token: { $in: tokens } }, { projection: { _id: 0, jit_token: 1, revision: 1 } })
      .toArray();
    return new Map(docs.map((d) => [d.jit_token, Number(d.revision)]));
  }

  #serialized(card_token: string, effects: readonly CardEffectInput[]): Promise<void> {
    const previous = this.#card_queues.get(card_token) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => this.#applyToCard(card_token, effects));
    const settled = next.catch(() => {});
    this.#card_queues.set(card_token, settled);
    void settled.then(() => {
      if (this.#card_queues.get(card_token) === settled) this.#card_queues.delete(card_token);
    });
    return next;
  }

  async #applyToCard(card_token: string, effects: readonly CardEffectInput[]): Promise<void> {
    for (let attempt = 1; attempt <= CARD_CAS_ATTEMPTS_MAX; attempt++) {
      const card = await this.#cards.findOne(
        { card_token },
        {
          projection: {
            _id: 1,
            ledger_seq: 1,
            applied_tokens: 1,
            spend_day_window: 1,
            spend_month_window: 1,
          },
        },
      );
      if (card === null) throw new WorkerError('WK_ERR_CARD_NOT_FOUND', maskToken(card_token));
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
      const seen: Filter<CardDoc> = { _id: card._id, ledger_seq: (card.ledger_seq ?? null) as number };
      const result = await this.#cards.updateOne(seen, { $inc, $set });
      if (result.matchedCount === 1) return;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * CARD_CAS_JITTER_MS_MAX * attempt));
    }
    this.#log.warn({ card_token, attempts: CARD_CAS_ATTEMPTS_MAX }, 'personal card ledger contended');
    throw new WorkerError('WK_ERR_CARD_CONTENDED', maskToken(card_token));
  }
}
