// Messages that cross RabbitMQ. Amounts travel as decimal strings of minor units (bigint-safe).

export type CardKind = 'business' | 'personal' | 'unknown';

/**
 * What a JIT message does to the ledger:
 * auth/incremental hold; capture posts at once; force_* book what the network already did;
 * reversal releases a hold; clearing posts and releases the hold; refund_post credits;
 * refund_pending/refund_cancel change nothing until cleared; balance answers the available
 * balance; verify checks the card only; release frees the whole remaining hold of an
 * authorization (Marqeta timed it out or declined it, or it expired); unsupported is declined.
 */
export type LedgerMode =
  | 'auth'
  | 'incremental'
  | 'force_auth'
  | 'capture'
  | 'force_capture'
  | 'reversal'
  | 'clearing'
  | 'refund_post'
  | 'refund_pending'
  | 'refund_cancel'
  | 'balance'
  | 'verify'
  | 'release'
  | 'unsupported';

import type { LedgerEffectsJson } from './ledger-effects.ts';

/**
 * The method of the release the gateway's hold expiry sends through the decision script (not a
 * Marqeta method): the worker books its group as `expired` instead of `released`.
 */
export const EXPIRED_METHOD = 'afc.release.expired';

/** What the gateway knew about the request before deciding; written into the outbox as is. */
export interface DecisionRequest {
  readonly jit_token: string;
  readonly method: string;
  readonly transaction_token: string;
  readonly card_token: string;
  readonly user_token: string;
  readonly acting_user_token: string;
  readonly amount_minor: string;
  readonly currency_code: string;
  readonly network: string | null;
  readonly merchant: {
    readonly mid: string | null;
    readonly mcc: string | null;
    readonly name: string | null;
    readonly country_code: string | null;
  };
  /** Window ids the decision counted spend in (program time zone). */
  readonly day_id: string;
  readonly week_id: string;
  readonly month_id: string;
  readonly year_id: string;
  /** The authorization a lifecycle message belongs to (Marqeta's original_jit_funding_token). */
  readonly original_jit_token: string | null;
  /** What the message does to the ledger (gateway/jit/methods.ts). */
  readonly mode: LedgerMode;
  /** Merchant category group for per-category limits ("" when none; shared/mcc-groups.ts). */
  readonly mcc_group: string;
  /**
   * When the gateway's handler took the JIT message (its clock, ms): the decision time is
   * `decided_at_ms - received_at_ms` (the answer leaves right after). Absent for messages the
   * gateway writes itself (hold expiry, ledger commands).
   */
  readonly received_at_ms?: number;
}

/** One decision, as the worker receives it (routing key `decision.<kind>.<approved|declined>`). */
export interface DecisionEvent {
  readonly v: 1;
  readonly request: DecisionRequest;
  readonly kind: CardKind;
  /** Ids from the card cache; null when the card is unknown. */
  readonly card_id: string | null;
  readonly user_id: string | null;
  readonly status_code: number;
  readonly approved: boolean;
  readonly memo: string;
  readonly decline_reason: string | null;
  readonly approved_amount_minor: string;
  /**
   * Hold released by this message: by a reversal, by a clearing (the whole remaining hold), or
   * by a revision-2 void of an approval the gateway answered as `timeout`.
   */
  readonly released_amount_minor: string;
  /** Balance inquiries: the available balance answered, minor units. */
  readonly available_minor: string;
  /** The authorization group (original JIT token) the message settled or held in. */
  readonly group_token: string;
  /** What the decision changed in the live ledger, as applied: the worker mirrors exactly this. */
  readonly effects: LedgerEffectsJson;
  /** 1 for the decision; a higher revision supersedes a lower one for the same JIT token. */
  readonly revision: number;
  readonly decided_at_ms: number;
  /**
   * Order of the group state this message set (`effects.hold_state`), unix ms: the decision time,
   * made later than the group's previous state's by the decision script, so the ledger keeps the
   * state Redis applied last in any arrival order, even within one millisecond. Equals
   * `decided_at_ms` when the message set no state (or came from a script that did not order).
   */
  readonly state_order_ms: number;
  /** What a purchase's amount rules saw (shared/limits-seen.ts); null for other messages. */
  readonly limits_seen: string | null;
  /** Redis stream entry id in the outbox shard: unique, for tracing only. */
  readonly outbox_id: string;
}

export function decisionRoutingKey(event: Pick<DecisionEvent, 'kind' | 'approved'>): string {
  return `decision.${event.kind}.${event.approved ? 'approved' : 'declined'}`;
}

/** Routing key of the card-issue command (management API -> worker queue `afc.marqeta`). */
export const CARD_ISSUE_ROUTING_KEY = 'command.card.issue';

/** Issue a card at Marqeta for a card the management API inserted as `pending`. */
export interface CardIssueCommand {
  readonly v: 1;
  readonly kind: 'business' | 'personal';
  /** Our id: PostgreSQL `cards.id` (uuid) or MongoDB `personal_cards._id` (hex). */
  readonly card_id: string;
  /** Client-chosen Marqeta tokens, reused on every retry so creates stay idempotent. */
  readonly card_token: string;
  readonly user_token: string;
  /** Marqeta card product; the worker's MARQETA_CARD_PRODUCT_TOKEN when absent. */
  readonly card_product_token?: string;
  readonly requested_at_ms: number;
}

/** Routing key of the event published once an issued card is active. */
export const CARD_ACTIVATED_ROUTING_KEY = 'card.activated';

export interface CardActivatedEvent {
  readonly v: 1;
  readonly kind: 'business' | 'personal';
  readonly card_id: string;
  readonly card_token: string;
  readonly user_token: string;
  /** Business cards only: lets company-scoped webhook endpoints receive the event. */
  readonly company_id: string | null;
  readonly last_four: string;
  readonly activated_at_ms: number;
}

/** Routing key of a Marqeta notification received on our webhook (worker stores it for reconciliation). */
export const MARQETA_NOTIFICATION_ROUTING_KEY = 'notification.marqeta';

/** One Marqeta notification as received (the raw transaction object), with our dedupe key. */
export interface MarqetaNotificationEvent {
  readonly v: 1;
  /** `<transaction token>:<state>`: unique per notification of a transaction state. */
  readonly event_token: string;
  readonly kind: 'transaction';
  readonly received_at_ms: number;
  /** What the gateway did to the ledger for it (e.g. released a timed-out hold; shared/standin-action.ts). */
  readonly ledger_actions: readonly string[];
  readonly payload: Record<string, unknown>;
}
