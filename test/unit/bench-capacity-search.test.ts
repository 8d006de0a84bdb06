// The bench's capacity-at-SLO search and its step judgements, as pure functions: which rate comes
// next given the steps so far, when a step holds the SLO, when a backlog grows, when a TTL expiry
// shows a p99 step.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  backlogGrowing,
  capacityOf,
  judgeStep,
  nextRate,
  type SearchOptions,
  type SearchStep,
  stepDurationMs,
} from '../../bench/runner/capacity-search.ts';
import { p99Step } from '../../bench/runner/ttl-expiry.ts';

const OPTIONS: SearchOptions = {
  start_rate_per_s: 1_000,
  growth_factor: 1.5,
  max_steps: 8,
  resolution: 0.05,
  min_rate_per_s: 20,
};

/** Runs the search against an oracle: a rate passes iff it is at most `threshold`. */
function search(threshold: number, options: SearchOptions = OPTIONS): SearchStep[] {
  const steps: SearchStep[] = [];
  for (let rate = nextRate(steps, options); rate !== null; rate = nextRate(steps, options)) {
    steps.push({ rate_per_s: rate, passed: rate <= threshold });
  }
  return steps;
}

describe('capacity search: next rate', () => {
  it('starts at the start rate, grows while steps pass, then bisects', () => {
    expect(nextRate([], OPTIONS)).toBe(1_000);
    expect(nextRate([{ rate_per_s: 1_000, passed: true }], OPTIONS)).toBe(1_500);
    const failed = [
      { rate_per_s: 1_000, passed: true },
      { rate_per_s: 1_500, passed: true },
      { rate_per_s: 2_250, passed: false },
    ];
    expect(nextRate(failed, OPTIONS)).toBe(1_875);
  });

  it('halves from a first step that fails', () => {
    expect(nextRate([{ rate_per_s: 1_000, passed: false }], OPTIONS)).toBe(500);
    expect(
      nextRate(
        [
          { rate_per_s: 1_000, passed: false },
          { rate_per_s: 500, passed: false },
        ],
        OPTIONS,
      ),
    ).toBe(250);
  });

  it('stops when the bracket is within the resolution or the step budget is spent', () => {
    const narrow = [
      { rate_per_s: 1_000, passed: true },
      { rate_per_s: 1_040, passed: false },
    ];
    expect(nextRate(narrow, OPTIONS)).toBeNull();
    const spent = Array.from({ length: OPTIONS.max_steps }, (_, i) => ({
      rate_per_s: 100 * (i + 1),
      passed: true,
    }));
    expect(nextRate(spent, OPTIONS)).toBeNull();
  });

  it('tries the floor once when nothing passes, then gives up', () => {
    const low = { ...OPTIONS, start_rate_per_s: 30 };
    expect(nextRate([{ rate_per_s: 30, passed: false }], low)).toBe(20);
    expect(
      nextRate(
        [
          { rate_per_s: 30, passed: false },
          { rate_per_s: 20, passed: false },
        ],
        low,
      ),
    ).toBeNull();
  });

  it('brackets on the highest pass when a lower rate failed on a noisy machine', () => {
    const noisy = [
      { rate_per_s: 1_000, passed: true },
      { rate_per_s: 1_500, passed: false },
      { rate_per_s: 1_250, passed: true },
      { rate_per_s: 1_100, passed: false },
    ];
    expect(capacityOf(noisy)).toBe(1_250);
    expect(nextRate(noisy, OPTIONS)).toBe(1_375);
  });

  it('reports 0 when nothing passed', () => {
    expect(capacityOf([{ rate_per_s: 100, passed: false }])).toBe(0);
    expect(capacityOf([])).toBe(0);
  });

  it('never exceeds the step budget, never repeats a rate, and finds a passing rate near a monotone threshold', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50_000 }),
        fc.integer({ min: 50, max: 5_000 }),
        (threshold, start) => {
          const options = { ...OPTIONS, start_rate_per_s: start, max_steps: 12 };
          const steps = search(threshold, options);
          expect(steps.length).toBeLessThanOrEqual(options.max_steps);
          expect(new Set(steps.map((s) => s.rate_per_s)).size).toBe(steps.length);
          const capacity = capacityOf(steps);
          expect(capacity).toBeLessThanOrEqual(threshold);
          // Twelve steps reach any threshold in range: the answer is within the bisection's bracket.
          if (threshold >= options.min_rate_per_s && threshold <= start * options.growth_factor ** 8) {
            expect(capacity).toBeGreaterThan(0);
            expect(threshold - capacity).toBeLessThanOrEqual(Math.max(2, capacity * options.resolution * 2));
          }
        },
      ),
    );
  });
});

describe('capacity search: a step against the SLO', () => {
  const good = { rate_per_s: 1_000, p99_ms: 8, timeouts: 0, shed: 0, errors: 0, backlog_growing: false };

  it('holds when every condition holds', () => {
    expect(judgeStep(good)).toEqual({ passed: true, reasons: '' });
  });

  it('misses on p99, answers past 3 s, shedding, errors or a growing backlog, and says why', () => {
    expect(judgeStep({ ...good, p99_ms: 10.5 }).reasons).toContain('p99 10.5 ms > 10 ms');
    expect(judgeStep({ ...good, timeouts: 1 }).reasons).toContain('past 3 s');
    expect(judgeStep({ ...good, shed: 3 }).reasons).toContain('shed (503)');
    expect(judgeStep({ ...good, errors: 2 }).reasons).toContain('transport errors');
    const all = judgeStep({ ...good, p99_ms: 50, backlog_growing: true });
    expect(all.passed).toBe(false);
    expect(all.reasons).toBe('p99 50.0 ms > 10 ms; backlog growing');
  });
});

describe('capacity search: backlog growth over a step', () => {
  const points = (depths: number[]) => depths.map((depth, i) => ({ t_s: i * 0.5, depth }));

  it('is flat when the depth hovers, and growing when it climbs past the floor', () => {
    expect(backlogGrowing(points([10, 40, 5, 30, 12, 20]), 5_000, true)).toBe(false);
    expect(backlogGrowing(points([0, 200, 400, 600, 800, 1_000]), 5_000, true)).toBe(true);
  });

  it('ignores growth below 2% of the step arrivals', () => {
    expect(backlogGrowing(points([0, 100, 200, 300]), 20_000, true)).toBe(false);
    expect(backlogGrowing(points([0, 200, 400, 600]), 20_000, true)).toBe(true);
  });

  it('is growing when the backlog did not drain back after the step, whatever the samples', () => {
    expect(backlogGrowing(points([0, 0, 0]), 1_000, false)).toBe(true);
  });

  it('is flat when a deep backlog left by an earlier step shrinks', () => {
    expect(backlogGrowing(points([5_000, 4_000, 3_000, 2_000]), 1_000, true)).toBe(false);
  });
});

describe('capacity search: step length', () => {
  const LENGTH = { step_ms: 3_000, step_min_answers: 1_000, step_max_ms: 15_000 };

  it('keeps the short step where it already holds enough answers', () => {
    expect(stepDurationMs(500, LENGTH)).toBe(3_000);
  });

  it('lengthens a low-rate step until its p99 stands on the answers it needs, up to the cap', () => {
    expect(stepDurationMs(125, LENGTH)).toBe(8_000);
    expect(stepDurationMs(31, LENGTH)).toBe(15_000);
  });

  it('never returns less than the step or more than the cap', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.1, max: 1e6, noNaN: true }), (rate) => {
        const ms = stepDurationMs(rate, LENGTH);
        return ms >= LENGTH.step_ms && ms <= LENGTH.step_max_ms;
      }),
    );
  });

  it('refuses a rate that is not positive', () => {
    expect(() => stepDurationMs(0, LENGTH)).toThrow(RangeError);
  });
});

describe('TTL expiry: p99 step', () => {
  const seconds = (p99s: number[]) => p99s.map((p99_ms, t_s) => ({ t_s, completed: 100, p99_ms }));

  it('finds no step when every second is near the median', () => {
    const verdict = p99Step(seconds([3, 4, 3.5, 5, 4, 3]));
    expect(verdict.step).toBe(false);
    expect(verdict.worst_second).toBe(3);
  });

  it('finds a step when one second jumps past 3x the median and the SLO', () => {
    const verdict = p99Step(seconds([3, 4, 3.5, 40, 4, 3]));
    expect(verdict).toMatchObject({ step: true, worst_second: 3, worst_p99_ms: 40 });
  });

  it('does not call a jump under the SLO a step, and skips empty seconds', () => {
    expect(p99Step(seconds([1, 1, 1, 6, 1])).step).toBe(false);
    expect(p99Step([{ t_s: 0, completed: 0, p99_ms: 900 }, ...seconds([2, 2])]).step).toBe(false);
  });
});
