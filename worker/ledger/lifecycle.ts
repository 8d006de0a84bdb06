// What one decision event means for the durable ledger, shared by both stores: the status of its
// transaction record, the amounts it held and posted, and the state its authorization group
// moves to. Pure; the amounts come from the event's effects (what Redis applied), never
// recomputed.

import { effectsFromJson, type LedgerEffects } from '../../shared/ledger-effects.ts';
import { type DecisionEvent, EXPIRED_METHOD, type LedgerMode } from '../../shared/messages.ts';

export type TransactionStatus =
  | 'pending'
  | 'declined'
  | 'completed'
  | 'reversed'
  | 'expired'
  | 'posted'
  | 'recorded';

/** Method of the hold-expiry job's releases (gateway/jobs/hold-expiry.ts). */

const HOLD_MODES: ReadonlySet<LedgerMode> = new Set(['auth', 'incremental', 'force_auth']);
const POSTED_MODES: ReadonlySet<LedgerMode> = new Set([
  'capture',
  'force_capture',
  'clearing',
  'refund_post',
]);

/** Status of the message's own record when written; a group leaving `pending` updates it later. */
export function transactionStatus(event: DecisionEvent): TransactionStatus {
  if (!event.approved) return 'declined';
  if (HOLD_MODES.has(event.request.mode)) return 'pending';
  if (POSTED_MODES.has(event.request.mode)) return 'posted';
  return 'recorded';
}

/** The authorization group's new state, if the message changed it (`released` by expiry is `expired`). */
export function holdState(event: DecisionEvent): string | null {
  const state = event.effects.hold_state;
  if (state === 'released' && event.request.method === EXPIRED_METHOD) return 'expired';
  return state;
}

/** What a group's pending records become once the group leaves `pending`. */
export function settledStatus(group_state: string): TransactionStatus | null {
  switch (group_state) {
    case 'cleared':
      return 'completed';
    case 'reversed':
    case 'released':
      return 'reversed';
    case 'expired':
      return 'expired';
    default:
      return null;
  }
}

export interface RecordAmounts {
  readonly effects: LedgerEffects;
  /** The hold this message added (0 when it added none). */
  readonly held_amount_minor: bigint;
  /** What it debited (positive) or credited (negative): minus the posted delta. */
  readonly posted_amount_minor: bigint;
}

export function recordAmounts(event: DecisionEvent): RecordAmounts {
  const effects = effectsFromJson(event.effects);
  return {
    effects,
    held_amount_minor: effects.hold_delta_minor > 0n ? effects.hold_delta_minor : 0n,
    posted_amount_minor: -effects.posted_delta_minor,
  };
}

/** The group a message belongs to: the gateway's, else the original JIT token, else its own. */
export function groupToken(event: DecisionEvent): string {
  return event.group_token || event.request.original_jit_token || event.request.jit_token;
}
