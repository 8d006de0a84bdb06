import { describe, expect, it } from 'vitest';
import {
  NO_EFFECTS,
  effectsFromJson,
  effectsToJson,
  parseLedgerEffects,
} from '../../shared/ledger-effects.ts';

describe('ledger effects from the decision script', () => {
  it('parses every effect kind, summing repeated holds and postings', () => {
    const effects = parseLedgerEffects(
      'spend:d:20261125:2500:1;spend:w:2026-W48:2500:1;gspend:dining:d:20261125:2500;held:2500;hold:2500;pend:-100;pend:-50;hold_state:cleared',
    );
    expect(effects).toEqual({
      held_delta_minor: 2500n,
      posted_delta_minor: -150n,
      hold_delta_minor: 2500n,
      hold_state: 'cleared',
      spend: [
        { period: 'day', window_id: '20261125', delta_minor: 2500n, delta_count: 1 },
        { period: 'week', window_id: '2026-W48', delta_minor: 2500n, delta_count: 1 },
      ],
      group_spend: [{ mcc_group: 'dining', period: 'day', window_id: '20261125', delta_minor: 2500n }],
    });
    expect(effectsFromJson(effectsToJson(effects))).toEqual(effects);
  });

  it('has no effects for a decline, and refuses what it does not know', () => {
    expect(parseLedgerEffects('')).toBe(NO_EFFECTS);
    expect(() => parseLedgerEffects('teleport:5')).toThrow(/unknown ledger effect/);
  });

  it('refuses a malformed item instead of booking a guess (an empty amount is not 0)', () => {
    for (const fx of ['held:', 'held:12x', 'pend:1:2', 'spend:d:20261125:2500', 'spend:d:20261125:25.5:1'])
      expect(() => parseLedgerEffects(fx), fx).toThrow(/malformed/);
    expect(() => parseLedgerEffects('spend:q:20261125:1:1')).toThrow(/unknown spend period/);
    expect(() => parseLedgerEffects('gspend:dining:w:2026-W48:1')).toThrow(/unknown category period/);
  });
});
