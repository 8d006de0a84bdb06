// Everything one bench run measured, as written to bench/report/results.json and rendered.

import type { LedgerReport } from '../simulator/ledger.ts';
import type { DepthSample } from '../runner/broker.ts';
import type { CapacityResult } from '../runner/capacity.ts';
import type { SeededHistory } from '../runner/history.ts';
import type { PersistRate } from '../runner/persist-rate.ts';
import type { CpuProfileSummary } from '../runner/cpu-profile.ts';
import type { MachineInfo } from '../runner/machine.ts';
import type { MeasuredPhase } from '../runner/measure.ts';
import type { BenchPlan } from '../runner/plan.ts';
import type { UsageSample } from '../runner/proc-sampler.ts';

export interface BenchResults {
  readonly run_id: string;
  readonly plan: BenchPlan;
  readonly machine: MachineInfo;
  readonly with_worker: boolean;
  readonly phases: readonly MeasuredPhase[];
  readonly usage: readonly UsageSample[];
  readonly backlog: readonly DepthSample[];
  readonly ledger: LedgerReport | null;
  /** Capacity at SLO: business-only traffic, the default mix, and the bare baseline (the machine's floor). */
  readonly capacity: readonly CapacityResult[];
  /** Persisted per second, without and with the seeded history. */
  readonly persist: readonly PersistRate[];
  readonly history: SeededHistory | null;
  /** CACHE_TTL_SCALE of the TTL-expiry phase. */
  readonly ttl_scale: number;
  /** From the end of the last load until every answered decision was persisted (null: not all were). */
  readonly persisted_after_load_s: number | null;
  readonly cpu_profile: CpuProfileSummary | null;
  readonly failure: string | null;
  readonly finished_at: string;
  readonly duration_s: number;
}

/** The baseline phase a gateway phase is compared with: same loop mode and concurrency. */
export function baselineFor(results: BenchResults, phase: MeasuredPhase): MeasuredPhase | undefined {
  return results.phases.find(
    (p) =>
      p.target === 'baseline' &&
      p.result.phase.mode === 'closed' &&
      p.result.phase.connections === phase.result.phase.connections,
  );
}

export function ratioToBaseline(results: BenchResults, phase: MeasuredPhase): number | null {
  if (phase.target !== 'gateway' || phase.result.phase.mode !== 'closed') return null;
  const baseline = baselineFor(results, phase);
  return baseline && baseline.result.throughput_per_s > 0
    ? phase.result.throughput_per_s / baseline.result.throughput_per_s
    : null;
}
