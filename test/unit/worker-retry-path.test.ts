import { describe, expect, it } from 'vitest';
import { attemptsOf, nextHop } from '../../worker/broker/retry-path.ts';
import { isTransientStoreError } from '../../worker/ledger/transient.ts';
import { failureReason, WorkerError } from '../../worker/errors.ts';

const DELAYS = [100, 200, 400];

describe('worker retry path', () => {
  it('sends failures 1-3 to retry queues 1-3 and the 4th to the DLQ', () => {
    expect([0, 1, 2, 3].map((failed) => nextHop('afc.decisions', DELAYS, failed))).toEqual([
      { queue: 'afc.decisions.retry.1', attempt: 1, dead: false },
      { queue: 'afc.decisions.retry.2', attempt: 2, dead: false },
      { queue: 'afc.decisions.retry.3', attempt: 3, dead: false },
      { queue: 'afc.decisions.dlq', attempt: 4, dead: true },
    ]);
  });

  it('sends a permanent failure straight to the DLQ', () => {
    expect(nextHop('afc.webhooks', DELAYS, 0, true)).toEqual({
      queue: 'afc.webhooks.dlq',
      attempt: 1,
      dead: true,
    });
  });

  it('reads the attempt header defensively', () => {
    expect(attemptsOf(undefined)).toBe(0);
    expect(attemptsOf({ 'x-attempt': 2 })).toBe(2);
    expect(attemptsOf({ 'x-attempt': 'garbage' })).toBe(0);
    expect(attemptsOf({ 'x-attempt': -4 })).toBe(0);
  });

  it('names the failure with its stable code on one bounded line', () => {
    expect(failureReason(new WorkerError('WK_ERR_CARD_NOT_FOUND', '****1234'))).toBe(
      'WK_ERR_CARD_NOT_FOUND: card not found: ****1234',
    );
    expect(failureReason(Object.assign(new Error('insert or update\nviolates'), { code: '23503' }))).toBe(
      '23503: insert or update violates',
    );
    expect(failureReason(new Error('x'.repeat(2_000))).length).toBe(500);
  });
});

describe('transient store errors', () => {
  it('treats connection loss, shutdown, deadlocks, a busy document lock, MongoDB network errors and a closed topology as an outage', () => {
    for (const error of [
      Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('closed'), { code: 'CONNECTION_CLOSED' }),
      Object.assign(new Error('admin shutdown'), { code: '57P01' }),
      Object.assign(new Error('deadlock'), { code: '40P01' }),
      Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' }),
      Object.assign(new Error('no server'), { name: 'MongoServerSelectionError' }),
      Object.assign(new Error('Topology is closed'), { name: 'MongoTopologyClosedError' }),
      new Error('wrapped', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) }),
    ]) {
      expect(isTransientStoreError(error)).toBe(true);
    }
  });

  it('treats a constraint violation or a bad message as the message’s own failure', () => {
    expect(isTransientStoreError(Object.assign(new Error('fk'), { code: '23503' }))).toBe(false);
    expect(isTransientStoreError(new WorkerError('WK_ERR_CARD_NOT_FOUND'))).toBe(false);
    expect(isTransientStoreError('string')).toBe(false);
  });
});
