// The dependency monitor behind readiness: latest result per check, unknown counts as down, a hung
// check is bounded by the timeout and never polled twice at once.
import { afterEach, describe, expect, it } from 'vitest';
import { DependencyMonitor } from '../../shared/health-monitor.ts';

const monitors: DependencyMonitor[] = [];
afterEach(() => {
  for (const monitor of monitors.splice(0)) monitor.stop();
});

function monitor(checks: ConstructorParameters<typeof DependencyMonitor>[0]): DependencyMonitor {
  const created = new DependencyMonitor(checks, { interval_ms: 10, timeout_ms: 50 });
  monitors.push(created);
  return created;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('DependencyMonitor', () => {
  it('reports each check as up or down once started', async () => {
    const m = monitor({ good: async () => {}, bad: async () => Promise.reject(new Error('refused')) });
    expect(m.isUp('good')).toBe(false);
    await m.start();
    expect(m.isUp('good')).toBe(true);
    expect(m.isUp('bad')).toBe(false);
    expect(m.snapshot().bad).toMatchObject({ status: 'down', error: 'refused' });
  });

  it('follows a dependency going down and coming back', async () => {
    let up = true;
    const m = monitor({ store: async () => (up ? undefined : Promise.reject(new Error('down'))) });
    await m.start();
    up = false;
    await sleep(60);
    expect(m.isUp('store')).toBe(false);
    up = true;
    await sleep(60);
    expect(m.isUp('store')).toBe(true);
  });

  it('marks a check that never answers down after its timeout', async () => {
    const m = monitor({ hung: () => new Promise<void>(() => {}) });
    await m.start();
    expect(m.snapshot().hung).toMatchObject({ status: 'down', error: 'no answer within 50 ms' });
  });

  it('never runs one check twice at once when it is slower than the interval', async () => {
    let running = 0;
    let most_at_once = 0;
    let calls = 0;
    const m = monitor({
      slow: async () => {
        calls++;
        running++;
        most_at_once = Math.max(most_at_once, running);
        await sleep(30);
        running--;
      },
    });
    await m.start();
    await sleep(100);
    expect(calls).toBeGreaterThan(1);
    expect(most_at_once).toBe(1);
  });

  it('refuses an unknown dependency name and a non-positive interval', () => {
    expect(() => monitor({}).isUp('nope')).toThrow(/no such monitored dependency/);
    expect(() => new DependencyMonitor({}, { interval_ms: 0 })).toThrow(/positive/);
  });
});
