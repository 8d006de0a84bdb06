// Personal decisions -> MongoDB (FerretDB). The batch's transaction keys are registered first
// in PostgreSQL (shared/personal-transaction-keys.ts: the API lists from it; a key this batch
// registered has no document yet, so none is read for it). Then, under the document locks of
// all of the batch's cards (PostgreSQL advisory locks taken in one statement, shared/stores/
// document-lock.ts, also taken one card at a time by the management API's balance loads), the
// whole batch at once, each write guarded by the keys it already applied:
//   1. one read per collection (personal-documents.ts): the cards, the transaction documents of
//      keys registered before this batch (a redelivery, a retry, a void), the holds of groups
//      not started by this batch;
//   2. the authorization groups in `personal_holds` (personal-holds.ts): new ones in one insert,
//      stored ones one update each;
//   3. one update per card document (held, posted_net, spend windows, category spend;
//      personal-card-effects.ts) whose effects changed;
//   4. the `personal_transactions` documents (`_id` = JIT token, personal-transaction-docs.ts),
//      which record the revisions applied: new ones in one insert, stored ones one update each.
// A new document that exists after all (a group's reversal persisted before its authorization,
// a duplicate message in flight) fails its insert alone (`ordered: false`) and is read and
// updated instead. FerretDB writes a document back whole, so concurrent updates of one document
// lose writes: every writer of a card, hold or transaction document holds the card's lock.
// FerretDB filters on nothing but `_id` from an index, so every read is by `_id`. A
// multi-document insert is one FerretDB transaction, each updated document one more. The
// card's applied keys are one JSON string (`applied_keys`): FerretDB decodes an array element
// by element, and a 512-key array made every read and update of the card cost ~7 ms of its CPU
// instead of ~2 ms (docs/ferretdb.md).

import {
  type Collection,
  type Db,
  type Document,
  MongoBulkWriteError,
  ObjectId,
  type OptionalUnlessRequiredId,
  type UpdateFilter,
} from 'mongodb';
import { effectsFromJson } from '../../shared/ledger-effects.ts';
import type { DecisionEvent } from '../../shared/messages.ts';
import { inParallel } from '../../shared/in-parallel.ts';
import {
  type RegisteredKey,
  registerPersonalTransactionKeys,
} from '../../shared/personal-transaction-keys.ts';
import { withDocumentLocks } from '../../shared/stores/document-lock.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import { WorkerError } from '../errors.ts';
import { distinctEvents } from '../decisions/event-schema.ts';
import { groupToken, settledStatus, type TransactionStatus, transactionStatus } from './lifecycle.ts';
import {
  type CardLedgerState,
  type CategorySpend,
  cardUpdate,
  effectKey,
  PERIODS,
} from './personal-card-effects.ts';
import { GroupCommit } from './group-commit.ts';
import { idInUsesIndex, readByIds } from './personal-documents.ts';
import { type Amount, type CardEvent, type HoldDoc, holdGroups, planHolds } from './personal-holds.ts';
import {
  addToNewDoc,
  newTransactionDoc,
  recordedRevisions,
  type TransactionDoc,
  type TransactionWrite,
  transactionUpdate,
} from './personal-transaction-docs.ts';
import { CARD_EVENTS_PER_ROUND_MAX, writeRounds } from './personal-write-rounds.ts';

/**
 * Decisions written together at most (the batches waiting while a write runs, group-commit.ts):
 * its cards stay locked for the whole write, which must end well within DOCUMENT_LOCK_TIMEOUT_MS.
 */
const MERGED_EVENTS_MAX = 1_000;
/** Stored documents updated at once (single-statement updates of distinct documents). */
const UPDATES_IN_PARALLEL_MAX = 8;
/** MongoDB's duplicate key error code. */
const DUPLICATE_KEY = 11000;

interface CardDoc {
  _id: ObjectId;
  /** JSON array of the last APPLIED_TOKENS_MAX effect keys applied. */
  applied_keys?: string;
  /** The same as an array, as builds before `applied_keys` wrote it: read, then removed. */
  applied_tokens?: string[];
  held_minor?: Amount;
  posted_net_minor?: Amount;
  category_spend?: Record<string, Record<string, { window: string; minor: Amount }>>;
  [spend_field: `spend_${string}`]: string | Amount;
}

const CARD_LEDGER_FIELDS = {
  applied_keys: 1,
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
    applied_tokens:
      card.applied_keys === undefined ? (card.applied_tokens ?? []) : JSON.parse(card.applied_keys),
    held_minor: big(card.held_minor),
    posted_net_minor: big(card.posted_net_minor),
    spend,
    category_spend: category,
  };
}

function cardFields(state: CardLedgerState): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    applied_keys: JSON.stringify(state.applied_tokens),
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

export class PersonalLedger {
  readonly name = 'mongodb';
  readonly #cards: Collection<CardDoc>;
  readonly #holds: Collection<HoldDoc>;
  readonly #transactions: Collection<TransactionDoc>;
  readonly #sql: PgSql;
  #id_in_uses_index: Promise<boolean> | undefined;
  readonly #group = new GroupCommit<DecisionEvent>((events) => this.#writeBatch(events), MERGED_EVENTS_MAX);

  readonly #on_extra_rounds: ((rounds: number) => void) | undefined;

  /** `on_extra_rounds` is told when a batch needs more than one write (personal-write-rounds.ts). */
  constructor(db: Db, sql: PgSql, on_extra_rounds?: (rounds: number) => void) {
    this.#cards = db.collection<CardDoc>('personal_cards');
    this.#holds = db.collection<HoldDoc>('personal_holds');
    this.#transactions = db.collection<TransactionDoc>('personal_transactions');
    this.#sql = sql;
    this.#on_extra_rounds = on_extra_rounds;
  }

  /** Written with the batches of other callers waiting meanwhile (group-commit.ts). */
  write(events: readonly DecisionEvent[]): Promise<void> {
    return this.#group.write(events);
  }

  async #writeBatch(merged: readonly DecisionEvent[]): Promise<void> {
    const events = distinctEvents(merged);
    const now = new Date();
    const registered = await registerPersonalTransactionKeys(
      this.#sql,
      events.map((event) => ({
        transaction_id: event.request.jit_token,
        card_id: event.card_id!,
        user_id: event.user_id!,
        created_at: now,
      })),
    );
    // Decided order: the last state change of a group in the batch is its state.
    const decided = [...events].sort((a, b) => a.state_order_ms - b.state_order_ms);
    const rounds = writeRounds(decided, (e) => e.card_id!, CARD_EVENTS_PER_ROUND_MAX);
    if (rounds.length > 1) this.#on_extra_rounds?.(rounds.length - 1);
    // A key registered by this batch has a document once an earlier round wrote it.
    const registered_now = new Map(registered);
    for (const round of rounds) {
      const card_ids = [...new Set(round.map((e) => e.card_id!))];
      await withDocumentLocks(this.#sql, 'personal_cards', card_ids, () =>
        this.#apply(card_ids, round, registered_now, now),
      );
      for (const { request } of round) {
        const key = registered_now.get(request.jit_token);
        if (key?.fresh) registered_now.set(request.jit_token, { ...key, fresh: false });
      }
    }
  }

  async #read<T extends { _id: string | ObjectId }>(
    collection: Collection<T>,
    ids: readonly T['_id'][],
    projection?: Document,
  ): Promise<T[]> {
    if (ids.length === 0) return [];
    this.#id_in_uses_index ??= idInUsesIndex(this.#holds).catch((error: unknown) => {
      this.#id_in_uses_index = undefined; // asked again by the next batch
      throw error;
    });
    return readByIds(collection, ids, await this.#id_in_uses_index, projection);
  }

  /** The batch under its cards' locks: holds, then the cards, then the transaction documents. */
  async #apply(
    card_ids: readonly string[],
    events: readonly DecisionEvent[],
    registered: ReadonlyMap<string, RegisteredKey>,
    now: Date,
  ): Promise<void> {
    const items: CardEvent[] = events.map((event) => ({
      event,
      key: effectKey(event.request.jit_token, event.revision),
      effects: effectsFromJson(event.effects),
    }));
    const registered_before = (token: string) => registered.get(token)?.fresh !== true;
    // Read under the locks: every writer of these documents holds them, so this is what is stored.
    // A token this batch registered has no document; a group named by one is new unless a later
    // message of the group came first (then its insert fails and it is read after all).
    const [cards, stored_docs, stored_holds] = await Promise.all([
      this.#read(
        this.#cards,
        card_ids.map((id) => new ObjectId(id)),
        CARD_LEDGER_FIELDS,
      ),
      this.#read(
        this.#transactions,
        [...new Set(events.map((e) => e.request.jit_token))].filter(registered_before),
        { revision: 1, applied_revisions: 1 },
      ),
      this.#read(this.#holds, holdGroups(items).filter(registered_before)),
    ]);
    const stored = new Map(stored_docs.map((doc) => [doc._id, recordedRevisions(doc)]));
    const card_docs = new Map(cards.map((card) => [String(card._id), card]));
    const fresh = new Set<string>();
    const card_updates: Array<{ _id: ObjectId; state: CardLedgerState }> = [];
    for (const card_id of card_ids) {
      const card = card_docs.get(card_id);
      if (card === undefined) throw new WorkerError('WK_ERR_CARD_NOT_FOUND', card_id);
      const update = cardUpdate(
        ledgerState(card),
        items
          .filter((item) => item.event.card_id === card_id)
          .map(({ event, key, effects }) => ({
            key,
            recorded: (stored.get(event.request.jit_token) ?? []).includes(event.revision),
            effects,
          })),
      );
      for (const key of update.applied) fresh.add(key);
      if (update.applied.length > 0) card_updates.push({ _id: card._id, state: update.state });
    }
    // Holds first: each hold guards itself, so a crash before the card update loses nothing.
    const holds = await this.#writeHolds(
      items,
      fresh,
      new Map(stored_holds.map((h) => [h._id, h])),
      new Set(events.map((e) => e.request.jit_token).filter((t) => !registered_before(t))),
    );
    await inParallel(card_updates, UPDATES_IN_PARALLEL_MAX, async ({ _id, state }) => {
      const update = { $set: cardFields(state), $unset: { applied_tokens: '' } };
      await this.#cards.updateOne({ _id }, update as UpdateFilter<CardDoc>);
    });
    // After the card updates: their applied keys cover a crash before the documents are written.
    const writes = events.map((event): TransactionWrite => {
      const hold = holds.get(groupToken(event));
      const settled = hold === undefined ? null : settledStatus(hold.state);
      const own = transactionStatus(event);
      const status = settled !== null && own === 'pending' ? settled : own;
      const created_at = registered.get(event.request.jit_token)?.created_at ?? now;
      return { event, status, created_at, now };
    });
    await this.#recordTransactions(writes, new Set(stored.keys()));
  }

  /**
   * Writes the plan of the batch's holds; returns the holds written. `unstored` names the JIT
   * tokens of the batch that have no document yet (no pending record of theirs to settle).
   */
  async #writeHolds(
    items: readonly CardEvent[],
    fresh: ReadonlySet<string>,
    stored: ReadonlyMap<string, HoldDoc>,
    unstored: ReadonlySet<string>,
  ): Promise<Map<string, HoldDoc>> {
    const updated_at = new Date();
    const plan = planHolds(items, fresh, stored);
    const fresh_holds = [...plan.holds.values()].filter((hold) => !stored.has(hold._id));
    const taken = new Set(
      await insertNew(
        this.#holds,
        fresh_holds.map((hold) => ({ ...hold, updated_at })),
      ),
    );
    const holds = new Map(plan.holds);
    const settled = new Set(plan.settled);
    if (taken.size > 0) {
      // Written before by a message of the group persisted earlier: planned again on what is stored.
      const found = new Map((await this.#read(this.#holds, [...taken])).map((h) => [h._id, h]));
      if (found.size !== taken.size)
        throw new WorkerError('WK_ERR_CARD_CONTENDED', `holds ${[...taken].join(',')}`);
      const again = planHolds(
        items.filter((item) => taken.has(groupToken(item.event))),
        fresh,
        found,
      );
      for (const [group, hold] of again.holds) holds.set(group, hold);
      for (const group of taken) if (!again.settled.has(group)) settled.delete(group);
      for (const group of again.settled) settled.add(group);
    }
    const updates = [...holds.values()].filter((hold) => stored.has(hold._id) || taken.has(hold._id));
    await inParallel(updates, UPDATES_IN_PARALLEL_MAX, async ({ _id, ...fields }) => {
      await this.#holds.updateOne({ _id }, { $set: { ...fields, updated_at } });
    });
    const members = [...settled].flatMap((group) => {
      const status = settledStatus(holds.get(group)!.state);
      if (status === null) return [];
      return (holds.get(group)!.members ?? []).filter((t) => !unstored.has(t)).map((t) => ({ t, status }));
    });
    await this.#settleMembers(new Map(members.map(({ t, status }) => [t, status])), updated_at);
    return holds;
  }

  /**
   * Records already stored as pending follow their group out of `pending` (JIT token -> its new
   * status). Read, then updated by `_id` alone: FerretDB scans the collection for any wider
   * filter (`status` included).
   */
  async #settleMembers(statuses: ReadonlyMap<string, TransactionStatus>, updated_at: Date): Promise<void> {
    const stored = await this.#read(this.#transactions, [...statuses.keys()], { status: 1 });
    const pending = stored.filter((doc) => doc.status === 'pending');
    await inParallel(pending, UPDATES_IN_PARALLEL_MAX, async ({ _id }) => {
      await this.#transactions.updateOne({ _id }, { $set: { status: statuses.get(_id)!, updated_at } });
    });
  }

  /** New documents in one insert; each stored one (a later revision, a redelivery) one update. */
  async #recordTransactions(writes: readonly TransactionWrite[], stored: ReadonlySet<string>) {
    const fresh = new Map<string, TransactionDoc>();
    for (const write of writes) {
      const _id = write.event.request.jit_token;
      const pending = fresh.get(_id);
      if (pending !== undefined) addToNewDoc(pending, write);
      else if (stored.has(_id)) await this.#transactions.updateOne({ _id }, transactionUpdate(write));
      else fresh.set(_id, newTransactionDoc(write));
    }
    // Stored after all (a duplicate message written meanwhile): updated as a stored one.
    const taken = new Set(await insertNew(this.#transactions, [...fresh.values()]));
    for (const write of writes)
      if (taken.has(write.event.request.jit_token))
        await this.#transactions.updateOne({ _id: write.event.request.jit_token }, transactionUpdate(write));
  }
}

/** Inserts the documents in one command; returns the `_id`s that were stored already. */
async function insertNew<T extends Document & { _id: string }>(
  collection: Collection<T>,
  docs: readonly T[],
): Promise<string[]> {
  if (docs.length === 0) return [];
  try {
    await collection.insertMany(docs as OptionalUnlessRequiredId<T>[], { ordered: false });
    return [];
  } catch (error) {
    if (!(error instanceof MongoBulkWriteError)) throw error;
    const errors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
    if (errors.length === 0 || errors.some((e) => e.code !== DUPLICATE_KEY)) throw error;
    return errors.map((e) => docs[e.index]!._id);
  }
}
