// The decision: one Redis script call on the hot path. A cache miss loads the card from the
// databases (bounded by its own budget) and calls the script again. Redis errors become a
// `system_error` decline; a call slower than the budget becomes a `timeout` decline, and a
// void call then makes Redis agree with that answer (releasing a hold made too late).

import { randomBytes } from 'node:crypto';
import type { Logger } from '../../shared/logger.ts';
import { maskToken } from '../../shared/logger.ts';
import { DecisionStatus, statusInfo, type DecisionStatusCode } from '../../shared/decision-status.ts';
import type { CardKind, DecisionRequest } from '../../shared/messages.ts';
import type { gatewayMetrics } from '../../shared/metrics.ts';
import { decisionKeys, type DecisionKeys, type KeyLayout } from '../../shared/redis-keys.ts';
import { UndecidedAnswers } from '../http/undecided-answer.ts';
import type { CacheLoader } from './cache-loader.ts';
import { CACHE_MISS, type DecideReply, type DecisionScripts } from './scripts.ts';

/** A miss that survives this many fills is a bug or a racing invalidation storm: fail safe. */
const FILL_ATTEMPTS_MAX = 2;
/**
 * A void that cannot reach Redis is retried (100 ms doubling to 2 s, about 30 s in all): a Redis
 * that died after running the decision but before its reply arrived must not keep an approval
 * we answered as a decline once it is back from its AOF.
 */
const VOID_ATTEMPTS_MAX = 20;
/** Voids waiting for Redis at most (an outage under load): past it, reconciliation corrects. */
const VOIDS_PENDING_MAX = 10_000;
/** Distinct (status, method) counters kept ready at most. */
const DECISION_COUNTERS_MAX = 1_024;
const VOID_RETRY_MS_MIN = 100;
const VOID_RETRY_MS_MAX = 2_000;
/** void-5.lua's call id for "any call": the decision is superseded by Marqeta's stand-in. */
const SUPERSEDED_CALL_ID = '*';

export interface DecisionBudgets {
  readonly decision_budget_ms: number;
  readonly cache_fill_budget_ms: number;
  readonly idempotency_ttl_s: number;
  /** Program setting UNDECIDED_ANSWER: how `timeout`/`system_error` outcomes are answered. */
  readonly undecided_answer: UndecidedAnswers['mode'];
}

export type DecisionMetrics = Pick<
  ReturnType<typeof gatewayMetrics>,
  | 'decisions'
  | 'decision_duration'
  | 'script_duration'
  | 'cache_lookups'
  | 'undecided'
  | 'undecided_mode'
  | 'standin_bookings'
  | 'standin_over_limit'
>;

export interface DecisionOutcome {
  readonly status_code: DecisionStatusCode;
  /** Approved (purchases), released (reversals) or posted (clearings, refunds) amount. */
  readonly amount_minor: bigint;
  /** Balance inquiries: the available balance answered. */
  readonly available_minor: bigint;
  readonly replayed: boolean;
  readonly kind: CardKind;
  /** Which path produced it, for the decision trace and metrics. */
  readonly source: 'script' | 'timeout' | 'redis_error' | 'fill_error';
}

export interface DecideOptions {
  /** Record this status without running the rules (unsupported methods). */
  readonly forced_status?: DecisionStatusCode;
  /** A smaller amount may be approved (program setting and the network's capability). */
  readonly partial_capable: boolean;
  /**
   * A notification's ledger command (it books what Marqeta already did): never voided when Redis
   * fails, so Marqeta's retry books it, once, instead of replaying a recorded failure.
   */
  readonly ledger_command?: boolean;
}

function declined(status_code: DecisionStatusCode, source: DecisionOutcome['source']): DecisionOutcome {
  return { status_code, amount_minor: 0n, available_minor: 0n, replayed: false, kind: 'unknown', source };
}

class BudgetExceeded extends Error {
  readonly code = 'GW_ERR_BUDGET_EXCEEDED';
}

/** One promise and one timer per call (no race and finally promises on the hot path). */
function withBudget<T>(work: Promise<T>, budget_ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    // Node runs timers before it reads sockets: on a busy event loop the budget timer would fire
    // before a Redis reply that already arrived is read. setImmediate runs after this turn's
    // I/O, so an answer that made it in time wins (a promise settles once).
    const timer = setTimeout(
      () => setImmediate(() => reject(new BudgetExceeded(`over ${budget_ms} ms`))),
      budget_ms,
    );
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

export class Decider {
  readonly #scripts: DecisionScripts;
  readonly #loader: CacheLoader;
  readonly #layout: KeyLayout;
  readonly #budgets: DecisionBudgets;
  readonly #log: Logger;
  readonly #metrics: DecisionMetrics;
  /** Call ids: a random per-instance prefix and a counter (unique without a syscall per call). */
  readonly #call_id_prefix = randomBytes(6).toString('hex');
  #call_counter = 0;
  #voids_pending = 0;
  readonly #decision_counters = new Map<string, { inc(): void }>();
  readonly #cache_lookups: Record<'hit' | 'miss', { inc(): void }>;
  /** Labelled once: no label object hashed per script call. */
  readonly #script_durations: Record<'decide' | 'void', { observe(seconds: number): void }>;
  /** What the JIT route answers when this decider could not decide (routes/authorize.ts). */
  readonly undecided: UndecidedAnswers;

  constructor(
    scripts: DecisionScripts,
    loader: CacheLoader,
    layout: KeyLayout,
    budgets: DecisionBudgets,
    log: Logger,
    metrics: DecisionMetrics,
  ) {
    this.#scripts = scripts;
    this.#loader = loader;
    this.#layout = layout;
    this.#budgets = budgets;
    this.#log = log;
    this.#metrics = metrics;
    this.undecided = new UndecidedAnswers(budgets.undecided_answer, metrics);
    this.#cache_lookups = {
      hit: metrics.cache_lookups.labels({ result: 'hit' }),
      miss: metrics.cache_lookups.labels({ result: 'miss' }),
    };
    this.#script_durations = {
      decide: metrics.script_duration.labels({ script: 'decide' }),
      void: metrics.script_duration.labels({ script: 'void' }),
    };
  }

  /** Decides one request. Never throws: every failure is a decline with its memo. */
  async decide(request: DecisionRequest, options: DecideOptions): Promise<DecisionOutcome> {
    const started_ms = performance.now();
    const outcome = await this.#decide(request, options);
    // In-memory updates only: nothing here waits on I/O.
    this.#metrics.decision_duration.observe((performance.now() - started_ms) / 1000);
    this.#decisionCounter(outcome.status_code, request.method).inc();
    return outcome;
  }

  /** The labelled counter of one (status, method): found once, then reused (no label hashing per decision). */
  #decisionCounter(status_code: DecisionStatusCode, method: string): { inc(): void } {
    const key = `${status_code}|${method}`;
    let counter = this.#decision_counters.get(key);
    if (counter === undefined) {
      counter = this.#metrics.decisions.labels({
        result: status_code === DecisionStatus.APPROVED ? 'approved' : 'declined',
        memo: statusInfo(status_code).memo,
        method,
      });
      // Methods come from Marqeta: bounded, so an odd sender cannot grow this without end.
      if (this.#decision_counters.size < DECISION_COUNTERS_MAX) this.#decision_counters.set(key, counter);
    }
    return counter;
  }

  #keysOf(request: DecisionRequest) {
    return decisionKeys(
      this.#layout,
      request.user_token,
      request.card_token,
      request.jit_token,
      request.original_jit_token,
    );
  }

  async #decide(request: DecisionRequest, options: DecideOptions): Promise<DecisionOutcome> {
    const keys = this.#keysOf(request);
    const request_json = JSON.stringify(request);
    const call_id = `${this.#call_id_prefix}${(this.#call_counter++).toString(36)}`;
    for (let attempt = 0; attempt <= FILL_ATTEMPTS_MAX; attempt++) {
      let reply: DecideReply;
      try {
        reply = await withBudget(
          this.#call(keys, request, request_json, options, call_id),
          this.#budgets.decision_budget_ms,
        );
      } catch (error) {
        return this.#failed(error, keys, request, request_json, call_id, options.ledger_command !== true);
      }
      // Counted once per decision: answered from Redis alone, or only after a fill.
      if (attempt === 0) this.#cache_lookups[reply.status === CACHE_MISS ? 'miss' : 'hit'].inc();
      if (reply.status !== CACHE_MISS) {
        // Parts read in the last share of their TTL: refreshed in the background, never awaited.
        if (reply.refresh_mask !== 0) this.#loader.refresh(keys, request.card_token, request);
        return {
          status_code: reply.status as DecisionStatusCode,
          amount_minor: reply.amount_minor,
          available_minor: reply.available_minor,
          replayed: reply.replayed,
          kind: reply.kind,
          source: 'script',
        };
      }
      if (attempt === FILL_ATTEMPTS_MAX) break;
      try {
        await withBudget(
          this.#loader.fill(keys, request.card_token, request),
          this.#budgets.cache_fill_budget_ms,
        );
      } catch (error) {
        this.#log.error(
          { err: error, card_token: maskToken(request.card_token), jit_token: request.jit_token },
          'cache fill failed',
        );
        const status_code =
          error instanceof BudgetExceeded ? DecisionStatus.TIMEOUT : DecisionStatus.SYSTEM_ERROR;
        if (options.ledger_command !== true)
          this.#void(keys, request_json, request.jit_token, status_code, call_id);
        return declined(status_code, 'fill_error');
      }
    }
    this.#log.error({ jit_token: request.jit_token }, 'cache still incomplete after fills');
    if (options.ledger_command !== true)
      this.#void(keys, request_json, request.jit_token, DecisionStatus.SYSTEM_ERROR, call_id);
    return declined(DecisionStatus.SYSTEM_ERROR, 'fill_error');
  }

  #call(
    keys: DecisionKeys,
    request: DecisionRequest,
    request_json: string,
    options: DecideOptions,
    call_id: string,
  ) {
    const started_ms = performance.now();
    const call = this.#scripts.decide(keys, {
      request,
      request_json,
      forced_status: options.forced_status ?? null,
      partial_capable: options.partial_capable,
      decision_ttl_s: this.#budgets.idempotency_ttl_s,
      now_ms: Date.now(),
      call_id,
    });
    // Observed when Redis answers, even past the budget: the script's own latency.
    const observe = () => this.#observeScript('decide', started_ms);
    call.then(observe, observe);
    return call;
  }

  #observeScript(script: 'decide' | 'void', started_ms: number): void {
    this.#script_durations[script].observe((performance.now() - started_ms) / 1000);
  }

  #failed(
    error: unknown,
    keys: DecisionKeys,
    request: DecisionRequest,
    request_json: string,
    call_id: string,
    voids: boolean,
  ): DecisionOutcome {
    if (error instanceof BudgetExceeded) {
      this.#log.warn({ jit_token: request.jit_token }, 'decision over budget: answering timeout');
      if (voids) this.#void(keys, request_json, request.jit_token, DecisionStatus.TIMEOUT, call_id);
      return declined(DecisionStatus.TIMEOUT, 'timeout');
    }
    this.#log.error({ err: error, jit_token: request.jit_token }, 'decision failed: answering system_error');
    // Redis may have run the decision before the connection broke: undo it once Redis answers.
    // It also records the system_error, so a replay gets the same decline.
    if (voids) this.#void(keys, request_json, request.jit_token, DecisionStatus.SYSTEM_ERROR, call_id);
    return declined(DecisionStatus.SYSTEM_ERROR, 'redis_error');
  }

  /**
   * Marqeta stood in for this JIT token (no answer of ours reached it in time): our own approval
   * of it, if Redis made one, is undone as a late approval is, so the stand-in's booking is the
   * only hold. Records a TIMEOUT decline when there was no decision. Throws when Redis fails
   * (the notification is then retried by Marqeta).
   */
  async supersede(request: DecisionRequest): Promise<void> {
    const keys = this.#keysOf(request);
    await this.#scripts.void(keys, {
      request_json: JSON.stringify(request),
      status_code: DecisionStatus.TIMEOUT,
      now_ms: Date.now(),
      call_id: SUPERSEDED_CALL_ID,
    });
  }

  /**
   * Sent on the same connection after the decide call, so Redis runs it afterwards. Records the
   * status we answered (timeout or system_error): a replay must get that same answer. Retried
   * while Redis cannot be reached (VOID_ATTEMPTS_MAX).
   */
  #void(
    keys: DecisionKeys,
    request_json: string,
    jit_token: string,
    status_code: DecisionStatusCode,
    call_id: string,
    attempt = 1,
  ): void {
    const started_ms = performance.now();
    this.#scripts
      .void(keys, {
        request_json,
        status_code,
        now_ms: Date.now(),
        call_id,
      })
      .then(
        (reply) => {
          this.#observeScript('void', started_ms);
          if (attempt > 1) this.#voids_pending--;
          // The timeout itself was logged; this only says what Redis had to undo.
          this.#log.debug({ jit_token, reply }, 'voided decision after timeout');
        },
        (error: unknown) => {
          this.#observeScript('void', started_ms);
          if (attempt < VOID_ATTEMPTS_MAX && (attempt > 1 || this.#voids_pending < VOIDS_PENDING_MAX)) {
            if (attempt === 1) this.#voids_pending++;
            const delay_ms = Math.min(VOID_RETRY_MS_MAX, VOID_RETRY_MS_MIN * 2 ** (attempt - 1));
            setTimeout(
              () => this.#void(keys, request_json, jit_token, status_code, call_id, attempt + 1),
              delay_ms,
            ).unref();
            return;
          }
          if (attempt > 1) this.#voids_pending--;
          this.#log.error({ err: error, jit_token }, 'void failed; webhook reconciliation will correct');
        },
      );
  }
}
