// Persisted decisions per second, measured as a drain: with the worker stopped, a load builds a
// backlog of known size in both decision queues; the worker is started again and timed until
// each queue is empty and its decisions are in their store. Run once on the ledger as it is and
// once after a history of prior transactions was seeded, the two rates side by side.

import type { Db } from 'mongodb';
import type { PgSql } from '../../shared/stores/postgres.ts';
import type { AnswerListener } from '../simulator/load.ts';
import type { QueueDepths } from './queue-depths.ts';

const POLL_MS = 100;
const PERSONAL_POLL_MS = 500;
/**
 * A store is drained once its queue is empty and every decision answered for it is written, or,
 * short of that (a decision answered past the client's 3 s is written but not counted as answered,
 * and the other way round), once its count has not moved for this long.
 */
const STABLE_MS = 3_000;
/** A drain shorter than this (a backlog written in one or two batches) gives no rate. */
const SPAN_MIN_S = 0.2;

export interface StoreRate {
  /** Decisions answered (first answers, not replays) for this store during the load. */
  readonly decisions: number;
  readonly persisted: number;
  /** From the restarted worker's readiness to its queue empty (or the wait's end). */
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

interface WriteSpan {
  readonly rows: number;
  /** From the first row written to the last (each batch's rows carry its start time). */
  readonly seconds: number;
}

/** A range on the unique jit_token index (byte-order collation here), not a LIKE scan. */
async function businessSpan(sql: PgSql, prefix: string): Promise<WriteSpan> {
  const [row] = await sql<{ rows: bigint; seconds: number | null }[]>`
    SELECT count(*)::bigint AS rows, extract(epoch FROM max(created_at) - min(created_at))::float8 AS seconds
      FROM transactions WHERE jit_token >= ${prefix} AND jit_token < ${`${prefix}~`}`;
  return { rows: Number(row?.rows ?? 0n), seconds: row?.seconds ?? 0 };
}

/** Sorted reads, not a $group: FerretDB has no $min/$max accumulators. */
async function personalSpan(db: Db, prefix: string): Promise<WriteSpan> {
  const collection = db.collection<{ created_at: Date }>('personal_transactions');
  const filter = { jit_token: { $regex: `^${prefix}` } };
  const edge = async (direction: 1 | -1) =>
    (
      await collection
        .find(filter, { projection: { _id: 0, created_at: 1 } })
        .sort({ created_at: direction })
        .limit(1)
        .toArray()
    )[0]?.created_at;
  const [rows, first, last] = await Promise.all([collection.countDocuments(filter), edge(1), edge(-1)]);
  return { rows, seconds: first && last ? (last.getTime() - first.getTime()) / 1000 : 0 };
}

async function persistedBusiness(sql: PgSql, prefix: string): Promise<number> {
  return (await businessSpan(sql, prefix)).rows;
}

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
  readonly #started_ms = performance.now();
  #last_increase_ms: number | null = null;
  done = false;

  constructor(count: () => Promise<number>, interval_ms: number) {
    this.#count = count;
    this.#interval_ms = interval_ms;
  }

  async poll(queue_empty: boolean, expected: number): Promise<void> {
    const now_ms = performance.now();
    if (this.done || now_ms - this.#polled_ms < this.#interval_ms) return;
    this.#polled_ms = now_ms;
    const persisted = await this.#count();
    if (persisted > this.#persisted) {
      this.#persisted = persisted;
      this.#last_increase_ms = now_ms;
    }
    const quiet_since_ms = this.#last_increase_ms ?? this.#started_ms;
    this.done = queue_empty && (persisted >= expected || now_ms - quiet_since_ms >= STABLE_MS);
  }

  /** The rate from the rows' own write times: the worker may drain a small backlog before it reports ready. */
  rate(decisions: number, span: WriteSpan): StoreRate {
    return {
      decisions,
      persisted: span.rows,
      seconds: span.seconds,
      // Nothing written within the wait is a rate of 0, not an unknown one.
      rate_per_s:
        span.seconds >= SPAN_MIN_S ? span.rows / span.seconds : span.rows === 0 && decisions > 0 ? 0 : null,
      drained: this.done,
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
  await steps.startWorker();
  const started_ms = performance.now();
  const deadline_ms = started_ms + steps.drain_max_ms;
  const business = new Drain(() => persistedBusiness(steps.sql, steps.token_prefix), POLL_MS);
  // A count on FerretDB scans the collection: polled less often, so it slows the worker less.
  const personal = new Drain(() => persistedPersonal(steps.db, steps.token_prefix), PERSONAL_POLL_MS);
  while (performance.now() < deadline_ms && !(business.done && personal.done)) {
    const depths = await steps.depths.read();
    await Promise.all([
      business.poll(depths.business === 0, counts.business),
      personal.poll(depths.personal === 0, counts.personal),
    ]);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return {
    ledger,
    history_rows,
    business: business.rate(counts.business, await businessSpan(steps.sql, steps.token_prefix)),
    personal: personal.rate(counts.personal, await personalSpan(steps.db, steps.token_prefix)),
  };
}
