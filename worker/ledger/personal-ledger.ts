// Personal decisions -> MongoDB (FerretDB). The batch's transaction sort keys are registered
// first in PostgreSQL (shared/personal-transaction-keys.ts: the API lists from it). Then per
// card, under the card's document lock (a PostgreSQL advisory lock, shared/stores/
// document-lock.ts, also taken by the management API's balance loads), all of the batch's events
// of the card at once: the authorization groups in `personal_holds`, then one update of the card
// document (held, posted_net, spend windows, category spend; personal-card-effects.ts), each
// guarded by the keys it already applied; then one `personal_transactions` document per JIT token
// (`_id` = JIT token, personal-transaction-docs.ts) records which revisions are applied.
// FerretDB writes a document back whole, so concurrent updates of one document lose writes:
// every writer of a card, hold or transaction document holds the card's lock. Every lookup is
// one `_id` equality (findByIds): FerretDB scans the whole collection for any other filter,
// `$in` included. New documents of a card go in one insert (one FerretDB transaction, no read);
// stored ones get one single-statement update each: FerretDB v1 keeps every statement's query
// open until its update command ends, each on a connection of its own, so a many-statement
// update (or a filter it cannot push down) exhausts its pool (100 SQLite, 50 PostgreSQL
// connections) and every command hangs until restarted.

import { type Collection, type Db, ObjectId, type UpdateFilter } from 'mongodb';
import { effectsFromJson } from '../../shared/ledger-effects.ts';
import type { DecisionEvent } from '../../shared/messages.ts';
import { inParallel } from '../../shared/in-parallel.ts';
import { registerPersonalTransactionKeys } from '../../shared/personal-transaction-keys.ts';
import { withDocumentLock } from '../../shared/stores/document-lock.ts';
import { findByIds } from '../../shared/stores/find-by-ids.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import { WorkerError } from '../errors.ts';
import { groupToken, holdState, settledStatus, transactionStatus } from './lifecycle.ts';
import {
  type CardEffectInput,
  type CardLedgerState,
  type CategorySpend,
  cardUpdate,
  effectKey,
  PERIODS,
} from './personal-card-effects.ts';
import {
  addToNewDoc,
  newTransactionDoc,
  recordedRevisions,
  type TransactionDoc,
  type TransactionWrite,
  transactionUpdate,
} from './personal-transaction-docs.ts';

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
    const by_card = new Map<string, DecisionEvent[]>();
    for (const event of events) {
      const list = by_card.get(event.card_id!) ?? [];
      list.push(event);
      by_card.set(event.card_id!, list);
    }
    // Decided order: the last state change of a group in the batch is its state.
    for (const list of by_card.values()) list.sort((a, b) => a.decided_at_ms - b.decided_at_ms);
    await inParallel([...by_card], CARDS_IN_PARALLEL_MAX, ([card_id, card_events]) =>
      withDocumentLock(this.#sql, 'personal_cards', card_id, () =>
        this.#applyToCard(card_id, card_events, created, now),
      ),
    );
  }

  /** One card's events of the batch: holds, then one card update, then their transaction documents. */
  async #applyToCard(
    card_id: string,
    events: readonly DecisionEvent[],
    created: ReadonlyMap<string, Date>,
    now: Date,
  ): Promise<void> {
    const _id = new ObjectId(card_id);
    const card = await this.#cards.findOne({ _id }, { projection: CARD_LEDGER_FIELDS });
    if (card === null) throw new WorkerError('WK_ERR_CARD_NOT_FOUND', card_id);
    // Read under the lock: every writer of these documents holds it, so this is what is stored.
    const stored = new Map(
      (
        await findByIds(this.#transactions, [...new Set(events.map((e) => e.request.jit_token))], {
          revision: 1,
          applied_revisions: 1,
        })
      ).map((doc) => [doc._id, recordedRevisions(doc)]),
    );
    const inputs: CardEffectInput[] = events.map((event) => ({
      key: effectKey(event.request.jit_token, event.revision),
      recorded: (stored.get(event.request.jit_token) ?? []).includes(event.revision),
      effects: effectsFromJson(event.effects),
    }));
    const update = cardUpdate(ledgerState(card), inputs);
    const fresh = new Set(update.applied);
    // Holds first: each hold guards itself, so a crash before the card update loses nothing.
    const group_states = await this.#applyToHolds(events, fresh);
    if (fresh.size > 0)
      await this.#cards.updateOne({ _id }, { $set: cardFields(update.state) } as UpdateFilter<CardDoc>);
    // After the card update: its applied keys cover a crash before the documents are written.
    const writes = events.map((event): TransactionWrite => {
      const state = group_states.get(groupToken(event));
      const settled = state === undefined ? null : settledStatus(state);
      const own = transactionStatus(event);
      const status = settled !== null && own === 'pending' ? settled : own;
      return { event, status, created_at: created.get(event.request.jit_token) ?? now, now };
    });
    await this.#recordTransactions(writes, new Set(stored.keys()));
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
    const updated_at = new Date();
    const fresh_holds: HoldDoc[] = [];
    for (const hold of changed.values()) {
      const doc = { ...hold, held_minor: big(hold.held_minor), updated_at };
      if (holds.has(hold._id)) {
        const { _id, ...fields } = doc;
        await this.#holds.updateOne({ _id }, { $set: fields });
      } else fresh_holds.push(doc);
      holds.set(hold._id, hold);
    }
    if (fresh_holds.length > 0) await this.#holds.insertMany(fresh_holds, { ordered: true });
    for (const group of settled) await this.#settleMembers(holds.get(group)!, updated_at);
    return new Map([...holds].map(([group, hold]) => [group, hold.state]));
  }

  /**
   * Records already stored as pending follow their group out of `pending`. Read, then updated by
   * `_id` alone: FerretDB scans the collection for any wider filter (`status` included).
   */
  async #settleMembers(hold: HoldDoc, updated_at: Date): Promise<void> {
    const status = settledStatus(hold.state);
    if (status === null || (hold.members ?? []).length === 0) return;
    const members = await findByIds(this.#transactions, hold.members!, { status: 1 });
    for (const { _id } of members.filter((doc) => doc.status === 'pending'))
      await this.#transactions.updateOne({ _id }, { $set: { status, updated_at } });
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
    if (fresh.size > 0) await this.#transactions.insertMany([...fresh.values()], { ordered: true });
  }
}
