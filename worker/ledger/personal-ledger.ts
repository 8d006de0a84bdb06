// Personal decisions -> MongoDB (FerretDB). Per card, under the card's document lock (a
// PostgreSQL advisory lock, shared/stores/document-lock.ts, also taken by the management API's
// balance loads): the authorization groups in `personal_holds`, then the card document (held,
// posted_net, spend windows, category spend; personal-card-effects.ts), each one
// single-document write guarded by the keys it already applied. Then one `personal_transactions`
// document per JIT token (`_id` = JIT token) records which revisions are applied, its sort key
// registered first in PostgreSQL (shared/personal-transaction-keys.ts: the API lists from it).
// FerretDB writes a document back whole, so concurrent updates of one document lose writes:
// every writer of a card or hold document holds the card's lock. Every lookup is one `_id`
// equality (findByIds): FerretDB scans the whole collection for any other filter, `$in` included.

import {
  type AnyBulkWriteOperation,
  type Collection,
  type Db,
  type Document,
  ObjectId,
  type UpdateFilter,
} from 'mongodb';
import { effectsFromJson } from '../../shared/ledger-effects.ts';
import type { DecisionEvent } from '../../shared/messages.ts';
import { inParallel } from '../../shared/in-parallel.ts';
import { registerPersonalTransactionKeys } from '../../shared/personal-transaction-keys.ts';
import { withDocumentLock } from '../../shared/stores/document-lock.ts';
import { findByIds } from '../../shared/stores/find-by-ids.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import { WorkerError } from '../errors.ts';
import {
  groupToken,
  holdState,
  recordAmounts,
  settledStatus,
  type TransactionStatus,
  transactionStatus,
} from './lifecycle.ts';
import {
  type CardEffectInput,
  type CardLedgerState,
  type CategorySpend,
  cardUpdate,
  effectKey,
  PERIODS,
} from './personal-card-effects.ts';

/** Cards written at once per batch: each holds a PostgreSQL connection for its lock. */
const CARDS_IN_PARALLEL_MAX = 8;
/** Keys kept per authorization group (an authorization, its incrementals, reversals, clearing). */
const HOLD_APPLIED_MAX = 64;

type Amount = bigint | number | null | undefined;

interface CardDoc {
  _id: ObjectId;
  applied_tokens?: string[];
  held_minor?: Amount;
  posted_net_minor?: Amount;
  category_spend?: Record<string, Record<string, { window: string; minor: Amount }>>;
  [spend_field: `spend_${string}`]: string | Amount;
}

interface HoldDoc {
  _id: string;
  held_minor: Amount;
  state: string;
  card_token: string;
  user_token: string;
  currency_code: string;
  created_at: Date;
  applied?: string[];
  /** JIT tokens of the group's records that wait for its outcome (status `pending`). */
  members?: string[];
}

interface TransactionDoc {
  _id: string;
  revision?: number;
  applied_revisions?: number[];
  [field: string]: unknown;
}

const CARD_LEDGER_FIELDS = {
  applied_tokens: 1,
  held_minor: 1,
  posted_net_minor: 1,
  category_spend: 1,
  ...Object.fromEntries(
    PERIODS.flatMap((p) => [`spend_${p}_window`, `spend_${p}_minor`, `spend_${p}_count`].map((f) => [f, 1])),
  ),
};

function big(value: Amount): bigint {
  return BigInt(value ?? 0);
}

function ledgerState(card: CardDoc): CardLedgerState {
  const spend = Object.fromEntries(
    PERIODS.map((p) => [
      p,
      {
        window: (card[`spend_${p}_window`] as string | undefined) ?? null,
        minor: big(card[`spend_${p}_minor`] as Amount),
        count: Number(card[`spend_${p}_count`] ?? 0),
      },
    ]),
  ) as CardLedgerState['spend'];
  const category: Record<string, Record<string, { window: string; minor: bigint }>> = {};
  for (const [group, periods] of Object.entries(card.category_spend ?? {})) {
    category[group] = Object.fromEntries(
      Object.entries(periods).map(([p, w]) => [p, { window: w.window, minor: big(w.minor) }]),
    );
  }
  return {
    applied_tokens: card.applied_tokens ?? [],
    held_minor: big(card.held_minor),
    posted_net_minor: big(card.posted_net_minor),
    spend,
    category_spend: category,
  };
}

function cardFields(state: CardLedgerState): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    applied_tokens: state.applied_tokens,
    held_minor: state.held_minor,
    posted_net_minor: state.posted_net_minor,
    category_spend: state.category_spend as CategorySpend,
    updated_at: new Date(),
  };
  for (const p of PERIODS) {
    const w = state.spend[p];
    if (w.window === null) continue;
    fields[`spend_${p}_window`] = w.window;
    fields[`spend_${p}_minor`] = w.minor;
    fields[`spend_${p}_count`] = w.count;
  }
  return fields;
}

/** Revisions whose effects a transaction document says are applied (older documents: up to `revision`). */
function recordedRevisions(doc: TransactionDoc | undefined): readonly number[] {
  if (doc === undefined) return [];
  if (Array.isArray(doc.applied_revisions)) return doc.applied_revisions.map(Number);
  return Array.from({ length: Number(doc.revision ?? 0) }, (_, i) => i + 1);
}

function transactionFields(event: DecisionEvent, status: TransactionStatus) {
  const { request } = event;
  const first = event.revision === 1;
  const amounts = recordAmounts(event);
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
    status,
    status_code: event.status_code,
    decline_reason: event.decline_reason,
    memo: event.memo,
    revision: event.revision,
    mode: request.mode,
    original_jit_token: request.original_jit_token,
    group_token: groupToken(event),
    mcc_group: request.mcc_group,
    released_amount_minor: BigInt(event.released_amount_minor),
    held_amount_minor: first ? amounts.held_amount_minor : 0n,
    posted_amount_minor: first ? amounts.posted_amount_minor : 0n,
    day_window: request.day_id,
    week_window: request.week_id,
    month_window: request.month_id,
    year_window: request.year_id,
    decided_at: new Date(event.decided_at_ms),
  };
}

export class PersonalLedger {
  readonly name = 'mongodb';
  readonly #cards: Collection<CardDoc>;
  readonly #holds: Collection<HoldDoc>;
  readonly #transactions: Collection<TransactionDoc>;
  readonly #sql: PgSql;

  constructor(db: Db, sql: PgSql) {
    this.#cards = db.collection<CardDoc>('personal_cards');
    this.#holds = db.collection<HoldDoc>('personal_holds');
    this.#transactions = db.collection<TransactionDoc>('personal_transactions');
    this.#sql = sql;
  }

  async write(events: readonly DecisionEvent[]): Promise<void> {
    const recorded = new Map(
      (
        await findByIds(this.#transactions, [...new Set(events.map((e) => e.request.jit_token))], {
          revision: 1,
          applied_revisions: 1,
        })
      ).map((doc) => [doc._id, recordedRevisions(doc)]),
    );
    const by_card = new Map<string, DecisionEvent[]>();
    for (const event of events) {
      const list = by_card.get(event.card_id!) ?? [];
      list.push(event);
      by_card.set(event.card_id!, list);
    }
    // Decided order: the last state change of a group in the batch is its state.
    for (const list of by_card.values()) list.sort((a, b) => a.decided_at_ms - b.decided_at_ms);
    const statuses = new Map<string, TransactionStatus>();
    await inParallel([...by_card], CARDS_IN_PARALLEL_MAX, ([card_id, card_events]) =>
      withDocumentLock(this.#sql, 'personal_cards', card_id, () =>
        this.#applyToCard(card_id, card_events, recorded, statuses),
      ),
    );
    await this.#recordTransactions(events, statuses);
  }

  async #applyToCard(
    card_id: string,
    events: readonly DecisionEvent[],
    recorded: ReadonlyMap<string, readonly number[]>,
    statuses: Map<string, TransactionStatus>,
  ): Promise<void> {
    const _id = new ObjectId(card_id);
    const card = await this.#cards.findOne({ _id }, { projection: CARD_LEDGER_FIELDS });
    if (card === null) throw new WorkerError('WK_ERR_CARD_NOT_FOUND', card_id);
    const inputs: CardEffectInput[] = events.map((event) => ({
      key: effectKey(event.request.jit_token, event.revision),
      recorded: (recorded.get(event.request.jit_token) ?? []).includes(event.revision),
      effects: effectsFromJson(event.effects),
    }));
    const update = cardUpdate(ledgerState(card), inputs);
    const fresh = new Set(update.applied);
    // Holds first: each hold guards itself, so a crash before the card update loses nothing.
    const group_states = await this.#applyToHolds(events, fresh);
    if (fresh.size > 0)
      await this.#cards.updateOne({ _id }, { $set: cardFields(update.state) } as UpdateFilter<CardDoc>);
    for (const event of events) {
      const state = group_states.get(groupToken(event));
      const settled = state === undefined ? null : settledStatus(state);
      if (settled !== null && transactionStatus(event) === 'pending')
        statuses.set(event.request.jit_token, settled);
    }
  }

  /** Applies the fresh events' hold effects; returns the state of every group the events name. */
  async #applyToHolds(
    events: readonly DecisionEvent[],
    fresh: ReadonlySet<string>,
  ): Promise<Map<string, string>> {
    const groups = [...new Set(events.map(groupToken))];
    const holds = new Map((await findByIds(this.#holds, groups)).map((h) => [h._id, h]));
    const changed = new Map<string, HoldDoc>();
    const settled = new Set<string>();
    for (const event of events) {
      const key = effectKey(event.request.jit_token, event.revision);
      const group = groupToken(event);
      const effects = effectsFromJson(event.effects);
      const state = holdState(event);
      const pending_record = transactionStatus(event) === 'pending';
      if (!fresh.has(key) && !pending_record) continue;
      if (effects.hold_delta_minor === 0n && state === null && !pending_record) continue;
      const hold = changed.get(group) ??
        holds.get(group) ?? {
          _id: group,
          held_minor: 0n,
          state: 'pending',
          card_token: event.request.card_token,
          user_token: event.request.user_token,
          currency_code: event.request.currency_code,
          created_at: new Date(event.decided_at_ms),
        };
      const applied = hold.applied ?? [];
      const members = hold.members ?? [];
      const next: HoldDoc = { ...hold, applied, members };
      if (pending_record && !members.includes(event.request.jit_token))
        next.members = [...members, event.request.jit_token];
      if (fresh.has(key) && !applied.includes(key)) {
        next.held_minor = big(hold.held_minor) + effects.hold_delta_minor;
        if (state !== null) {
          next.state = state;
          if (state !== 'pending') settled.add(group);
        }
        next.applied = [...applied, key].slice(-HOLD_APPLIED_MAX);
      }
      if (next.created_at > new Date(event.decided_at_ms)) next.created_at = new Date(event.decided_at_ms);
      changed.set(group, next);
    }
    for (const hold of changed.values()) {
      const { _id, ...fields } = hold;
      await this.#holds.updateOne(
        { _id },
        { $set: { ...fields, held_minor: big(fields.held_minor), updated_at: new Date() } },
        { upsert: true },
      );
      holds.set(_id, hold);
    }
    // Records already stored as pending follow their group out of `pending`.
    for (const group of settled) {
      const hold = holds.get(group)!;
      const status = settledStatus(hold.state);
      if (status === null || (hold.members ?? []).length === 0) continue;
      // One update per record: `_id: {$in}` would scan the collection on FerretDB (find-by-ids.ts).
      const updated_at = new Date();
      await this.#transactions.bulkWrite(
        hold.members!.map((_id) => ({
          updateOne: { filter: { _id, status: 'pending' }, update: { $set: { status, updated_at } } },
        })),
        { ordered: false },
      );
    }
    return new Map([...holds].map(([group, hold]) => [group, hold.state]));
  }

  /** One document per JIT token, marking the revisions applied (after the card update). */
  async #recordTransactions(
    events: readonly DecisionEvent[],
    statuses: ReadonlyMap<string, TransactionStatus>,
  ) {
    const now = new Date();
    const created = await registerPersonalTransactionKeys(
      this.#sql,
      events.map((event) => ({
        transaction_id: event.request.jit_token,
        card_id: event.card_id!,
        user_id: event.user_id!,
        created_at: now,
      })),
    );
    const operations = events.map((event): Document => {
      const fields = transactionFields(
        event,
        statuses.get(event.request.jit_token) ?? transactionStatus(event),
      );
      const _id = event.request.jit_token;
      const created_at = created.get(_id) ?? now;
      if (event.revision === 1) {
        // Revision 1 only ever creates its document: a later revision may already be stored.
        return {
          updateOne: {
            filter: { _id },
            update: {
              $setOnInsert: { ...fields, created_at, updated_at: now },
              $addToSet: { applied_revisions: 1 },
            },
            upsert: true,
          },
        };
      }
      const {
        status,
        status_code,
        decline_reason,
        memo,
        approved_amount_minor,
        revision,
        released_amount_minor,
        held_amount_minor,
        ...rest
      } = fields;
      return {
        updateOne: {
          filter: { _id },
          update: {
            $set: {
              status,
              status_code,
              decline_reason,
              memo,
              approved_amount_minor,
              revision,
              released_amount_minor,
              held_amount_minor,
              updated_at: now,
            },
            $setOnInsert: { ...rest, created_at },
            $addToSet: { applied_revisions: event.revision },
          },
          upsert: true,
        },
      };
    });
    if (operations.length > 0) {
      await this.#transactions.bulkWrite(operations as AnyBulkWriteOperation<TransactionDoc>[], {
        ordered: true,
      });
    }
  }
}
