import { describe, expect, it } from 'vitest';
import { effectsToJson, type LedgerEffects, NO_EFFECTS } from '../../shared/ledger-effects.ts';
import { EXPIRED_METHOD, type DecisionEvent, type LedgerMode } from '../../shared/messages.ts';
import { checkDecisionEvent, distinctEvents } from '../../worker/decisions/event-schema.ts';
import { businessItems, planBusinessEffects, settlementsOf } from '../../worker/ledger/business-plan.ts';
import { decisionEvent } from '../support/worker-harness.ts';

const CARD = '00000000-0000-4000-8000-000000000001';
const USER = '00000000-0000-4000-8000-000000000002';
const DAY = '20260115';
const decided_at_ms = Date.parse('2026-01-15T10:00:00Z');

interface EventSpec {
  readonly jit_token: string;
  readonly mode?: LedgerMode;
  readonly method?: string;
  readonly original_jit_token?: string | null;
  readonly approved?: boolean;
  readonly at_ms?: number;
  readonly effects?: Partial<LedgerEffects>;
}

const card = { card_token: 'card_a', user_token: 'user_a', card_id: CARD, user_id: USER };

/** A business decision as the relay publishes it, with the lifecycle fields and effects of `spec`. */
function event(spec: EventSpec): DecisionEvent {
  const base = decisionEvent({
    kind: 'business',
    card,
    amount_minor: 500n,
    approved: spec.approved,
    jit_token: spec.jit_token,
    at_ms: spec.at_ms ?? decided_at_ms,
  });
  return {
    ...base,
    request: {
      ...base.request,
      method: spec.method ?? base.request.method,
      mode: spec.mode ?? 'auth',
      original_jit_token: spec.original_jit_token ?? null,
      mcc_group: 'dining',
    },
    group_token: spec.original_jit_token ?? spec.jit_token,
    effects: effectsToJson({ ...NO_EFFECTS, ...spec.effects }),
  };
}

const held = (minor: bigint): Partial<LedgerEffects> => ({
  held_delta_minor: minor,
  hold_delta_minor: minor,
  spend: [{ period: 'day', window_id: DAY, delta_minor: minor, delta_count: minor > 0n ? 1 : -1 }],
  group_spend: [{ mcc_group: 'dining', period: 'day', window_id: DAY, delta_minor: minor }],
});

const keysOf = (events: readonly DecisionEvent[]) =>
  new Set(events.map((e) => `${e.request.jit_token}:${e.revision}`));

describe('business batch plan', () => {
  it('sums each row once: an authorization and its incremental add to one spend row and one hold', () => {
    const events = [
      event({ jit_token: 'jit_a', effects: held(500n) }),
      event({ jit_token: 'jit_b', mode: 'incremental', original_jit_token: 'jit_a', effects: held(200n) }),
    ];
    const plan = planBusinessEffects(businessItems(events), keysOf(events));
    expect(plan.spend).toEqual([
      { card_id: CARD, period: 'day', window_start: '2026-01-15', spent_minor: 700n, txn_count: 2 },
    ]);
    expect(plan.category).toEqual([
      { card_id: CARD, mcc_group: 'dining', period: 'day', window_start: '2026-01-15', spent_minor: 700n },
    ]);
    expect(plan.holds).toHaveLength(1);
    expect(plan.holds[0]).toMatchObject({ group_token: 'jit_a', held_minor: 700n, state: 'pending' });
    expect(plan.groups).toEqual(['jit_a']);
  });

  it('applies only the events whose effects are new (a redelivery changes nothing)', () => {
    const events = [event({ jit_token: 'jit_a', effects: held(500n) })];
    const plan = planBusinessEffects(businessItems(events), new Set());
    expect(plan).toEqual({ spend: [], category: [], holds: [], groups: [] });
  });

  it('the last state change in decided order is the group state, and the earliest time its creation', () => {
    const later = decided_at_ms + 60_000;
    const events = [
      // Persisted in the other order: the reversal was decided after the authorization.
      event({
        jit_token: 'jit_r',
        mode: 'reversal',
        original_jit_token: 'jit_a',
        at_ms: later,
        effects: { ...held(-500n), hold_state: 'reversed' },
      }),
      event({ jit_token: 'jit_a', effects: held(500n) }),
    ];
    const plan = planBusinessEffects(businessItems(events), keysOf(events));
    expect(plan.holds[0]).toMatchObject({
      group_token: 'jit_a',
      held_minor: 0n,
      state: 'reversed',
      created_at: new Date(decided_at_ms),
    });
    expect(plan.spend[0]).toMatchObject({ spent_minor: 0n, txn_count: 0 });
  });

  it('a release by hold expiry settles the group as expired', () => {
    const events = [
      event({
        jit_token: 'jit_x',
        mode: 'release',
        method: EXPIRED_METHOD,
        original_jit_token: 'jit_a',
        effects: { held_delta_minor: -500n, hold_delta_minor: -500n, hold_state: 'released' },
      }),
    ];
    const plan = planBusinessEffects(businessItems(events), keysOf(events));
    expect(plan.holds[0]).toMatchObject({ group_token: 'jit_a', held_minor: -500n, state: 'expired' });
    expect(plan.groups).toEqual(['jit_a']);
  });

  it('rows come in lock order whatever the batch order', () => {
    const events = ['jit_c', 'jit_a', 'jit_b'].map((jit_token) => event({ jit_token, effects: held(1n) }));
    const plan = planBusinessEffects(businessItems(events), keysOf(events));
    expect(plan.holds.map((h) => h.group_token)).toEqual(['jit_a', 'jit_b', 'jit_c']);
    expect(plan.groups).toEqual(['jit_a', 'jit_b', 'jit_c']);
  });

  it('a declined decision changes no row and settles no group', () => {
    const events = [event({ jit_token: 'jit_d', approved: false })];
    expect(planBusinessEffects(businessItems(events), keysOf(events))).toEqual({
      spend: [],
      category: [],
      holds: [],
      groups: [],
    });
  });

  it('settled groups map to the status of their pending records by the one TypeScript rule', () => {
    expect(
      settlementsOf([
        { group_token: 'a', state: 'cleared' },
        { group_token: 'b', state: 'reversed' },
        { group_token: 'c', state: 'released' },
        { group_token: 'd', state: 'expired' },
        { group_token: 'e', state: 'pending' },
      ]),
    ).toEqual([
      { group_token: 'a', status: 'completed' },
      { group_token: 'b', status: 'reversed' },
      { group_token: 'c', status: 'reversed' },
      { group_token: 'd', status: 'expired' },
    ]);
  });
});

describe('merged batches', () => {
  it('write each event once by JIT token and revision, in first-seen order', () => {
    const a = event({ jit_token: 'jit_a' });
    const b = event({ jit_token: 'jit_b' });
    const a_void = { ...a, revision: 2 };
    expect(distinctEvents([a, b, a, a_void, b])).toEqual([a, b, a_void]);
  });
});

describe('decision event boundary', () => {
  const unknownCard = (effects: Partial<LedgerEffects>) => ({
    ...event({ jit_token: 'jit_u', approved: false, effects }),
    kind: 'unknown' as const,
    card_id: null,
    user_id: null,
  });

  it('a void (revision 2) is a decline: one that approves is refused', () => {
    const void_ = decisionEvent({ kind: 'business', card, amount_minor: 500n, revision: 2 });
    expect(checkDecisionEvent(void_).approved).toBe(false);
    expect(() => checkDecisionEvent({ ...void_, approved: true })).toThrow(
      expect.objectContaining({
        code: 'WK_ERR_INVALID_MESSAGE',
        message: expect.stringMatching(/a void that approves$/),
      }),
    );
  });

  it('a declined unknown card passes; ledger effects without a card are refused, never dropped', () => {
    expect(checkDecisionEvent(unknownCard({})).card_id).toBeNull();
    expect(() => checkDecisionEvent(unknownCard(held(500n)))).toThrow(
      expect.objectContaining({
        code: 'WK_ERR_INVALID_MESSAGE',
        message: expect.stringMatching(/ledger effects without a card$/),
      }),
    );
  });
});
