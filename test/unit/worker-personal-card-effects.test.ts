import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LedgerEffects } from '../../shared/ledger-effects.ts';
import {
  APPLIED_TOKENS_MAX,
  type CardEffectInput,
  type CardLedgerState,
  cardUpdate,
  effectKey,
} from '../../worker/ledger/personal-card-effects.ts';

const empty = { window: null, minor: 0n, count: 0 };
const fresh: CardLedgerState = {
  applied_tokens: [],
  held_minor: 0n,
  posted_net_minor: 0n,
  spend: { day: empty, week: empty, month: empty, year: empty, all: empty },
  category_spend: {},
};

function effects(held: bigint, day_id: string, count = 1, posted = 0n): LedgerEffects {
  return {
    held_delta_minor: held,
    posted_delta_minor: posted,
    hold_delta_minor: held,
    hold_state: null,
    spend: [
      { period: 'day', window_id: day_id, delta_minor: held, delta_count: count },
      { period: 'all', window_id: 'all', delta_minor: held, delta_count: count },
    ],
    group_spend: [{ mcc_group: 'dining', period: 'day', window_id: day_id, delta_minor: held }],
  };
}

function input(jit_token: string, revision: number, fx: LedgerEffects, recorded = false): CardEffectInput {
  return { key: effectKey(jit_token, revision), recorded, effects: fx };
}

describe('personal card ledger effects', () => {
  it('applies each event effects once: held, posted, spend windows and category spend', () => {
    const auth = input('jit_a', 1, effects(500n, '20260115'));
    const clearing = input('jit_c', 1, effects(-500n, '20260115', 0, -480n));
    const update = cardUpdate(fresh, [auth, clearing, auth]);
    expect(update.applied).toEqual(['jit_a', 'jit_c']);
    expect(update.state.held_minor).toBe(0n);
    expect(update.state.posted_net_minor).toBe(-480n);
    expect(update.state.spend.day).toEqual({ window: '20260115', minor: 0n, count: 1 });
    expect(update.state.category_spend.dining?.day).toEqual({ window: '20260115', minor: 0n });
    // A redelivery of applied keys changes nothing.
    expect(cardUpdate(update.state, [auth, clearing]).applied).toEqual([]);
  });

  it('a newer window starts from the delta; an older one is history', () => {
    const today = cardUpdate(fresh, [input('jit_a', 1, effects(500n, '20260115'))]).state;
    const tomorrow = cardUpdate(today, [input('jit_b', 1, effects(70n, '20260116'))]).state;
    expect(tomorrow.spend.day).toEqual({ window: '20260116', minor: 70n, count: 1 });
    expect(tomorrow.spend.all).toEqual({ window: 'all', minor: 570n, count: 2 });
    const late = cardUpdate(tomorrow, [input('jit_c', 1, effects(9n, '20260115'))]).state;
    expect(late.spend.day).toEqual({ window: '20260116', minor: 70n, count: 1 });
    expect(late.held_minor).toBe(579n);
  });

  it('revisions are independent: a void before its authorization ends where the other order does', () => {
    const auth = input('jit_a', 1, effects(300n, '20260115'));
    const reverse = input('jit_a', 2, effects(-300n, '20260115', -1));
    const forward = cardUpdate(fresh, [auth, reverse]).state;
    const backward = cardUpdate(fresh, [reverse, auth]).state;
    expect({ ...backward, applied_tokens: [] }).toEqual({ ...forward, applied_tokens: [] });
    expect(forward.held_minor).toBe(0n);
    expect(forward.applied_tokens).toEqual(['jit_a', 'jit_a:void']);
  });

  it('a key recorded on its transaction document is not applied again after leaving the list', () => {
    const update = cardUpdate(fresh, [input('jit_old', 1, effects(100n, '20260115'), true)]);
    expect(update.applied).toEqual([]);
    expect(update.state.held_minor).toBe(0n);
  });

  it('keeps the last APPLIED_TOKENS_MAX keys, and any arrival order of distinct events sums the same', () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: -1_000n, max: 1_000n }), { minLength: 1, maxLength: 40 }),
        (amounts) => {
          const inputs = amounts.map((a, i) => input(`jit_${i}`, 1, effects(a, '20260115')));
          const forward = cardUpdate(fresh, inputs).state;
          const backward = cardUpdate(fresh, [...inputs].reverse()).state;
          const total = amounts.reduce((sum, a) => sum + a, 0n);
          expect(forward.held_minor).toBe(total);
          expect(backward.held_minor).toBe(total);
          expect(backward.spend.day.minor).toBe(total);
        },
      ),
    );
    const many = Array.from({ length: APPLIED_TOKENS_MAX + 5 }, (_, i) =>
      input(`jit_${i}`, 1, effects(1n, '20260115')),
    );
    // Across writes the oldest keys leave the list; one write never applies more than it keeps.
    const first = cardUpdate(fresh, many.slice(0, APPLIED_TOKENS_MAX)).state;
    const state = cardUpdate(first, many.slice(APPLIED_TOKENS_MAX)).state;
    expect(state.applied_tokens).toHaveLength(APPLIED_TOKENS_MAX);
    expect(state.applied_tokens.at(-1)).toBe(`jit_${APPLIED_TOKENS_MAX + 4}`);
    expect(() => cardUpdate(fresh, many)).toThrow(/at most/);
  });
});
