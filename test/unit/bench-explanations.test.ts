import { describe, expect, it } from 'vitest';
import {
  bookingExplanation,
  replayExplanation,
  unpersistedExplanation,
} from '../../bench/simulator/explanations.ts';

describe('bench and chaos explanations', () => {
  it('a booking behind a fail-safe decline is explained for what reports the network, never for a purchase', () => {
    expect(bookingExplanation('clearing', 'timeout')).toMatch(/booked as the network reported it/);
    expect(bookingExplanation('reversal', 'system_error')).toMatch(/booked/);
    expect(bookingExplanation('balance_inquiry', 'timeout')).toMatch(/moves no money/);
    expect(bookingExplanation('authorization', 'timeout')).toBeNull();
    expect(bookingExplanation('clearing', 'limit_exceeded')).toBeNull();
  });

  it('a replay differing from its first answer is explained only when no money moved twice', () => {
    expect(replayExplanation('authorization', 'approved', 'timeout')).toMatch(/over the decision budget/);
    expect(replayExplanation('authorization', 'timeout', 'limit_exceeded')).toMatch(/a decline both times/);
    expect(replayExplanation('clearing', 'timeout', 'approved')).toMatch(/booked anyway/);
    expect(replayExplanation('authorization', 'timeout', 'approved')).toBeNull();
    expect(replayExplanation('authorization', 'limit_exceeded', 'approved')).toBeNull();
  });

  it('only a fail-safe decline may be missing from the ledger', () => {
    expect(unpersistedExplanation('timeout')).toMatch(/nothing held/);
    expect(unpersistedExplanation('system_error')).toMatch(/nothing held/);
    expect(unpersistedExplanation('approved')).toBeNull();
    expect(unpersistedExplanation('limit_exceeded')).toBeNull();
  });
});
