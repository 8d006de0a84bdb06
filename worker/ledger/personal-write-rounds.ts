// A merged batch of personal decisions in rounds, each round one locked write: every card has at
// most CARD_EVENTS_PER_ROUND_MAX events in a round, in decided order. The exactly-once guards are
// bounded lists of applied effect keys (a hold's `applied`: HOLD_APPLIED_MAX; a card's
// `applied_tokens`: APPLIED_TOKENS_MAX), and every key one write applies must stay in its list
// until the transaction documents record it; a round never applies more than either list keeps.

import assert from 'node:assert/strict';
import { APPLIED_TOKENS_MAX } from './personal-card-effects.ts';
import { HOLD_APPLIED_MAX } from './personal-holds.ts';

/** A card's events in one write at most (its groups' events are among them). */
export const CARD_EVENTS_PER_ROUND_MAX = HOLD_APPLIED_MAX;
assert(CARD_EVENTS_PER_ROUND_MAX <= HOLD_APPLIED_MAX && HOLD_APPLIED_MAX <= APPLIED_TOKENS_MAX);

/** Round k holds each card's events k*max .. (k+1)*max-1; the order of `events` is kept. */
export function writeRounds<T>(
  events: readonly T[],
  card_of: (event: T) => string,
  per_card_max: number,
): T[][] {
  assert(Number.isInteger(per_card_max) && per_card_max >= 1, 'per_card_max must be a positive integer');
  const seen_per_card = new Map<string, number>();
  const rounds: T[][] = [];
  for (const event of events) {
    const card = card_of(event);
    const seen = seen_per_card.get(card) ?? 0;
    seen_per_card.set(card, seen + 1);
    const round = Math.floor(seen / per_card_max);
    rounds[round] ??= [];
    rounds[round].push(event);
  }
  return rounds;
}
