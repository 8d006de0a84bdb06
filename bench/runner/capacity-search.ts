// Capacity at SLO, the search itself (pure): which open-loop arrival rate to try next, given
// the steps measured so far. A few steps upward from a start rate, growing by a factor while
// they pass, then a bisection between the highest rate that passed and the lowest above it that
// failed, until the bracket is narrow or the step budget is spent. On this shared machine a
// higher rate may pass after a lower one failed: the bracket always uses the highest pass.

/** The service level a step must hold for its rate to count. */
export const SLO = Object.freeze({
  p99_max_ms: 10,
  /** Answers past Marqeta's 3 s (Marqeta declines on its own): none allowed. */
  timeouts_max: 0,
  /** 503 answers (load shed): none allowed. */
  shed_max: 0,
  /** Transport errors (refused, reset: no answer at all): none allowed. */
  errors_max: 0,
});

export interface StepFigures {
  readonly rate_per_s: number;
  readonly p99_ms: number;
  readonly timeouts: number;
  readonly shed: number;
  readonly errors: number;
  readonly backlog_growing: boolean;
}

export interface StepVerdict {
  readonly passed: boolean;
  /** Why it failed ('' when it passed), e.g. "p99 14.2 ms > 10 ms; backlog growing". */
  readonly reasons: string;
}

export function judgeStep(step: StepFigures): StepVerdict {
  const reasons: string[] = [];
  if (step.p99_ms > SLO.p99_max_ms) reasons.push(`p99 ${step.p99_ms.toFixed(1)} ms > ${SLO.p99_max_ms} ms`);
  if (step.timeouts > SLO.timeouts_max) reasons.push(`${step.timeouts} past 3 s`);
  if (step.shed > SLO.shed_max) reasons.push(`${step.shed} shed (503)`);
  if (step.errors > SLO.errors_max) reasons.push(`${step.errors} transport errors`);
  if (step.backlog_growing) reasons.push('backlog growing');
  return { passed: reasons.length === 0, reasons: reasons.join('; ') };
}

export interface SearchOptions {
  readonly start_rate_per_s: number;
  /** Upward steps multiply the rate by this while they pass. */
  readonly growth_factor: number;
  /** Steps in all (upward and bisection). */
  readonly max_steps: number;
  /** Stop bisecting once the bracket is narrower than this share of the passing rate. */
  readonly resolution: number;
  /** Never try below this (the answer is then "below min_rate_per_s"). */
  readonly min_rate_per_s: number;
}

export interface SearchStep {
  readonly rate_per_s: number;
  readonly passed: boolean;
}

export interface StepLength {
  readonly step_ms: number;
  /** A step lasts until about this many answers are expected: p99 of 93 answers is their maximum. */
  readonly step_min_answers: number;
  readonly step_max_ms: number;
}

/**
 * How long a step at `rate_per_s` measures: at least `step_ms`, longer at low rates so its p99
 * stands on enough answers (1,000 answers: p99 is the 10th slowest), never past `step_max_ms`.
 */
export function stepDurationMs(rate_per_s: number, length: StepLength): number {
  if (!(rate_per_s > 0)) throw new RangeError(`step rate must be positive (got ${rate_per_s})`);
  const for_answers_ms = Math.ceil((length.step_min_answers / rate_per_s) * 1000);
  return Math.min(length.step_max_ms, Math.max(length.step_ms, for_answers_ms));
}

/** The highest rate that passed, 0 if none did. */
export function capacityOf(steps: readonly SearchStep[]): number {
  return steps.reduce((best, s) => (s.passed && s.rate_per_s > best ? s.rate_per_s : best), 0);
}

/** The next rate to try (whole arrivals per second), or null when the search is done. */
export function nextRate(steps: readonly SearchStep[], options: SearchOptions): number | null {
  if (steps.length >= options.max_steps) return null;
  if (steps.length === 0) return Math.max(options.min_rate_per_s, Math.round(options.start_rate_per_s));
  const passed = capacityOf(steps);
  const failed_above = steps.filter((s) => !s.passed && s.rate_per_s > passed).map((s) => s.rate_per_s);
  if (failed_above.length === 0) return Math.round(passed * options.growth_factor);
  const lowest_failed = Math.min(...failed_above);
  if (passed > 0 && lowest_failed - passed <= passed * options.resolution) return null;
  const tried = (rate: number) => steps.some((s) => s.rate_per_s === rate);
  const next = Math.round((passed + lowest_failed) / 2);
  if (next < options.min_rate_per_s) {
    // Nothing passed yet: one last try at the floor.
    const floor = options.min_rate_per_s;
    return passed === 0 && floor < lowest_failed && !tried(floor) ? floor : null;
  }
  return next <= passed || next >= lowest_failed || tried(next) ? null : next;
}

export interface DepthPoint {
  readonly t_s: number;
  /** Outbox entries plus decision-queue messages. */
  readonly depth: number;
}

/** Growth below this many entries over a step is noise (a batch in flight), not a backlog. */
export const BACKLOG_GROWTH_MIN = 50;
/** ... nor below this share of the step's arrivals. */
export const BACKLOG_GROWTH_SHARE = 0.02;

/**
 * Is the backlog growing across a step? Least-squares slope of the depth samples over the step,
 * times its length, against a floor; and the step must end deeper than it started. A step whose
 * leftover backlog drains after it (the runner waits for that) is judged by `drained` too.
 */
export function backlogGrowing(points: readonly DepthPoint[], arrivals: number, drained: boolean): boolean {
  if (!drained) return true;
  if (points.length < 2) return false;
  const n = points.length;
  const mean_t = points.reduce((sum, p) => sum + p.t_s, 0) / n;
  const mean_d = points.reduce((sum, p) => sum + p.depth, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const p of points) {
    covariance += (p.t_s - mean_t) * (p.depth - mean_d);
    variance += (p.t_s - mean_t) ** 2;
  }
  if (variance === 0) return false;
  const growth = (covariance / variance) * (points.at(-1)!.t_s - points[0]!.t_s);
  const floor = Math.max(BACKLOG_GROWTH_MIN, arrivals * BACKLOG_GROWTH_SHARE);
  return growth > floor && points.at(-1)!.depth > points[0]!.depth;
}
