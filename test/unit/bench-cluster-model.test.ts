// The capacity model's check (bench/cluster.ts): a configuration's cores predicted from another's
// CPU microseconds per decision at the checked rate, judged against the run's own noise.
import { describe, expect, it } from 'vitest';
import { checkModel, TOLERANCE_FLOOR, usPerDecision } from '../../bench/runner/cluster-model.ts';

const input = { name: 'single', decisions_per_s: 1_000, cpu_percent: { gateway: 40, redis: 16 } };
const again = { name: 'single again', decisions_per_s: 1_000, cpu_percent: { gateway: 44, redis: 16 } };

describe('usPerDecision', () => {
  it('is CPU time over decisions, and nothing without decisions', () => {
    expect(usPerDecision(input, 'gateway')).toBe(400);
    expect(usPerDecision(input, 'absent')).toBe(0);
    expect(usPerDecision({ ...input, decisions_per_s: 0 }, 'gateway')).toBeNull();
  });
});

describe('checkModel', () => {
  it('predicts cores at the checked rate from the mean input cost, and allows the run noise', () => {
    const checked = { name: 'cluster', decisions_per_s: 500, cpu_percent: { gateway: 22, redis: 16 } };
    const [gateway, redis] = checkModel(input, again, checked, ['gateway', 'redis']);
    expect(gateway!.input_us).toBeCloseTo(420);
    expect(gateway!.predicted_cores).toBeCloseTo(0.21);
    expect(gateway!.ratio).toBeCloseTo(0.22 / 0.21);
    expect(gateway!.noise).toBeCloseTo(40 / 420);
    expect(gateway!.within_noise).toBe(true);
    // 0.16 cores measured where 0.08 were predicted: twice the model, far past any noise.
    expect(redis!.ratio).toBeCloseTo(2);
    expect(redis!.noise).toBe(0);
    expect(redis!.within_noise).toBe(false);
  });

  it('judges against the floor when the run shows no noise, and predicts nothing for an absent process', () => {
    const checked = {
      name: 'cluster',
      decisions_per_s: 1_000,
      cpu_percent: { redis: 16 * (1 + TOLERANCE_FLOOR * 0.9), replicas: 5 },
    };
    const [redis, replicas] = checkModel(input, input, checked, ['redis', 'replicas']);
    expect(redis!.within_noise).toBe(true);
    expect(replicas).toMatchObject({
      predicted_cores: 0,
      measured_cores: 0.05,
      ratio: null,
      within_noise: null,
    });
  });
});
