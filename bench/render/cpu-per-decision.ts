// CPU microseconds per decision, per process and phase: a process's CPU time over the phase
// (mean CPU % sampled from /proc, times the phase's length) divided by the decisions answered in
// it. The stores are machine-wide processes, shared with whatever else runs here.

import type { MeasuredPhase } from '../runner/measure.ts';
import { MACHINE_GROUP } from '../runner/proc-sampler.ts';

export const LOAD_GENERATOR_GROUP = 'bench (load generator)';
const NOT_PIPELINE = new Set([LOAD_GENERATOR_GROUP, 'baseline', MACHINE_GROUP]);

/** Null when the phase answered nothing or the process was not sampled in it. */
export function cpuUsPerDecision(phase: MeasuredPhase, group: string): number | null {
  const usage = phase.usage[group];
  const per_s = phase.result.throughput_per_s;
  if (usage === undefined || per_s <= 0) return null;
  return ((usage.cpu_percent_mean / 100) * 1_000_000) / per_s;
}

/** Every process but the load generator (and the baseline server, which serves no decision). */
export function isPipelineGroup(group: string): boolean {
  return !NOT_PIPELINE.has(group);
}

export function pipelineUsPerDecision(phase: MeasuredPhase): number | null {
  if (phase.result.throughput_per_s <= 0) return null;
  let sum = 0;
  for (const group of Object.keys(phase.usage)) {
    if (!isPipelineGroup(group)) continue;
    sum += cpuUsPerDecision(phase, group) ?? 0;
  }
  return sum;
}
