// `npm run chaos` flags: the cluster mode draws its faults from the cluster's kinds, refuses the
// single Redis's restart, and its replay command keeps --cluster.
import { describe, expect, it } from 'vitest';
import { CLUSTER_FAULT_KINDS, FAULT_KINDS } from '../../chaos/faults.ts';
import { PlanError, parsePlan, replayCommand } from '../../chaos/plan.ts';

describe('chaos plan, --cluster', () => {
  it('draws from the cluster kinds and replays with --cluster', () => {
    const plan = parsePlan(['--cluster', '--seed=42']);
    expect(plan.cluster).toBe(true);
    expect(plan.runs[0]!.kinds).toEqual(CLUSTER_FAULT_KINDS);
    expect(replayCommand(plan, plan.runs[0]!)).toMatch(/--seed=42 .*--cluster$/);
    expect(replayCommand(plan, plan.runs[0]!)).not.toContain('--kinds');
  });

  it('keeps the single Redis kinds without it, and refuses a kind of the other mode', () => {
    const plan = parsePlan(['--seed=42']);
    expect(plan.cluster).toBe(false);
    expect(plan.runs[0]!.kinds).toEqual(FAULT_KINDS);
    expect(replayCommand(plan, plan.runs[0]!)).not.toContain('--cluster');
    expect(() => parsePlan(['--cluster', '--kinds=redis_restart'])).toThrow(PlanError);
    expect(() => parsePlan(['--kinds=redis_master_kill'])).toThrow(PlanError);
    expect(parsePlan(['--cluster', '--kinds=redis_master_kill,redis_reshard']).runs[0]!.kinds).toEqual([
      'redis_master_kill',
      'redis_reshard',
    ]);
  });
});
