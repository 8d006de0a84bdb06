// CPU microseconds per decision, per process and phase: a process's CPU time over the phase
// (mean CPU % sampled from /proc, times the phase's length) divided by the decisions answered in
// it. A request shed by the overload protection (503 at once) is no decision and costs a fraction
// of one: counting it would flatter every process under overload. The stores are machine-wide
// processes, shared with whatever else runs here.

import type { MeasuredPhase } from '../runner/measure.ts';
import { MACHINE_GROUP } from '../runner/proc-sampler.ts';
import { SHED_OUTCOME } from '../simulator/explanations.ts';

export const LOAD_GENERATOR_GROUP = 'bench (load generator)';
const NOT_PIPELINE = new Set([LOAD_GENERATOR_GROUP, 'baseline', MACHINE_GROUP]);

/** Answers per second less the requests shed (503 at once) in the phase. */
export function decisionsPerS(phase: MeasuredPhase): number {
  const { outcomes, throughput_per_s, elapsed_ms } = phase.result;
  const shed = Object.values(outcomes).reduce((n, by_outcome) => n + (by_outcome?.[SHED_OUTCOME] ?? 0), 0);
  return elapsed_ms > 0 ? Math.max(0, throughput_per_s - (shed / elapsed_ms) * 1000) : throughput_per_s;
}

/** Null when the phase answered nothing or the process was not sampled in it. */
export function cpuUsPerDecision(phase: MeasuredPhase, group: string): number | null {
  const usage = phase.usage[group];
  const per_s = decisionsPerS(phase);
  if (usage === undefined || per_s <= 0) return null;
  return ((usage.cpu_percent_mean / 100) * 1_000_000) / per_s;
}

/** Every process but the load generator (and the baseline server, which serves no decision). */
export function isPipelineGroup(group: string): boolean {
  return !NOT_PIPELINE.has(group);
}

export function pipelineUsPerDecision(phase: MeasuredPhase): number | null {
  if (decisionsPerS(phase) <= 0) return null;
  let sum = 0;
  for (const group of Object.keys(phase.usage)) {
    if (!isPipelineGroup(group)) continue;
    sum += cpuUsPerDecision(phase, group) ?? 0;
  }
  return sum;
}
