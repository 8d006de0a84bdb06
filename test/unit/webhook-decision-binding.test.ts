import { describe, expect, it } from 'vitest';
import { decisionRoutingKey } from '../../shared/messages.ts';
import { DECISION_EVENT_TYPES, wantsDecisionEvents } from '../../shared/webhooks/decision-binding.ts';

describe('wantsDecisionEvents', () => {
  it('is true when some endpoint filter matches a decision event type', () => {
    expect(wantsDecisionEvents([[]])).toBe(true);
    expect(wantsDecisionEvents([['card.#'], ['decision.#']])).toBe(true);
    expect(wantsDecisionEvents([['decision.*.declined']])).toBe(true);
    expect(wantsDecisionEvents([['decision.unknown.approved']])).toBe(true);
    expect(wantsDecisionEvents([['#']])).toBe(true);
    expect(wantsDecisionEvents([['*.personal.*']])).toBe(true);
  });

  it('is false with no endpoint, or only filters no decision matches', () => {
    expect(wantsDecisionEvents([])).toBe(false);
    expect(wantsDecisionEvents([['card.#'], ['card.activated']])).toBe(false);
    expect(wantsDecisionEvents([['decision.business']])).toBe(false);
    expect(wantsDecisionEvents([['decision.business.approved.more']])).toBe(false);
  });

  it('knows every routing key a decision is published with', () => {
    for (const kind of ['business', 'personal', 'unknown'] as const)
      for (const approved of [true, false])
        expect(DECISION_EVENT_TYPES).toContain(decisionRoutingKey({ kind, approved }));
  });
});
