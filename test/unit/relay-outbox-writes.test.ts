// The record of outbox writes that drives the relay's reads on a Redis Cluster: each stream is
// taken once per write burst, a wait ends at a write or an interrupt (never only at its timeout),
// and both outbox-writing scripts mark their shard's stream, even when the call fails.
import { describe, expect, it } from 'vitest';
import type { DecisionScripts } from '../../gateway/decide/scripts.ts';
import { OutboxWrites, withOutboxWrites } from '../../gateway/outbox/outbox-writes.ts';
import type { DecisionKeys } from '../../shared/redis-keys.ts';

const HOUR_MS = 3_600_000;

describe('OutboxWrites', () => {
  it('gives each written stream once per take', () => {
    const writes = new OutboxWrites();
    writes.mark('{a}:outbox');
    writes.mark('{b}:outbox');
    writes.mark('{a}:outbox');
    expect(writes.take().sort()).toEqual(['{a}:outbox', '{b}:outbox']);
    expect(writes.take()).toEqual([]);
  });

  it('ends a wait at the next write, or at once when a stream is already marked', async () => {
    const writes = new OutboxWrites();
    const waiting = writes.wait(HOUR_MS);
    writes.mark('{a}:outbox');
    await waiting;
    await writes.wait(HOUR_MS);
    expect(writes.take()).toEqual(['{a}:outbox']);
  });

  it('ends a wait at an interrupt (a stopping relay), with nothing marked', async () => {
    const writes = new OutboxWrites();
    const waiting = writes.wait(HOUR_MS);
    writes.interrupt();
    await waiting;
    expect(writes.take()).toEqual([]);
  });
});

describe('withOutboxWrites', () => {
  const keys = { outbox: '{s7}:outbox' } as DecisionKeys;
  const failing = {
    decide: () => Promise.reject(new Error('Connection is closed.')),
    void: () => Promise.reject(new Error('Connection is closed.')),
  } as unknown as DecisionScripts;

  it('marks the shard stream after decide and void, even when the call failed (it may have written)', async () => {
    for (const call of ['decide', 'void'] as const) {
      const writes = new OutboxWrites();
      const scripts = withOutboxWrites(failing, writes);
      await expect(scripts[call](keys, {} as never)).rejects.toThrow('Connection is closed.');
      expect(writes.take()).toEqual(['{s7}:outbox']);
    }
  });
});
