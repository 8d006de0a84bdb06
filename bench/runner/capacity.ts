// Capacity at SLO, run: open-loop steps chosen by capacity-search.ts, each judged on its p99,
// answers past 3 s, 503s, transport errors and the backlog (Redis outbox + decision queues) over
// the step. After each step the runner waits (bounded) for the backlog to fall back to where the
// step found it: a worker that kept pace drains its last batches at once, one that fell behind
// does not, and the next step starts from a clean slate either way.

import type { PhaseResult } from '../simulator/load.ts';
import {
  backlogGrowing,
  BACKLOG_GROWTH_MIN,
  capacityOf,
  type DepthPoint,
  judgeStep,
  nextRate,
  type SearchOptions,
} from './capacity-search.ts';
import type { MeasuredPhase } from './measure.ts';

const DRAIN_POLL_MS = 200;

export interface CapacityStep {
  readonly rate_per_s: number;
  readonly label: string;
  readonly passed: boolean;
  readonly reasons: string;
  readonly p99_ms: number;
  readonly achieved_per_s: number;
  readonly timeouts: number;
  readonly shed: number;
  readonly errors: number;
  readonly backlog_growing: boolean;
  /** How long the backlog took to fall back to the step's starting depth (null: it did not). */
  readonly drain_ms: number | null;
}

/** The gateway's two traffic kinds, and the bare Fastify baseline searched the same way. */
export type CapacityTraffic = 'business' | 'mix' | 'baseline';

export interface CapacityResult {
  readonly traffic: CapacityTraffic;
  readonly capacity_per_s: number;
  readonly steps: readonly CapacityStep[];
}

export interface CapacityRun {
  readonly traffic: CapacityTraffic;
  readonly options: SearchOptions;
  readonly drain_max_ms: number;
  /** Measures one open-loop step at `rate_per_s` (its `index`-th). */
  readonly measure: (rate_per_s: number, index: number) => Promise<MeasuredPhase>;
  /** Outbox entries plus decision-queue messages, now. */
  readonly backlogDepth: () => Promise<number>;
  /** The backlog samples taken between two instants (seconds since the bench's origin). */
  readonly backlogPoints: (from_s: number, to_s: number) => DepthPoint[];
  readonly progress: (line: string) => void;
}

export function shedCount(result: PhaseResult): number {
  let shed = 0;
  for (const outcomes of Object.values(result.outcomes)) shed += outcomes?.http_503 ?? 0;
  return shed;
}

async function drainBack(run: CapacityRun, depth_before: number): Promise<number | null> {
  const started_ms = performance.now();
  for (;;) {
    const waited_ms = performance.now() - started_ms;
    if ((await run.backlogDepth()) <= depth_before + BACKLOG_GROWTH_MIN) return waited_ms;
    if (waited_ms >= run.drain_max_ms) return null;
    await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
  }
}

export async function searchCapacity(
  run: CapacityRun,
): Promise<{ result: CapacityResult; phases: MeasuredPhase[] }> {
  const steps: CapacityStep[] = [];
  const phases: MeasuredPhase[] = [];
  for (let rate = nextRate([], run.options); rate !== null; rate = nextRate(steps, run.options)) {
    const depth_before = await run.backlogDepth();
    const phase = await run.measure(rate, steps.length);
    phases.push(phase);
    const drain_ms = await drainBack(run, depth_before);
    const r = phase.result;
    const growing = backlogGrowing(
      run.backlogPoints(phase.started_s, phase.ended_s),
      r.sent,
      drain_ms !== null,
    );
    const figures = {
      rate_per_s: rate,
      p99_ms: r.latency.p99_ms,
      timeouts: r.timeouts,
      shed: shedCount(r),
      errors: r.errors,
      backlog_growing: growing,
    };
    const verdict = judgeStep(figures);
    steps.push({
      ...figures,
      label: phase.label,
      passed: verdict.passed,
      reasons: verdict.reasons,
      achieved_per_s: r.throughput_per_s,
      drain_ms,
    });
    run.progress(
      `  capacity ${run.traffic} ${rate}/s: ${verdict.passed ? 'holds the SLO' : `misses it (${verdict.reasons})`}`,
    );
  }
  return { result: { traffic: run.traffic, capacity_per_s: capacityOf(steps), steps }, phases };
}
