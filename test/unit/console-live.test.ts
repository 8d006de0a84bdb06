// The console's reading of the gateway's decision-time histogram and its masking of card tokens.
import { describe, expect, it } from 'vitest';
import { liveDecisionOf, maskToken } from '../../api/console/live-decisions.ts';
import { decisionBuckets } from '../../api/console/operations.ts';
import { decisionEvent } from '../support/worker-harness.ts';

describe('console live decisions', () => {
  it('sums the decision-time buckets over every label set, by upper bound, +Inf last', () => {
    const text = [
      '# TYPE afc_decision_duration_seconds histogram',
      'afc_decision_duration_seconds_bucket{le="0.005"} 3',
      'afc_decision_duration_seconds_bucket{le="0.01"} 5',
      'afc_decision_duration_seconds_bucket{le="+Inf"} 6',
      'afc_decision_duration_seconds_bucket{instance="b",le="0.005"} 1',
      'afc_decision_duration_seconds_bucket{instance="b",le="0.01"} 1',
      'afc_decision_duration_seconds_bucket{instance="b",le="+Inf"} 1',
      'afc_redis_script_duration_seconds_bucket{le="0.005"} 99',
      'afc_decision_duration_seconds_count 7',
    ].join('\n');
    expect(decisionBuckets(text)).toEqual([
      [0.005, 4],
      [0.01, 6],
      [Number.POSITIVE_INFINITY, 7],
    ]);
  });

  it('a row shows its decision time, from the JIT message received to decided; none for our own messages', () => {
    const event = decisionEvent({ card: null, kind: 'business', amount_minor: 500n, at_ms: 1_000_000 });
    expect(liveDecisionOf(event)).toMatchObject({ decision_ms: 4, amount_minor: '500', approved: true });
    const { received_at_ms: _, ...own } = event.request;
    expect(liveDecisionOf({ ...event, request: own }).decision_ms).toBeNull();
  });

  it('shows a card token by its last four only', () => {
    expect(maskToken('card_1234567890abcd')).toBe('••••abcd');
    expect(maskToken('abc')).toBe('••••');
  });
});
