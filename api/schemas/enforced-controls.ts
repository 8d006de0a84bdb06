// One table of the spending controls a card carries and how the authorization gateway enforces
// each (gateway/decide/decide-10.lua): the OpenAPI descriptions of the fields and of the card
// PATCH route are generated from it, so they cannot drift from what the gateway does
// (test/unit/api-control-docs.test.ts checks the table against the script).

import { DecisionStatus, statusInfo } from '../../shared/decision-status.ts';

interface EnforcedControl {
  /** What the gateway checks, in the words of the OpenAPI description. */
  readonly rule: string;
  /** The decline when the rule refuses. */
  readonly status: keyof typeof DecisionStatus;
}

export const ENFORCED_CONTROLS = Object.freeze({
  per_transaction_limit_minor: { rule: 'per-transaction limit', status: 'LIMIT_PER_TRANSACTION' },
  daily_limit_minor: { rule: 'daily limit (program time zone)', status: 'LIMIT_DAILY' },
  weekly_limit_minor: { rule: 'weekly limit (program time zone)', status: 'LIMIT_WEEKLY' },
  monthly_limit_minor: { rule: 'monthly limit (program time zone)', status: 'LIMIT_MONTHLY' },
  yearly_limit_minor: { rule: 'yearly limit (program time zone)', status: 'LIMIT_YEARLY' },
  lifetime_limit_minor: { rule: 'all-time limit', status: 'LIMIT_ALL_TIME' },
  velocity_count_max: { rule: 'velocity: approvals within velocity_window_s', status: 'LIMIT_VELOCITY' },
  velocity_window_s: { rule: 'velocity: sliding window of velocity_count_max', status: 'LIMIT_VELOCITY' },
  mcc_allow: { rule: 'MCC allow list (fails closed without an MCC)', status: 'MERCHANT_RESTRICTED' },
  mcc_block: { rule: 'MCC block list', status: 'MERCHANT_RESTRICTED' },
  merchant_allow: {
    rule: 'merchant id allow list (fails closed without a merchant id)',
    status: 'MERCHANT_RESTRICTED',
  },
  merchant_block: { rule: 'merchant id block list', status: 'MERCHANT_RESTRICTED' },
  country_allow: {
    rule: 'merchant country allow list (fails closed without a country)',
    status: 'COUNTRY_RESTRICTED',
  },
  country_block: { rule: 'merchant country block list', status: 'COUNTRY_RESTRICTED' },
} satisfies Record<string, EnforcedControl>);

export type ControlField = keyof typeof ENFORCED_CONTROLS;

/** The OpenAPI description of one control field. */
export function controlDescription(field: ControlField): string {
  const { rule, status } = ENFORCED_CONTROLS[field];
  const { memo, decline_reason } = statusInfo(DecisionStatus[status]);
  return `Enforced by the authorization gateway: ${rule}. Declines ${decline_reason} (memo ${memo}).`;
}

/** The description of the route that changes controls: every enforced rule, from the table. */
export function controlsRouteDescription(): string {
  const rules = [...new Set(Object.values(ENFORCED_CONTROLS).map((c) => c.rule.split(/ \(|:/)[0]!))];
  return `The authorization gateway enforces every control at the next authorization: ${rules.join('; ')}.`;
}
