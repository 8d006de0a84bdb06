// Persisted decisions per second, measured as a drain: with the worker stopped, a load builds a
// backlog of known size in both decision queues; the worker is started again and each store's
// persisted count polled from its start: the rate is the count's growth between its first and its
// last increase (the worker writes batches in concurrent transactions whose rows all carry their
// start time, so the rows' own timestamps would shrink the span). Run once on the ledger as it is
// and once after a history of prior transactions was seeded, the two rates side by side.
// Personal decisions are polled on the sort keys the worker registers in PostgreSQL just before
// each batch's documents (an index range); the documents are counted once, at the end. Counting
// them on every poll scanned FerretDB's whole collection, which grows run after run, every 500 ms
// beside the worker being measured.

import type { Db } from 'mongodb';
import type { PgSql } from '../../shared/stores/postgres.ts';
import type { AnswerListener } from '../simulator/load.ts';
import type { QueueDepths } from './queue-depths.ts';

const POLL_MS = 100;
/**
 * A store is drained once its queue is empty and every decision answered for it is written, or,
 * short of that (a decision answered past the client's 3 s is written but not counted as answered,
 * and the other way round), once its count has not moved for this long.
 */
const STABLE_MS = 3_000;
/** Growth over less than this (a backlog written in one or two commits) gives no rate. */
const SPAN_MIN_S = 0.2;

export interface StoreRate {
  /** Decisions answered (first answers, not replays) for this store during the load. */
  readonly decisions: number;
  readonly persisted: number;
  /** From the count's first increase to its last. */
  readonly seconds: number;
  readonly rate_per_s: number | null;
  readonly drained: boolean;
}

export interface PersistRate {
  readonly ledger: string;
  readonly history_rows: number;
  readonly business: StoreRate;
  readonly personal: StoreRate;
}

export interface PersistRateSteps {
  readonly stopWorker: () => Promise<void>;
  /** Resolves once the worker answers ready. */
  readonly startWorker: () => Promise<void>;
  /** Runs the load; every answer goes to `listener`. JIT tokens start with `token_prefix`. */
  readonly load: (listener: AnswerListener) => Promise<void>;
  readonly outboxEmpty: () => Promise<void>;
  readonly depths: QueueDepths;
  readonly sql: PgSql;
  readonly db: Db;
  readonly token_prefix: string;
  readonly drain_max_ms: number;
}

/** Counts the first answers of the load per store, as the ledger check counts them. */
function counter(): { listener: AnswerListener; business: number; personal: number } {
  const counts = {
    business: 0,
    personal: 0,
    listener: ((request, status_code) => {
      if (request.expect.kind === 'replay' || (status_code !== 200 && status_code !== 402)) return;
      if (request.card.kind === 'personal') counts.personal++;
      else counts.business++;
    }) as AnswerListener,
  };
  return counts;
}

/** A range on the unique jit_token index (byte-order collation here), not a LIKE scan. */
async function persistedBusiness(sql: PgSql, prefix: string): Promise<number> {
  const [row] = await sql<{ count: bigint }[]>`
    SELECT count(*)::bigint AS count FROM transactions WHERE jit_token >= ${prefix} AND jit_token < ${`${prefix}~`}`;
  return Number(row?.count ?? 0n);
}

/** Personal transactions whose keys are registered: a range on the primary key, as above. */
async function registeredPersonal(sql: PgSql, prefix: string): Promise<number> {
  const [row] = await sql<{ count: bigint }[]>`
    SELECT count(*)::bigint AS count FROM personal_transaction_keys
    WHERE transaction_id >= ${prefix} AND transaction_id < ${`${prefix}~`}`;
  return Number(row?.count ?? 0n);
}

/** The documents themselves (a scan on FerretDB: once per drain). */
async function persistedPersonal(db: Db, prefix: string): Promise<number> {
  return db.collection('personal_transactions').countDocuments({ jit_token: { $regex: `^${prefix}` } });
}

/**
 * One store's drain: its persisted count, polled, and when it last grew. A queue reads empty as soon
 * as the worker has prefetched the rest, so the end is the count's last increase once it is stable.
 */
class Drain {
  readonly #count: () => Promise<number>;
  readonly #interval_ms: number;
  #polled_ms = 0;
  #persisted = 0;
  #first_increase: { at_ms: number; persisted: number } | null = null;
  #last_increase_ms: number | null = null;
  done = false;

  constructor(count: () => Promise<number>, interval_ms: number) {
    this.#count = count;
    this.#interval_ms = interval_ms;
  }

  /** `ready_ms`: when the worker reported ready (null: not yet); quiet time counts from then at the earliest. */
  async poll(queue_empty: boolean, expected: number, ready_ms: number | null): Promise<void> {
    const now_ms = performance.now();
    if (this.done || now_ms - this.#polled_ms < this.#interval_ms) return;
    this.#polled_ms = now_ms;
    const persisted = await this.#count();
    if (persisted > this.#persisted) {
      this.#persisted = persisted;
      this.#last_increase_ms = now_ms;
      this.#first_increase ??= { at_ms: now_ms, persisted };
    }
    if (ready_ms === null) return;
    const quiet_since_ms = Math.max(this.#last_increase_ms ?? 0, ready_ms);
    this.done = queue_empty && (persisted >= expected || now_ms - quiet_since_ms >= STABLE_MS);
  }

  /** `persisted`: the store's own count when the polled one stands in for it. */
  rate(decisions: number, persisted = this.#persisted): StoreRate {
    const first = this.#first_increase;
    const seconds =
      first && this.#last_increase_ms !== null ? (this.#last_increase_ms - first.at_ms) / 1000 : 0;
    const grown = first ? this.#persisted - first.persisted : 0;
    return {
      decisions,
      persisted,
      seconds,
      // Nothing written within the wait is a rate of 0; a backlog written at once gives none.
      rate_per_s: seconds >= SPAN_MIN_S ? grown / seconds : this.#persisted === 0 && decisions > 0 ? 0 : null,
      // A store that wrote nothing of its backlog did not drain, however still its count.
      drained: this.done && (decisions === 0 || persisted > 0),
    };
  }
}

export async function measurePersistRate(
  steps: PersistRateSteps,
  ledger: string,
  history_rows: number,
): Promise<PersistRate> {
  const counts = counter();
  await steps.stopWorker();
  await steps.load(counts.listener);
  await steps.outboxEmpty();
  // Polled from the worker's start on: it may drain a small backlog before it reports ready.
  const business = new Drain(() => persistedBusiness(steps.sql, steps.token_prefix), POLL_MS);
  const personal = new Drain(() => registeredPersonal(steps.sql, steps.token_prefix), POLL_MS);
  const ready = steps.startWorker();
  let ready_ms: number | null = null;
  // A worker that fails to start rejects `ready`, awaited (and thrown) after the loop.
  void ready.then(
    () => {
      ready_ms = performance.now();
    },
    () => {},
  );
  const deadline_ms = performance.now() + steps.drain_max_ms;
  while (performance.now() < deadline_ms && !(business.done && personal.done)) {
    const depths = await steps.depths.read();
    await Promise.all([
      business.poll(depths.business === 0, counts.business, ready_ms),
      personal.poll(depths.personal === 0, counts.personal, ready_ms),
    ]);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  await ready;
  return {
    ledger,
    history_rows,
    business: business.rate(counts.business),
    personal: personal.rate(counts.personal, await persistedPersonal(steps.db, steps.token_prefix)),
  };
}
