// Routes a batch of decisions to its store (business and unknown-card -> PostgreSQL,
// personal -> MongoDB), both stores in parallel, and reports one outcome per event:
//   - a batch that fails for a reason of its own is split in halves, again and again, until
//     the bad event stands alone: it fails alone and the others commit;
//   - a store that is unreachable is waited for (capped exponential backoff) up to
//     outage_wait_ms_max, then the events are handed back for requeueing: an outage spends
//     none of a message's retries and never fills the DLQ.

import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../shared/logger.ts';
import type { DecisionEvent } from '../../shared/messages.ts';
import { failureReason, WorkerError } from '../errors.ts';
import { eventKey } from '../decisions/event-schema.ts';
import { isTransientStoreError } from './transient.ts';

export interface DecisionStore {
  readonly name: string;
  /** Writes all the events or none (PostgreSQL), or each idempotently (MongoDB). */
  write(events: readonly DecisionEvent[]): Promise<void>;
}

export type WriteOutcome =
  | { readonly ok: true }
  /** requeue: the store was unavailable; give the message back without spending a retry. */
  | { readonly ok: false; readonly error: unknown; readonly requeue: boolean };

export interface OutageOptions {
  readonly outage_wait_ms_max: number;
  readonly backoff_min_ms: number;
  readonly backoff_max_ms: number;
}

export const OUTAGE_DEFAULTS: OutageOptions = Object.freeze({
  outage_wait_ms_max: 30_000,
  backoff_min_ms: 100,
  backoff_max_ms: 5_000,
});

const OK: WriteOutcome = Object.freeze({ ok: true });

export class DecisionLedger {
  readonly #business: DecisionStore;
  readonly #personal: DecisionStore;
  readonly #options: OutageOptions;
  readonly #log: Logger;
  readonly #stopping = new AbortController();

  constructor(business: DecisionStore, personal: DecisionStore, options: OutageOptions, log: Logger) {
    this.#business = business;
    this.#personal = personal;
    this.#options = options;
    this.#log = log;
  }

  /** Ends every outage wait at once (shutdown): those events come back as `requeue`. */
  stop(): void {
    this.#stopping.abort();
  }

  async write(events: readonly DecisionEvent[]): Promise<WriteOutcome[]> {
    // A duplicate inside one batch is the same write: do it once, answer both.
    const unique = new Map<string, DecisionEvent>();
    for (const event of events) unique.set(eventKey(event), event);
    const business: DecisionEvent[] = [];
    const personal: DecisionEvent[] = [];
    for (const event of unique.values()) (event.kind === 'personal' ? personal : business).push(event);
    const outcomes = new Map<string, WriteOutcome>();
    await Promise.all([
      this.#writeGroup(this.#business, business, outcomes),
      this.#writeGroup(this.#personal, personal, outcomes),
    ]);
    return events.map((event) => outcomes.get(eventKey(event))!);
  }

  async #writeGroup(
    store: DecisionStore,
    events: readonly DecisionEvent[],
    outcomes: Map<string, WriteOutcome>,
  ) {
    if (events.length === 0) return;
    const together = await this.#attempt(store, events);
    if (together.ok || together.requeue || events.length === 1) {
      for (const event of events) outcomes.set(eventKey(event), together);
      return;
    }
    this.#log.warn(
      { store: store.name, events: events.length, reason: failureReason(together.error) },
      'batch failed; writing its halves apart',
    );
    // Bisect: a poison event ends up alone in about 2*log2(n) writes; the others commit.
    const half = Math.ceil(events.length / 2);
    await this.#writeGroup(store, events.slice(0, half), outcomes);
    await this.#writeGroup(store, events.slice(half), outcomes);
  }

  async #attempt(store: DecisionStore, events: readonly DecisionEvent[]): Promise<WriteOutcome> {
    const { outage_wait_ms_max, backoff_min_ms, backoff_max_ms } = this.#options;
    const give_up_at_ms = Date.now() + outage_wait_ms_max;
    let backoff_ms = backoff_min_ms;
    for (;;) {
      try {
        await store.write(events);
        return OK;
      } catch (error) {
        if (!isTransientStoreError(error)) return { ok: false, error, requeue: false };
        if (this.#stopping.signal.aborted || Date.now() + backoff_ms > give_up_at_ms) {
          return {
            ok: false,
            error: new WorkerError('WK_ERR_STORE_UNAVAILABLE', failureReason(error)),
            requeue: true,
          };
        }
        this.#log.warn(
          { store: store.name, backoff_ms, reason: failureReason(error) },
          'store unavailable; waiting',
        );
        await sleep(backoff_ms, undefined, { signal: this.#stopping.signal }).catch(() => {});
        backoff_ms = Math.min(backoff_ms * 2, backoff_max_ms);
      }
    }
  }
}
