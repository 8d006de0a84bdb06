import { describe, expect, it } from 'vitest';
import { parseLimitsSeen } from '../../shared/limits-seen.ts';

describe('parseLimitsSeen', () => {
  it('reads every part the decision script writes', () => {
    expect(parseLimitsSeen('txn:5000;d:1000/20000;a:7/900;gm:30/100;vel:1/5;bal:-200')).toEqual([
      { rule: 'per_transaction', limit_minor: '5000' },
      { rule: 'period', period: 'day', spent_minor: '1000', limit_minor: '20000' },
      { rule: 'period', period: 'all', spent_minor: '7', limit_minor: '900' },
      { rule: 'category', period: 'month', spent_minor: '30', limit_minor: '100' },
      { rule: 'velocity', approvals: 1, approvals_max: 5 },
      { rule: 'balance', available_minor: '-200' },
    ]);
  });

  it('nothing recorded is no part; a part it cannot read is left out', () => {
    expect(parseLimitsSeen(null)).toEqual([]);
    expect(parseLimitsSeen('')).toEqual([]);
    expect(parseLimitsSeen('zz:1/2;d:x/1;gw:1/2;txn:5;:3;vel:1')).toEqual([
      { rule: 'per_transaction', limit_minor: '5' },
    ]);
  });
});
