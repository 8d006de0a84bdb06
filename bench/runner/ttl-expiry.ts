// A phase across a cache TTL expiry (the gateway started with CACHE_TTL_SCALE, so the seed's TTLs
// run out within seconds): is there a p99 step when the hot cards' entries expire? Pure: judged on
// the phase's per-second p99 against the phase's own median second.

import { SLO } from './capacity-search.ts';

/** A second this many times the median second's p99 (and past the SLO) is a step. */
export const STEP_FACTOR = 3;

export interface SecondP99 {
  readonly t_s: number;
  readonly completed: number;
  readonly p99_ms: number;
}

export interface ExpiryVerdict {
  readonly median_p99_ms: number;
  readonly worst_p99_ms: number;
  /** Second of the phase (from its start) with the worst p99. */
  readonly worst_second: number;
  readonly step: boolean;
}

export function p99Step(timeline: readonly SecondP99[]): ExpiryVerdict {
  const seconds = timeline.filter((s) => s.completed > 0);
  if (seconds.length === 0) return { median_p99_ms: 0, worst_p99_ms: 0, worst_second: 0, step: false };
  const sorted = seconds.map((s) => s.p99_ms).sort((a, b) => a - b);
  const median_p99_ms = sorted[Math.floor((sorted.length - 1) / 2)]!;
  const worst = seconds.reduce((w, s) => (s.p99_ms > w.p99_ms ? s : w));
  return {
    median_p99_ms,
    worst_p99_ms: worst.p99_ms,
    worst_second: worst.t_s,
    step: worst.p99_ms > Math.max(STEP_FACTOR * median_p99_ms, SLO.p99_max_ms),
  };
}
