// Load drivers. Closed loop: a fixed number of connections, each sending its next request as
// soon as the previous answer arrives (measures capacity). Open loop: requests at a fixed
// arrival rate whatever the answers do, latency measured from each request's *intended* send
// time, so a stall is charged to every request it delayed (no coordinated omission).
// Every answer is checked against the contract; Marqeta's 3 s deadline is enforced.

import { Pool } from 'undici';
import { isUndecided } from '../../fake-marqeta/commando.ts';
import { checkAnswer } from './contract.ts';
import { SHED_OUTCOME } from './explanations.ts';
import {
  type Histogram,
  type LatencySummary,
  newHistogram,
  recordMs,
  summarize,
  distribution,
} from './latency.ts';
import type { AnsweredRequest, PlannedRequest, RequestClass } from './traffic.ts';

/** Marqeta declines on its own when we have not answered within 3 s. */
export const MARQETA_TIMEOUT_MS = 3_000;
const VIOLATION_EXAMPLES_MAX = 5;
/** Open loop: requests in flight beyond this are counted as timeouts without being sent. */
const OPEN_LOOP_IN_FLIGHT_MAX = 20_000;

export interface LoadTarget {
  readonly origin: string;
  readonly path: string;
  readonly authorization: string;
}

export interface RequestSource {
  next(): PlannedRequest;
  answered(answer: AnsweredRequest): void;
}

export interface LoadPhase {
  readonly name: string;
  readonly mode: 'closed' | 'open';
  readonly duration_ms: number;
  /** Closed loop: concurrent connections. Open loop: the pool's connection cap. */
  readonly connections: number;
  /** Open loop only: arrivals per second. */
  readonly rate_per_s?: number;
  /** Closed loop only: stop sending after this many requests (the duration still bounds it). */
  readonly requests_max?: number;
}

export interface SecondSample {
  readonly t_s: number;
  readonly completed: number;
  readonly errors: number;
  readonly p99_ms: number;
}

export interface PhaseResult {
  readonly phase: LoadPhase;
  readonly elapsed_ms: number;
  readonly sent: number;
  readonly completed: number;
  readonly throughput_per_s: number;
  /** Transport errors (refused, reset), not counting timeouts. */
  readonly errors: number;
  /** No answer within 3 s of the (intended) send time: Marqeta would have declined. */
  readonly timeouts: number;
  readonly latency: LatencySummary;
  readonly latency_distribution: Array<[number, number]>;
  readonly timeline: SecondSample[];
  readonly violations: Record<string, { count: number; examples: string[] }>;
  readonly violation_count: number;
  /** Answers that differ from the strict expectation, harmlessly, by reason (explanations.ts). */
  readonly explained: Record<string, { count: number; examples: string[] }>;
  readonly outcomes: Partial<Record<RequestClass, Record<string, number>>>;
}

/** Called with every checked answer (the ledger check collects what was decided). */
export type AnswerListener = (request: PlannedRequest, status_code: number, outcome: string) => void;

/**
 * Called with every request the gateway left undecided for Marqeta (fake-marqeta/commando.ts):
 * a 5xx, no answer at all (status_code null), or an answer after 3 s. Commando stands in for them.
 */
export type UndecidedListener = (request: PlannedRequest, status_code: number | null) => void;

function tally(into: Record<string, { count: number; examples: string[] }>, reason: string, example: string) {
  const entry = into[reason] ?? { count: 0, examples: [] };
  into[reason] = entry;
  entry.count++;
  if (entry.examples.length < VIOLATION_EXAMPLES_MAX) entry.examples.push(example);
}

class PhaseRecorder {
  readonly histogram: Histogram = newHistogram();
  readonly seconds: Array<{ completed: number; errors: number; histogram: Histogram }> = [];
  readonly violations: Record<string, { count: number; examples: string[] }> = {};
  readonly explained: Record<string, { count: number; examples: string[] }> = {};
  readonly outcomes: Partial<Record<RequestClass, Record<string, number>>> = {};
  sent = 0;
  completed = 0;
  errors = 0;
  timeouts = 0;
  violation_count = 0;
  readonly #started_ms: number;

  constructor(started_ms: number) {
    this.#started_ms = started_ms;
  }

  #second(now_ms: number) {
    const index = Math.max(0, Math.floor((now_ms - this.#started_ms) / 1000));
    while (this.seconds.length <= index)
      this.seconds.push({ completed: 0, errors: 0, histogram: newHistogram(2) });
    return this.seconds[index]!;
  }

  answer(latency_ms: number, now_ms: number): void {
    this.completed++;
    recordMs(this.histogram, latency_ms);
    const second = this.#second(now_ms);
    second.completed++;
    recordMs(second.histogram, latency_ms);
    if (latency_ms > MARQETA_TIMEOUT_MS) this.timeouts++;
  }

  failure(timed_out: boolean, now_ms: number): void {
    if (timed_out) this.timeouts++;
    else this.errors++;
    this.#second(now_ms).errors++;
  }

  violation(reason: string, example: string): void {
    this.violation_count++;
    tally(this.violations, reason, example);
  }

  explain(reason: string, example: string): void {
    tally(this.explained, reason, example);
  }

  outcome(cls: RequestClass, outcome: string): void {
    const counts = this.outcomes[cls] ?? {};
    this.outcomes[cls] = counts;
    counts[outcome] = (counts[outcome] ?? 0) + 1;
  }

  result(phase: LoadPhase, elapsed_ms: number): PhaseResult {
    return {
      phase,
      elapsed_ms,
      sent: this.sent,
      completed: this.completed,
      throughput_per_s: (this.completed / elapsed_ms) * 1000,
      errors: this.errors,
      timeouts: this.timeouts,
      latency: summarize(this.histogram),
      latency_distribution: distribution(this.histogram),
      timeline: this.seconds.map((s, t_s) => ({
        t_s,
        completed: s.completed,
        errors: s.errors,
        p99_ms: s.histogram.getValueAtPercentile(99) / 1000,
      })),
      violations: this.violations,
      violation_count: this.violation_count,
      explained: this.explained,
      outcomes: this.outcomes,
    };
  }
}

function isTimeout(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return (
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT' ||
    code === 'UND_ERR_CONNECT_TIMEOUT'
  );
}

async function sendOne(
  pool: Pool,
  target: LoadTarget,
  source: RequestSource,
  recorder: PhaseRecorder,
  intended_ms: number,
  listener: AnswerListener | undefined,
  undecided: UndecidedListener | undefined,
): Promise<void> {
  const request = source.next();
  recorder.sent++;
  try {
    const response = await pool.request({
      origin: target.origin,
      path: target.path,
      method: 'POST',
      headers: { authorization: target.authorization, 'content-type': 'application/json' },
      body: request.body,
    });
    const text = await response.body.text();
    const now_ms = performance.now();
    recorder.answer(now_ms - intended_ms, now_ms);
    const verdict = checkAnswer(request, response.statusCode, text);
    recorder.outcome(request.cls, verdict.outcome);
    const example = () =>
      `${request.cls} ${request.jit_token}: HTTP ${response.statusCode} ${text.slice(0, 300)}`;
    if (verdict.violation !== undefined) recorder.violation(verdict.violation, example());
    else if (verdict.outcome === SHED_OUTCOME) recorder.explain(verdict.explained!, example());
    else {
      if (verdict.explained !== undefined) recorder.explain(verdict.explained, example());
      source.answered({ request, status_code: response.statusCode, answer: verdict.answer });
    }
    listener?.(request, response.statusCode, verdict.outcome);
    if (isUndecided(response.statusCode, now_ms - intended_ms)) undecided?.(request, response.statusCode);
  } catch (error) {
    recorder.failure(isTimeout(error), performance.now());
    recorder.outcome(request.cls, isTimeout(error) ? 'timeout' : 'transport_error');
    undecided?.(request, null);
  }
}

function newPool(target: LoadTarget, connections: number): Pool {
  return new Pool(target.origin, {
    connections,
    pipelining: 1,
    headersTimeout: MARQETA_TIMEOUT_MS,
    bodyTimeout: MARQETA_TIMEOUT_MS,
    keepAliveTimeout: 60_000,
    connect: { timeout: MARQETA_TIMEOUT_MS },
  });
}

export async function runPhase(
  target: LoadTarget,
  phase: LoadPhase,
  source: RequestSource,
  listener?: AnswerListener,
  undecided?: UndecidedListener,
): Promise<PhaseResult> {
  const pool = newPool(target, phase.connections);
  const started_ms = performance.now();
  const recorder = new PhaseRecorder(started_ms);
  const deadline_ms = started_ms + phase.duration_ms;
  try {
    if (phase.mode === 'closed') {
      const requests_max = phase.requests_max ?? Number.POSITIVE_INFINITY;
      const connection = async () => {
        while (performance.now() < deadline_ms && recorder.sent < requests_max) {
          await sendOne(pool, target, source, recorder, performance.now(), listener, undecided);
        }
      };
      await Promise.all(Array.from({ length: phase.connections }, connection));
    } else {
      await openLoop(pool, target, phase, source, recorder, started_ms, deadline_ms, listener, undecided);
    }
  } finally {
    await pool.close();
  }
  return recorder.result(phase, performance.now() - started_ms);
}

async function openLoop(
  pool: Pool,
  target: LoadTarget,
  phase: LoadPhase,
  source: RequestSource,
  recorder: PhaseRecorder,
  started_ms: number,
  deadline_ms: number,
  listener: AnswerListener | undefined,
  undecided: UndecidedListener | undefined,
): Promise<void> {
  const rate_per_s = phase.rate_per_s;
  if (rate_per_s === undefined || rate_per_s <= 0)
    throw new RangeError(`open loop phase ${phase.name} needs rate_per_s > 0`);
  const interval_ms = 1000 / rate_per_s;
  const in_flight = new Set<Promise<void>>();
  let index = 0;
  while (true) {
    const now_ms = performance.now();
    // Every request whose intended time has come is sent now, stamped with that time.
    for (
      let intended_ms = started_ms + index * interval_ms;
      intended_ms <= now_ms;
      intended_ms = started_ms + index * interval_ms
    ) {
      if (intended_ms >= deadline_ms) break;
      index++;
      if (in_flight.size >= OPEN_LOOP_IN_FLIGHT_MAX) {
        recorder.sent++;
        recorder.failure(true, now_ms);
        continue;
      }
      const sending = sendOne(pool, target, source, recorder, intended_ms, listener, undecided);
      in_flight.add(sending);
      void sending.finally(() => in_flight.delete(sending));
    }
    if (now_ms >= deadline_ms) break;
    // Asleep until the next request is due, not a 1 ms tick: at low rates the tick cost a timer
    // wake-up per millisecond on the cores the gateway shares, and every send waited for the
    // next tick (up to 1 ms more, charged to the gateway as latency from the intended time).
    const next_ms = started_ms + index * interval_ms;
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, Math.min(next_ms, deadline_ms) - performance.now())),
    );
  }
  await Promise.all(in_flight);
}
