import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { writeRounds } from '../../worker/ledger/personal-write-rounds.ts';

describe('writeRounds', () => {
  it('one round when no card has more than the maximum', () => {
    expect(writeRounds(['a1', 'b1', 'a2'], (e) => e[0]!, 2)).toEqual([['a1', 'b1', 'a2']]);
  });

  it('keeps every event once, in order, and no card past the maximum in any round', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 200 }),
        fc.integer({ min: 1, max: 9 }),
        (cards, max) => {
          const events = cards.map((card, i) => ({ card: String(card), i }));
          const rounds = writeRounds(events, (e) => e.card, max);
          expect(rounds.flat().sort((a, b) => a.i - b.i)).toEqual(events);
          for (const round of rounds) {
            expect(round.map((e) => e.i)).toEqual([...round.map((e) => e.i)].sort((a, b) => a - b));
            const per_card = new Map<string, number>();
            for (const e of round) per_card.set(e.card, (per_card.get(e.card) ?? 0) + 1);
            expect(Math.max(...per_card.values())).toBeLessThanOrEqual(max);
          }
          // A card's later events never come in an earlier round than its earlier ones.
          const round_of = new Map(rounds.flatMap((round, r) => round.map((e) => [e.i, r] as const)));
          for (const a of events)
            for (const b of events)
              if (a.card === b.card && a.i < b.i)
                expect(round_of.get(a.i)!).toBeLessThanOrEqual(round_of.get(b.i)!);
        },
      ),
    );
  });

  it('refuses a maximum below one', () => {
    expect(() => writeRounds([], () => '', 0)).toThrow();
  });
});
