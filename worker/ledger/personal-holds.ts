// `personal_holds` documents: one per authorization group (`_id` = group token), what the
// group holds, its state and the JIT tokens of its records still `pending`. Pure: the plan of
// one card's batch; PersonalLedger reads the stored holds and writes the plan under the card's
// document lock. Each hold guards itself with the effect keys it applied (`applied`), so a
// crash between the hold and the card update loses nothing and applies nothing twice.

import assert from 'node:assert/strict';
import type { LedgerEffects } from '../../shared/ledger-effects.ts';
import type { DecisionEvent } from '../../shared/messages.ts';
import { groupToken, holdState, transactionStatus } from './lifecycle.ts';

/**
 * Keys kept per authorization group (an authorization, its incrementals, reversals, clearing).
 * A write adds at most this many (personal-write-rounds.ts), so none it added leaves the list.
 */
export const HOLD_APPLIED_MAX = 64;

export type Amount = bigint | number | null | undefined;

export interface HoldDoc {
  _id: string;
  held_minor: Amount;
  state: string;
  card_token: string;
  user_token: string;
  currency_code: string;
  created_at: Date;
  applied?: string[];
  /** When the decision that set `state` was decided (absent: no message changed it yet). */
  state_decided_at_ms?: number;
  /** JIT tokens of the group's records that wait for its outcome (status `pending`). */
  members?: string[];
}

/** One event of the batch with its effect key and its effects, parsed once. */
export interface CardEvent {
  readonly event: DecisionEvent;
  /** `effectKey(jit_token, revision)`. */
  readonly key: string;
  readonly effects: LedgerEffects;
}

export interface HoldPlan {
  /** The holds to write, whole (stored ones updated, others inserted). */
  readonly holds: ReadonlyMap<string, HoldDoc>;
  /** Groups this plan moves out of `pending`: their stored pending records follow. */
  readonly settled: ReadonlySet<string>;
}

/** Whether the event writes its group's hold when its effects are new (`fresh`) or not. */
function writesHold(item: CardEvent, fresh: boolean): boolean {
  const pending_record = transactionStatus(item.event) === 'pending';
  if (!fresh && !pending_record) return false;
  return item.effects.hold_delta_minor !== 0n || holdState(item.event) !== null || pending_record;
}

/** The groups whose holds the batch may write (every effect taken as new): those to read. */
export function holdGroups(items: readonly CardEvent[]): string[] {
  return [...new Set(items.filter((item) => writesHold(item, true)).map((item) => groupToken(item.event)))];
}

/**
 * The holds after the batch's events, in decided order: the last state change of a group in the
 * batch is its state. `fresh` names the keys whose effects the card update applies now;
 * `stored` holds the stored holds of the groups read (a group missing there is new).
 */
export function planHolds(
  items: readonly CardEvent[],
  fresh: ReadonlySet<string>,
  stored: ReadonlyMap<string, HoldDoc>,
): HoldPlan {
  const holds = new Map<string, HoldDoc>();
  const settled = new Set<string>();
  const added_per_group = new Map<string, number>();
  for (const item of items) {
    const { event, key, effects } = item;
    if (!writesHold(item, fresh.has(key))) continue;
    const group = groupToken(event);
    const state = holdState(event);
    const hold = holds.get(group) ??
      stored.get(group) ?? {
        _id: group,
        held_minor: 0n,
        state: 'pending',
        card_token: event.request.card_token,
        user_token: event.request.user_token,
        currency_code: event.request.currency_code,
        created_at: new Date(event.decided_at_ms),
      };
    const applied = hold.applied ?? [];
    const members = hold.members ?? [];
    const next: HoldDoc = { ...hold, held_minor: BigInt(hold.held_minor ?? 0), applied, members };
    if (transactionStatus(event) === 'pending' && !members.includes(event.request.jit_token))
      next.members = [...members, event.request.jit_token];
    if (fresh.has(key) && !applied.includes(key)) {
      next.held_minor = BigInt(hold.held_minor ?? 0) + effects.hold_delta_minor;
      // The newest decided state wins (a reopen after a clearing, a late clearing before it).
      if (state !== null && event.state_order_ms >= (hold.state_decided_at_ms ?? 0)) {
        next.state = state;
        next.state_decided_at_ms = event.state_order_ms;
        if (state !== 'pending') settled.add(group);
      }
      const added = (added_per_group.get(group) ?? 0) + 1;
      assert(added <= HOLD_APPLIED_MAX, `a write applies at most ${HOLD_APPLIED_MAX} keys to hold ${group}`);
      added_per_group.set(group, added);
      next.applied = [...applied, key].slice(-HOLD_APPLIED_MAX);
    }
    if (next.created_at > new Date(event.decided_at_ms)) next.created_at = new Date(event.decided_at_ms);
    holds.set(group, next);
  }
  return { holds, settled };
}
