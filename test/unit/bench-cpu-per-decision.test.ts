import { describe, expect, it } from 'vitest';
import { cpuUsPerDecision, decisionsPerS } from '../../bench/render/cpu-per-decision.ts';
import type { MeasuredPhase } from '../../bench/runner/measure.ts';

function phase(throughput_per_s: number, elapsed_ms: number, shed: number): MeasuredPhase {
  return {
    result: {
      throughput_per_s,
      elapsed_ms,
      outcomes: { authorization: { approved: 10, shed }, clearing: { shed: 0, timeout: 2 } },
    },
    usage: { gateway: { cpu_percent_mean: 50 } },
  } as unknown as MeasuredPhase;
}

describe('bench CPU per decision', () => {
  it('counts answers less the shed requests (503 at once, no decision)', () => {
    // 2,000 answers/s over 10 s, 5,000 of them shed: 1,500 decisions/s.
    expect(decisionsPerS(phase(2_000, 10_000, 5_000))).toBe(1_500);
    expect(cpuUsPerDecision(phase(2_000, 10_000, 5_000), 'gateway')).toBeCloseTo(500_000 / 1_500);
    expect(decisionsPerS(phase(100, 10_000, 0))).toBe(100);
  });
});
