import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  APPLIED_TOKENS_MAX,
  type CardEffectInput,
  type CardLedgerState,
  cardUpdate,
  voidToken,
} from '../../worker/ledger/personal-card-effects.ts';

const fresh: CardLedgerState = { applied_tokens: [], spend_day_window: null, spend_month_window: null };

function approval(
  jit_token: string,
  amount_minor: bigint,
  day_id = '20260115',
  recorded_revision = 0,
): CardEffectInput {
  return {
    jit_token,
    revision: 1,
    approved: true,
    amount_minor,
    day_id,
    month_id: day_id.slice(0, 6),
    recorded_revision,
  };
}

function voidOf(
  jit_token: string,
  amount_minor: bigint,
  day_id = '20260115',
  recorded_revision = 0,
): CardEffectInput {
  return {
    jit_token,
    revision: 2,
    approved: false,
    amount_minor,
    day_id,
    month_id: day_id.slice(0, 6),
    recorded_revision,
  };
}

/** Applies an update to a state the way the MongoDB update does. */
function apply(
  state: CardLedgerState & { held: bigint; day: bigint; month: bigint },
  effects: CardEffectInput[],
) {
  const u = cardUpdate(state, effects);
  const next = { ...state, applied_tokens: u.applied_tokens, held: state.held + u.held_delta_minor };
  if (u.day.mode === 'set') Object.assign(next, { spend_day_window: u.day.window, day: u.day.spent_minor });
  else next.day += u.day.delta_minor;
  if (u.month.mode === 'set')
    Object.assign(next, { spend_month_window: u.month.window, month: u.month.spent_minor });
  else next.month += u.month.delta_minor;
  return next;
}

describe('personal card ledger effects', () => {
  it('an approval holds its amount and starts the day and month windows', () => {
    const u = cardUpdate(fresh, [approval('j1', 500n)]);
    expect(u.held_delta_minor).toBe(500n);
    expect(u.day).toEqual({ mode: 'set', window: '20260115', spent_minor: 500n });
    expect(u.month).toEqual({ mode: 'set', window: '202601', spent_minor: 500n });
    expect(u.applied_tokens).toEqual(['j1']);
  });

  it('an already applied token changes nothing (redelivery)', () => {
    const u = cardUpdate({ ...fresh, applied_tokens: ['j1'] }, [approval('j1', 500n)]);
    expect(u.changed).toBe(false);
    expect(u.held_delta_minor).toBe(0n);
  });

  it('a token whose transaction document exists changes nothing even after leaving the list', () => {
    expect(cardUpdate(fresh, [approval('j1', 500n, '20260115', 1)]).changed).toBe(false);
  });

  it('spend in the current window is added; an older window is ignored; a newer one restarts', () => {
    const state = { ...fresh, spend_day_window: '20260115', spend_month_window: '202601' };
    const u = cardUpdate(state, [
      approval('a', 100n),
      approval('b', 50n, '20260114'),
      approval('c', 7n, '20260116'),
    ]);
    expect(u.held_delta_minor).toBe(157n);
    expect(u.day).toEqual({ mode: 'set', window: '20260116', spent_minor: 7n });
    expect(u.month).toEqual({ mode: 'inc', delta_minor: 157n });
  });

  it('a void after its approval releases the hold and the spend exactly once', () => {
    const state = {
      ...fresh,
      spend_day_window: '20260115',
      spend_month_window: '202601',
      applied_tokens: ['j1'],
    };
    const u = cardUpdate(state, [voidOf('j1', 500n), voidOf('j1', 500n)]);
    expect(u.held_delta_minor).toBe(-500n);
    expect(u.day).toEqual({ mode: 'inc', delta_minor: -500n });
    expect(u.applied_tokens).toEqual(['j1', voidToken('j1')]);
  });

  it('a void before its approval releases nothing and makes the late approval a no-op', () => {
    const first = cardUpdate(fresh, [voidOf('j1', 500n)]);
    expect(first.held_delta_minor).toBe(0n);
    const late = cardUpdate({ ...fresh, applied_tokens: first.applied_tokens }, [approval('j1', 500n)]);
    expect(late.changed).toBe(false);
  });

  it('keeps at most APPLIED_TOKENS_MAX tokens, the newest', () => {
    const tokens = Array.from({ length: APPLIED_TOKENS_MAX }, (_, i) => `old${i}`);
    const u = cardUpdate({ ...fresh, applied_tokens: tokens }, [approval('new', 1n)]);
    expect(u.applied_tokens).toHaveLength(APPLIED_TOKENS_MAX);
    expect(u.applied_tokens.at(-1)).toBe('new');
    expect(u.applied_tokens[0]).toBe('old1');
  });

  it('any split of a stream into batches, with redeliveries, ends in the same card state', () => {
    const effect = fc.record({
      token: fc.integer({ min: 0, max: 9 }),
      amount: fc.bigInt({ min: 1n, max: 10_000n }),
      voided: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(effect, { maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 12 }),
        (specs, cuts) => {
          // One approval per token (first amount wins), optionally followed by its void.
          const amounts = new Map<string, bigint>();
          const stream: CardEffectInput[] = [];
          for (const { token, amount, voided } of specs) {
            const jit = `j${token}`;
            if (!amounts.has(jit)) amounts.set(jit, amount);
            stream.push(approval(jit, amounts.get(jit)!));
            if (voided) stream.push(voidOf(jit, amounts.get(jit)!));
          }
          const expected = [...amounts].reduce((sum, [jit, amount]) => {
            return stream.some((e) => e.jit_token === jit && e.revision === 2) ? sum : sum + amount;
          }, 0n);
          let state = { ...fresh, held: 0n, day: 0n, month: 0n };
          let at = 0;
          for (const size of [...cuts, stream.length]) {
            const batch = stream.slice(at, at + size);
            state = apply(state, [...batch, ...batch]); // every message delivered twice
            at += size;
            if (at >= stream.length) break;
          }
          expect(state.held).toBe(expected);
          expect(state.day).toBe(expected);
          expect(state.month).toBe(expected);
        },
      ),
    );
  });
});
